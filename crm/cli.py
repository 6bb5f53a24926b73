"""Command-line entry points: ``flask --app app crm ...``, ``doctor`` and ``jobs ...``."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

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


@crm_group.command("api-token")
@click.argument("phone")
def api_token(phone: str):
    """Print an API token for a demo staff member or customer (sandbox mode only)."""
    from crm.api.auth import demo_token

    settings = current_app.extensions["crm_settings"]
    try:
        token = demo_token(db.session, settings, current_app.config["SECRET_KEY"], phone)
    except ValidationError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(token)


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


ERRORS_PRINTED = 200


class _ProgressLine:
    """ "检查 12000/50000" on one line rewritten in place on a terminal; a few plain lines
    (each quarter of a phase) when the output goes to a file or a pipe."""

    def __init__(self):
        self.interactive = sys.stdout.isatty()
        self.phase = ""
        self.next_quarter = 0
        self.open_line = False

    def __call__(self, done: int, total: int, phase: str) -> None:
        if phase != self.phase:
            self.end()
            self.phase, self.next_quarter = phase, 1
        line = f"{phase} {done}/{total}"
        if self.interactive:
            click.echo(f"\r{line:<24}", nl=False)
            self.open_line = True
        elif done >= total or done * 4 >= total * self.next_quarter:
            click.echo(line)
            self.next_quarter = done * 4 // max(total, 1) + 1

    def end(self) -> None:
        if self.open_line:
            click.echo()
            self.open_line = False


_IMPORT_OPTIONS = (
    click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
    click.option("--dry-run", is_flag=True, help="Check the file only; import nothing."),
    click.option("--store", "store_code", default=None, help="Store code (with several stores)."),
    click.option("--good-rows", is_flag=True, help="Import the good rows even if some are bad."),
)


def _import_options(command):
    """The arguments every import command takes."""
    for option in reversed(_IMPORT_OPTIONS):
        command = option(command)
    return command


def _run_import(importer, file: Path, dry_run: bool, store_code: str | None, good_rows: bool):
    """Check the file, import it unless told not to or it has bad rows, and say what
    happened (the exit status as the import commands describe it)."""
    from crm.models import ImportStatus
    from crm.services import imports

    progress = _ProgressLine()
    try:
        actor, store = imports.command_line_actor(db.session, store_code)
        batch = importer.import_file(
            db.session,
            actor,
            store,
            file.read_bytes(),
            file.name,
            clock.now(),
            dry_run=dry_run,
            good_rows_only=good_rows,
            progress=progress,
        )
    except ValidationError as error:
        progress.end()
        db.session.rollback()
        click.echo(f"错误 [{error.field}]: {error.message}", err=True)
        sys.exit(2)
    progress.end()
    click.echo(
        f"{store.name}：共 {batch.total_rows} 行，正确 {batch.good_rows} 行，"
        f"错误 {batch.bad_rows} 行"
    )
    for line in itertools.islice(imports.row_errors_text(batch.errors), ERRORS_PRINTED):
        click.echo(line)
    if len(batch.errors) > ERRORS_PRINTED:
        click.echo(f"…另有 {len(batch.errors) - ERRORS_PRINTED} 条错误")
    if batch.status == ImportStatus.IMPORTED:
        click.echo(importer.imported_text(batch.imported_rows, where=False))
        return
    # Nothing imported: the batch would only keep the (encrypted) file; let it go.
    importer.cancel(db.session, actor, batch.id, clock.now())
    if dry_run:
        click.echo("仅检查（--dry-run），未导入")
        sys.exit(1 if batch.errors else 0)
    if batch.good_rows == 0:
        click.echo("未导入：文件中没有正确的行")
    else:
        click.echo("未导入：文件有错误，可加 --good-rows 仅导入正确的行")
    sys.exit(1)


@crm_group.command("import")
@_import_options
def import_leads(file: Path, dry_run: bool, store_code: str | None, good_rows: bool):
    """Import leads from an Excel file (.xlsx, the console's template) into a store's pool.

    Exit status: 0 imported (or checked clean with --dry-run); 1 bad rows kept the file from
    being imported; 2 the file or the store could not be used.
    """
    from crm.services import lead_import

    _run_import(lead_import.IMPORTER, file, dry_run, store_code, good_rows)


@crm_group.command("import-service-orders")
@_import_options
def import_service_orders(file: Path, dry_run: bool, store_code: str | None, good_rows: bool):
    """Import service orders from the dealer management system's Excel export (.xlsx, the
    console's template) for the vehicles of a store.

    Exit status: 0 imported (or checked clean with --dry-run); 1 bad rows kept the file from
    being imported; 2 the file or the store could not be used.
    """
    from crm.services import service_order_import

    _run_import(service_order_import.IMPORTER, file, dry_run, store_code, good_rows)


@crm_group.command("rotate-pii-key")
@click.option("--batch-size", default=500, show_default=True, help="Rows per transaction.")
def rotate_pii_key(batch_size: int):
    """Re-encrypt personal data under the first key of PII_KEY; safe to stop and run again."""
    from crm.services import pii_rotation

    if batch_size < 1:
        raise click.BadParameter("must be at least 1", param_hint="--batch-size")
    before = pii_rotation.pending(db.session)
    click.echo(f"{before} value(s) to re-encrypt")
    done = pii_rotation.rotate(
        db.session,
        batch_size,
        progress=lambda table, count: click.echo(f"{table}: {count} re-encrypted so far"),
    )
    click.echo(f"re-encrypted {done} value(s); {pii_rotation.pending(db.session)} left")


@click.command("doctor")
@with_appcontext
def doctor():
    """Check configuration, database, migrations, Redis, WeChat and QWeather; exit non-zero on
    failure."""
    from crm.services import health, qweather

    settings = current_app.extensions["crm_settings"]
    # Weather alerts are optional: without QWEATHER_KEY the line says 未配置, never silent.
    checks = health.diagnose(db.session, settings) + [qweather.check(settings)]
    for check in checks:
        click.echo(check.line())
    failed = [check for check in checks if not check.ok]
    if failed:
        click.echo(f"{len(failed)} problem(s) found", err=True)
        sys.exit(1)
    click.echo("all checks passed")
