"""Managing the organisation: stores, teams, staff (PRODUCT "Organisation and access").

Every function takes the session, the acting staff member and ``now``; it checks the actor's
right through ``crm.access``, validates input (errors name the field, nothing changes), and
commits. Every change to a store or a staff member is appended to the audit log (issue 10
"Console pages": who changed what) in the same transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from crm import access, clock, phones
from crm.errors import ValidationError
from crm.models import Group, Role, Staff, Store, Team
from crm.services import audit, pool
from crm.services.identity import find_staff_by_phone, phone_index

STORE_CODE = re.compile(r"^[A-Za-z0-9_-]{2,20}$")
MIN_PASSWORD = 8
ROLES_WITHOUT_STORE = frozenset({Role.GROUP_ADMIN})


@dataclass
class StoreInput:
    code: str
    name: str
    city: str = ""
    address: str = ""
    phone: str = ""
    rescue_phone: str = ""


@dataclass
class StaffInput:
    name: str
    phone: str
    role: str
    store_id: int | None = None
    team_id: int | None = None
    password: str | None = None


def _required(value: str | None, field: str, label: str, max_len: int) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationError(f"请填写{label}", field)
    if len(text) > max_len:
        raise ValidationError(f"{label}不能超过{max_len}个字符", field)
    return text


def _optional_phone(value: str, field: str) -> str:
    return phones.normalise(value, field) if (value or "").strip() else ""


def _clean_store(session: Session, data: StoreInput, editing: Store | None) -> dict:
    code = _required(data.code, "code", "分店编码", 20)
    if not STORE_CODE.match(code):
        raise ValidationError("分店编码只能包含字母、数字、下划线和短横线", "code")
    taken = session.scalar(select(Store).where(func.lower(Store.code) == code.lower()))
    if taken is not None and taken is not editing:
        raise ValidationError(f"分店编码 {code} 已被“{taken.name}”使用", "code")
    return {
        "code": code,
        "name": _required(data.name, "name", "分店名称", 100),
        "city": (data.city or "").strip()[:50],
        "address": (data.address or "").strip()[:200],
        "phone": _optional_phone(data.phone, "phone"),
        "rescue_phone": _optional_phone(data.rescue_phone, "rescue_phone"),
    }


def create_store(session: Session, actor: Staff, data: StoreInput, now: datetime) -> Store:
    """Group admins open stores in their group."""
    access.require(actor, "store.create")
    store = Store(group_id=actor.group_id, created_at=now, **_clean_store(session, data, None))
    session.add(store)
    session.flush()
    _audit_store(session, actor, "store.create", store, now)
    session.commit()
    return store


def update_store(
    session: Session,
    actor: Staff,
    store_id: int,
    data: StoreInput,
    now: datetime | None = None,
) -> Store:
    store = access.get_or_404(Store, store_id, actor, "store.edit")
    changed = _assign(store, _clean_store(session, data, store))
    if changed:
        _audit_store(session, actor, "store.update", store, now, fields=changed)
    session.commit()
    return store


def set_store_active(
    session: Session, actor: Staff, store_id: int, active: bool, now: datetime | None = None
) -> Store:
    store = access.get_or_404(Store, store_id, actor, "store.create")
    if store.active != active:
        action = "store.activate" if active else "store.deactivate"
        _audit_store(session, actor, action, store, now)
    store.active = active
    session.commit()
    return store


def rename_group(session: Session, actor: Staff, name: str) -> Group:
    access.require(actor, "store.create")
    group = session.get(Group, actor.group_id)
    group.name = _required(name, "name", "集团名称", 100)
    session.commit()
    return group


def create_team(session: Session, actor: Staff, store_id: int, name: str) -> Team:
    store = _store_in_scope(session, actor, store_id, "store_id")
    access.require(actor, "team.create")
    name = _required(name, "name", "团队名称", 50)
    if session.scalar(select(Team).where(Team.store_id == store.id, Team.name == name)):
        raise ValidationError(f"{store.name}已有名为“{name}”的团队", "name")
    team = Team(store_id=store.id, name=name)
    session.add(team)
    session.commit()
    return team


MAX_ID = 2**31 - 1


def _record_id(value) -> int | None:
    """A form's record id as an int; anything that is not one (text, huge) is None."""
    text = str(value).strip()
    return int(text) if text.isdigit() and 0 < int(text) <= MAX_ID else None


def _store_in_scope(session: Session, actor: Staff, store_id, field: str) -> Store:
    """A store the actor manages; anything else reads as 'no such store' on ``field``."""
    if store_id in (None, ""):
        raise ValidationError("请选择分店", field)
    store_id = _record_id(store_id)
    store = store_id and session.scalar(
        access.scope(select(Store).where(Store.id == store_id), actor, Store)
    )
    if store is None:
        raise ValidationError("所选分店不存在或不在您的管理范围内", field)
    return store


