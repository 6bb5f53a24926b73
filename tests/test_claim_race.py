"""Two salespeople claiming one pool lead at the same moment, on two real PostgreSQL
connections: exactly one owns it, the other is told so, nothing is half-written (issue "Sales
from the phone")."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import event, func, select

from crm.errors import Conflict
from crm.extensions import db
from crm.models import Communication, Group, Lead, LeadMove, Role, Staff, Store
from crm.services import follow_ups
from crm.services.identity import phone_index

NOW = datetime(2026, 6, 15, 2, 0, tzinfo=UTC)


def _seed(salespeople: int) -> tuple[int, list[int]]:
    group = Group(name="集团", created_at=NOW)
    db.session.add(group)
    db.session.flush()
    store = Store(group_id=group.id, code="R01", name="竞速店", created_at=NOW)
    db.session.add(store)
    db.session.flush()
    staff = [
        Staff(
            group_id=group.id,
            store_id=store.id,
            name=f"销售{number}",
            phone=f"+8613900000{number:03d}",
            phone_index=phone_index(f"+8613900000{number:03d}"),
            role=Role.SALESPERSON.value,
            created_at=NOW,
        )
        for number in range(salespeople)
    ]
    lead = Lead(
        store_id=store.id,
        name="抢手客户",
        phone="+8613811112222",
        phone_index=phone_index("+8613811112222"),
        source="showroom",
        created_at=NOW,
    )
    db.session.add_all([*staff, lead])
    db.session.commit()
    return lead.id, [person.id for person in staff]


def _claim_in_own_connection(app, staff_id: int, lead_id: int, outcomes: dict, hook=None):
    with app.app_context():
        # The session object itself: a listener on the scoped_session would land on the
        # Session class and hold every later commit of the test run.
        session = db.session()
        if hook is not None:
            event.listen(session, "before_commit", hook)
        try:
            actor = session.get(Staff, staff_id)
            follow_ups.log_follow_up(
                session,
                actor,
                lead_id,
                follow_ups.FollowUpInput(channel="phone", content=f"{actor.name}的首次电话"),
                NOW,
            )
            outcomes[staff_id] = "claimed"
        except Conflict as error:
            outcomes[staff_id] = error.message
        finally:
            if hook is not None:
                event.remove(session, "before_commit", hook)
            db.session.remove()


def _state(lead_id: int):
    db.session.expire_all()
    owner = db.session.scalar(select(Lead.owner_id).where(Lead.id == lead_id))
    contacts = db.session.scalars(
        select(Communication.staff_id).where(Communication.lead_id == lead_id)
    ).all()
    claims = db.session.scalar(
        select(func.count()).select_from(LeadMove).where(LeadMove.reason == "claimed")
    )
    return owner, contacts, claims


def test_second_claim_waits_for_the_first_and_is_refused(race_app):
    """A holds the row (claimed, not yet committed) while B tries: B's UPDATE waits on A's
    row lock, then finds the lead taken."""
    lead_id, (first, second) = _seed(2)
    first_holds_the_row = threading.Event()

    def hold_before_commit(_session):
        first_holds_the_row.set()
        threading.Event().wait(0.5)  # B reaches its UPDATE and blocks meanwhile

    outcomes: dict = {}
    a = threading.Thread(
        target=_claim_in_own_connection,
        args=(race_app, first, lead_id, outcomes, hold_before_commit),
    )
    a.start()
    assert first_holds_the_row.wait(10)
    _claim_in_own_connection(race_app, second, lead_id, outcomes)
    a.join(10)

    assert outcomes[first] == "claimed"
    assert outcomes[second] == "该线索刚被销售0认领，请换一条"
    owner, contacts, claims = _state(lead_id)
    assert owner == first
    assert contacts == [first]
    assert claims == 1


def test_many_salespeople_racing_for_one_lead_leave_exactly_one_owner(race_app):
    lead_id, staff_ids = _seed(8)
    start = threading.Barrier(len(staff_ids))
    outcomes: dict = {}

    def racer(staff_id):
        start.wait(10)
        _claim_in_own_connection(race_app, staff_id, lead_id, outcomes)

    threads = [threading.Thread(target=racer, args=(staff_id,)) for staff_id in staff_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    winners = [staff_id for staff_id, outcome in outcomes.items() if outcome == "claimed"]
    assert len(outcomes) == len(staff_ids)
    assert len(winners) == 1
    refusals = [outcome for outcome in outcomes.values() if outcome != "claimed"]
    assert all("认领" in refusal for refusal in refusals)
    owner, contacts, claims = _state(lead_id)
    assert owner == winners[0]
    assert contacts == winners
    assert claims == 1
