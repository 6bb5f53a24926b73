"""Staff log-in with a password (the desktop console). WeChat log-in lands with the WeChat
platform layer."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from crm.errors import ValidationError
from crm.models import Customer, Staff
from crm.services.identity import find_staff_by_phone

# Checked when no such staff exists, so a wrong phone costs as much time as a wrong password.
_DUMMY_HASH = generate_password_hash("not a real password")
BAD_CREDENTIALS = "手机号或密码不正确"


def end_all_sessions(session: Session, person: Staff | Customer) -> None:
    """Log-out (ASVS 3.3.1): move the person to a new session epoch, so every cookie issued
    before, including one copied off this device, is refused from now on."""
    model = Staff if isinstance(person, Staff) else Customer
    session.execute(
        update(model)
        .where(model.id == person.id)
        .values(session_epoch=model.session_epoch + 1)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def authenticate(session: Session, phone: str, password: str) -> Staff:
    """The active staff member with this phone and password; the same error for every miss."""
    if not (password or "").strip():
        raise ValidationError("请填写密码", "password")
    staff = find_staff_by_phone(session, phone)  # raises on a malformed phone
    stored = staff.password_hash if staff is not None and staff.password_hash else _DUMMY_HASH
    if not check_password_hash(stored, password) or staff is None or not staff.password_hash:
        raise ValidationError(BAD_CREDENTIALS, "password")
    if not staff.active:
        raise ValidationError("该账号已停用（离职）", "phone")
    return staff
