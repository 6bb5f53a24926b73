"""Reading request input in views: the one place that turns form fields into plain values."""

from __future__ import annotations

from flask import request


def form_values(names: tuple[str, ...]) -> dict[str, str]:
    """The named fields of the posted form (or the query string on GET), stripped."""
    source = request.form if request.method == "POST" else request.args
    return {name: (source.get(name) or "").strip() for name in names}


def int_arg(name: str, default: int | None = None) -> int | None:
    """A positive integer query argument; anything else is the default."""
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else default
