"""The car models a group sells (leads name one; imports are checked against the list)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import CarModel


def active_model_names(session: Session, group_id: int) -> set[str]:
    return set(
        session.scalars(
            select(CarModel.name).where(CarModel.group_id == group_id, CarModel.active.is_(True))
        )
    )
