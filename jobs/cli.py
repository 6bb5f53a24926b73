"""``flask --app app jobs ...``: the scheduler process."""

from __future__ import annotations

import logging
import os
import signal
import threading

import click
from apscheduler.schedulers.background import BackgroundScheduler
from flask import current_app
from flask.cli import AppGroup

from crm import clock
from crm.extensions import db
from crm.services import leader
from jobs import outbox
from jobs.schedule import SCHEDULE, PeriodicJob

log = logging.getLogger("jobs")


@click.group("jobs", cls=AppGroup, help="The scheduler process and its jobs.")
def jobs():
    pass


def run_job(app, job: PeriodicJob, lease: leader.Lease | None = None):
    """Run one job in its own app context and session; errors are logged, never fatal.

    With ``lease``, only while it is surely still held (crm/services/leader.py)."""
    if lease is not None and not lease.held():
        log.warning("job %s skipped: this process no longer holds the scheduler lease", job.id)
        return None
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


def refuse_inside_gunicorn() -> None:
    """The scheduler is its own process (ARCHITECTURE "Modes"): inside a web worker every
    worker would run it. gunicorn's arbiter sets ``SERVER_SOFTWARE`` for itself and its
    workers."""
    if os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn"):
        raise click.ClickException(
            "the scheduler never runs inside gunicorn; start `flask --app app jobs run` "
            "as its own process"
        )


@jobs.command("run")
@click.option("--once", is_flag=True, help="Run every job once now and exit.")
def run(once: bool):
    """The long-running scheduler (APScheduler), behind the leader lease: a second one stands
    by and takes over when the leader dies. Never started inside web workers."""
    refuse_inside_gunicorn()
    app = current_app._get_current_object()
    lease = leader.lease_for(app.extensions["crm_settings"], db.session)
    if once:
        run_once(app, lease)
        return
    # The long-running process logs to its own stderr (systemd's journal in production).
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    scheduler = BackgroundScheduler(timezone=str(clock.BUSINESS_TZ))
    for job in SCHEDULE:
        scheduler.add_job(
            run_job,
            job.trigger,
            args=(app, job, lease),
            id=job.id,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=300,
            **job.trigger_args,
        )
    # Paused until this process leads; the lease loop resumes and pauses it.
    scheduler.start(paused=True)
    click.echo(
        f"scheduler started with {len(SCHEDULE)} job(s): {', '.join(j.id for j in SCHEDULE)}"
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        leader.lead(lease, scheduler.resume, scheduler.pause, stop)
    finally:
        # Let a running job finish before the standby may start its own.
        scheduler.shutdown(wait=True)
        lease.release()
        click.echo("scheduler stopped")


def run_once(app, lease: leader.Lease) -> None:
    """Every job once, in order, under the lease, so ``--once`` never runs beside the
    scheduler or another ``--once``. Each job renews the lease first; a job that outlasts it
    may overlap a new leader, which idempotent jobs (ARCHITECTURE rule 6) make harmless."""
    try:
        for job in SCHEDULE:
            if not lease.hold():
                raise click.ClickException(
                    f"another jobs process holds the scheduler lease ({lease.current_holder()}); "
                    f"not running {job.id} or the jobs after it"
                )
            click.echo(f"{job.id}: {run_job(app, job)}")
    finally:
        lease.release()


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
