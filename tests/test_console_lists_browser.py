"""The console's lists and the audit log in a real browser (Chromium through Playwright, the app
under gunicorn): the group admin filters, sorts, pages and clears the customer and lead lists
through their forms and headers; an Excel export holds every filtered row of every page with
the phones, and the audit log then shows it; a store admin sees only the store in each of the
five lists and may export, a salesperson may not; opening a customer is logged and a store
admin reads only the store's events; a backwards date range is refused beside its field
(issue 10 "Console pages").

Store A's records all carry "西湖" in their names and store B's "鄞州", so a page that must
not show store B is checked for that mark as well as for each of B's names.
"""

from __future__ import annotations

import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from crm.services import audit_log
from crm.services.console_lists import leads as lead_list
from tests import test_browser as browser_support
from tests import test_care_channels_browser as server_support
from tests import test_reports_browser as reports_support

pytestmark = pytest.mark.browser

browser = browser_support.browser
page = browser_support.page
server = server_support.server
server_url = server_support.server_url
log_in_as = reports_support.log_in_as
watch_errors = reports_support.watch_errors

STORE_A = ("LSTA", "杭州西湖店")
STORE_B = ("LSTB", "宁波鄞州店")
ADMIN_A = ("13900000091", "西湖店长")
ADMIN_B = ("13900000092", "鄞州店长")
SALES_A = ("13900000093", "西湖销售小周")
SALES_B = ("13900000094", "鄞州销售小林")
# Oldest first: each customer is a day newer than the one before, the two stores interleaved.
CUSTOMERS = (
    ("A", "西湖客户甲"),
    ("B", "鄞州客户甲"),
    ("A", "西湖客户乙"),
    ("B", "鄞州客户乙"),
    ("A", "西湖客户丙"),
)
A_CUSTOMERS = [name for store, name in CUSTOMERS if store == "A"]
B_CUSTOMERS = [name for store, name in CUSTOMERS if store == "B"]
A_LEADS = [f"西湖线索{n:02d}" for n in range(1, 56)]  # oldest first; more than a page
B_LEADS = [f"鄞州线索{n}" for n in range(1, 4)]
B_NAMES = [STORE_B[1], ADMIN_B[1], SALES_B[1], *B_CUSTOMERS, *B_LEADS]
A_MARK, B_MARK = "西湖", "鄞州"


def lead_phone(number: int) -> str:
    return f"1370000{number:04d}"


def seed_lists() -> None:
    """Two stores of the group with their admins and salespeople; five customers (three in A,
    two in B, a day apart), 55 leads in A an hour apart and 3 in B, a deal, vehicles and a
    service order in each store. Run in the server's environment."""
    from datetime import timedelta

    from sqlalchemy import select

    from app import app
    from crm import clock
    from crm.extensions import db
    from crm.models import Group
    from tests import factories as f

    with app.app_context():
        group = db.session.scalar(select(Group))
        now = clock.now()
        stores = {
            key: f.StoreFactory(group=group, code=code, name=name)
            for key, (code, name) in (("A", STORE_A), ("B", STORE_B))
        }

        def staff(store: str, person: tuple[str, str], role: str):
            phone, name = person
            return f.StaffFactory(
                store=stores[store], role=role, name=name, phone=f"+86{phone}", group_id=group.id
            )

        staff("A", ADMIN_A, "store_admin")
        staff("B", ADMIN_B, "store_admin")
        sellers = {"A": staff("A", SALES_A, "salesperson"), "B": staff("B", SALES_B, "salesperson")}

        # The salespeople won the first customer of each store.
        won = {A_CUSTOMERS[0], B_CUSTOMERS[0]}
        customers = {}
        for age, (store, name) in enumerate(reversed(CUSTOMERS), start=1):
            customers[name] = f.CustomerFactory(
                store=stores[store],
                name=name,
                sales_owner=sellers[store] if name in won else None,
                created_at=now - timedelta(days=age),
            )

        a_leads = [
            f.LeadFactory(
                store=stores["A"],
                owner=sellers["A"] if number <= 2 else None,
                name=name,
                phone=f"+86{lead_phone(number)}",
                created_at=now - timedelta(hours=len(A_LEADS) + 1 - number),
            )
            for number, name in enumerate(A_LEADS, start=1)
        ]
        b_leads = [
            f.LeadFactory(store=stores["B"], owner=sellers["B"], name=name) for name in B_LEADS
        ]
        f.DealFactory(lead=a_leads[0])
        f.DealFactory(lead=b_leads[0])

        for plate, name in (
            ("浙A80001", A_CUSTOMERS[0]),
            ("浙A80002", A_CUSTOMERS[1]),
            ("浙B80001", B_CUSTOMERS[0]),
        ):
            car = f.VehicleFactory(customer=customers[name], plate=plate)
            if name != A_CUSTOMERS[1]:
                f.ServiceOrderFactory(vehicle=car, work_order_no=f"WO-{plate}")
        db.session.commit()


