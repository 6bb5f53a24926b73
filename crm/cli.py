"""Command-line entry points: ``flask --app app crm ...``, ``doctor`` and ``jobs ...``."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from crm import clock
from crm.errors import ValidationError
from crm.extensions import db


def register(app: Flask) -> None:
    from jobs.cli import jobs
    from wechat.menu import wechat_cli

    app.cli.add_command(crm_group)
    app.cli.add_command(doctor)
    app.cli.add_command(jobs)
    app.cli.add_command(wechat_cli)


# AppGroup and with_appcontext: ``flask`` itself pushes an app context, but other callers
# (app.test_cli_runner(), scripts invoking app.cli) do not.
@click.group("crm", cls=AppGroup, help="Set-up and data commands.")
def crm_group():
    pass


@crm_group.command("seed-demo")
@click.option("--customers", default=200, show_default=True, help="How many demo customers.")
def seed_demo(customers: int):
    """Seed a demo group (2 stores, every role, customers, vehicles, leads, service history)."""
    from crm.services import demo

    try:
        result = demo.seed(db.session, clock.now(), customers=customers)
    except demo.AlreadySeeded as exc:
        click.echo(f"demo data already present ({exc}); nothing changed")
        result = demo.existing_logins(db.session)
    click.echo(demo.describe(result))


@crm_group.command("create-staff")
@click.option("--name", required=True)
@click.option("--phone", required=True)
@click.option(
    "--role",
    required=True,
    help="salesperson, service_advisor, care_specialist, supervisor, store_admin or group_admin",
)
@click.option("--store", "store_code", default=None, help="Store code (store roles).")
@click.option("--password-stdin", is_flag=True, help="Read the console password from stdin.")
def create_staff(name, phone, role, store_code, password_stdin):
    """Create a staff member (the first group admin of a new deployment, or scripted set-up)."""
    from crm.services import org

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    data = org.StaffInput(name=name, phone=phone, role=role, password=password)
    try:
        staff = org.bootstrap_staff(db.session, data, clock.now(), store_code=store_code)
    except ValidationError as error:
        db.session.rollback()
        click.echo(f"错误 [{error.field}]: {error.message}", err=True)
        sys.exit(2)
    click.echo(f"created staff #{staff.id} {staff.name} ({staff.role_label})")


@click.command("doctor")
@with_appcontext
def doctor():
    """Check configuration, database, migrations, Redis and WeChat; exit non-zero on failure."""
    from crm.services import health

    checks = health.diagnose(db.session, current_app.extensions["crm_settings"])
    for check in checks:
        click.echo(check.line())
    failed = [check for check in checks if not check.ok]
    if failed:
        click.echo(f"{len(failed)} problem(s) found", err=True)
        sys.exit(1)
    click.echo("all checks passed")
