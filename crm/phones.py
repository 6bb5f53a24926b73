"""Phone numbers: everything stored or indexed is E.164 (PRODUCT rule 4)."""

from __future__ import annotations

import phonenumbers

from crm.errors import ValidationError

DEFAULT_REGION = "CN"


def normalise(raw: str | None, field: str = "phone") -> str:
    """Return ``raw`` as E.164 (``+8613812345678``) or raise a ValidationError naming ``field``."""
    text = (raw or "").strip()
    if not text:
        raise ValidationError("请填写手机号", field)
    try:
        number = phonenumbers.parse(text, DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError("手机号格式不正确", field) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError("手机号格式不正确", field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def masked(e164: str) -> str:
    """A phone for lists and logs: ``+86 138****5678``."""
    if e164.startswith("+86") and len(e164) == 14:
        national = e164[3:]
        return f"{national[:3]}****{national[-4:]}"
    return e164[:4] + "****" + e164[-4:]
