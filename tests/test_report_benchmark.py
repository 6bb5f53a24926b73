"""The monthly group funnel's speed rule (issue 10 "Performance"), measured on PostgreSQL by
bench/report_funnel.py on a generated group of 20 stores, 200 salespeople, 200,000 customers
and 2,000,000 communications: ``group_funnel`` answers the same figures as the hand-written
SQL GROUP BY, in at most twice its time (best of a few runs each, in the same process).

Generating the group takes a minute or two: the test is ``slow`` (``make test-slow``).
"""

from __future__ import annotations

import pytest

from tests.support import servers

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_the_group_funnel_matches_hand_written_sql_within_twice_its_time():
    if not servers.uses_postgres():
        servers.missing("PostgreSQL (DATABASE_URL), where the speed rule is measured,")
    from bench.report_funnel import MAX_RATIO, run

    timings, plans = run(with_plans=True)
    assert timings.leads > 10_000  # the month holds a realistic cohort
    assert all(row[2] > row[3] > row[4] > row[5] > 0 for row in timings.hand_rows)
    assert timings.service_rows == timings.hand_rows
    assert timings.ratio <= MAX_RATIO, (timings.service, timings.hand_sql, plans)
