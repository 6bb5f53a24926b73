"""The lead import in a real browser (Chromium through Playwright, the app under gunicorn):
the upload goes through ``import_progress.js`` (fetch, progress polling, then the report),
a refused file shows the form again with the error beside the field, and the good rows of
a file with errors are imported from the report page."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import Workbook
from playwright.sync_api import Page, expect

from tests import test_browser as browser_support

pytestmark = pytest.mark.browser

# The gunicorn server, the browser and a fresh page, as the console's browser tests use them.
server_url = browser_support.server_url
browser = browser_support.browser
page = browser_support.page


def workbook(rows: list[list[str]]) -> bytes:
    book = Workbook()
    book.active.append(["姓名", "手机", "意向车型"])
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def choose_file(page: Page, name: str, content: bytes, mime: str) -> None:
    page.locator("input[name=file]").set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": content}]
    )


def test_upload_with_progress_then_import_the_good_rows(page: Page):
    browser_support.log_in(page)
    browser_support.create_store(page, code="IM01", name="导入测试店")
    page.locator("nav.mainnav").get_by_role("link", name="车型").click()
    page.locator("main form [name=name]").fill("凯美瑞")
    page.get_by_role("button", name="添加").click()
    expect(page.locator(".flash")).to_have_text("已添加车型：凯美瑞")

    page.locator("nav.mainnav").get_by_role("link", name="导入线索").click()
    expect(page).to_have_url(re.compile(r"/console/imports$"))
    expect(page.locator("#import-form")).to_contain_text("导入到分店：导入测试店")  # the only one

    # A file that is not an .xlsx: the form comes back with the error beside the file field.
    choose_file(page, "leads.csv", "姓名,手机\n王,13912340001\n".encode(), "text/csv")
    with page.expect_request(lambda r: r.method == "POST") as refused:
        page.get_by_role("button", name="上传并检查").click()
    assert refused.value.resource_type == "fetch"  # sent by import_progress.js
    error = page.locator("p.error[data-field=file]")
    expect(error).to_have_text("文件不是有效的 Excel（.xlsx）文件")
    expect(page).to_have_url(re.compile(r"/console/imports$"))

    # The page the script put in place works the same way: now a file with one bad row.
    rows = [[f"客户{n}", f"1391400{n:04d}", "凯美瑞"] for n in range(3000)]
    rows.insert(1, ["坏号码", "12345", ""])
    xlsx_mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    choose_file(page, "线索.xlsx", workbook(rows), xlsx_mime)
    with page.expect_request(lambda r: r.method == "POST") as posted:
        page.get_by_role("button", name="上传并检查").click()
    assert posted.value.resource_type == "fetch"

    expect(page).to_have_url(re.compile(r"/console/imports/\d+$"), timeout=30_000)
    expect(page.locator("[data-errors]")).to_contain_text("第3行")
    expect(page.locator("[data-errors]")).to_contain_text("手机号格式不正确")
    expect(page.locator("[data-figure=good]")).to_have_text("3000")

    page.get_by_role("button", name="仅导入正确的 3000 行").click()
    flash = page.locator(".flash[role=status]")
    expect(flash).to_have_text("已导入 3000 条线索到客户池", timeout=30_000)
    expect(page).to_have_url(re.compile(r"/console/imports/\d+$"))
    expect(page.locator("[data-figure=imported]")).to_have_text("3000")
