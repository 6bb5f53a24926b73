"""Importing leads from Excel (the import issue; PRODUCT "The customer pool"): the reader, the
phone fast path, the service's rules, the command line, the console pages and the speed."""

from __future__ import annotations

import base64
import io
import random
import uuid
import zipfile

import openpyxl
import phonenumbers
import pytest
from flask_migrate import upgrade
from openpyxl import Workbook
from sqlalchemy import func, select, text

from crm import coordination, phones, spreadsheets
from crm.errors import Conflict, Forbidden, NotFound, ValidationError
from crm.models import (
    CarModel,
    ImportBatch,
    ImportStatus,
    Lead,
    LeadClass,
    LeadSource,
    LeadStatus,
    PurchaseTimeframe,
)
from crm.services import catalogue, lead_import, lead_rows_writer
from crm.services.identity import phone_index
from tests import factories as f
from tests.conftest import FROZEN_AT, login
from tests.support import servers
from tests.support.scratch import scratch_app

HEADERS = ["姓名", "手机", "意向车型", "来源", "线索级别", "购车时间", "转介绍人", "备注"]
GOOD_1 = ["王先生", "13912340001", "凯美瑞", "车展", "意向", "三个月内", "", "周末到店"]
GOOD_2 = ["李女士", "139 1234 0002", "", "", "", "", "", ""]
BAD_PHONE = ["赵先生", "1234567", "", "", "", "", "", ""]


