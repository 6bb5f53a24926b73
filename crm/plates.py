"""Chinese licence plates (GA 36): a province character, the issuing-office letter, then five
characters (petrol) or six (new-energy green plates)."""

from __future__ import annotations

import re

from crm.errors import ValidationError

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
# I and O are never used, to avoid confusion with 1 and 0.
_LETTER = "A-HJ-NP-Z"
_PLATE = re.compile(
    rf"^[{_PROVINCES}][{_LETTER}]"
    rf"(?:[{_LETTER}0-9]{{4}}[{_LETTER}0-9挂学警港澳]|[{_LETTER}0-9]{{6}})$"
)


def normalise(raw: str | None, field: str = "plate") -> str:
    """An upper-case plate without spaces or separators, "" when blank (not yet registered),
    or a ValidationError naming ``field``."""
    plate = re.sub(r"[\s·•.\-]", "", raw or "").upper()
    if not plate:
        return ""
    if not _PLATE.match(plate):
        raise ValidationError("车牌号格式不正确（例如 浙A12345 或新能源 浙AD12345）", field)
    return plate
