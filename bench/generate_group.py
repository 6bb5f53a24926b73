"""A generated dealership group for the report benchmarks (issue 10 "Performance"): 20 stores,
200 salespeople, 200,000 customers, 400,000 leads and 2,000,000 communications, with test
drives and deals, so every step of the sales funnel has rows.

PostgreSQL only, and fast: the staff are a few hundred ORM rows, everything else is one
``INSERT … SELECT … FROM generate_series(…)`` per table. Every row keeps the models'
constraints (NOT NULL columns filled, unique blind indexes distinct); the encrypted columns
hold one ciphertext made once by the app's own cipher (a real, decryptable value), the blind
indexes a distinct placeholder per row.

The spread is fixed arithmetic on the row number, so two runs build the same data:

* leads are created evenly from 2025-01-01 to 2026-11-22 (Beijing), ten for each store in
  turn;
  one in ten is an unclaimed pool lead;
* seven in ten leads have communications (about seven each): 50% phone, 35% WeChat, 10%
  showroom visits, 5% test drives;
* one contacted lead in seven has a test-drive booking (a third of them cancelled), one in
  eleven a deal (a fifth of them cancelled).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from crm import crypto
from crm.models import Group, Role, Staff, Store
from crm.services.identity import phone_index

STORES = 20
SALES_PER_STORE = 10
CUSTOMERS = 200_000
LEADS = 400_000
COMMUNICATIONS = 2_000_000
FIRST_LEAD_AT = datetime(2024, 12, 31, 16, 0, tzinfo=UTC)  # 2025-01-01 00:00 in Beijing
LAST_LEAD_AT = datetime(2026, 11, 21, 16, 0, tzinfo=UTC)  # 2026-11-22 00:00 in Beijing
CREATED = datetime(2024, 12, 1, tzinfo=UTC)
# A prime that shares no factor with the number of contacted leads (7/10 of LEADS), so the
# communications are spread over all of them.
SPREAD = 7919


@dataclass(frozen=True)
class GeneratedGroup:
    group_id: int
    admin_id: int
    store_ids: list[int]
    salesperson_ids: list[int]  # SALES_PER_STORE per store, in store order


def _staff(group_id: int, store_id: int | None, number: int, role: Role) -> Staff:
    phone = f"+86136{number:08d}"
    return Staff(
        group_id=group_id,
        store_id=store_id,
        name=f"销售{number}" if role == Role.SALESPERSON else "集团管理员",
        phone=phone,
        phone_index=phone_index(phone),
        role=role.value,
        active=True,
        created_at=CREATED,
    )


def _organisation(session: Session) -> GeneratedGroup:
    group = Group(name="压测集团", created_at=CREATED)
    session.add(group)
    session.flush()
    stores = [
        Store(
            group_id=group.id,
            code=f"S{number:02d}",
            name=f"压测{number:02d}店",
            city="杭州",
            address="",
            phone="",
            rescue_phone="",
            active=True,
            created_at=CREATED,
        )
        for number in range(1, STORES + 1)
    ]
    session.add_all(stores)
    session.flush()
    sales = [
        _staff(group.id, store.id, index * SALES_PER_STORE + seat, Role.SALESPERSON)
        for index, store in enumerate(stores)
        for seat in range(SALES_PER_STORE)
    ]
    admin = _staff(group.id, None, 99_999_999, Role.GROUP_ADMIN)
    session.add_all([*sales, admin])
    session.flush()
    return GeneratedGroup(group.id, admin.id, [s.id for s in stores], [s.id for s in sales])


# Customer g (1-based) belongs to stores[g % 20]; lead g to stores[g / 10 % 20] and its
# salesperson seat g / 200 % 10 there, so pool and contacted leads (by g % 10) fall in every
# store alike (1-based arrays in SQL).
CUSTOMERS_SQL = """
INSERT INTO customers (group_id, store_id, sales_owner_id, name, phone, phone_index, gender,
                       occupation, city, created_at)
SELECT :group_id,
       (CAST(:stores AS integer[]))[1 + g % :store_count],
       (CAST(:sales AS integer[]))[1 + (g % :store_count) * :per_store + (g / :store_count)
                                   % :per_store],
       :name, :phone, 'bench-customer-' || g, '', '', '杭州', :created
FROM generate_series(1, :count) AS g
"""

LEADS_SQL = """
INSERT INTO leads (store_id, owner_id, name, phone, phone_index, lead_class, status, source,
                   model_of_interest, lost_reason, created_at, claimed_at)
SELECT (CAST(:stores AS integer[]))[1 + g / 10 % :store_count],
       CASE WHEN g % 10 = 0 THEN NULL
            ELSE (CAST(:sales AS integer[]))[1 + g / 10 % :store_count * :per_store
                                             + g / 200 % :per_store] END,
       :name, :phone, 'bench-lead-' || g,
       (ARRAY['potential', 'intent', 'key', 'dormant'])[1 + g % 4],
       'open',
       (ARRAY['import', 'showroom', 'auto_show', 'online', 'referral', 'qr_code'])[1 + g % 6],
       '凯美瑞', '',
       CAST(:first_at AS timestamptz) + (g - 1) * CAST(:step AS interval),
       CASE WHEN g % 10 = 0 THEN NULL
            ELSE CAST(:first_at AS timestamptz) + (g - 1) * CAST(:step AS interval) END
