"""Two planners at once, as two processes on one PostgreSQL database (issue 8 "Planner →
outbox → dispatcher"; ARCHITECTURE rule 6): each item is queued once, by whichever planner
gets there first (the outbox's unique dedupe key, INSERT … ON CONFLICT DO NOTHING)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import func, select

from crm.extensions import db
from crm.models import Customer, Group, OutboxMessage, Store
from crm.services.identity import phone_index
from tests.conftest import TEST_PII_KEY

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FLASK = Path(sys.executable).parent / "flask"
APP_VARIABLES = re.compile(r"^(CRM_|DATABASE_URL|REDIS_URL|SECRET_KEY|PII_KEY|WECHAT_)")
DAY = date(2027, 3, 16)
CUSTOMERS = 300


def _seed() -> None:
    """Customers whose solar birthday is DAY: one greeting each is due."""
    now = datetime(2027, 3, 15, tzinfo=UTC)
    group = Group(name="并发集团", created_at=now)
    db.session.add(group)
    db.session.flush()
    store = Store(group_id=group.id, code="R01", name="并发店", created_at=now)
    db.session.add(store)
    db.session.flush()
    for number in range(CUSTOMERS):
        phone = f"+86136{number:08d}"
        db.session.add(
            Customer(
                group_id=group.id,
                store_id=store.id,
                name=f"客户{number}",
                phone=phone,
                phone_index=phone_index(phone),
                birthday=date(1980 + number % 30, 3, 16),
                created_at=now,
            )
        )
    db.session.commit()


def test_two_planner_processes_at_once_queue_each_birthday_once(race_app, tmp_path):
    _seed()
    env = {name: value for name, value in os.environ.items() if not APP_VARIABLES.match(name)}
    env.update(
        CRM_ENV="development",
        CRM_INSTANCE_PATH=str(tmp_path / "instance"),
        DATABASE_URL=race_app.extensions["crm_settings"].database_url,
        SECRET_KEY="race-secret-key",
        PII_KEY=TEST_PII_KEY,
    )
    command = [str(FLASK), "--app", "app", "jobs", "plan", "--date", DAY.isoformat()]
    planners = [
        subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [planner.communicate(timeout=120) for planner in planners]

    for planner, (_, err) in zip(planners, outputs, strict=True):
        assert planner.returncode == 0, err.decode()
    queued = [int(re.search(rb"birthday_solar: (\d+) queued", out).group(1)) for out, _ in outputs]
    assert sum(queued) == CUSTOMERS
    db.session.expire_all()
    rows = db.session.scalar(select(func.count()).where(OutboxMessage.kind == "birthday_solar"))
    distinct = db.session.scalar(
        select(func.count(func.distinct(OutboxMessage.customer_id))).where(
            OutboxMessage.kind == "birthday_solar"
        )
    )
    assert rows == distinct == CUSTOMERS
