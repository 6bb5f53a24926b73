"""The car models a group sells: one list for all its stores. Leads name one of the active
models, and spreadsheet imports are checked against the list (PRODUCT "The customer pool").

A model is never deleted, only deactivated: leads and test drives keep naming it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import access
from crm.errors import ValidationError
from crm.models import CarModel, Staff

NAME_MAX = 50


def active_model_names(session: Session, group_id: int) -> set[str]:
    return set(
        session.scalars(
            select(CarModel.name).where(CarModel.group_id == group_id, CarModel.active.is_(True))
        )
    )


def list_models(session: Session, actor: Staff) -> list[CarModel]:
    """The group's models, active ones first, then by name."""
    return list(
        session.scalars(
            access.scope(select(CarModel), actor).order_by(CarModel.active.desc(), CarModel.name)
        )
    )


def add_model(session: Session, actor: Staff, name: str, now: datetime) -> CarModel:
    access.require(actor, "catalogue.edit")
    name = (name or "").strip()
    if not name:
        raise ValidationError("请填写车型名称", "name")
    if len(name) > NAME_MAX:
        raise ValidationError(f"车型名称不能超过{NAME_MAX}个字", "name")
    taken = session.scalar(
        select(CarModel).where(
            CarModel.group_id == actor.group_id, func.lower(CarModel.name) == name.lower()
        )
    )
    if taken is not None:
        state = "" if taken.active else "（已停售，可重新启用）"
        raise ValidationError(f"车型“{taken.name}”已存在{state}", "name")
    model = CarModel(group_id=actor.group_id, name=name, active=True, created_at=now)
    session.add(model)
    session.commit()
    return model


def set_model_active(session: Session, actor: Staff, model_id: int, active: bool) -> CarModel:
    """Stop or resume selling a model; existing leads keep its name either way."""
    model = access.get_or_404(CarModel, model_id, actor, "catalogue.edit")
    model.active = active
    session.commit()
    return model


# The brand's maintenance schedule and warranty of a model (issue 7: "the brand interval —
# configurable per model: months and km"): field -> (label, lowest, highest).
SCHEDULE_FIELDS = {
    "first_service_months": ("首保时间（月）", 1, 36),
    "first_service_km": ("首保里程（公里）", 500, 50_000),
    "service_interval_months": ("保养间隔（月）", 1, 36),
    "service_interval_km": ("保养间隔（公里）", 1_000, 100_000),
    "warranty_months": ("质保期（月）", 6, 240),
}


def set_schedule(session: Session, actor: Staff, model_id: int, values: dict[str, str]) -> CarModel:
    """Set a model's first service, service interval and warranty; every value is checked
    before any is changed. Vehicles are replanned as their next order or reading comes in."""
    model = access.get_or_404(CarModel, model_id, actor, "catalogue.edit")
    parsed = {}
    for field, (label, lowest, highest) in SCHEDULE_FIELDS.items():
        raw = (values.get(field) or "").replace(",", "").strip()
        if not raw.isdigit() or not lowest <= int(raw) <= highest:
            raise ValidationError(f"{label}须为{lowest}到{highest}之间的整数", field)
        parsed[field] = int(raw)
    for field, value in parsed.items():
        setattr(model, field, value)
    session.commit()
    return model
