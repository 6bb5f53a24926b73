"""Cursor pagination of the JSON API (issue 11: "Pagination (cursor)").

A page is ``{"items": [...], "next_cursor": str | null}``. The cursor is opaque to clients:
the sort key of the last item sent, signed with the app's secret and bound to the endpoint,
so a forged, truncated or borrowed cursor is refused (400 naming ``cursor``) instead of
silently starting over. Keys, not offsets: an item added or removed between two pages neither
repeats nor skips the others.

- ``cursor_page(items, args, key)``: for a service that returns the whole (short) list, in
  ``key`` order — the customer's own bookings, complaints...
- ``query_page(session, query, columns, args)``: keyset pagination in SQL for long lists
  (a store's leads): ``WHERE (columns) > (cursor) ORDER BY columns LIMIT n + 1``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Select, tuple_
from sqlalchemy.orm import Session

from crm.errors import ValidationError

_SALT = "crm.api-cursor.v1"
FIELD = "cursor"


def _bad_cursor() -> ValidationError:
    return ValidationError("分页游标无效，请从第一页重新获取", FIELD)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _plain(value: Any) -> list:
    if isinstance(value, datetime):
        return ["t", value.isoformat()]
    if isinstance(value, date):
        return ["d", value.isoformat()]
    return ["v", value]


def _typed(pair: list) -> Any:
    kind, value = pair
    if kind == "t":
        return datetime.fromisoformat(value)
    if kind == "d":
        return date.fromisoformat(value)
    return value


def encode(key: tuple) -> str:
    """The cursor that continues after the item whose sort key is ``key``."""
    return _serializer().dumps({"e": request.endpoint, "k": [_plain(part) for part in key]})


def decode(cursor: str | None, width: int | None) -> tuple | None:
    """The sort key a cursor continues after (None for the first page); anything not issued
    by this endpoint for a key of ``width`` parts raises ``ValidationError`` naming
    ``cursor``."""
    if not cursor:
        return None
    try:
        payload = _serializer().loads(cursor)
        if payload["e"] != request.endpoint or width not in (None, len(payload["k"])):
            raise _bad_cursor()
        return tuple(_typed(pair) for pair in payload["k"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise _bad_cursor() from None


def cursor_page(
    items: Sequence, args: dict, key: Callable[[Any], tuple], descending: bool = False
) -> dict:
    """One page of ``items`` (already sorted by ``key``, descending if so told): those after
    the cursor's key, at most ``args["limit"]`` of them, and the cursor for the next page."""
    limit = args["limit"]
    after = decode(args.get("cursor"), len(key(items[0])) if items else None)
    if after is not None:
        items = [item for item in items if (key(item) < after if descending else key(item) > after)]
    page = list(items[:limit])
    more = len(items) > limit
    return {"items": page, "next_cursor": encode(key(page[-1])) if more else None}


def query_page(
    session: Session,
    query: Select,
    columns: Sequence,
    args: dict,
    key: Callable[[Any], tuple],
    descending: bool = False,
) -> dict:
    """Keyset pagination in SQL: ``columns`` must identify a row uniquely (end with the id);
    ``key(row)`` gives the same values from a loaded row."""
    after = decode(args.get("cursor"), len(columns))
    if after is not None:
        position = tuple_(*columns)
        query = query.where(position < tuple_(*after) if descending else position > tuple_(*after))
    order = [column.desc() for column in columns] if descending else list(columns)
    rows = list(session.scalars(query.order_by(*order).limit(args["limit"] + 1)))
    more = len(rows) > args["limit"]
    page = rows[: args["limit"]]
    return {"items": page, "next_cursor": encode(key(page[-1])) if more else None}
