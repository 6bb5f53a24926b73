"""Rotating PII_KEY (issue 12 "Security"): `crm rotate-pii-key` re-encrypts every name, phone
and ID number under the new first key, batch by batch; stopped part-way — even killed — a
rerun finishes the job, and nothing is lost or changed in meaning."""

from __future__ import annotations

import base64
import signal
import subprocess
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import select, text

from crm import clock, crypto
from crm.extensions import db
from crm.models import Customer, Staff
from crm.services import demo, pii_rotation
from crm.services.identity import find_customer_by_phone
from tests.conftest import TEST_PII_KEY
from tests.factories import CustomerFactory
from tests.support.scratch import scratch_app
from tests.test_browser import BIN, PROJECT_ROOT, _server_env

NEW_KEY = base64.b64encode(b"n" * 32).decode()
ROTATED_SETTING = f"new:{NEW_KEY},{TEST_PII_KEY}"


@pytest.fixture
def new_key_first():
    """PII_KEY with a new key put first (the old one kept to read what is not yet rotated)."""
    crypto.configure(ROTATED_SETTING)
    yield
    crypto.configure(TEST_PII_KEY)


def _stored(session, table: str, column: str) -> list[str]:
    return [
        value
        for value in session.scalars(text(f"SELECT {column} FROM {table} ORDER BY id"))
        if value is not None
    ]


def test_rotation_reseals_every_value_under_the_new_key_and_keeps_its_meaning(
    org, session, new_key_first
):
    crypto.configure(TEST_PII_KEY)
    customers = CustomerFactory.create_batch(5, store=org.store_a)
    people = {c.id: (c.name, c.phone, c.id_number) for c in customers}
    session.flush()
    crypto.configure(ROTATED_SETTING)
    assert pii_rotation.pending(session) > 0

    pii_rotation.rotate(session, batch_size=2)

    assert pii_rotation.pending(session) == 0
    assert all(v.startswith("v1.new.") for v in _stored(session, "customers", "phone"))
    assert all(v.startswith("v1.new.") for v in _stored(session, "staff", "phone"))
    session.expire_all()
    for customer in session.scalars(select(Customer).where(Customer.id.in_(people))):
        assert (customer.name, customer.phone, customer.id_number) == people[customer.id]
    # The blind index is unchanged: phone look-ups still find the customer.
    first = customers[0]
    assert find_customer_by_phone(session, people[first.id][1]).id == first.id


def test_a_rotation_stopped_part_way_is_finished_by_a_rerun(org, session, new_key_first):
    crypto.configure(TEST_PII_KEY)
    CustomerFactory.create_batch(6, store=org.store_a)
    session.flush()
    crypto.configure(ROTATED_SETTING)
    before = pii_rotation.pending(session)

    first_run = pii_rotation.rotate(session, batch_size=2, max_batches=1)

    assert 0 < first_run < before
    assert pii_rotation.pending(session) == before - first_run
    assert pii_rotation.rotate(session, batch_size=2) == before - first_run
    assert pii_rotation.pending(session) == 0
    assert pii_rotation.rotate(session) == 0  # a third run finds nothing to do


@pytest.mark.postgres
def test_a_killed_rotation_command_resumes_and_loses_nothing(tmp_path: Path):
    with scratch_app(tmp_path, "postgresql") as app:
        upgrade()
        demo.seed(db.session, clock.now(), customers=400)
        db.session.commit()
        people = {
            c.id: (c.name, c.phone, c.id_number) for c in db.session.scalars(select(Customer))
        }
        staff = {s.id: s.phone for s in db.session.scalars(select(Staff))}
        env = _server_env(tmp_path, app.config["SQLALCHEMY_DATABASE_URI"])
        env["PII_KEY"] = ROTATED_SETTING
        command = [str(BIN / "flask"), "--app", "app", "crm", "rotate-pii-key", "--batch-size"]

        killed = subprocess.Popen(
            [*command, "5"], cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, text=True
        )
        progress_lines = 0
        for line in killed.stdout:
            progress_lines += "so far" in line
            if progress_lines == 3:
                killed.send_signal(signal.SIGKILL)
                break
        killed.wait(timeout=30)
        killed.stdout.close()
        assert killed.returncode == -signal.SIGKILL

        crypto.configure(ROTATED_SETTING)
        try:
            left = pii_rotation.pending(db.session)
            assert left > 0
            db.session.rollback()
            rerun = subprocess.run(
                [*command, "50"],
                cwd=PROJECT_ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert rerun.returncode == 0, rerun.stderr
            assert f"{left} value(s) to re-encrypt" in rerun.stdout
            assert pii_rotation.pending(db.session) == 0
            db.session.expire_all()
            assert {
                c.id: (c.name, c.phone, c.id_number) for c in db.session.scalars(select(Customer))
            } == people
            assert {s.id: s.phone for s in db.session.scalars(select(Staff))} == staff
        finally:
            crypto.configure(TEST_PII_KEY)
