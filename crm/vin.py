"""Vehicle identification numbers: 17 characters, ISO 3779, with the position-9 check digit
(GB 16735 uses the same weights)."""

from __future__ import annotations

from crm.errors import ValidationError

_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def check_digit(vin: str) -> str:
    total = sum(_VALUES[char] * weight for char, weight in zip(vin, _WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def normalise(raw: str, field: str = "vin") -> str:
    """An upper-case, validated VIN, or a ValidationError naming ``field``."""
    vin = (raw or "").strip().upper()
    if len(vin) != 17:
        raise ValidationError("车架号必须是17位", field)
    if any(char not in _VALUES for char in vin):
        raise ValidationError("车架号只能包含数字和字母（不含I、O、Q）", field)
    if vin[8] != check_digit(vin):
        raise ValidationError("车架号校验位不正确", field)
    return vin


def with_check_digit(seventeen: str) -> str:
    """Set position 9 of a 17-character VIN to its check digit (for generated data)."""
    return seventeen[:8] + check_digit(seventeen) + seventeen[9:]