def xlsx(rows, headers=HEADERS) -> bytes:
    """A workbook as openpyxl writes it (normal mode)."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(headers))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"


def hand_made_xlsx(sheet_rows: str, shared_strings: str | None = None) -> bytes:
    """An .xlsx written part by part, as Excel does: shared strings, and the first sheet
    stored under a name other than sheet1.xml, with a decoy sheet1.xml as the second sheet."""
    relationships = [
        f'<Relationship Id="rId1" Type="{REL_NS}/worksheet" Target="worksheets/sheet1.xml"/>',
        f'<Relationship Id="rId3" Type="{REL_NS}/worksheet" Target="/xl/worksheets/sheet7.xml"/>',
    ]
    if shared_strings is not None:
        relationships.append(
            f'<Relationship Id="rId9" Type="{REL_NS}/sharedStrings" Target="sharedStrings.xml"/>'
        )
    sheets = (
        '<sheet name="线索" sheetId="1" r:id="rId3"/><sheet name="旧" sheetId="2" r:id="rId1"/>'
    )
    decoy = '<row r="1"><c r="A1" t="inlineStr"><is><t>decoy</t></is></c></row>'
    parts = {
        "xl/workbook.xml": f'<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
        f"<sheets>{sheets}</sheets></workbook>",
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{PACKAGE_REL_NS}">'
        + "".join(relationships)
        + "</Relationships>",
        "xl/worksheets/sheet7.xml": f'<worksheet xmlns="{MAIN_NS}"><dimension ref="A1:C9"/>'
        f"<sheetData>{sheet_rows}</sheetData></worksheet>",
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{MAIN_NS}"><sheetData>{decoy}'
        "</sheetData></worksheet>",
    }
    if shared_strings is not None:
        parts["xl/sharedStrings.xml"] = f'<sst xmlns="{MAIN_NS}">{shared_strings}</sst>'
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, '<?xml version="1.0" encoding="UTF-8"?>' + content)
    return out.getvalue()


@pytest.fixture
def models(org):
    group_id = org.store_a.group_id
    f.CarModelFactory(group_id=group_id, name="凯美瑞")
    f.CarModelFactory(group_id=group_id, name="汉兰达")
    f.CarModelFactory(group_id=group_id, name="停售车型", active=False)
    return group_id


def count_leads(session, store) -> int:
    return session.scalar(select(func.count()).select_from(Lead).where(Lead.store_id == store.id))


def run_import(session, actor, store, rows, **options):
    return lead_import.import_file(
        session, actor, store.id, xlsx(rows), "线索.xlsx", FROZEN_AT, **options
    )


def errors_of(batch) -> list[tuple[int, str, str]]:
    return [(error["row"], error["column"], error["reason"]) for error in batch.errors]


# --- the reader ------------------------------------------------------------------------------


def test_reader_reads_shared_strings_from_the_first_sheet_of_the_workbook():
    strings = (
        "<si><t>姓名</t></si><si><t>手机</t></si>"
        "<si><r><t>王</t></r><r><rPr><b/></rPr><t>先生</t></r><rPh><t>wang</t></rPh></si>"
        "<si><t>line_x000D_break</t></si>"
    )
    rows = (
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
        '<row r="3"><c r="A3" t="s"><v>2</v></c><c r="C3" t="s"><v>3</v></c></row>'
    )
    content = hand_made_xlsx(rows, strings)

    assert list(spreadsheets.read_rows(content)) == [
        (1, ["姓名", "手机"]),
        (3, ["王先生", "", "line\rbreak"]),
    ]
    assert spreadsheets.declared_last_row(content) == 9


def test_reader_reads_inline_strings_numbers_and_booleans():
    rows = (
        '<row r="2"><c r="A2" t="inlineStr"><is><t>张 三</t></is></c>'
        '<c r="B2"><v>13812345678</v></c><c r="C2" t="n"><v>1.3812345678E10</v></c>'
        '<c r="D2"><v>13812345678.0</v></c><c r="E2"><v>2.5</v></c>'
        '<c r="F2" t="b"><v>1</v></c><c r="G2" t="str"><v>公式结果</v></c>'
        '<c r="H2" t="inlineStr"/></row>'
    )
    assert list(spreadsheets.read_rows(hand_made_xlsx(rows))) == [
        (2, ["张 三", "13812345678", "13812345678", "13812345678", "2.5", "TRUE", "公式结果", ""])
    ]


def test_reader_reads_a_phone_openpyxl_wrote_as_a_number():
    workbook = Workbook()
    workbook.active.append(["手机", "姓名"])
    workbook.active.append([13812345678, "王"])
    workbook.active.append([1.3812345679e10, None])
    out = io.BytesIO()
    workbook.save(out)

    assert list(spreadsheets.read_rows(out.getvalue())) == [
        (1, ["手机", "姓名"]),
        (2, ["13812345678", "王"]),
        (3, ["13812345679"]),
    ]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"name,phone\n\xe7\x8e\x8b,13812345678\n",
        b"PK\x03\x04 truncated zip",
        "zip without a workbook",
    ],
)
def test_reader_refuses_what_is_not_an_xlsx(content):
    if content == "zip without a workbook":
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            archive.writestr("hello.txt", "hi")
        content = out.getvalue()
    with pytest.raises(ValidationError) as refused:
        list(spreadsheets.read_rows(content))
    assert refused.value.field == "file"
    assert refused.value.message == "文件不是有效的 Excel（.xlsx）文件"


def test_reader_refuses_a_zip_bomb_before_unpacking_it():
    # A small upload whose worksheet inflates past the limit: refused on the declared size.
    good = spreadsheets.template_workbook(["姓名", "手机"], [["张三", "13812345678"]])
    bomb = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(good)) as source,
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                target.writestr(info, source.read(info))
                continue
            with target.open(info.filename, "w") as sheet:
                chunk = b" " * (1 << 20)
                for _ in range(spreadsheets.MAX_UNPACKED_BYTES // len(chunk) + 1):
                    sheet.write(chunk)
    assert len(bomb.getvalue()) < 2 * 1024 * 1024
    with pytest.raises(ValidationError) as refused:
        list(spreadsheets.read_rows(bomb.getvalue()))
    assert (refused.value.field, refused.value.message) == ("file", spreadsheets.TOO_BIG_UNPACKED)


def test_template_workbook_opens_in_openpyxl_with_bold_headers():
    content = spreadsheets.template_workbook(["姓名", "手机"], [["张三", "13812345678"]])
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    assert [cell.value for cell in sheet[1]] == ["姓名", "手机"]
    assert sheet["A1"].font.bold
    assert sheet["B2"].number_format == "@"  # Excel keeps the phone as typed


# --- phones: the fast path -----------------------------------------------------------------


def _full_parse(raw: str) -> str:
    try:
        return phones._parse(raw.strip(), "phone")
    except ValidationError as error:
        return f"error: {error.message}"


def _normalised(raw: str) -> str:
    try:
        return phones.normalise(raw)
    except ValidationError as error:
        return f"error: {error.message}"


def test_phone_fast_path_gives_exactly_what_the_full_parse_gives():
    rng = random.Random(11)
    spellings = (
        "{}",
        "+86{}",
        "86{}",
        "0086{}",
        "+86 {}",
        " {} ",
        "{0[0]}{0[1]}{0[2]} {0[3]}{0[4]}{0[5]}{0[6]} {0[7]}{0[8]}{0[9]}{0[10]}",
        "{0[0]}{0[1]}{0[2]}-{0[3]}{0[4]}{0[5]}{0[6]}-{0[7]}{0[8]}{0[9]}{0[10]}",
        "+86-{}",
        "+{}",
        "0{}",
        "860{}",
    )
    tried = valid = 0
    # Every 3-digit prefix from 100 to 199, many numbers each: valid and invalid ranges.
    for prefix in range(100, 200):
        for _ in range(12):
            national = f"{prefix}{rng.randrange(10**8):08d}"
            for spelling in spellings:
                raw = spelling.format(national)
                assert _normalised(raw) == _full_parse(raw), raw
                tried += 1
                valid += not _normalised(raw).startswith("error")
    assert tried > 10_000 and 0 < valid < tried


def test_phone_fast_path_uses_phonenumbers_own_mobile_ranges():
    pattern = phonenumbers.PhoneMetadata.metadata_for_region("CN").mobile.national_number_pattern
    assert phones._CN_MOBILE.pattern == pattern
    assert phones.normalise("139-1234-5678") == "+8613912345678"
    assert phones.normalise("010 8888 6666") == "+861088886666"  # landline: the full parse


# --- the service: checking -----------------------------------------------------------------


def test_a_good_file_lands_in_the_store_pool_at_once(session, org, models):
    batch = run_import(session, org.store_admin_a, org.store_a, [GOOD_1, GOOD_2])

    assert batch.status == ImportStatus.IMPORTED
    assert (batch.total_rows, batch.good_rows, batch.imported_rows) == (2, 2, 2)
    assert batch.errors == [] and batch.content is None
    wang = session.scalar(select(Lead).where(Lead.phone_index == phone_index("+8613912340001")))
    assert wang.store_id == org.store_a.id and wang.owner_id is None  # the store's pool
    assert (wang.name, wang.phone, wang.model_of_interest) == ("王先生", "+8613912340001", "凯美瑞")
    assert wang.source == LeadSource.AUTO_SHOW and wang.lead_class == LeadClass.INTENT
    assert wang.purchase_timeframe == PurchaseTimeframe.WITHIN_QUARTER
    assert (wang.note, wang.status, wang.created_at) == ("周末到店", LeadStatus.OPEN, FROZEN_AT)
    assert wang.created_by_id == org.store_admin_a.id
    li = session.scalar(select(Lead).where(Lead.phone_index == phone_index("+8613912340002")))
    assert (li.source, li.lead_class, li.purchase_timeframe) == (
        LeadSource.IMPORT,
        LeadClass.POTENTIAL,
        PurchaseTimeframe.UNKNOWN,
    )


def test_bad_phone_is_reported_with_row_and_column(session, org, models):
    batch = run_import(session, org.store_admin_a, org.store_a, [GOOD_1, BAD_PHONE])
    assert errors_of(batch) == [(3, "手机", "手机号格式不正确")]
    assert (batch.total_rows, batch.good_rows, batch.bad_rows) == (2, 1, 1)


def test_missing_name_and_phone_are_reported(session, org, models):
    batch = run_import(session, org.store_admin_a, org.store_a, [["", "", "汉兰达"]])
    assert errors_of(batch) == [(2, "姓名", "请填写姓名"), (2, "手机", "请填写手机号")]


def test_a_row_can_have_several_errors_in_column_order(session, org, models):
    row = ["王" * 51, "12", "奔驰", "路过", "很急", "明天", "介" * 51, "备" * 501]
    batch = run_import(session, org.store_admin_a, org.store_a, [row])
    assert errors_of(batch) == [
        (2, "姓名", "内容过长"),
        (2, "手机", "手机号格式不正确"),
        (2, "意向车型", "未知车型"),
        (2, "来源", "未知来源"),
        (2, "线索级别", "未知线索级别"),
        (2, "购车时间", "未知购车时间"),
        (2, "转介绍人", "内容过长"),
        (2, "备注", "内容过长"),
    ]


def test_unknown_model_is_reported(session, org, models):
    rows = [GOOD_1, ["甲", "13912340011", "停售车型"], ["乙", "13912340012", "不存在的车"]]
    batch = run_import(session, org.store_admin_a, org.store_a, rows)
    assert errors_of(batch) == [(3, "意向车型", "未知车型"), (4, "意向车型", "未知车型")]


def test_duplicate_in_file_names_the_first_row(session, org, models):
    rows = [GOOD_1, GOOD_2, ["王二", "+86 139-1234-0001"], ["王三", "13912340001"]]
    batch = run_import(session, org.store_admin_a, org.store_a, rows)
    assert errors_of(batch) == [
        (4, "手机", "文件内重复（与第2行）"),
        (5, "手机", "文件内重复（与第2行）"),
    ]


def test_duplicate_in_store_is_reported(session, org, models):
    archived = f.LeadFactory(store=org.store_a, status=LeadStatus.LOST.value)
    rows = [
        ["甲", org.pool_lead_a.phone],  # a pool lead
        ["乙", org.lead_a1.phone[3:]],  # a salesperson's lead
        ["丙", archived.phone],  # a lost lead still counts
        ["丁", org.customer_a1.phone],  # a customer of the store
        ["戊", org.lead_b.phone],  # another store's lead is no duplicate here
    ]
    batch = run_import(session, org.store_admin_a, org.store_a, rows)
    assert errors_of(batch) == [
        (2, "手机", "本店已有该手机号的线索"),
        (3, "手机", "本店已有该手机号的线索"),
        (4, "手机", "本店已有该手机号的线索"),
        (5, "手机", "本店已有该手机号的客户"),
    ]
    assert batch.good_rows == 1


def test_errors_never_contain_the_cell_values(session, org, models):
    rows = [["秘密姓名", "1391234000"], ["秘" * 60, "13912340099", "秘密车型"]]
    batch = run_import(session, org.store_admin_a, org.store_a, rows)
    reported = repr(batch.errors)
    assert batch.bad_rows == 2
    assert "秘" not in reported and "1391234000" not in reported


def test_headers_may_come_in_any_order_and_unknown_headers_are_ignored(session, org, models):
    headers = ["备注", "身份证", "手机", "姓名", "意向车型"]
    rows = [["老客户介绍", "330100199001011234", "13912340021", "周先生", "汉兰达"]]
    batch = lead_import.import_file(
        session, org.store_admin_a, org.store_a.id, xlsx(rows, headers), "x.xlsx", FROZEN_AT
    )
    assert batch.status == ImportStatus.IMPORTED
    lead = session.scalar(select(Lead).where(Lead.phone_index == phone_index("+8613912340021")))
    assert (lead.name, lead.model_of_interest, lead.note) == ("周先生", "汉兰达", "老客户介绍")


def test_missing_required_header_is_one_error_naming_it(session, org, models):
    content = xlsx([["王先生", "凯美瑞"]], headers=["姓名", "意向车型"])
    with pytest.raises(ValidationError) as refused:
        lead_import.check(session, org.store_admin_a, org.store_a, content, "x.xlsx", FROZEN_AT)
    assert refused.value.field == "file"
    assert "“手机”" in refused.value.message and "姓名" not in refused.value.message
    assert session.scalar(select(func.count()).select_from(ImportBatch)) == 0


def test_not_an_xlsx_file_is_refused_and_nothing_is_kept(session, org, models):
    with pytest.raises(ValidationError) as refused:
        lead_import.check(
            session, org.store_admin_a, org.store_a, b"name,phone", "x.csv", FROZEN_AT
        )
    assert (refused.value.field, refused.value.message) == ("file", spreadsheets.NOT_XLSX)
    assert session.scalar(select(func.count()).select_from(ImportBatch)) == 0


def test_a_file_larger_than_the_limit_is_refused(session, org, models, monkeypatch):
    content = xlsx([GOOD_1])
    monkeypatch.setattr(lead_import, "MAX_FILE_BYTES", len(content) - 1)
    with pytest.raises(ValidationError) as refused:
        lead_import.check(session, org.store_admin_a, org.store_a, content, "x.xlsx", FROZEN_AT)
    assert refused.value.field == "file" and "不能超过" in refused.value.message


def test_completely_empty_rows_are_skipped(session, org, models):
    batch = run_import(session, org.store_admin_a, org.store_a, [GOOD_1, ["", "  "], [], GOOD_2])
    assert (batch.total_rows, batch.imported_rows, batch.errors) == (2, 2, [])


def test_a_file_with_only_a_header_is_refused(session, org, models):
    with pytest.raises(ValidationError) as refused:
        run_import(session, org.store_admin_a, org.store_a, [])
    assert refused.value.field == "file"


def test_check_keeps_the_report_and_the_file_encrypted_and_nothing_else(session, org, models):
    content = xlsx([GOOD_1, BAD_PHONE])
    before = count_leads(session, org.store_a)

    batch = lead_import.check(
        session, org.store_admin_a, org.store_a, content, "名单.xlsx", FROZEN_AT
    )

    assert batch.status == ImportStatus.CHECKED and batch.filename == "名单.xlsx"
    assert (batch.total_rows, batch.good_rows, batch.bad_rows) == (2, 1, 1)
    assert base64.b64decode(batch.content) == content
    raw = session.scalar(
        text("SELECT content FROM import_batches WHERE id = :id"), {"id": batch.id}
    )
    assert raw.startswith("v1.") and base64.b64encode(content).decode()[:40] not in raw
    assert count_leads(session, org.store_a) == before


def test_progress_is_reported_every_thousand_rows_and_at_the_end(session, org, models):
    rows = [[f"客户{n}", f"1391300{n:04d}"] for n in range(2500)]
    calls = []
    run_import(
        session,
        org.store_admin_a,
        org.store_a,
        rows,
        progress=lambda done, total, phase: calls.append((done, total, phase)),
    )
    assert calls == [
        (1000, 2500, "检查"),
        (2000, 2500, "检查"),
        (2500, 2500, "检查"),
        (1000, 2500, "导入"),
        (2000, 2500, "导入"),
        (2500, 2500, "导入"),
    ]


# --- the service: committing ---------------------------------------------------------------


def test_nothing_is_written_when_any_row_is_bad(session, org, models):
    before = count_leads(session, org.store_a)
    batch = run_import(session, org.store_admin_a, org.store_a, [GOOD_1, GOOD_2, BAD_PHONE])

    assert batch.status == ImportStatus.CHECKED and batch.imported_rows == 0
    assert count_leads(session, org.store_a) == before
    with pytest.raises(ValidationError) as refused:
        lead_import.commit(session, org.store_admin_a, batch.id, FROZEN_AT, good_rows_only=False)
    assert "1 行错误" in refused.value.message
    assert count_leads(session, org.store_a) == before


def test_good_rows_only_imports_the_good_rows(session, org, models):
    before = count_leads(session, org.store_a)
    checked = run_import(session, org.store_admin_a, org.store_a, [GOOD_1, BAD_PHONE, GOOD_2])

    batch = lead_import.commit(
        session, org.store_admin_a, checked.id, FROZEN_AT, good_rows_only=True
    )

    assert batch.status == ImportStatus.IMPORTED and batch.imported_rows == 2
    assert batch.finished_at == FROZEN_AT and batch.content is None
    assert errors_of(batch) == [(3, "手机", "手机号格式不正确")]  # the report stays
    assert count_leads(session, org.store_a) == before + 2


def test_import_file_with_good_rows_only_imports_at_once(session, org, models):
    batch = run_import(
        session, org.store_admin_a, org.store_a, [GOOD_1, BAD_PHONE], good_rows_only=True
    )
    assert (batch.status, batch.imported_rows) == (ImportStatus.IMPORTED, 1)


def test_dry_run_checks_and_writes_no_lead(session, org, models):
    before = count_leads(session, org.store_a)
    batch = run_import(session, org.store_admin_a, org.store_a, [GOOD_1], dry_run=True)
    assert (batch.status, batch.good_rows) == (ImportStatus.CHECKED, 1)
    assert count_leads(session, org.store_a) == before


def test_commit_checks_again_against_the_store_as_it_is_now(session, org, models):
    checked = run_import(session, org.store_admin_a, org.store_a, [GOOD_1, GOOD_2], dry_run=True)
    assert checked.errors == []
    # Meanwhile a salesperson enters one of the prospects, and the model stops selling.
    f.LeadFactory(store=org.store_a, owner=org.sales_a1, phone="+8613912340002")
    session.execute(
        CarModel.__table__.update().where(CarModel.name == "凯美瑞").values(active=False)
    )
    before = count_leads(session, org.store_a)

    with pytest.raises(ValidationError):
        lead_import.commit(session, org.store_admin_a, checked.id, FROZEN_AT, good_rows_only=False)

    batch = session.get(ImportBatch, checked.id)
    assert batch.status == ImportStatus.CHECKED
    assert errors_of(batch) == [(2, "意向车型", "未知车型"), (3, "手机", "本店已有该手机号的线索")]
    assert count_leads(session, org.store_a) == before


def test_commit_twice_is_refused(session, org, models):
    checked = run_import(session, org.store_admin_a, org.store_a, [GOOD_1], dry_run=True)
    lead_import.commit(session, org.store_admin_a, checked.id, FROZEN_AT, good_rows_only=False)
    before = count_leads(session, org.store_a)

    with pytest.raises(Conflict):
        lead_import.commit(session, org.store_admin_a, checked.id, FROZEN_AT, good_rows_only=True)
    assert count_leads(session, org.store_a) == before


def test_a_cancelled_batch_drops_the_file_and_cannot_be_committed(session, org, models):
    checked = run_import(session, org.store_admin_a, org.store_a, [GOOD_1], dry_run=True)

    batch = lead_import.cancel(session, org.store_admin_a, checked.id, FROZEN_AT)

    assert (batch.status, batch.content, batch.finished_at) == (
        ImportStatus.CANCELLED,
        None,
        FROZEN_AT,
    )
    with pytest.raises(Conflict):
        lead_import.commit(session, org.store_admin_a, checked.id, FROZEN_AT, good_rows_only=True)
    with pytest.raises(Conflict):
        lead_import.cancel(session, org.store_admin_a, checked.id, FROZEN_AT)


def test_a_failure_while_writing_leaves_no_lead_behind(session, org, models, monkeypatch):
    checked = run_import(session, org.store_admin_a, org.store_a, [GOOD_1, GOOD_2], dry_run=True)
    before = count_leads(session, org.store_a)
    original = lead_rows_writer.insert_leads

    def insert_then_fail(*args, **kwargs):
        original(*args, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(lead_rows_writer, "insert_leads", insert_then_fail)
    with pytest.raises(RuntimeError):
        lead_import.commit(session, org.store_admin_a, checked.id, FROZEN_AT, good_rows_only=False)

    assert count_leads(session, org.store_a) == before
    batch = session.get(ImportBatch, checked.id)
    assert batch.status == ImportStatus.CHECKED and batch.content is not None


def test_imported_leads_land_in_the_store_pool_with_encrypted_phone(session, org, models):
    run_import(session, org.store_admin_a, org.store_a, [GOOD_1])

    lead = session.scalar(select(Lead).where(Lead.phone_index == phone_index("+8613912340001")))
    raw_name, raw_phone, raw_index = session.execute(
        text("SELECT name, phone, phone_index FROM leads WHERE id = :id"), {"id": lead.id}
    ).one()
    assert "13912340001" not in raw_phone and raw_phone.startswith("v1.")
    assert "王" not in raw_name and raw_name.startswith("v1.")
    assert raw_index == phone_index("+8613912340001")
    assert lead.phone == "+8613912340001" and lead.owner_id is None
    # Everyone at the store sees it in the pool.
    visible = session.scalars(
        select(Lead.id).where(Lead.owner_id.is_(None), Lead.store_id == org.sales_a2.store_id)
    ).all()
    assert lead.id in visible


# --- who may import ---------------------------------------------------------------------------


def test_store_admin_cannot_import_into_another_store(session, org, models):
    with pytest.raises(NotFound):
        run_import(session, org.store_admin_a, org.store_b, [GOOD_1])
    assert session.scalar(select(func.count()).select_from(ImportBatch)) == 0


def test_store_admin_cannot_see_or_commit_another_stores_batch(session, org, models):
    checked = run_import(session, org.store_admin_b, org.store_b, [GOOD_1], dry_run=True)
    with pytest.raises(NotFound):
        lead_import.get_batch(session, org.store_admin_a, checked.id)
    with pytest.raises(NotFound):
        lead_import.commit(session, org.store_admin_a, checked.id, FROZEN_AT, good_rows_only=True)


def test_group_admin_may_import_into_any_store_of_the_group(session, org, models):
    batch = run_import(session, org.group_admin, org.store_b, [GOOD_1])
    assert batch.status == ImportStatus.IMPORTED and batch.store_id == org.store_b.id


@pytest.mark.parametrize("role", ["sales_a1", "supervisor_a1", "advisor_a", "care_a"])
def test_staff_other_than_admins_cannot_import(session, org, models, role):
    with pytest.raises(Forbidden):
        run_import(session, getattr(org, role), org.store_a, [GOOD_1])


def test_an_inactive_store_takes_no_import(session, org, models):
    org.store_b.active = False
    session.commit()
    with pytest.raises(ValidationError) as refused:
        run_import(session, org.group_admin, org.store_b, [GOOD_1])
    assert refused.value.field == "store"


def test_template_lists_the_headers_and_the_models_on_sale(session, org, models):
    book = openpyxl.load_workbook(io.BytesIO(lead_import.template(session, org.store_admin_a)))
    assert [cell.value for cell in book.worksheets[0][1]] == HEADERS
    explained = " ".join(str(cell.value) for row in book.worksheets[1] for cell in row)
    assert "凯美瑞" in explained and "停售车型" not in explained


# --- car models --------------------------------------------------------------------------------


def test_group_admin_adds_and_retires_car_models(session, org, models):
    model = catalogue.add_model(session, org.group_admin, " 赛那 ", FROZEN_AT)
    assert model.name == "赛那" and "赛那" in catalogue.active_model_names(session, models)

    catalogue.set_model_active(session, org.group_admin, model.id, False)
    assert "赛那" not in catalogue.active_model_names(session, models)

    with pytest.raises(ValidationError) as duplicate:
        catalogue.add_model(session, org.group_admin, "赛那", FROZEN_AT)
    assert duplicate.value.field == "name"
    with pytest.raises(ValidationError) as empty:
        catalogue.add_model(session, org.group_admin, "  ", FROZEN_AT)
    assert empty.value.field == "name"
    with pytest.raises(Forbidden):
        catalogue.add_model(session, org.store_admin_a, "埃尔法", FROZEN_AT)


# --- the command line --------------------------------------------------------------------------


@pytest.fixture
def single_store(session, frozen_now):
    store = f.StoreFactory(code="HZ01", name="杭州西湖店")
    f.CarModelFactory(group_id=store.group_id, name="凯美瑞")
    return store


def cli_import(cli, tmp_path, rows, *options):
    path = tmp_path / "线索.xlsx"
    path.write_bytes(xlsx(rows))
    return cli.invoke(args=["crm", "import", str(path), *options])


def test_cli_reports_bad_rows_and_imports_nothing(cli, session, single_store, tmp_path):
    result = cli_import(cli, tmp_path, [GOOD_1, BAD_PHONE, GOOD_2, ["", "13912340001"]])

    assert result.exit_code == 1, result.output
    assert "共 4 行，正确 2 行，错误 2 行" in result.output
    assert "第3行 手机：手机号格式不正确" in result.output
    assert "第5行 姓名：请填写姓名" in result.output
    assert "第5行 手机：文件内重复（与第2行）" in result.output
    assert "未导入：文件有错误，可加 --good-rows 仅导入正确的行" in result.output
    assert count_leads(session, single_store) == 0


def test_cli_good_rows_imports_the_good_rows(cli, session, single_store, tmp_path):
    result = cli_import(cli, tmp_path, [GOOD_1, BAD_PHONE, GOOD_2], "--good-rows")

    assert result.exit_code == 0, result.output
    assert "已导入 2 条线索" in result.output
    leads = session.scalars(select(Lead).where(Lead.store_id == single_store.id)).all()
    assert sorted(lead.phone for lead in leads) == ["+8613912340001", "+8613912340002"]
    assert all(lead.created_by_id is None and lead.owner_id is None for lead in leads)


def test_cli_imports_a_clean_file_with_progress(cli, session, single_store, tmp_path):
    rows = [[f"客户{n}", f"1391300{n:04d}"] for n in range(2000)]
    result = cli_import(cli, tmp_path, rows)

    assert result.exit_code == 0, result.output
    assert "检查 2000/2000" in result.output and "导入 2000/2000" in result.output
    assert "已导入 2000 条线索" in result.output
    assert count_leads(session, single_store) == 2000


def test_cli_dry_run_writes_nothing(cli, session, single_store, tmp_path):
    clean = cli_import(cli, tmp_path, [GOOD_1, GOOD_2], "--dry-run")
    assert clean.exit_code == 0, clean.output
    assert "共 2 行，正确 2 行，错误 0 行" in clean.output and "未导入" in clean.output

    with_errors = cli_import(cli, tmp_path, [GOOD_1, BAD_PHONE], "--dry-run", "--good-rows")
    assert with_errors.exit_code == 1, with_errors.output

    assert count_leads(session, single_store) == 0
    kept = session.scalars(select(ImportBatch)).all()
    assert all(b.status == ImportStatus.CANCELLED and b.content is None for b in kept)


def test_cli_caps_the_printed_errors(cli, session, single_store, tmp_path):
    rows = [[f"客户{n}", "123"] for n in range(230)]
    result = cli_import(cli, tmp_path, rows)
    assert result.exit_code == 1
    assert "第201行 手机：手机号格式不正确" in result.output
    assert "第202行" not in result.output
    assert "…另有 30 条错误" in result.output


def test_cli_needs_store_when_the_group_has_several(cli, session, single_store, tmp_path):
    f.StoreFactory(group=single_store.group, code="NB01", name="宁波鄞州店")

    ambiguous = cli_import(cli, tmp_path, [GOOD_1])
    assert ambiguous.exit_code == 2
    assert "--store" in ambiguous.stderr and "HZ01" in ambiguous.stderr

    unknown = cli_import(cli, tmp_path, [GOOD_1], "--store", "SH01")
    assert unknown.exit_code == 2 and "分店 SH01 不存在" in unknown.stderr

    chosen = cli_import(cli, tmp_path, [GOOD_1], "--store", "hz01")
    assert chosen.exit_code == 0, chosen.output
    assert count_leads(session, single_store) == 1


def test_cli_refuses_a_file_that_is_not_xlsx(cli, session, single_store, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("姓名,手机\n王,13912340001\n")
    result = cli.invoke(args=["crm", "import", str(path)])
    assert result.exit_code == 2
    assert "文件不是有效的 Excel（.xlsx）文件" in result.stderr


# --- the console -------------------------------------------------------------------------------


def upload(client, rows, **form):
    data = {"file": (io.BytesIO(xlsx(rows)), "线索.xlsx"), **form}
    return client.post("/console/imports", data=data, content_type="multipart/form-data")


def test_console_upload_reports_bad_rows_then_imports_the_good_ones(client, session, org, models):
    login(client, org.store_admin_a)
    before = count_leads(session, org.store_a)

    response = upload(client, [GOOD_1, BAD_PHONE, GOOD_2], store_id=str(org.store_a.id))

    assert response.status_code == 302
    report = client.get(response.location).get_data(as_text=True)
    assert "第3行" in report and "手机号格式不正确" in report
    assert "仅导入正确的 2 行" in report and "取消" in report
    assert count_leads(session, org.store_a) == before
    batch = session.scalars(select(ImportBatch)).one()

    committed = client.post(f"/console/imports/{batch.id}/commit", data={"good_rows_only": "1"})

    assert committed.status_code == 302
    page = client.get(committed.location).get_data(as_text=True)
    assert "已导入 2 条线索" in page
    assert count_leads(session, org.store_a) == before + 2


def test_console_imports_a_clean_file_at_once(client, session, org, models):
    login(client, org.store_admin_a)
    before = count_leads(session, org.store_a)
    response = upload(client, [GOOD_1, GOOD_2])
    assert response.status_code == 302
    assert "已导入 2 条线索" in client.get(response.location).get_data(as_text=True)
    assert count_leads(session, org.store_a) == before + 2


def test_console_check_only_then_import_everything(client, session, org, models):
    login(client, org.store_admin_a)
    before = count_leads(session, org.store_a)
    response = upload(client, [GOOD_1, GOOD_2], check_only="1")
    report = client.get(response.location).get_data(as_text=True)
    assert "检查通过" in report and "导入全部 2 行" in report
    assert count_leads(session, org.store_a) == before

    batch = session.scalars(select(ImportBatch)).one()
    client.post(f"/console/imports/{batch.id}/commit", data={"good_rows_only": "0"})
    assert count_leads(session, org.store_a) == before + 2


def test_console_cancel(client, session, org, models):
    login(client, org.store_admin_a)
    upload(client, [GOOD_1, BAD_PHONE])
    batch = session.scalars(select(ImportBatch)).one()
    response = client.post(f"/console/imports/{batch.id}/cancel")
    assert "已取消本次导入" in client.get(response.location).get_data(as_text=True)
    session.refresh(batch)
    assert batch.status == ImportStatus.CANCELLED


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "请选择要导入的 Excel 文件"),
        ({"file": (io.BytesIO(b"a,b\n"), "leads.csv")}, "文件不是有效的 Excel（.xlsx）文件"),
    ],
)
def test_console_bad_upload_shows_the_form_again(client, session, org, models, data, message):
    login(client, org.store_admin_a)
    response = client.post("/console/imports", data=data, content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'data-field="file">{message}<' in page
    assert session.scalar(select(func.count()).select_from(ImportBatch)) == 0


def test_console_refuses_a_file_over_the_limit(client, app, session, org, models, monkeypatch):
    login(client, org.store_admin_a)
    monkeypatch.setattr(lead_import, "MAX_FILE_BYTES", 2000)
    over_service_limit = upload(client, [GOOD_1])
    assert over_service_limit.status_code == 400
    assert "文件不能超过" in over_service_limit.get_data(as_text=True)

    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 3000)
    over_request_limit = upload(client, [GOOD_1])
    assert over_request_limit.status_code == 400
    assert 'data-field="file">文件不能超过' in over_request_limit.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(ImportBatch)) == 0


def test_console_template_download_opens_with_the_headers(client, org, models):
    login(client, org.store_admin_a)
    response = client.get("/console/imports/template.xlsx")
    assert response.status_code == 200
    assert response.mimetype == spreadsheets.XLSX_MIME
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).worksheets[0]
    assert [cell.value for cell in sheet[1]] == HEADERS


def test_console_group_admin_chooses_the_store(client, session, org, models):
    login(client, org.group_admin)
    page = client.get("/console/imports").get_data(as_text=True)
    assert 'name="store_id"' in page and "杭州A店" in page and "宁波B店" in page

    missing = upload(client, [GOOD_1])
    assert missing.status_code == 400 and "请选择要导入的分店" in missing.get_data(as_text=True)

    response = upload(client, [GOOD_1], store_id=str(org.store_b.id))
    assert response.status_code == 302
    assert count_leads(session, org.store_b) == 2


def test_console_store_admin_imports_into_their_own_store_only(client, session, org, models):
    login(client, org.store_admin_a)
    page = client.get("/console/imports").get_data(as_text=True)
    assert "杭州A店" in page and "宁波B店" not in page
    assert f'type="hidden" name="store_id" value="{org.store_a.id}"' in page

    response = upload(client, [GOOD_1], store_id=str(org.store_b.id))
    assert response.status_code == 404
    assert count_leads(session, org.store_b) == 1


def test_console_salesperson_may_not_import(client, session, org, models):
    other = run_import(session, org.store_admin_a, org.store_a, [GOOD_1], dry_run=True)
    login(client, org.sales_a1)
    assert client.get("/console/imports").status_code == 403
    assert upload(client, [GOOD_2]).status_code == 403
    assert client.get(f"/console/imports/{other.id}").status_code == 403
    assert client.post(f"/console/imports/{other.id}/commit").status_code == 403
    assert client.get("/console/imports/template.xlsx").status_code == 403
    assert "导入线索" not in client.get("/console/").get_data(as_text=True)


def test_console_batches_of_another_store_answer_404(client, session, org, models):
    other = run_import(session, org.store_admin_b, org.store_b, [GOOD_1], dry_run=True)
    login(client, org.store_admin_a)
    assert client.get(f"/console/imports/{other.id}").status_code == 404
    assert client.post(f"/console/imports/{other.id}/cancel").status_code == 404
    assert "线索.xlsx" not in client.get("/console/imports").get_data(as_text=True)


def test_console_progress_is_readable_by_its_uploader_only(client, app, session, org, models):
    login(client, org.store_admin_a)
    rows = [[f"客户{n}", f"1391300{n:04d}"] for n in range(1500)]
    key = uuid.uuid4().hex
    upload(client, rows, progress_key=key)

    progress = client.get(f"/console/imports/progress/{key}").get_json()
    assert progress == {"done": 1500, "total": 1500, "phase": "导入"}

    client.post("/console/logout")
    login(client, org.group_admin)
    assert client.get(f"/console/imports/progress/{key}").get_json() == {
        "done": 0,
        "total": 0,
        "phase": "",
    }


def test_progress_board_keeps_entries_in_memory_without_redis():
    board = coordination.progress_board("")
    board.set("test:memory", 5, 10, "检查")
    assert board.get("test:memory") == {"done": 5, "total": 10, "phase": "检查"}
    assert board.get("test:nothing") is None


def test_progress_board_in_redis_expires(redis_url):
    board = coordination.progress_board(redis_url)
    board.set("test:redis", 7, 9, "导入")
    assert board.get("test:redis") == {"done": 7, "total": 9, "phase": "导入"}
    ttl = coordination.redis_client(redis_url).ttl(f"{coordination.KEY_PREFIX}:progress:test:redis")
    assert 0 < ttl <= coordination.PROGRESS_TTL_SECONDS


def test_console_car_models_page(client, session, org, models):
    login(client, org.group_admin)
    added = client.post("/console/car-models", data={"name": "赛那"})
    assert added.status_code == 302
    page = client.get("/console/car-models").get_data(as_text=True)
    assert 'data-model="赛那"' in page and 'data-model="停售车型"' in page

    model = session.scalar(select(CarModel).where(CarModel.name == "赛那"))
    client.post(f"/console/car-models/{model.id}/active", data={"active": "0"})
    session.refresh(model)
    assert model.active is False

    duplicate = client.post("/console/car-models", data={"name": "凯美瑞"})
    assert duplicate.status_code == 400

    client.post("/console/logout")
    login(client, org.store_admin_a)
    assert client.get("/console/car-models").status_code == 403


def test_demo_seed_lists_the_models_its_leads_name(cli, session, frozen_now):
    assert cli.invoke(args=["crm", "seed-demo", "--customers", "10"]).exit_code == 0
    group_id = session.scalar(select(CarModel.group_id).limit(1))
    on_sale = catalogue.active_model_names(session, group_id)
    assert set(session.scalars(select(Lead.model_of_interest).distinct())) <= on_sale


# --- speed -------------------------------------------------------------------------------------


def test_fifty_thousand_rows_import_within_three_times_a_bare_insert(tmp_path):
    """The import issue's performance rule, measured on PostgreSQL (CI runs it there)."""
    if not servers.uses_postgres():
        servers.missing("PostgreSQL (DATABASE_URL), where the speed rule is measured,")
    from bench.import_leads import MAX_RATIO, run

    # The best of two runs: the machines are shared and noisy; a slow import fails both.
    figures = []
    with scratch_app(tmp_path, "postgresql") as app:
        upgrade()
        for _ in range(2):
            baseline, elapsed = run(50_000, app=app)
            figures.append((elapsed / baseline, baseline, elapsed))
            if elapsed / baseline <= MAX_RATIO:
                break
    assert min(figures)[0] <= MAX_RATIO, figures


def test_the_bench_runs_end_to_end_on_sqlite_too(tmp_path):
    """The bench itself: a small run completes (it raises unless every row was imported)."""
    from bench.import_leads import run

    with scratch_app(tmp_path, "sqlite") as app:
        upgrade()
        baseline, elapsed = run(300, app=app)
    assert baseline > 0 and elapsed > 0
