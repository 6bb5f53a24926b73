"""Importing service orders from the dealer management system's Excel export (issue 7
"After-sales": "import ... by Excel like the lead import (row-level errors, dry run)"; "Done
when": the Excel import of service orders with mixed rows): the report, all or nothing, only
the good rows, what the written orders set off, the command line, the console and the speed."""

from __future__ import annotations

import io
import json
import time
from datetime import date, datetime

import openpyxl
import pytest
from sqlalchemy import func, select

from crm import clock, spreadsheets
from crm.errors import Forbidden, ValidationError
from crm.models import (
    ImportBatch,
    ImportStatus,
    MemberCard,
    MileageReading,
    ServiceKind,
    ServiceOrder,
    Vehicle,
)
from crm.services import lead_import, membership, service_order_import, service_order_rows
from tests import factories as f
from tests.conftest import FROZEN_AT, login
from tests.support import servers
from tests.test_lead_import import xlsx as lead_workbook

HEADERS = list(service_order_rows.HEADERS)
importer = service_order_import.IMPORTER


def xlsx(rows, headers=HEADERS) -> bytes:
    return lead_workbook(rows, headers)


def row(number, vin, day="2026-06-01", km="8000", kind="定期保养", **cells):
    """A row as the template orders it; ``cells`` by column: items, parts, labour, parts_cost,
    advisor, paid_on."""
    return [
        number,
        vin,
        day,
        km,
        kind,
        cells.get("items", "更换机油、机滤"),
        cells.get("parts", "机油 4L"),
        cells.get("labour", "300"),
        cells.get("parts_cost", "450"),
        cells.get("advisor", ""),
        cells.get("paid_on", ""),
    ]


@pytest.fixture
def cars(org, session, frozen_now):
    """Two cars of store A with their delivery readings (5,000 km on 2026-01-10), and one of
    store B."""
    made = []
    for customer in (org.customer_a1, org.customer_a2, org.customer_b):
        vehicle = f.VehicleFactory(
            customer=customer,
            mileage_km=5000,
            delivered_on=date(2026, 1, 10),
            first_maintenance_date=date(2026, 7, 10),
            first_maintenance_km=10000,
        )
        f.MileageReadingFactory(vehicle_id=vehicle.id, read_on=date(2026, 1, 10), km=5000)
        made.append(vehicle)
    f.ServiceOrderFactory(vehicle=made[0], work_order_no="WO-OLD", opened_on=date(2026, 1, 10))
    return made


def wrong_check_digit(vin: str) -> str:
    """The VIN with another check digit (position 9), so it never validates."""
    return vin[:8] + ("0" if vin[8] != "0" else "1") + vin[9:]


def mixed_rows(cars, org):
    """Rows 2, 3 and 4 are good (4 paid); every other row is wrong in one way (the comment
    says which column)."""
    a1, a2, b = (car.vin for car in cars)
    return [
        row("WO-1", a1, "2026-06-01", "8000", "定期保养"),  # 2 good
        row("WO-2", a2, "2026-05-01", "7000", "维修", advisor=org.advisor_a.name),  # 3 good
        row("WO-3", a2, "2026-06-10", "7500", "首保", paid_on="2026-06-12"),  # 4 good
        row("WO-4", wrong_check_digit(a1), "2026-06-01"),  # 5 车架号: check digit
        row("WO-5", b),  # 6 车架号: another store's car
        row("WO-1", a2, "2026-06-11", "7600"),  # 7 工单号: repeated in the file
        row("WO-OLD", a2, "2026-06-11", "7600"),  # 8 工单号: already recorded
        row("WO-6", a2, "2026-02-30", "7600"),  # 9 日期: no such day
        row("WO-7", a2, "2026-06-16", "7600"),  # 10 日期: tomorrow
        row("WO-8", a2, "2026-06-11", "4000"),  # 11 里程: below the delivery reading
        row("WO-9", a2, "2026-06-11", "7400"),  # 12 里程: below row 4 (an earlier day)
        row("WO-10", a2, "2026-06-11", "7600", "洗车"),  # 13 类型
        row("WO-11", a2, "2026-06-11", "7600", labour="-300"),  # 14 工时费
        row("WO-12", a2, "2026-06-11", "7600", advisor="不认识的人"),  # 15 服务顾问
        row("WO-13", a2, "2026-06-11", "7600", paid_on="2026-06-01"),  # 16 结算日期
    ]


