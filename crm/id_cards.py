"""Resident identity card numbers (GB 11643): 18 characters, the last one an ISO 7064
MOD 11-2 check character, with the holder's birth date in positions 7–14."""

from __future__ import annotations

from datetime import date

from crm.errors import ValidationError

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def check_character(first_17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first_17, _WEIGHTS, strict=True)) % 11]


def normalise(raw: str | None, field: str = "id_number") -> str:
    """An upper-case, validated ID number, "" when blank, or a ValidationError naming
    ``field``."""
    number = (raw or "").strip().upper()
    if not number:
        return ""
    if len(number) != 18 or not number[:17].isdigit() or number[17] not in "0123456789X":
        raise ValidationError("身份证号必须是18位（最后一位可为X）", field)
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValidationError("身份证号中的出生日期不正确", field) from None
    if number[17] != check_character(number[:17]):
        raise ValidationError("身份证号校验位不正确", field)
    return number


def birthday(number: str) -> date:
    return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def with_check_character(first_17: str) -> str:
    """A complete number for generated data."""
    return first_17 + check_character(first_17)