def _clean_staff(session: Session, actor: Staff, data: StaffInput, editing: Staff | None) -> dict:
    name = _required(data.name, "name", "姓名", 50)
    e164 = phones.normalise(data.phone, "phone")
    holder = find_staff_by_phone(session, e164)
    if holder is not None and holder is not editing:
        raise ValidationError(f"手机号已被员工“{holder.name}”使用", "phone")
    try:
        role = Role(data.role)
    except ValueError as exc:
        raise ValidationError("请选择有效的角色", "role") from exc
    if role == Role.GROUP_ADMIN and actor.role != Role.GROUP_ADMIN:
        raise ValidationError("只有总管理员可以设置总管理员", "role")

    store_id = team_id = None
    if role in ROLES_WITHOUT_STORE:
        if data.store_id not in (None, ""):
            store_id = _store_in_scope(session, actor, data.store_id, "store_id").id
    else:
        store_id = _store_in_scope(session, actor, data.store_id, "store_id").id
        if data.team_id not in (None, ""):
            team_id = _record_id(data.team_id)
            team = team_id and session.get(Team, team_id)
            if team is None or team.store_id != store_id:
                raise ValidationError("所选团队不属于该分店", "team_id")
            team_id = team.id
    cleaned = {
        "name": name,
        "phone": e164,
        "phone_index": phone_index(e164),
        "role": role.value,
        "store_id": store_id,
        "team_id": team_id,
    }
    if data.password:
        if len(data.password) < MIN_PASSWORD:
            raise ValidationError(f"密码至少{MIN_PASSWORD}位", "password")
        cleaned["password_hash"] = generate_password_hash(data.password)
    return cleaned


def create_staff(session: Session, actor: Staff, data: StaffInput, now: datetime) -> Staff:
    """Admins add staff to stores they manage; the phone is unique across the group."""
    access.require(actor, "staff.create")
    staff = Staff(
        group_id=actor.group_id, created_at=now, **_clean_staff(session, actor, data, None)
    )
    session.add(staff)
    session.flush()
    _audit_staff(session, actor, "staff.create", staff, now, role=staff.role)
    session.commit()
    return staff


def update_staff(
    session: Session,
    actor: Staff,
    staff_id: int,
    data: StaffInput,
    now: datetime | None = None,
) -> Staff:
    staff = access.get_or_404(Staff, staff_id, actor, "staff.edit")
    if staff.role == Role.GROUP_ADMIN and actor.role != Role.GROUP_ADMIN:
        raise ValidationError("只有总管理员可以修改总管理员", "role")
    old_role = staff.role
    changed = _assign(staff, _clean_staff(session, actor, data, staff))
    if changed:
        # The phone's blind index changes with the phone; the log names the field once.
        fields = [name for name in changed if name != "phone_index"]
        role = [old_role, staff.role] if "role" in changed else None
        _audit_staff(session, actor, "staff.update", staff, now, fields=fields, role=role)
    session.commit()
    return staff


def set_staff_left(
    session: Session, actor: Staff, staff_id: int, now: datetime, hand_to: int | None = None
) -> tuple[Staff, int]:
    """Mark a staff member as left: their log-ins stop working at once, and in the same
    transaction all their open leads go back to the pool or to the colleague ``hand_to``,
    each move recorded (PRODUCT "Organisation and access"). Returns the staff member and how
    many leads moved.
    """
    staff = access.get_or_404(Staff, staff_id, actor, "staff.edit")
    if staff.id == actor.id:
        raise ValidationError("不能将自己设为离职", "active")
    if not staff.active:
        raise ValidationError(f"{staff.name}已是离职状态", "active")
    moved = pool.release_leads_of(session, actor, staff, hand_to, now)
    staff.active = False
    staff.left_at = now
    _audit_staff(session, actor, "staff.leave", staff, now, leads=moved, to_staff=hand_to)
    session.commit()
    return staff, moved


def reinstate_staff(
    session: Session, actor: Staff, staff_id: int, now: datetime | None = None
) -> Staff:
    staff = access.get_or_404(Staff, staff_id, actor, "staff.edit")
    if not staff.active:
        _audit_staff(session, actor, "staff.reinstate", staff, now)
    staff.active = True
    staff.left_at = None
    session.commit()
    return staff


def _assign(record, values: dict) -> list[str]:
    """Set ``values`` on ``record``; the names of the fields that changed. A password is
    always a change when given (its hash never compares equal)."""
    changed = []
    for key, value in values.items():
        if getattr(record, key) != value:
            changed.append("password" if key == "password_hash" else key)
            setattr(record, key, value)
    return changed


def _audit_store(session, actor, action, store, now, **detail) -> None:
    audit.record(
        session,
        actor,
        action,
        subject_type="store",
        subject_id=store.id,
        store_id=store.id,
        detail={key: value for key, value in detail.items() if value is not None},
        now=now or clock.now(),
    )


def _audit_staff(session, actor, action, staff, now, **detail) -> None:
    audit.record(
        session,
        actor,
        action,
        subject_type="staff",
        subject_id=staff.id,
        store_id=staff.store_id,
        detail={key: value for key, value in detail.items() if value is not None},
        now=now or clock.now(),
    )


def bootstrap_staff(
    session: Session, data: StaffInput, now: datetime, store_code: str | None = None
) -> Staff:
    """The CLI's ``create-staff``: the first group admin of a deployment, and scripted set-up.

    With no group yet, one is created. ``store_code`` names the store for store roles.
    """
    group = session.scalar(select(Group).order_by(Group.id))
    if group is None:
        group = Group(name="集团总部", created_at=now)
        session.add(group)
        session.flush()
    # The CLI acts as the group's own administrator.
    system_actor = Staff(id=0, group_id=group.id, role=Role.GROUP_ADMIN.value, active=True)
    if store_code:
        store = session.scalar(select(Store).where(Store.code == store_code))
        if store is None:
            raise ValidationError(f"分店 {store_code} 不存在", "store")
        data.store_id = store.id
    staff = Staff(
        group_id=group.id, created_at=now, **_clean_staff(session, system_actor, data, None)
    )
    session.add(staff)
    session.commit()
    return staff
