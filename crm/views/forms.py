"""Reading request input in views: the one place that turns form fields into plain values."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import render_template, request

from crm import clock
from crm.errors import ValidationError

LOCAL_INPUT_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M")


def form_values(names: tuple[str, ...]) -> dict[str, str]:
    """The named fields of the posted form (or the query string on GET), stripped."""
    source = request.form if request.method == "POST" else request.args
    return {name: (source.get(name) or "").strip() for name in names}


def int_arg(name: str, default: int | None = None) -> int | None:
    """A positive integer query argument; anything else is the default."""
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else default


def local_datetime(value: str, field: str) -> datetime | None:
    """A ``datetime-local`` input, a Beijing wall-clock time, as an aware UTC instant.

    Empty is None; anything unreadable is a ValidationError naming ``field``.
    """
    if not value:
        return None
    for layout in LOCAL_INPUT_FORMATS:
        try:
            wall = datetime.strptime(value, layout)
        except ValueError:
            continue
        return wall.replace(tzinfo=clock.BUSINESS_TZ).astimezone(UTC)
    raise ValidationError("时间格式不正确，请重新选择", field)


def local_input(instant: datetime | None) -> str:
    """An instant as the value of a ``datetime-local`` input (Beijing wall clock)."""
    return clock.local(instant).strftime("%Y-%m-%dT%H:%M") if instant else ""


def form_page(template: str, errors: dict, status: int | None = None, **context):
    """A page with a form: HTTP 400 when it shows errors (ARCHITECTURE rule 5), else 200,
    unless ``status`` says otherwise (409 for a conflict)."""
    rendered = render_template(template, errors=errors, **context)
    return rendered, status or (400 if errors else 200)


def local_date(value: str, field: str) -> date | None:
    """A ``date`` input (YYYY-MM-DD); empty is None, anything else a ValidationError."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError("日期格式不正确，请重新选择", field) from None


def whole_number(value: str, field: str) -> int | None:
    """A whole number typed into a form ("12,000" allowed); empty is None."""
    text = value.replace(",", "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValidationError("请填写整数", field) from None


def local_target(raw: str | None, prefix: str = "/console/") -> str | None:
    """A redirect target taken from the request, only if it stays inside ``prefix`` on this
    site (never an open redirect)."""
    target = raw or ""
    return target if target.startswith(prefix) and "//" not in target else None
