"""Money is kept in fen (integers); people type yuan."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from crm.errors import ValidationError

FEN_PER_YUAN = 100
MAX_YUAN = Decimal("100000000")  # ¥100 million: more is a typing mistake


def parse_yuan(raw: str | None, field: str, *, positive: bool = False) -> int:
    """Fen from a yuan amount as typed ("12,345.6", "¥800"), or a ValidationError naming
    ``field``: blank, not a number, negative, (when ``positive``) zero, or absurdly large."""
    text = (raw or "").replace(",", "").replace("，", "").replace("¥", "").replace("￥", "")
    text = text.strip()
    if not text:
        raise ValidationError("请填写金额（元）", field)
    try:
        yuan = Decimal(text)
    except InvalidOperation:
        raise ValidationError("金额必须是数字（元）", field) from None
    if not yuan.is_finite():
        raise ValidationError("金额必须是数字（元）", field)
    if yuan < 0:
        raise ValidationError("金额不能为负数", field)
    if positive and yuan == 0:
        raise ValidationError("金额必须大于0", field)
    if yuan > MAX_YUAN:
        raise ValidationError("金额过大，请检查", field)
    return int((yuan * FEN_PER_YUAN).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def yuan(fen: int) -> str:
    """Fen shown to people: "¥12,345.60"."""
    return f"¥{fen / FEN_PER_YUAN:,.2f}"