EXPECTED_ERRORS = [
    (5, "车架号", "车架号校验位不正确"),
    (6, "车架号", "本店没有该车架号的车辆"),
    (7, "工单号", "文件内重复（与第2行）"),
    (8, "工单号", "工单号已存在"),
    (9, "日期", "日期格式不正确（例如 2025-03-01）"),
    (10, "日期", "日期不能晚于今天"),
    (11, "里程", "里程低于该车此前记录的里程"),
    (12, "里程", "里程低于同一车辆第4行（日期不晚于本行）的里程"),
    (13, "类型", "请选择工单类型：首保、定期保养、维修、事故车、保修、零件检查"),
    (14, "工时费", "金额不能为负数"),
    (15, "服务顾问", "本店没有该在职服务顾问"),
    (16, "结算日期", "结算日期不能早于工单日期"),
]


def errors_of(batch) -> list[tuple[int, str, str]]:
    return [(error["row"], error["column"], error["reason"]) for error in batch.errors]


def state(session) -> tuple:
    """What an import writes: orders, readings and the cars' mileage and plans."""
    session.expire_all()
    orders = session.scalar(select(func.count()).select_from(ServiceOrder))
    readings = session.scalar(select(func.count()).select_from(MileageReading))
    cars = session.execute(
        select(Vehicle.id, Vehicle.mileage_km, Vehicle.next_service_on).order_by(Vehicle.id)
    ).all()
    cards = session.scalar(select(func.count()).select_from(MemberCard))
    return orders, readings, cars, cards


def run_import(session, actor, store, rows, **options):
    return importer.import_file(
        session, actor, store.id, xlsx(rows), "工单.xlsx", FROZEN_AT, **options
    )


# --- the report --------------------------------------------------------------------------------


def test_mixed_rows_are_reported_by_row_column_and_reason_and_nothing_is_written(
    session, org, cars
):
    before = state(session)

    batch = run_import(session, org.store_admin_a, org.store_a, mixed_rows(cars, org))

    assert batch.kind == "service_orders" and batch.status == ImportStatus.CHECKED
    assert (batch.total_rows, batch.good_rows, batch.bad_rows) == (15, 3, 12)
    assert errors_of(batch) == EXPECTED_ERRORS
    assert state(session) == before


def test_the_report_never_holds_the_cell_values(session, org, cars):
    batch = run_import(session, org.store_admin_a, org.store_a, mixed_rows(cars, org))
    kept = json.dumps(batch.errors, ensure_ascii=False)
    for value in (cars[0].vin[:-1] + "Z", cars[2].vin, "WO-OLD", "不认识的人", "-300", "4000"):
        assert value not in kept


def test_commit_of_a_batch_with_bad_rows_writes_nothing(session, org, cars):
    checked = run_import(session, org.store_admin_a, org.store_a, mixed_rows(cars, org))
    before = state(session)
    with pytest.raises(ValidationError) as refused:
        importer.commit(session, org.store_admin_a, checked.id, FROZEN_AT, good_rows_only=False)
    assert "12 行错误" in refused.value.message and refused.value.field == "good_rows_only"
    assert state(session) == before


