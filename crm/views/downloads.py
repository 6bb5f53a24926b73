"""Sending files from views: one way to answer with an .xlsx, and one way to answer a list's
"导出 Excel" link (the file, or back to the list with the reason it was refused)."""

from __future__ import annotations

import io
from collections.abc import Callable

from flask import Response, flash, redirect, send_file

from crm import clock, spreadsheets
from crm.errors import ValidationError


def xlsx(content: bytes, download_name: str) -> Response:
    """An .xlsx attachment that no cache keeps (it may hold personal data)."""
    return send_file(
        io.BytesIO(content),
        mimetype=spreadsheets.XLSX_MIME,
        as_attachment=True,
        download_name=download_name,
        max_age=0,
    )


def list_export(title: str, produce: Callable[[], tuple[bytes, int]], back: str) -> Response:
    """A list's export named ``<title>_<Beijing date>.xlsx``; an export the service refuses
    (too many rows, a bad filter) returns to ``back`` with the message shown."""
    try:
        content, _count = produce()
    except ValidationError as error:
        flash(error.message)
        return redirect(back)
    return xlsx(content, f"{title}_{clock.today():%Y%m%d}.xlsx")