@pytest.fixture(scope="module")
def seeded(server):
    browser_support.run_in_server_environment(server[1], __name__, "seed_lists")
    return server


# --- helpers -------------------------------------------------------------------------------


def follow(page: Page, target) -> None:
    """Click a link or button and wait until the page it leads to has loaded, so that what
    the test reads next is the new page, not the one it left."""
    with page.expect_navigation():
        target.click()


def nav(page: Page, title: str) -> None:
    follow(page, page.locator("nav.mainnav").get_by_role("link", name=title, exact=True))


def cells(page: Page, column: int) -> list[str]:
    """The text of one column (1-based) of the list's rows, top to bottom."""
    return page.locator(f"table.grid tbody tr td:nth-child({column})").all_inner_texts()


def filter_form(page: Page):
    return page.locator("main form.list-filters")


def apply_filters(page: Page) -> None:
    follow(page, filter_form(page).get_by_role("button", name="筛选"))


def sorted_header(page: Page):
    return page.locator("table.grid thead th[aria-sort]")


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


# --- the rules -----------------------------------------------------------------------------


def test_group_admin_filters_customers_by_store_sorts_by_a_header_and_clears(seeded, page: Page):
    errors = watch_errors(page)
    browser_support.log_in(page)
    nav(page, "客户")
    expect(page).to_have_url(re.compile(r"/console/customers$"))

    # Both stores, newest first (the default order), with its header marked.
    expect(page.locator("table.grid[data-list=customers] tbody tr")).to_have_count(5)
    assert cells(page, 1) == [name for _store, name in reversed(CUSTOMERS)]
    assert set(cells(page, 3)) == {STORE_A[1], STORE_B[1]}
    expect(sorted_header(page)).to_have_attribute("aria-sort", "descending")
    expect(sorted_header(page)).to_contain_text("建档日期")

    filter_form(page).locator("select[name=store]").select_option(label=STORE_A[1])
    apply_filters(page)
    expect(page.locator("main h1")).to_contain_text("共 3 条")
    assert cells(page, 1) == A_CUSTOMERS[::-1]
    assert set(cells(page, 3)) == {STORE_A[1]}

    # The header turns the order round and keeps the store filter.
    follow(page, page.locator("table.grid thead a[data-sort=created_at]"))
    expect(sorted_header(page)).to_have_attribute("aria-sort", "ascending")
    assert cells(page, 1) == A_CUSTOMERS
    expect(filter_form(page).locator("select[name=store] option:checked")).to_have_text(STORE_A[1])

    follow(page, filter_form(page).get_by_role("link", name="清除条件"))
    expect(page).to_have_url(re.compile(r"/console/customers$"))
    expect(page.locator("main h1")).to_contain_text("共 5 条")
    assert cells(page, 1) == [name for _store, name in reversed(CUSTOMERS)]
    expect(filter_form(page).locator("select[name=store] option:checked")).to_have_text("全部分店")
    # Sorting by store (a first click sorts descending) puts store B's customers first.
    follow(page, page.locator("table.grid thead a[data-sort=store]"))
    expect(sorted_header(page)).to_have_attribute("aria-sort", "descending")
    expect(sorted_header(page)).to_contain_text("分店")
    assert cells(page, 3) == [STORE_B[1]] * 2 + [STORE_A[1]] * 3
    assert errors == []