def test_good_rows_only_writes_the_good_rows_under_the_rules_of_one_order(session, org, cars):
    car_a1, car_a2, _car_b = cars
    org.customer_a2.advisor_id = org.advisor_a.id
    f.ServiceOrderFactory(
        vehicle=f.VehicleFactory(customer=org.customer_a2),
        labour_fen=4_999_900,
        parts_fen=0,
        paid_on=date(2026, 2, 1),
    )
    checked = run_import(session, org.store_admin_a, org.store_a, mixed_rows(cars, org))

    batch = importer.commit(session, org.store_admin_a, checked.id, FROZEN_AT, good_rows_only=True)

    assert (batch.status, batch.imported_rows, batch.content) == (ImportStatus.IMPORTED, 3, None)
    assert errors_of(batch) == EXPECTED_ERRORS  # the report stays
    orders = {
        order.work_order_no: order
        for order in session.scalars(
            select(ServiceOrder).where(ServiceOrder.import_batch_id == batch.id)
        )
    }
    assert sorted(orders) == ["WO-1", "WO-2", "WO-3"]
    first, second, third = orders["WO-1"], orders["WO-2"], orders["WO-3"]
    assert (first.vehicle_id, first.kind, first.mileage_km) == (
        car_a1.id,
        "periodic_maintenance",
        8000,
    )
    assert (first.labour_fen, first.parts_fen, first.created_by_id) == (
        30000,
        45000,
        org.store_admin_a.id,
    )
    assert first.advisor_id is None  # blank, and customer 甲 has no advisor
    assert second.advisor_id == org.advisor_a.id and third.advisor_id == org.advisor_a.id
    assert (third.kind, third.paid_on) == (ServiceKind.FIRST_MAINTENANCE.value, date(2026, 6, 12))
    # Each order added its reading; the cars show their highest mileage and a new plan.
    readings = session.execute(
        select(MileageReading.read_on, MileageReading.km, MileageReading.service_order_id)
        .where(MileageReading.vehicle_id == car_a2.id)
        .order_by(MileageReading.read_on)
    ).all()
    assert readings == [
        (date(2026, 1, 10), 5000, None),
        (date(2026, 5, 1), 7000, second.id),
        (date(2026, 6, 10), 7500, third.id),
    ]
    session.refresh(car_a1)
    session.refresh(car_a2)
    assert (car_a1.mileage_km, car_a2.mileage_km) == (8000, 7500)
    assert (car_a1.next_service_kind, car_a1.next_service_km) == ("periodic_maintenance", 18000)
    assert (car_a2.next_service_kind, car_a2.next_service_km) == ("periodic_maintenance", 17500)
    # The paid ¥750 order takes customer 乙 from ¥49,999 to ¥50,749: silver.
    card = session.scalar(select(MemberCard).where(MemberCard.customer_id == org.customer_a2.id))
    assert (card.tier, card.spend_fen) == ("silver", 5_074_900)
    assert membership.recompute(session, org.customer_a2, clock.now()).tier == "silver"


def test_rows_of_one_car_are_checked_in_date_order_whatever_the_file_order(session, org, cars):
    vin = cars[0].vin
    rows = [
        row("WO-C", vin, "2026-06-01", "9000"),
        row("WO-A", vin, "2026-02-01", "6000"),
        row("WO-B", vin, "2026-04-01", "7500"),
    ]
    batch = run_import(session, org.store_admin_a, org.store_a, rows)
    assert (batch.status, batch.imported_rows, batch.errors) == (ImportStatus.IMPORTED, 3, [])
    kms = session.scalars(
        select(MileageReading.km)
        .where(MileageReading.vehicle_id == cars[0].id)
        .order_by(MileageReading.read_on)
    ).all()
    assert kms == [5000, 6000, 7500, 9000]


def test_a_mileage_above_a_later_reading_is_reported(session, org, cars):
    f.MileageReadingFactory(vehicle_id=cars[0].id, read_on=date(2026, 6, 1), km=9000)
    batch = run_import(
        session, org.store_admin_a, org.store_a, [row("WO-X", cars[0].vin, "2026-05-01", "9500")]
    )
    assert errors_of(batch) == [(2, "里程", "里程高于该车之后记录的里程")]


