"""The monthly group funnel against the equivalent hand-written SQL GROUP BY, in one run.

Issue 10 "Performance": with a generated group of 20 stores, 200 salespeople, 200,000
customers and 2,000,000 communications on PostgreSQL (bench/generate_group.py), the monthly
group funnel (``crm.services.reports.funnel.group_funnel`` for the group admin) answers in at
most 2x the time of one hand-written ``GROUP BY`` answering the same figures. Both must agree
exactly; each time is the best of ``REPEATS`` runs, the two measured alternately.

Run from the repository root against a PostgreSQL ``DATABASE_URL`` (a scratch database is
created beside it and dropped afterwards):

    python -m bench.report_funnel [--scale 1.0] [--month 2026-10] [--explain]

Exits 1 when the ratio is over 2.0 or the figures differ. Tests call ``run(...)``.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import event, text

from bench.generate_group import generate
from bench.scratch import scratch_app
from crm.extensions import db
from crm.models import Staff
from crm.services.reports import funnel, periods

MAX_RATIO = 2.0
REPEATS = 5
DEFAULT_MONTH = date(2026, 10, 1)
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

# The figures of each store for the leads created in the month, as one would write them by
# hand: the month's leads, then each later step as a join on the lead (a lead counts once per
# step), grouped by store. Stores without leads answer zeros.
HAND_SQL = """
WITH cohort AS (
    SELECT id, store_id FROM leads
    WHERE created_at >= :starts AND created_at < :ends
),
talked AS (
    SELECT c.lead_id, bool_or(c.channel IN ('visit', 'test_drive')) AS visited
    FROM communications AS c JOIN cohort ON cohort.id = c.lead_id
    GROUP BY c.lead_id
),
booked AS (
    SELECT DISTINCT t.lead_id
    FROM test_drives AS t JOIN cohort ON cohort.id = t.lead_id
    WHERE t.status <> 'cancelled'
),
dealt AS (
    SELECT DISTINCT d.lead_id
    FROM deals AS d JOIN cohort ON cohort.id = d.lead_id
    WHERE d.status <> 'cancelled'
)
SELECT s.id, s.name,
       count(cohort.id) AS leads,
       count(talked.lead_id) AS communications,
       count(cohort.id) FILTER (WHERE talked.visited OR booked.lead_id IS NOT NULL) AS visits,
       count(dealt.lead_id) AS deals
FROM stores AS s
LEFT JOIN cohort ON cohort.store_id = s.id
LEFT JOIN talked ON talked.lead_id = cohort.id
LEFT JOIN booked ON booked.lead_id = cohort.id
LEFT JOIN dealt ON dealt.lead_id = cohort.id
WHERE s.group_id = :group_id
GROUP BY s.id, s.name, s.code
ORDER BY s.code
"""

Figures = list[tuple[int, str, int, int, int, int]]


@dataclass(frozen=True)
class Timings:
    leads: int  # the month's leads, group-wide
    service: float
    hand_sql: float
    service_rows: Figures
    hand_rows: Figures

    @property
    def ratio(self) -> float:
        return self.service / self.hand_sql

    @property
    def agree(self) -> bool:
        return self.service_rows == self.hand_rows


def _service(admin_id: int, month_start: date) -> Figures:
    admin = db.session.get(Staff, admin_id)
    rows = funnel.group_funnel(db.session, admin, month_start=month_start, now=NOW)
    figures = [
        (row.store_id, row.store_name, row.leads, row.communications, row.visits, row.deals)
        for row in rows
    ]
    db.session.close()  # the next run starts from a cold session, as a request does
    return figures


def _hand_sql(group_id: int, month_start: date) -> Figures:
    month = periods.month_of(month_start)
    parameters = {"starts": month.starts, "ends": month.ends, "group_id": group_id}
    with db.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(HAND_SQL), parameters)]


def _timed(measure, *args) -> tuple[float, Figures]:
    started = time.perf_counter()
    figures = measure(*args)
    return time.perf_counter() - started, figures


def explain(group_id: int, admin_id: int, month_start: date) -> str:
    """EXPLAIN ANALYZE of the service's grouped query (caught as it runs) and of the
    hand-written one, for finding out why one is slow."""
    caught = []

    def catch(_conn, _cursor, statement, parameters, _context, _many):
        if "GROUP BY" in statement:
            caught.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", catch)
    try:
        _service(admin_id, month_start)
    finally:
        event.remove(db.engine, "before_cursor_execute", catch)
    month = periods.month_of(month_start)
    parameters = {"starts": month.starts, "ends": month.ends, "group_id": group_id}
    with db.engine.connect() as connection:
        plans = []
        for statement, bound in caught:
            answer = connection.exec_driver_sql(f"EXPLAIN ANALYZE {statement}", bound)
            plans += ["-- group_funnel", *answer.scalars()]
        answer = connection.execute(text(f"EXPLAIN ANALYZE {HAND_SQL}"), parameters)
        plans += ["-- hand-written SQL", *answer.scalars()]
    return "\n".join(plans)


def measure(group_id: int, admin_id: int, month_start: date) -> Timings:
    """Both once to warm the caches, then ``REPEATS`` alternate runs; the best of each."""
    service_rows = _service(admin_id, month_start)
    hand_rows = _hand_sql(group_id, month_start)
    service_times, hand_times = [], []
    gc.collect()
    gc.freeze()  # what the generator left behind is not the report's garbage to walk
    try:
        for _ in range(REPEATS):
            elapsed, service_rows = _timed(_service, admin_id, month_start)
            service_times.append(elapsed)
            elapsed, hand_rows = _timed(_hand_sql, group_id, month_start)
            hand_times.append(elapsed)
    finally:
        gc.unfreeze()
    leads = sum(row[2] for row in hand_rows)
    return Timings(leads, min(service_times), min(hand_times), service_rows, hand_rows)


def run(
    scale: float = 1.0, month_start: date = DEFAULT_MONTH, with_plans: bool = False
) -> tuple[Timings, str]:
    """Generate the group on a scratch database and time both; (timings, query plans or "")."""
    with scratch_app() as app, app.app_context():
        if db.engine.dialect.name != "postgresql":
            raise RuntimeError("the funnel benchmark runs on PostgreSQL (DATABASE_URL)")
        org = generate(db.session, scale)
        timings = measure(org.group_id, org.admin_id, month_start)
        plans = explain(org.group_id, org.admin_id, month_start) if with_plans else ""
        db.session.remove()
    return timings, plans


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--month", type=lambda raw: date.fromisoformat(f"{raw}-01"))
    parser.add_argument("--explain", action="store_true", help="print both query plans")
    arguments = parser.parse_args(argv)
    started = time.perf_counter()
    timings, plans = run(arguments.scale, arguments.month or DEFAULT_MONTH, arguments.explain)
    print(f"group generated and measured in {time.perf_counter() - started:.0f} s")
    print(f"month's leads:   {timings.leads}")
    print(f"group_funnel:    {timings.service * 1000:.1f} ms (best of {REPEATS})")
    print(f"hand-written SQL: {timings.hand_sql * 1000:.1f} ms (best of {REPEATS})")
    print(f"ratio:           {timings.ratio:.2f} (limit {MAX_RATIO})")
    print(f"same figures:    {'yes' if timings.agree else 'NO'}")
    if plans:
        print(plans)
    return 0 if timings.agree and timings.ratio <= MAX_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