FROM generate_series(1, :count) AS g
"""

# Communication c goes to contacted lead h = (c * SPREAD) mod contacted, which is lead number
# g = 10 * (h / 7) + h mod 7 + 1: the leads whose (g - 1) mod 10 is below 7.
COMMUNICATIONS_SQL = """
INSERT INTO communications (lead_id, staff_id, channel, content, next_step, occurred_at)
SELECT :first_lead_id + lead.g - 1,
       (CAST(:sales AS integer[]))[1 + lead.g / 10 % :store_count * :per_store
                                   + lead.g / 200 % :per_store],
       CASE WHEN c % 20 = 0 THEN 'test_drive' WHEN c % 20 < 3 THEN 'visit'
            WHEN c % 20 < 10 THEN 'wechat' ELSE 'phone' END,
       '客户关注油耗和保养费用', '',
       CAST(:first_at AS timestamptz) + (lead.g - 1) * CAST(:step AS interval)
           + (c % 240) * interval '1 hour'
FROM generate_series(1, :count) AS c
CROSS JOIN LATERAL (
    SELECT CAST(10 * (h / 7) + h % 7 + 1 AS integer) AS g
    FROM (SELECT CAST(c AS bigint) * :spread % :contacted AS h) AS spread
) AS lead
"""

TEST_DRIVES_SQL = """
INSERT INTO test_drives (lead_id, staff_id, scheduled_at, car, status, feelings,
                         model_of_interest, trim_of_interest, created_at)
SELECT :first_lead_id + g - 1,
       (CAST(:sales AS integer[]))[1 + g / 10 % :store_count * :per_store
                                   + g / 200 % :per_store],
       CAST(:first_at AS timestamptz) + (g - 1) * CAST(:step AS interval) + interval '3 days',
       '凯美瑞', (ARRAY['booked', 'done', 'cancelled'])[1 + g % 3], '', '', '',
       CAST(:first_at AS timestamptz) + (g - 1) * CAST(:step AS interval) + interval '1 day'
FROM generate_series(1, :count) AS g
WHERE (g - 1) % 10 < 7 AND g % 7 = 0
"""

DEALS_SQL = """
INSERT INTO deals (store_id, lead_id, salesperson_id, model, trim, status, deposit_fen,
                   deposit_on, cancel_reason, created_at)
SELECT (CAST(:stores AS integer[]))[1 + g / 10 % :store_count],
       :first_lead_id + g - 1,
       (CAST(:sales AS integer[]))[1 + g / 10 % :store_count * :per_store
                                   + g / 200 % :per_store],
       '凯美瑞', '',
       CASE WHEN g % 5 = 0 THEN 'cancelled'
            ELSE (ARRAY['deposit', 'paid', 'delivered'])[1 + g % 3] END,
       500000,
       CAST(CAST(:first_at AS timestamptz) + (g - 1) * CAST(:step AS interval)
            + interval '10 days' AS date),
       '',
       CAST(:first_at AS timestamptz) + (g - 1) * CAST(:step AS interval) + interval '10 days'
FROM generate_series(1, :count) AS g
WHERE (g - 1) % 10 < 7 AND g % 11 = 0
"""


def generate(session: Session, scale: float = 1.0) -> GeneratedGroup:
    """Build the group (``scale`` < 1 for a smaller one: every count but the organisation
    shrinks), commit, and vacuum and analyse what was written."""
    if session.get_bind().dialect.name != "postgresql":
        raise RuntimeError("the generated group is built with PostgreSQL's generate_series")
    org = _organisation(session)
    cipher = crypto.cipher()
    leads = max(10, int(LEADS * scale)) // 10 * 10
    step = (LAST_LEAD_AT - FIRST_LEAD_AT) / leads
    common = {
        "stores": org.store_ids,
        "sales": org.salesperson_ids,
        "store_count": STORES,
        "per_store": SALES_PER_STORE,
        "name": cipher.encrypt("压测客户"),
        "phone": cipher.encrypt("+8613700000000"),
        "first_at": FIRST_LEAD_AT,
        "step": step,
    }
    session.execute(
        text(CUSTOMERS_SQL),
        {
            **common,
            "group_id": org.group_id,
            "count": int(CUSTOMERS * scale),
            "created": CREATED,
        },
    )
    session.execute(text(LEADS_SQL), {**common, "count": leads})
    first_lead_id, last_lead_id = session.execute(
        text("SELECT min(id), max(id) FROM leads WHERE phone_index LIKE 'bench-lead-%'")
    ).one()
    if last_lead_id - first_lead_id + 1 != leads:
        raise RuntimeError("the generated leads' ids are not consecutive")
    by_lead = {**common, "first_lead_id": first_lead_id, "count": leads}
    session.execute(
        text(COMMUNICATIONS_SQL),
        {
            **by_lead,
            "count": int(COMMUNICATIONS * scale),
            "spread": SPREAD,
            "contacted": leads * 7 // 10,
        },
    )
    session.execute(text(TEST_DRIVES_SQL), by_lead)
    session.execute(text(DEALS_SQL), by_lead)
    session.commit()
    # Fresh statistics and visibility maps, as autovacuum keeps them on a live database (an
    # index-only scan reads the table for every page it does not know to be all-visible).
    with session.get_bind().connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("VACUUM ANALYZE customers, leads, communications, test_drives, deals")
        )
    return org
