"""Who may see what: the one scoping helper (ARCHITECTURE rule 1, PRODUCT "Organisation and
access").

- A salesperson sees their own leads, the store's pool, and the customers they won.
- A supervisor sees their team's leads and customers, and the store's pool.
- Service advisors and care specialists serve the whole store's customers.
- A store admin sees the store; the group admin sees every store of the group.
- A staff member who has left sees nothing.

``scope(query, actor)`` narrows a ``select()`` of a scoped model; ``require`` checks one record
and one action. A record outside the actor's scope raises ``NotFound`` — never ``Forbidden``
— so ids do not leak whether a record exists.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Select, and_, false, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from crm.errors import Forbidden, NotFound
from crm.extensions import db
from crm.models import (
    AuditEvent,
    Booking,
    BookingSlot,
    CareOptOut,
    CareTemplate,
    CarModel,
    Complaint,
    Customer,
    CustomerSegment,
    Deal,
    ImportBatch,
    Lead,
    MemberCard,
    MembershipTier,
    MileageReading,
    OutboxMessage,
    Role,
    ServiceOrder,
    Staff,
    Store,
    Survey,
    Team,
    TestDrive,
    Vehicle,
)

R = Role

# action -> roles allowed to take it (on a record already in their scope)
PERMISSIONS: dict[str, frozenset[Role]] = {
    "view": frozenset(Role),
    "store.create": frozenset({R.GROUP_ADMIN}),
    "store.edit": frozenset({R.GROUP_ADMIN, R.STORE_ADMIN}),
    "team.create": frozenset({R.GROUP_ADMIN, R.STORE_ADMIN}),
    "staff.create": frozenset({R.GROUP_ADMIN, R.STORE_ADMIN}),
    "staff.edit": frozenset({R.GROUP_ADMIN, R.STORE_ADMIN}),
    "console.organisation": frozenset({R.GROUP_ADMIN, R.STORE_ADMIN}),
    "customer.view_pii": frozenset(Role),
    # PIPL (issue 12): a full copy of one customer's data, and erasing it, are for the admins
    # who answer for the data (000 §7.1: the data specialist sees all customer data).
    "customer.export_pii": frozenset({R.GROUP_ADMIN, R.STORE_ADMIN}),
    "customer.erase": frozenset({R.GROUP_ADMIN, R.STORE_ADMIN}),
    # Whoever serves the customer records their paper or phone consent.
    "customer.consent": frozenset(Role),
    # Sales work on leads: the people who talk to prospects.
    "lead.create": frozenset({R.SALESPERSON, R.SUPERVISOR, R.STORE_ADMIN}),
    "lead.follow_up": frozenset({R.SALESPERSON, R.SUPERVISOR}),
    "lead.archive": frozenset({R.SALESPERSON, R.SUPERVISOR, R.STORE_ADMIN}),
    "lead.reclassify": frozenset({R.SALESPERSON, R.SUPERVISOR, R.STORE_ADMIN}),
    "test_drive.book": frozenset({R.SALESPERSON, R.SUPERVISOR}),
    # Spreadsheet imports into a store's pool: the store's admin, or the group's for any store.
    "lead.import": frozenset({R.GROUP_ADMIN, R.STORE_ADMIN}),
    # The car models on sale are one list for the whole group.
    "catalogue.edit": frozenset({R.GROUP_ADMIN}),
    # Deals are the salesperson's (the supervisor's for the team); a store admin may cancel.
    "deal.record": frozenset({R.SALESPERSON, R.SUPERVISOR}),
    "deal.cancel": frozenset({R.SALESPERSON, R.SUPERVISOR, R.STORE_ADMIN}),
    # The vehicle archive: completed at delivery, insurance and inspection dates later.
    "vehicle.edit": frozenset({R.SALESPERSON, R.SUPERVISOR, R.SERVICE_ADVISOR, R.STORE_ADMIN}),
    # Handing a new customer to after-sales: the store admin, or an advisor taking them on.
    "advisor.assign": frozenset({R.STORE_ADMIN, R.GROUP_ADMIN, R.SERVICE_ADVISOR}),
    "service_order.record": frozenset({R.SERVICE_ADVISOR, R.STORE_ADMIN}),
    "service_order.import": frozenset({R.GROUP_ADMIN, R.STORE_ADMIN}),
    "booking.manage": frozenset({R.SERVICE_ADVISOR, R.CARE_SPECIALIST, R.STORE_ADMIN}),
    "membership.configure": frozenset({R.GROUP_ADMIN}),
    "segment.export": frozenset({R.GROUP_ADMIN, R.STORE_ADMIN}),
    # Segment thresholds are one setting for the whole group.
    "segment.configure": frozenset({R.GROUP_ADMIN}),
    # The outbox 发送队列: a store admin watches the store's messages, the group admin all.
    "outbox.view": frozenset({R.GROUP_ADMIN, R.STORE_ADMIN}),
    "outbox.resend": frozenset({R.GROUP_ADMIN, R.STORE_ADMIN}),
    # Care channels (templates, subscriptions, send personally) are one setting per group.
    "care.configure": frozenset({R.GROUP_ADMIN}),
    # Whoever serves the customer records their wish not to receive a kind of care.
    "care.opt_out": frozenset(Role),
    # Complaints (issue 9): care specialists and admins handle every complaint of their store
    # (the assignee acts on their own, crm.services.complaints); whoever takes a customer's
    # phone call may record their complaint.
    "complaint.handle": frozenset({R.CARE_SPECIALIST, R.STORE_ADMIN, R.GROUP_ADMIN}),
    "complaint.record": frozenset(Role),
    # Survey results (NPS, CS) and their low scores: the care specialists who call back, and
    # the admins who answer for the figure.
    "survey.view": frozenset({R.GROUP_ADMIN, R.STORE_ADMIN, R.CARE_SPECIALIST}),
    # Funnel and KPI reports (issue 10): each sees them over their own scope — the store, the
    # group, or a supervisor's team.
    "report.view": frozenset({R.GROUP_ADMIN, R.STORE_ADMIN, R.SUPERVISOR}),
    # Excel exports of the console's lists carry names and phones: only the admins, who
    # answer for the data of their store or group (issue 10 "Console pages").
    "list.export_pii": frozenset({R.GROUP_ADMIN, R.STORE_ADMIN}),
    # The audit log: a store admin reads their store's events, the group admin all.
    "audit.view": frozenset({R.GROUP_ADMIN, R.STORE_ADMIN}),
}

SALES_ROLES = frozenset({R.SALESPERSON, R.SUPERVISOR})

STORE_WIDE_SERVICE_ROLES = frozenset({R.SERVICE_ADVISOR, R.CARE_SPECIALIST})


def _team_member_ids(actor: Staff):
    return select(Staff.id).where(Staff.team_id == actor.team_id)


def _store_predicate(actor: Staff) -> ColumnElement[bool]:
    if actor.role == R.GROUP_ADMIN:
        return Store.group_id == actor.group_id
    return Store.id == actor.store_id


def _staff_predicate(actor: Staff) -> ColumnElement[bool]:
    if actor.role == R.GROUP_ADMIN:
        return Staff.group_id == actor.group_id
    if actor.role == R.STORE_ADMIN:
        return Staff.store_id == actor.store_id
    if actor.role == R.SUPERVISOR and actor.team_id is not None:
        return or_(Staff.id == actor.id, Staff.team_id == actor.team_id)
    return Staff.id == actor.id


def _team_predicate(actor: Staff) -> ColumnElement[bool]:
    if actor.role == R.GROUP_ADMIN:
        return Team.store_id.in_(select(Store.id).where(Store.group_id == actor.group_id))
    if actor.role in (R.STORE_ADMIN, R.SUPERVISOR):
        return Team.store_id == actor.store_id
    return false()


def _customer_predicate(actor: Staff) -> ColumnElement[bool]:
    if actor.role == R.GROUP_ADMIN:
        return Customer.group_id == actor.group_id
    if actor.role == R.STORE_ADMIN or actor.role in STORE_WIDE_SERVICE_ROLES:
        return Customer.store_id == actor.store_id
    if actor.role == R.SUPERVISOR and actor.team_id is not None:
        return and_(
            Customer.store_id == actor.store_id,
            Customer.sales_owner_id.in_(_team_member_ids(actor)),
        )
    if actor.role in (R.SALESPERSON, R.SUPERVISOR):
        return Customer.sales_owner_id == actor.id
    return false()


def _lead_predicate(actor: Staff) -> ColumnElement[bool]:
    pool = and_(Lead.owner_id.is_(None), Lead.store_id == actor.store_id)
    if actor.role == R.GROUP_ADMIN:
        return Lead.store_id.in_(select(Store.id).where(Store.group_id == actor.group_id))
    if actor.role in (R.STORE_ADMIN, R.CARE_SPECIALIST):
        return Lead.store_id == actor.store_id
    if actor.role == R.SUPERVISOR and actor.team_id is not None:
        return or_(pool, Lead.owner_id.in_(_team_member_ids(actor)))
    if actor.role in (R.SALESPERSON, R.SUPERVISOR):
        return or_(pool, Lead.owner_id == actor.id)
    return false()


def _customer_ids(actor: Staff):
    return select(Customer.id).where(_customer_predicate(actor))


def _vehicle_predicate(actor: Staff) -> ColumnElement[bool]:
    return Vehicle.customer_id.in_(_customer_ids(actor))


def _service_order_predicate(actor: Staff) -> ColumnElement[bool]:
    visible_vehicles = select(Vehicle.id).where(_vehicle_predicate(actor))
    return ServiceOrder.vehicle_id.in_(visible_vehicles)


def _deal_predicate(actor: Staff) -> ColumnElement[bool]:
    # A deal is seen with its lead; after delivery also with the customer it made.
    return or_(
        Deal.lead_id.in_(select(Lead.id).where(_lead_predicate(actor))),
        Deal.customer_id.in_(_customer_ids(actor)),
    )


def _mileage_predicate(actor: Staff) -> ColumnElement[bool]:
    return MileageReading.vehicle_id.in_(select(Vehicle.id).where(_vehicle_predicate(actor)))


def _member_card_predicate(actor: Staff) -> ColumnElement[bool]:
    return MemberCard.customer_id.in_(_customer_ids(actor))


def _segment_predicate(actor: Staff) -> ColumnElement[bool]:
    return CustomerSegment.customer_id.in_(_customer_ids(actor))


def _booking_predicate(actor: Staff) -> ColumnElement[bool]:
    # A booking is seen with its customer; a store's service staff and admins also see every
    # booking of their workshop, where customers of the group's other stores may book too.
    with_customer = Booking.customer_id.in_(_customer_ids(actor))
    if actor.role in STORE_WIDE_SERVICE_ROLES or actor.role in (R.STORE_ADMIN, R.GROUP_ADMIN):
        at_store = Booking.store_id.in_(select(Store.id).where(_store_predicate(actor)))
        return or_(with_customer, at_store)
    return with_customer


def _booking_slot_predicate(actor: Staff) -> ColumnElement[bool]:
    return BookingSlot.store_id.in_(select(Store.id).where(_store_predicate(actor)))


def _membership_tier_predicate(actor: Staff) -> ColumnElement[bool]:
    return MembershipTier.group_id == actor.group_id


def _test_drive_predicate(actor: Staff) -> ColumnElement[bool]:
    return TestDrive.lead_id.in_(select(Lead.id).where(_lead_predicate(actor)))


def _import_batch_predicate(actor: Staff) -> ColumnElement[bool]:
    # An import batch is seen by whoever sees its store.
    return ImportBatch.store_id.in_(select(Store.id).where(_store_predicate(actor)))


def _car_model_predicate(actor: Staff) -> ColumnElement[bool]:
    return CarModel.group_id == actor.group_id


def _outbox_predicate(actor: Staff) -> ColumnElement[bool]:
    # A message is seen by whoever sees its store.
    return OutboxMessage.store_id.in_(select(Store.id).where(_store_predicate(actor)))


def _care_template_predicate(actor: Staff) -> ColumnElement[bool]:
    return CareTemplate.group_id == actor.group_id


def _care_opt_out_predicate(actor: Staff) -> ColumnElement[bool]:
    return CareOptOut.customer_id.in_(_customer_ids(actor))


def _survey_predicate(actor: Staff) -> ColumnElement[bool]:
    # A survey is the figure of the store it asks about: seen by whoever sees that store.
    return Survey.store_id.in_(select(Store.id).where(_store_predicate(actor)))


def _complaint_predicate(actor: Staff) -> ColumnElement[bool]:
    # A complaint is the store's: its handlers and admins see it; anyone else sees only those
    # assigned to them or recorded by them.
    own = or_(Complaint.assignee_id == actor.id, Complaint.recorded_by_id == actor.id)
    if actor.role in (R.GROUP_ADMIN, R.STORE_ADMIN, R.CARE_SPECIALIST):
        stores = select(Store.id).where(_store_predicate(actor))
        return or_(Complaint.store_id.in_(stores), own)
    return own


def _audit_event_predicate(actor: Staff) -> ColumnElement[bool]:
    # An event is the store's it happened in; events of no store (a group admin's own work)
    # are seen by the group admin of the actor's group.
    if actor.role == R.GROUP_ADMIN:
        stores = select(Store.id).where(Store.group_id == actor.group_id)
        staff = select(Staff.id).where(Staff.group_id == actor.group_id)
        return or_(AuditEvent.store_id.in_(stores), AuditEvent.actor_staff_id.in_(staff))
    if actor.role == R.STORE_ADMIN:
        return AuditEvent.store_id == actor.store_id
    return false()


PREDICATES: dict[type, Callable[[Staff], ColumnElement[bool]]] = {
    AuditEvent: _audit_event_predicate,
    ImportBatch: _import_batch_predicate,
    CarModel: _car_model_predicate,
    Store: _store_predicate,
    Staff: _staff_predicate,
    Team: _team_predicate,
    Customer: _customer_predicate,
    Lead: _lead_predicate,
    Vehicle: _vehicle_predicate,
    ServiceOrder: _service_order_predicate,
    TestDrive: _test_drive_predicate,
    Deal: _deal_predicate,
    MileageReading: _mileage_predicate,
    MemberCard: _member_card_predicate,
    CustomerSegment: _segment_predicate,
    Booking: _booking_predicate,
    BookingSlot: _booking_slot_predicate,
    MembershipTier: _membership_tier_predicate,
    OutboxMessage: _outbox_predicate,
    CareTemplate: _care_template_predicate,
    CareOptOut: _care_opt_out_predicate,
    Complaint: _complaint_predicate,
    Survey: _survey_predicate,
}


def visible(model: type, actor: Staff | None) -> ColumnElement[bool]:
    """The SQL condition that selects the rows of ``model`` the actor may see."""
    if actor is None or not actor.active:
        return false()
    try:
        predicate = PREDICATES[model]
    except KeyError as exc:
        raise TypeError(f"{model.__name__} has no access rule; add one to crm.access") from exc
    return predicate(actor)


def scope(query: Select, actor: Staff | None, model: type | None = None) -> Select:
    """Narrow ``query`` to what ``actor`` may see (``model``: default the first entity)."""
    if model is None:
        model = query.column_descriptions[0]["entity"]
    return query.where(visible(model, actor))


def allowed(actor: Staff | None, action: str) -> bool:
    if actor is None or not actor.active:
        return False
    return Role(actor.role) in PERMISSIONS[action]


def require(actor: Staff | None, action: str, obj=None):
    """Raise unless ``actor`` may take ``action`` (on ``obj``, when given). Returns ``obj``.

    Out of scope → ``NotFound``; in scope but not the actor's role → ``Forbidden``.
    """
    if action not in PERMISSIONS:
        raise KeyError(f"unknown action {action!r}")
    if obj is not None:
        model = type(obj)
        hit = db.session.scalar(
            select(true()).select_from(model).where(model.id == obj.id, visible(model, actor))
        )
        if not hit:
            raise NotFound()
    if not allowed(actor, action):
        raise Forbidden()
    return obj


def get_or_404(model: type, record_id: int, actor: Staff | None, action: str = "view"):
    """Load one record through the actor's scope; missing and out-of-scope look the same."""
    record = db.session.scalar(scope(select(model).where(model.id == record_id), actor, model))
    if record is None:
        raise NotFound()
    return require(actor, action, record) if action != "view" else record
