"""Lead import speed against a bare insert of the same rows, measured in the same run.

The import issue: importing 50,000 rows may take no more than 3x the time of a bare bulk
insert of the same rows through SQLAlchemy Core. The baseline gets every value ready
beforehand (names and phones encrypted, phone indexes computed; untimed) and times only
``connection.execute(insert(leads), rows)``, rolled back. The import is timed from the
.xlsx bytes to the committed leads: reading, checking every row, keeping the batch, writing.

Run from the repository root against ``DATABASE_URL`` (PostgreSQL in CI; SQLite otherwise):

    python -m bench.import_leads [--rows 50000]

It works on a scratch database created beside ``DATABASE_URL`` and dropped afterwards, and
exits 1 when the ratio is above 3.0. Tests call ``run(rows, app=...)`` with their own app.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import time
import uuid

from flask import Flask
from openpyxl import Workbook
from sqlalchemy import column, delete, insert, table

from bench.scratch import scratch_app
from crm import clock, crypto
from crm.extensions import db
from crm.models import (
    LEAD_SOURCE_LABELS,
    CarModel,
    Group,
    ImportBatch,
    ImportStatus,
    Lead,
    LeadClass,
    LeadSource,
    LeadStatus,
    Role,
    Staff,
    Store,
)
from crm.services import lead_import
from crm.services.identity import phone_index

MAX_RATIO = 3.0
MODELS = ("凯美瑞", "雷凌", "RAV4荣放", "汉兰达", "卡罗拉")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超霞平"
MOBILE_PREFIXES = ("138", "139", "186", "135", "150", "177")


def sample_rows(rows: int) -> list[tuple[str, str, str, str, str]]:
    """Realistic distinct rows: (姓名, 手机, 意向车型, 来源, 备注); every phone a valid mobile."""
    rng = random.Random(7)
    sources = [LEAD_SOURCE_LABELS[source] for source in LeadSource] + ["", ""]
    notes = ("", "", "", "周末方便到店", "已加微信")
    result = []
    for number in range(rows):
        prefix = MOBILE_PREFIXES[number % len(MOBILE_PREFIXES)]
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        phone = f"{prefix}{number // len(MOBILE_PREFIXES):08d}"
        result.append((name, phone, rng.choice(MODELS), rng.choice(sources), rng.choice(notes)))
    return result


def build_workbook(rows: list[tuple[str, ...]]) -> bytes:
    """The .xlsx a dealership would upload, written by openpyxl in normal mode (openpyxl 3.1
    writes text as inline strings; Excel writes shared strings: the reader takes both)."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["姓名", "手机", "意向车型", "来源", "备注"])
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _prepared(rows, store_id: int, now) -> list[dict]:
    """The rows' final column values, exactly as the import writes them."""
    cipher = crypto.cipher()
    source_by_label = {label: source.value for source, label in LEAD_SOURCE_LABELS.items()}
    prepared = []
    for name, phone, model, source, note in rows:
        e164 = "+86" + phone
        prepared.append(
            {
                "store_id": store_id,
                "name": cipher.encrypt(name),
                "phone": cipher.encrypt(e164),
                "phone_index": phone_index(e164),
                "lead_class": LeadClass.POTENTIAL.value,
                "status": LeadStatus.OPEN.value,
                "source": source_by_label.get(source, LeadSource.IMPORT.value),
                "model_of_interest": model,
                "trim_of_interest": "",
                "referrer": "",
                "note": note,
                "purchase_timeframe": "",
                "quoted": False,
                "class_reason": "",
                "lost_reason": "",
                "lost_note": "",
                "created_by_id": None,
                "created_at": now,
            }
        )
    return prepared


def _bare_insert_seconds(prepared: list[dict]) -> float:
    """A plain Core executemany of ready values: a column list without the model's types,
    so nothing is encrypted or converted while timed. Rolled back."""
    leads = table("leads", *(column(name) for name in prepared[0]))
    with db.engine.connect() as connection:
        transaction = connection.begin()
        started = time.perf_counter()
        connection.execute(insert(leads), prepared)
        elapsed = time.perf_counter() - started
        transaction.rollback()
    return elapsed


def _scratch_store(now) -> tuple[int, int]:
    """A new group with its models and one store, committed: (store id, group id)."""
    suffix = uuid.uuid4().hex[:8]
    group = Group(name=f"压测集团{suffix}", created_at=now)
    db.session.add(group)
    db.session.flush()
    store = Store(group_id=group.id, code=f"BENCH{suffix}", name="压测分店", created_at=now)
    db.session.add(store)
    db.session.add_all(CarModel(group_id=group.id, name=name, created_at=now) for name in MODELS)
    db.session.flush()
    ids = store.id, group.id
    db.session.commit()
    # End the session's transaction: on SQLite an open reader would stall the bare insert.
    db.session.close()
    return ids


def _remove(store_id: int, group_id: int) -> None:
    db.session.rollback()
    for statement in (
        delete(Lead).where(Lead.store_id == store_id),
        delete(ImportBatch).where(ImportBatch.store_id == store_id),
        delete(Store).where(Store.id == store_id),
        delete(CarModel).where(CarModel.group_id == group_id),
        delete(Group).where(Group.id == group_id),
    ):
        db.session.execute(statement)
    db.session.commit()


def _measure(app: Flask, rows: int) -> tuple[float, float]:
    sample = sample_rows(rows)
    content = build_workbook(sample)
    with app.app_context():
        now = clock.now()
        store_id, group_id = _scratch_store(now)
        try:
            baseline = _bare_insert_seconds(_prepared(sample, store_id, now))
            actor = Staff(id=None, group_id=group_id, role=Role.GROUP_ADMIN.value, active=True)
            started = time.perf_counter()
            batch = lead_import.import_file(
                db.session, actor, store_id, content, "bench.xlsx", clock.now()
            )
            elapsed = time.perf_counter() - started
            if batch.status != ImportStatus.IMPORTED or batch.imported_rows != rows:
                raise RuntimeError(f"import did not complete: {batch.status}, {batch.errors[:5]}")
        finally:
            _remove(store_id, group_id)
    return baseline, elapsed


def run(rows: int, app: Flask | None = None) -> tuple[float, float]:
    """(baseline seconds, import seconds) for ``rows`` rows; on ``app``'s database (already
    migrated), or on a scratch database beside DATABASE_URL."""
    if app is not None:
        return _measure(app, rows)
    with scratch_app() as scratch:
        return _measure(scratch, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    arguments = parser.parse_args(argv)
    baseline, elapsed = run(arguments.rows)
    ratio = elapsed / baseline
    print(f"rows: {arguments.rows}")
    print(f"bare Core insert: {baseline:.3f} s")
    print(f"lead import:      {elapsed:.3f} s")
    print(f"ratio:            {ratio:.2f} (limit {MAX_RATIO})")
    return 1 if ratio > MAX_RATIO else 0


if __name__ == "__main__":
    sys.exit(main())
