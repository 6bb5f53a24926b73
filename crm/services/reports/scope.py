"""What a report covers: the actor's stores and salespeople, narrowed by the page's filters
(PRODUCT "Organisation and access": a store admin sees the store, the group admin every store,
a supervisor the team). Everything goes through ``crm.access``; a store or salesperson outside
the actor's scope is ``NotFound`` (404), the same as any other record."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import access
from crm.errors import NotFound, ValidationError
from crm.models import Role, Staff, Store

VIEW = "report.view"
SALES_ROLES = (Role.SALESPERSON.value, Role.SUPERVISOR.value)


@dataclass(frozen=True)
class Filters:
    """The page's store and salesperson filters (None: everything in the actor's scope)."""

    store_id: int | None = None
    salesperson_id: int | None = None


EVERYTHING = Filters()


def _record_id(raw: str | int | None, field: str) -> int | None:
    if raw is None or raw == "":
        return None
    text = str(raw).strip()
    if not text.isdecimal():
        raise ValidationError("请选择列表中的一项", field)
    return int(text)


def parse_filters(session: Session, actor: Staff, store: str, salesperson: str) -> Filters:
    """The filters typed in the page's query string, each checked against the actor's scope:
    another store's id, or another team's salesperson, answers 404."""
    access.require(actor, VIEW)
    store_id = _record_id(store, "store")
    salesperson_id = _record_id(salesperson, "salesperson")
    if store_id is not None:
        query = access.scope(select(Store.id).where(Store.id == store_id), actor, Store)
        if session.scalar(query) is None:
            raise NotFound()
    if salesperson_id is not None:
        query = access.scope(select(Staff).where(Staff.id == salesperson_id), actor, Staff)
        person = session.scalar(query)
        if person is None or person.role not in SALES_ROLES:
            raise NotFound()
        if store_id is not None and person.store_id != store_id:
            raise ValidationError("该销售顾问不属于所选分店", "salesperson")
    return Filters(store_id, salesperson_id)


def stores(session: Session, actor: Staff, filters: Filters = EVERYTHING) -> list[Store]:
    """The stores the actor's reports cover, by code."""
    query = access.scope(select(Store).order_by(Store.code), actor)
    if filters.store_id is not None:
        query = query.where(Store.id == filters.store_id)
    return list(session.scalars(query))


def salespeople(session: Session, actor: Staff, filters: Filters = EVERYTHING) -> list[Staff]:
    """The salespeople and supervisors the actor sees, leavers included (their figures stay
    theirs), by store and name."""
    query = access.scope(
        select(Staff).where(Staff.role.in_(SALES_ROLES)).order_by(Staff.store_id, Staff.name),
        actor,
    )
    if filters.store_id is not None:
        query = query.where(Staff.store_id == filters.store_id)
    return list(session.scalars(query))