def test_dates_typed_or_as_excel_date_cells_are_read(session, org, cars):
    rows = [
        row("WO-D1", cars[0].vin, datetime(2026, 3, 1, 9, 30), "6000"),
        row("WO-D2", cars[0].vin, "2026/4/1", "6500"),
        row("WO-D3", cars[0].vin, "20260501", "7000", paid_on="2026年5月2日"),
    ]
    batch = run_import(session, org.store_admin_a, org.store_a, rows)
    assert batch.errors == []
    found = session.execute(
        select(ServiceOrder.work_order_no, ServiceOrder.opened_on, ServiceOrder.paid_on)
        .where(ServiceOrder.work_order_no.like("WO-D%"))
        .order_by(ServiceOrder.work_order_no)
    ).all()
    assert found == [
        ("WO-D1", date(2026, 3, 1), None),
        ("WO-D2", date(2026, 4, 1), None),
        ("WO-D3", date(2026, 5, 1), date(2026, 5, 2)),
    ]


def test_an_advisor_may_be_named_by_phone(session, org, cars):
    phone = org.advisor_a.phone.removeprefix("+86")
    batch = run_import(
        session, org.store_admin_a, org.store_a, [row("WO-P", cars[0].vin, advisor=phone)]
    )
    order = session.scalar(select(ServiceOrder).where(ServiceOrder.work_order_no == "WO-P"))
    assert batch.imported_rows == 1 and order.advisor_id == org.advisor_a.id


def test_missing_required_columns_are_one_error_naming_them(session, org, cars):
    content = xlsx([["WO-1", cars[0].vin]], headers=["工单号", "车架号"])
    with pytest.raises(ValidationError) as refused:
        importer.check(session, org.store_admin_a, org.store_a, content, "x.xlsx", FROZEN_AT)
    assert refused.value.field == "file"
    assert "“日期”" in refused.value.message and "“类型”" in refused.value.message