def test_lead_list_pages_by_50_keeping_the_filter_and_sort(seeded, page: Page):
    errors = watch_errors(page)
    browser_support.log_in(page)
    nav(page, "线索")
    expect(page.locator("main h1")).to_contain_text(f"共 {len(A_LEADS) + len(B_LEADS)} 条")

    filter_form(page).locator("select[name=store]").select_option(label=STORE_A[1])
    apply_filters(page)
    follow(page, page.locator("table.grid thead a[data-sort=created_at]"))  # oldest first

    rows = page.locator("table.grid[data-list=leads] tbody tr")
    expect(rows).to_have_count(50)
    assert cells(page, 1) == A_LEADS[:50]
    pager = page.locator("nav.pager")
    expect(pager).to_contain_text("第 1 / 2 页，共 55 条")
    expect(pager.locator("a[rel=prev]")).to_have_count(0)

    follow(page, pager.get_by_role("link", name="下一页"))
    expect(page).to_have_url(re.compile(r"[?&]page=2"))
    expect(rows).to_have_count(5)
    assert cells(page, 1) == A_LEADS[50:]
    expect(pager).to_contain_text("第 2 / 2 页，共 55 条")
    expect(sorted_header(page)).to_have_attribute("aria-sort", "ascending")
    expect(sorted_header(page)).to_contain_text("创建时间")
    expect(filter_form(page).locator("select[name=store] option:checked")).to_have_text(STORE_A[1])
    assert set(cells(page, 7)) == {STORE_A[1]}

    follow(page, pager.get_by_role("link", name="上一页"))
    expect(rows).to_have_count(50)
    assert cells(page, 1) == A_LEADS[:50]
    assert errors == []


def test_export_holds_every_filtered_row_with_phones_and_is_in_the_audit_log(seeded, page: Page):
    errors = watch_errors(page)
    browser_support.log_in(page)
    nav(page, "线索")
    filter_form(page).locator("select[name=store]").select_option(label=STORE_A[1])
    apply_filters(page)
    follow(page, page.locator("table.grid thead a[data-sort=created_at]"))
    expect(page.locator("table.grid tbody tr")).to_have_count(50)  # one page of 55

    with page.expect_download() as downloading:
        page.locator("a[data-export]").click()
    download = downloading.value
    assert download.suggested_filename.startswith("线索_")
    assert download.suggested_filename.endswith(".xlsx")
    # Playwright keeps the file under a name without an extension, which openpyxl refuses.
    sheet = load_workbook(io.BytesIO(download.path().read_bytes()), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))

    assert rows[0] == lead_list.SPEC.export_headers
    assert len(rows) == 1 + len(A_LEADS)
    assert [row[1] for row in rows[1:]] == A_LEADS  # every page, in the list's order
    assert [row[2] for row in rows[1:]] == [lead_phone(n) for n in range(1, 56)]
    assert {row[7] for row in rows[1:]} == {STORE_A[1]}

    nav(page, "审计日志")
    filter_form(page).locator("select[name=action]").select_option(
        label=audit_log.ACTION_LABELS["list.export"]
    )
    apply_filters(page)
    event = page.locator("table.grid[data-list=audit] tbody tr")
    expect(event).to_have_count(1)
    expect(event).to_have_attribute("data-action", "list.export")
    texts = event.locator("td").all_inner_texts()
    assert texts[1:3] == [browser_support.ADMIN_NAME, audit_log.ACTION_LABELS["list.export"]]
    details = event.locator("td").nth(5).locator("div").all_inner_texts()
    assert f"列表：{lead_list.SPEC.title}" in details and f"行数：{len(A_LEADS)}" in details
    assert not any(lead_phone(1) in text for text in texts)
    assert errors == []


def test_store_admin_sees_only_the_store_in_every_list_and_may_export(seeded, page: Page):
    errors = watch_errors(page)
    log_in_as(page, *ADMIN_A)
    for title, name in (
        ("客户", "customers"),
        ("线索", "leads"),
        ("成交", "deals"),
        ("车辆", "vehicles"),
        ("工单", "service-orders"),
    ):
        nav(page, title)
        expect(page.locator(f"table.grid[data-list='{name}'] tbody tr").first).to_be_visible()
        expect(page.locator("a[data-export]")).to_have_text("导出 Excel")
        main = page.locator("main").inner_text()
        assert A_MARK in main, name
        assert [n for n in [B_MARK, *B_NAMES] if n in main] == [], name
        # A store admin has no other store to choose.
        expect(filter_form(page).locator("select[name=store]")).to_have_count(0)
    assert cells(page, 5) == [A_CUSTOMERS[0]]  # the one service order of store A
    assert errors == []


def test_salesperson_sees_their_own_customers_and_no_export_link(seeded, page: Page):
    errors = watch_errors(page)
    log_in_as(page, *SALES_A)
    expect(page.locator("nav.mainnav").get_by_role("link", name="工单")).to_have_count(0)
    expect(page.locator("nav.mainnav").get_by_role("link", name="审计日志")).to_have_count(0)
    for title, name in (
        ("客户", "customers"),
        ("线索", "leads"),
        ("成交", "deals"),
        ("车辆", "vehicles"),
    ):
        nav(page, title)
        expect(page.locator(f"table.grid[data-list='{name}'] tbody tr").first).to_be_visible()
        expect(page.locator("main h1")).to_contain_text(title)
        expect(page.locator("a[data-export]")).to_have_count(0)
        assert "导出 Excel" not in page.locator("main").inner_text()
        if name == "customers":
            assert cells(page, 1) == [A_CUSTOMERS[0]]
    assert errors == []


