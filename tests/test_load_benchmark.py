"""The load rule (issue 12 "Load"), measured by bench/load.py: gunicorn with the production
settings on PostgreSQL, 50 concurrent clients for 60 s mixing the staff work-bench, the pool
list, follow-up posts and member cards, with ``/healthz`` under the same load. No request may
fail, and each page's 95th-percentile latency stays within 5x that of ``/healthz``.

A minute of load plus the set-up: the test is ``slow`` (``make test-slow``).
"""

from __future__ import annotations

import pytest

from tests.support import servers

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_fifty_clients_for_a_minute_get_no_errors_and_pages_within_five_healthz_p95():
    if not servers.uses_postgres():
        servers.missing("PostgreSQL (DATABASE_URL), where the load rule is measured,")
    from bench.load import HEALTHZ, MAX_RATIO, MIX, run

    figures = run(users=50, seconds=60)
    print(figures.report())  # the figures deploy/README.md quotes, in the test's output
    assert figures.errors == []
    assert all(figures.latencies[label] for label, _ in MIX), figures.report()
    assert len(figures.latencies["follow_up"]) >= 50  # the writes were part of the load
    ratios = figures.ratios()
    assert set(ratios) == {label for label, _ in MIX if label != HEALTHZ}
    assert max(ratios.values()) <= MAX_RATIO, figures.report()