def test_a_failure_while_writing_leaves_no_order_behind(session, org, cars, monkeypatch):
    from crm.services import maintenance_plan

    checked = run_import(
        session, org.store_admin_a, org.store_a, [row("WO-F", cars[0].vin)], dry_run=True
    )
    before = state(session)

    def fail(*_args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(maintenance_plan, "replan", fail)
    with pytest.raises(RuntimeError):
        importer.commit(session, org.store_admin_a, checked.id, FROZEN_AT, good_rows_only=False)
    assert state(session) == before
    assert session.get(ImportBatch, checked.id).status == ImportStatus.CHECKED


@pytest.mark.parametrize("role", ["sales_a1", "advisor_a", "care_a"])
def test_only_admins_import_service_orders(session, org, cars, role):
    with pytest.raises(Forbidden):
        run_import(session, getattr(org, role), org.store_a, [row("WO-1", cars[0].vin)])


def test_template_lists_the_columns_and_the_kinds(session, org):
    book = openpyxl.load_workbook(io.BytesIO(importer.template(session, org.store_admin_a)))
    assert book.worksheets[0].title == "工单"
    headers = [cell.value for cell in book.worksheets[0][1]]
    assert headers[:5] == ["工单号", "车架号", "日期", "里程", "类型"]
    assert headers[5:] == ["维修项目", "配件", "工时费", "配件费", "服务顾问", "结算日期"]
    explained = " ".join(str(cell.value) for line in book.worksheets[1] for cell in line)
    assert "定期保养" in explained and "零件检查" in explained


# --- the command line --------------------------------------------------------------------------


def cli_import(cli, tmp_path, rows, *options):
    path = tmp_path / "工单.xlsx"
    path.write_bytes(xlsx(rows))
    return cli.invoke(args=["crm", "import-service-orders", str(path), "--store", "A01", *options])


def test_cli_dry_run_reports_the_bad_rows_and_writes_nothing(cli, session, org, cars, tmp_path):
    before = state(session)

    result = cli_import(cli, tmp_path, mixed_rows(cars, org), "--dry-run")

    assert result.exit_code == 1, result.output
    assert "杭州A店：共 15 行，正确 3 行，错误 12 行" in result.output
    assert "第5行 车架号：车架号校验位不正确" in result.output
    assert "第12行 里程：里程低于同一车辆第4行（日期不晚于本行）的里程" in result.output
    assert "仅检查（--dry-run），未导入" in result.output
    assert state(session) == before
    kept = session.scalars(select(ImportBatch)).all()
    assert [(b.kind, b.status, b.content) for b in kept] == [
        ("service_orders", ImportStatus.CANCELLED, None)
    ]


def test_cli_dry_run_of_a_clean_file_exits_zero(cli, session, org, cars, tmp_path):
    result = cli_import(cli, tmp_path, [row("WO-1", cars[0].vin)], "--dry-run")
    assert result.exit_code == 0, result.output
    assert session.scalar(select(func.count()).select_from(ServiceOrder)) == 1  # WO-OLD only


def test_cli_good_rows_imports_the_good_rows(cli, session, org, cars, tmp_path):
    refused = cli_import(cli, tmp_path, mixed_rows(cars, org))
    assert refused.exit_code == 1
    assert "未导入：文件有错误，可加 --good-rows 仅导入正确的行" in refused.output

    result = cli_import(cli, tmp_path, mixed_rows(cars, org), "--good-rows")

    assert result.exit_code == 0, result.output
    assert "已导入 3 张工单" in result.output
    written = session.scalars(
        select(ServiceOrder.work_order_no).where(ServiceOrder.import_batch_id.is_not(None))
    ).all()
    assert sorted(written) == ["WO-1", "WO-2", "WO-3"]
    assert (
        session.scalar(
            select(ServiceOrder.created_by_id).where(ServiceOrder.work_order_no == "WO-1")
        )
        is None
    )


def test_cli_refuses_an_unknown_store(cli, session, org, cars, tmp_path):
    path = tmp_path / "工单.xlsx"
    path.write_bytes(xlsx([row("WO-1", cars[0].vin)]))
    result = cli.invoke(args=["crm", "import-service-orders", str(path), "--store", "ZZ9"])
    assert result.exit_code == 2 and "分店 ZZ9 不存在" in result.stderr


# --- the console -------------------------------------------------------------------------------


def upload(client, rows, **form):
    data = {"file": (io.BytesIO(xlsx(rows)), "工单.xlsx"), **form}
    return client.post(
        "/console/service-orders/import", data=data, content_type="multipart/form-data"
    )


def test_console_upload_page_offers_the_template_and_explains_the_columns(client, org, cars):
    login(client, org.store_admin_a)
    page = client.get("/console/service-orders/import").get_data(as_text=True)
    assert "<h1>导入工单</h1>" in page
    assert 'href="/console/service-orders/import/template.xlsx"' in page
    assert "工单号、车架号、日期、里程、类型为必填列" in page
    assert f'type="hidden" name="store_id" value="{org.store_a.id}"' in page
    assert 'data-progress-url="/console/imports/progress/' in page

    template = client.get("/console/service-orders/import/template.xlsx")
    assert template.mimetype == spreadsheets.XLSX_MIME
    sheet = openpyxl.load_workbook(io.BytesIO(template.data)).worksheets[0]
    assert [cell.value for cell in sheet[1]] == HEADERS


def test_console_reports_mixed_rows_then_imports_the_good_ones(client, session, org, cars):
    login(client, org.store_admin_a)
    before = state(session)

    response = upload(client, mixed_rows(cars, org))

    assert response.status_code == 302
    report = client.get(response.location).get_data(as_text=True)
    assert "第6行" in report and "本店没有该车架号的车辆" in report
    assert "仅导入正确的 3 行" in report and "返回导入工单" in report
    assert state(session) == before
    batch = session.scalars(select(ImportBatch)).one()

    committed = client.post(f"/console/imports/{batch.id}/commit", data={"good_rows_only": "1"})

    page = client.get(committed.location).get_data(as_text=True)
    assert "已导入 3 张工单" in page and "张工单到杭州A店。" in page
    listing = client.get("/console/service-orders").get_data(as_text=True)
    assert 'data-work-order="WO-1"' in listing and 'data-work-order="WO-3"' in listing
    assert "导入工单" in listing


def test_console_lists_each_kinds_batches_on_its_own_page(client, session, org, cars):
    lead_import.import_file(
        session,
        org.store_admin_a,
        org.store_a.id,
        xlsx([["王先生", "13912340001"]], headers=["姓名", "手机"]),
        "线索.xlsx",
        FROZEN_AT,
        dry_run=True,
    )
    run_import(session, org.store_admin_a, org.store_a, [row("WO-1", cars[0].vin)], dry_run=True)
    login(client, org.store_admin_a)

    orders_page = client.get("/console/service-orders/import").get_data(as_text=True)
    leads_page = client.get("/console/imports").get_data(as_text=True)

    assert "工单.xlsx" in orders_page and "线索.xlsx" not in orders_page
    assert "线索.xlsx" in leads_page and "工单.xlsx" not in leads_page


def test_console_service_orders_page_per_store(client, session, org, cars):
    f.ServiceOrderFactory(vehicle=cars[2], work_order_no="WO-B1")
    login(client, org.group_admin)
    everything = client.get("/console/service-orders").get_data(as_text=True)
    assert "WO-OLD" in everything and "WO-B1" in everything and "杭州A店" in everything
    only_b = client.get(f"/console/service-orders?store={org.store_b.id}").get_data(as_text=True)
    assert "WO-B1" in only_b and "WO-OLD" not in only_b

    client.post("/console/logout")
    login(client, org.advisor_a)
    own = client.get("/console/service-orders").get_data(as_text=True)
    assert "WO-OLD" in own and "WO-B1" not in own and "导入工单" not in own
    assert client.get("/console/service-orders/import").status_code == 403


def test_console_bad_file_shows_the_form_again(client, session, org):
    login(client, org.store_admin_a)
    data = {"file": (io.BytesIO(b"a,b\n"), "orders.csv")}
    response = client.post(
        "/console/service-orders/import", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert 'data-field="file">文件不是有效的 Excel（.xlsx）文件<' in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(ImportBatch)) == 0


# --- speed -------------------------------------------------------------------------------------


def test_five_thousand_rows_import_well_under_a_minute(session, org, frozen_now):
    """Issue 7's import at a dealership's scale, with every rule of one order (readings, next
    service, tiers for the paid ones): 5,000 orders, four each for 1,000 cars and one each
    for 1,000 cars with no history (planned by the store's average mileage)."""
    if not servers.uses_postgres():
        servers.missing("PostgreSQL (DATABASE_URL), where the speed target is measured,")
    customers = (org.customer_a1, org.customer_a2)
    cars = [
        Vehicle(
            customer_id=customers[number % 2].id,
            store_id=org.store_a.id,
            vin=f.next_vin(),
            model="凯美瑞",
            created_at=FROZEN_AT,
        )
        for number in range(2000)
    ]
    session.add_all(cars)
    session.commit()
    rows = [
        row(
            f"WO-S{number:05d}",
            cars[number % 1000].vin,
            date(2025, 1 + number // 1000 * 3, 1 + number % 28).isoformat(),
            str(1000 + number // 1000 * 5000),
            paid_on="" if number % 3 else date(2025, 1 + number // 1000 * 3, 28).isoformat(),
        )
        for number in range(4000)
    ] + [row(f"WO-T{number:05d}", cars[1000 + number].vin) for number in range(1000)]
    content = xlsx(rows)

    started = time.perf_counter()
    batch = importer.import_file(
        session, org.store_admin_a, org.store_a.id, content, "工单.xlsx", FROZEN_AT
    )
    elapsed = time.perf_counter() - started

    assert (batch.status, batch.imported_rows, batch.errors[:3]) == (
        ImportStatus.IMPORTED,
        5000,
        [],
    )
    planned = session.scalar(
        select(func.count()).select_from(Vehicle).where(Vehicle.next_service_on.is_not(None))
    )
    assert planned == 2000
    assert elapsed < 30, elapsed