def test_opening_a_customer_is_logged_and_another_store_admin_does_not_see_it(seeded, page: Page):
    errors = watch_errors(page)
    log_in_as(page, *ADMIN_A)
    nav(page, "客户")
    row = page.locator("table.grid tbody tr").filter(has_text=A_CUSTOMERS[1])
    customer_id = row.get_attribute("data-customer")
    follow(page, row.get_by_role("link", name=A_CUSTOMERS[1]))
    expect(page).to_have_url(re.compile(rf"/console/customers/{customer_id}$"))
    expect(page.locator("main h1")).to_have_text(A_CUSTOMERS[1])

    nav(page, "审计日志")
    filter_form(page).locator("select[name=action]").select_option(
        label=audit_log.ACTION_LABELS["customer.view"]
    )
    apply_filters(page)
    expect(page).to_have_url(re.compile(r"action=customer\.view"))
    viewed = page.locator("table.grid[data-list=audit] tbody tr[data-action='customer.view']")
    mine = viewed.filter(has_text=f"#{customer_id}")
    expect(mine).to_have_count(1)
    texts = mine.locator("td").all_inner_texts()
    assert texts[1:5] == [
        ADMIN_A[1],
        audit_log.ACTION_LABELS["customer.view"],
        f"customer #{customer_id}",
        f"#{customer_id}",
    ]
    assert A_CUSTOMERS[1] not in page.locator("main").inner_text()  # ids only, no names

    follow(page, page.locator(".whoami").get_by_role("button", name="退出"))
    log_in_as(page, *ADMIN_B)
    nav(page, "客户")
    follow(page, page.get_by_role("link", name=B_CUSTOMERS[0]))
    expect(page.locator("main h1")).to_have_text(B_CUSTOMERS[0])
    nav(page, "审计日志")
    filter_form(page).locator("select[name=action]").select_option(
        label=audit_log.ACTION_LABELS["customer.view"]
    )
    apply_filters(page)
    expect(viewed.filter(has_text=ADMIN_B[1])).to_have_count(1)
    expect(viewed.filter(has_text=f"#{customer_id}")).to_have_count(0)
    main = page.locator("main").inner_text()
    assert ADMIN_A[1] not in main and A_MARK not in main
    # Not under another filter either: the whole log of store B.
    follow(page, filter_form(page).get_by_role("link", name="清除条件"))
    expect(page.locator("table.grid[data-list=audit] tbody tr").first).to_be_visible()
    assert ADMIN_A[1] not in page.locator("main").inner_text()
    assert errors == []


def test_backwards_date_range_is_refused_beside_the_end_field_over_the_whole_list(
    seeded, page: Page
):
    errors = watch_errors(page)
    log_in_as(page, *ADMIN_A)
    nav(page, "线索")
    form = filter_form(page)
    form.locator("input[name=start]").fill("2026-11-20")
    form.locator("input[name=end]").fill("2026-11-10")
    with page.expect_response(lambda response: "/console/leads?" in response.url) as answer:
        apply_filters(page)
    refused = answer.value
    assert refused.status == 400  # bad input in a form answers 400
    assert query_of(refused.url)["end"] == ["2026-11-10"]

    end_field = form.locator(".field.has-error").filter(has=page.locator("input[name=end]"))
    expect(end_field.locator("p.error[data-field=end]")).to_have_text("结束日期不能早于开始日期")
    expect(form.locator("p.error")).to_have_count(1)
    expect(form.locator("input[name=end]")).to_have_value("2026-11-10")
    # The unfiltered list: every lead of the store, the first page of it.
    expect(page.locator("main h1")).to_contain_text(f"共 {len(A_LEADS)} 条")
    expect(page.locator("table.grid[data-list=leads] tbody tr")).to_have_count(50)

    # The refused form's own 400 (and Chromium's note of it) is expected; nothing else is.
    expected = {f"400 {refused.url}"}
    unexpected = [
        error
        for error in errors
        if error not in expected
        and not (error.startswith("Failed to load resource") and error.endswith(refused.url))
    ]
    assert unexpected == []
