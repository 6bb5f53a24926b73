"""``flask --app app jobs ...``: the scheduler process."""

from __future__ import annotations

import logging

import click
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import current_app
from flask.cli import AppGroup

from crm import clock
from crm.extensions import db
from jobs import outbox
from jobs.schedule import SCHEDULE, PeriodicJob

log = logging.getLogger("jobs")


@click.group("jobs", cls=AppGroup, help="The scheduler process and its jobs.")
def jobs():
    pass


def run_job(app, job: PeriodicJob):
    """Run one job in its own app context and session; errors are logged, never fatal."""
    with app.app_context():
        try:
            result = job.run(db.session, clock.now())
            log.info("job %s done: %s", job.id, result)
            return result
        except Exception:
            db.session.rollback()
            log.exception("job %s failed", job.id)
            return None
        finally:
            db.session.remove()


@jobs.command("run")
@click.option("--once", is_flag=True, help="Run every job once now and exit.")
def run(once: bool):
    """The long-running scheduler (APScheduler). Never started inside web workers."""
    app = current_app._get_current_object()
    if once:
        for job in SCHEDULE:
            click.echo(f"{job.id}: {run_job(app, job)}")
        return
    # The long-running process logs to its own stderr (systemd's journal in production).
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    scheduler = BlockingScheduler(timezone=str(clock.BUSINESS_TZ))
    for job in SCHEDULE:
        scheduler.add_job(
            run_job,
            job.trigger,
            args=(app, job),
            id=job.id,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=300,
            **job.trigger_args,
        )
    click.echo(
        f"scheduler started with {len(SCHEDULE)} job(s): {', '.join(j.id for j in SCHEDULE)}"
    )
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        click.echo("scheduler stopped")


@jobs.command("plan")
@click.option(
    "--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]), help="The day (default today)."
)
def plan_command(day):
    """Queue everything due on the day in the outbox (idempotent)."""
    queued = outbox.plan(db.session, clock.now(), day.date() if day else None)
    click.echo(", ".join(f"{kind}: {count} queued" for kind, count in queued.items()))


@jobs.command("dispatch")
def dispatch_command():
    """Send what is due in the outbox, then exit."""
    outcomes = outbox.dispatch(db.session, clock.now())
    sent = ", ".join(f"{state}: {count}" for state, count in sorted(outcomes.items()))
    click.echo(sent or "nothing due")
