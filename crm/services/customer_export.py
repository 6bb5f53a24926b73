"""A copy of everything we hold on one customer (issue 12 "PIPL: export of one customer's data
(JSON + Excel) by allowed roles … in the audit log"; 个人信息保护法 Art. 45, the right to a
copy; PRODUCT "Organisation and access").

Only store and group admins export (``customer.export_pii``): a full copy, decrypted, is the
most sensitive thing the system hands out. Another store's customer answers 404, another role
403, and nothing is logged as exported; every export is logged ("customer.export" with the
format) in the same transaction that produces it.

The copy holds the profile (decrypted), member card, WeChat identities (openids masked: they
are our keys to the customer's WeChat account, not information for the customer), vehicles
with mileage readings and service orders, leads with communications and test drives, deals,
bookings, complaints (photos listed by size and type, not embedded: a dozen photos would make
the file megabytes; they are on the complaint page), surveys, consents, care opt-outs, the
messages we sent or meant to send, and care tasks. Staff appear by name (who served them).

When the customer asked for the copy (a 个人信息申请 task, crm.services.privacy_requests),
the export can fulfil it: the task is closed with what was sent.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import access, clock
from crm.errors import ValidationError
from crm.models import (
    BOOKING_STATUS_LABELS,
    CARE_TASK_LABELS,
    COMPLAINT_STATE_LABELS,
    DEAL_STATUS_LABELS,
    OUTBOX_STATE_LABELS,
    SERVICE_KIND_LABELS,
    Booking,
    CareOptOut,
    CareTask,
    CareTaskKind,
    Communication,
    Complaint,
    ComplaintPhoto,
    Consent,
    Customer,
    Deal,
    Lead,
    MemberCard,
    MileageReading,
    OutboxMessage,
    ServiceOrder,
    Staff,
    Survey,
    TestDrive,
    Vehicle,
    WeChatIdentity,
)
from crm.services import audit, care_opt_outs
from crm.services.privacy_requests import CHANNEL_LABELS, PURPOSE_LABELS

ACTION = "customer.export"
FORMATS = {"json": "JSON", "xlsx": "Excel"}
CONTENT_TYPES = {
    "json": "application/json; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
EXPORT_REQUEST = "export"


@dataclass(frozen=True)
class Section:
    key: str  # the JSON key
    title: str  # the Excel sheet
    rows: list[dict]


@dataclass(frozen=True)
class ExportFile:
    filename: str
    content_type: str
    content: bytes
    request_fulfilled: bool


# Column headers for the Excel sheets (the JSON keeps the keys).
LABELS = {
    "id": "编号",
    "name": "姓名",
    "phone": "手机号",
    "id_number": "身份证号",
    "address": "地址",
    "gender": "性别",
    "birthday": "生日",
    "occupation": "职业",
    "city": "城市",
    "hobbies": "爱好",
    "employer": "工作单位",
    "licence_no": "驾驶证号",
    "licence_class": "准驾车型",
    "licence_expiry": "驾驶证有效期至",
    "store": "分店",
    "sales_owner": "销售顾问",
    "advisor": "服务顾问",
    "created_at": "建档时间",
    "erased_at": "注销时间",
    "card_no": "会员卡号",
    "tier": "等级",
    "spend_fen": "累计消费（分）",
    "issued_at": "发卡时间",
    "app": "应用",
    "openid": "OpenID（部分隐藏）",
    "subscribed": "已关注",
    "bound_at": "绑定时间",
    "vin": "车架号",
    "model": "车型",
    "plate": "车牌号",
    "engine_no": "发动机号",
    "transmission_no": "变速箱号",
    "colour": "颜色",
    "usage": "用途",
    "purchase_date": "购车日期",
    "delivered_on": "交车日期",
    "warranty_until": "质保至",
    "mileage_km": "里程（公里）",
    "compulsory_insurance_expiry": "交强险到期",
    "commercial_insurance_expiry": "商业险到期",
    "inspection_due": "年检到期",
    "next_service_on": "下次保养日期",
    "next_service_km": "下次保养里程",
    "read_on": "读数日期",
    "km": "公里数",
    "source": "来源",
    "work_order_no": "工单号",
    "kind": "类型",
    "opened_on": "开单日期",
    "work_items": "维修项目",
    "parts": "配件",
    "labour_fen": "工时费（分）",
    "parts_fen": "配件费（分）",
    "paid_on": "结算日期",
    "lead_class": "级别",
    "status": "状态",
    "model_of_interest": "意向车型",
    "note": "备注",
    "consented_at": "同意联系时间",
    "lead_id": "线索编号",
    "occurred_at": "时间",
    "channel": "渠道",
    "staff": "人员",
    "content": "内容",
    "concerns": "关注点",
    "need_changes": "需求变化",
    "decision_factors": "决策因素",
    "next_step": "下一步",
    "scheduled_at": "预约时间",
    "car": "试驾车",
    "feelings": "试驾感受",
    "trim": "配置",
    "deposit_fen": "定金（分）",
    "deposit_on": "定金日期",
    "paid_fen": "全款（分）",
    "starts_at": "预约时间",
    "filed_at": "提交时间",
    "text": "内容",
    "state": "状态",
    "resolution": "处理结果",
    "root_cause": "原因分类",
    "photos": "照片数",
    "complaint_id": "投诉编号",
    "content_type": "格式",
    "size": "大小（字节）",
    "period": "期间",
    "score": "评分",
    "comment": "意见",
    "answered_at": "回答时间",
    "purpose": "用途",
    "granted": "同意",
    "policy_version": "隐私说明版本",
    "recorded_at": "登记时间",
    "recorded_by": "登记人",
    "fields": "消息内容",
    "sent_at": "发送时间",
    "not_before": "计划发送时间",
    "due_at": "截止时间",
    "done_at": "完成时间",
    "outcome": "结果",
}


def export(
    session: Session,
    actor: Staff,
    customer_id: int,
    fmt: str,
    now: datetime,
    fulfil_request: bool = False,
) -> ExportFile:
    """The customer's data as a JSON or Excel file, for store and group admins only; logs
    "customer.export" with the format and, with ``fulfil_request``, closes the customer's
    open export request. An unknown format is refused on ``format``. Commits."""
    customer = access.get_or_404(Customer, customer_id, actor, "customer.export_pii")
    if fmt not in FORMATS:
        raise ValidationError("请选择导出格式", "format")
    sections = collect(session, customer)
    content = to_json(customer, sections, now) if fmt == "json" else to_xlsx(sections)
    request = open_export_request(session, customer) if fulfil_request else None
    if request is not None:
        request.outcome = f"已导出个人信息副本（{FORMATS[fmt]}）并提供给客户"
        request.done_at = now
        request.done_by_id = actor.id
    audit.record(
        session,
        actor,
        ACTION,
        subject_type="customer",
        subject_id=customer.id,
        customer_id=customer.id,
        store_id=customer.store_id,
        detail={"format": fmt, "request_task_id": request.id if request else None},
        now=now,
    )
    session.commit()
    stamp = clock.local(now).strftime("%Y%m%d-%H%M")
    return ExportFile(
        filename=f"customer-{customer.id}-{stamp}.{fmt}",
        content_type=CONTENT_TYPES[fmt],
        content=content,
        request_fulfilled=request is not None,
    )


def open_export_request(session: Session, customer: Customer) -> CareTask | None:
    """The customer's open request for a copy of their data, if any."""
    prefix = f"{CareTaskKind.PRIVACY_REQUEST.value}:{customer.id}:{EXPORT_REQUEST}:"
    return session.scalar(
        select(CareTask).where(
            CareTask.customer_id == customer.id,
            CareTask.kind == CareTaskKind.PRIVACY_REQUEST.value,
            CareTask.dedupe_key.startswith(prefix),
            CareTask.done_at.is_(None),
        )
    )


def collect(session: Session, customer: Customer) -> list[Section]:
    """Every section of the copy, in the order the file shows them."""
    return [Section(key, title, build(session, customer)) for key, title, build in SECTIONS]


# --- serialising ------------------------------------------------------------------------------


def _plain(value):
    if isinstance(value, datetime):
        return clock.local(value).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def to_json(customer: Customer, sections: list[Section], now: datetime) -> bytes:
    document = {
        "customer_id": customer.id,
        "exported_at": _plain(now),
        **{
            section.key: [{k: _plain(v) for k, v in row.items()} for row in section.rows]
            for section in sections
        },
    }
    return json.dumps(document, ensure_ascii=False, indent=2).encode()


def to_xlsx(sections: list[Section]) -> bytes:
    """One sheet per section, a bold header row of Chinese labels; every text cell is text
    (a comment starting with "=" is never a formula)."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for section in sections:
        sheet = workbook.create_sheet(section.title)
        keys = list(section.rows[0]) if section.rows else []
        sheet.append([LABELS.get(key, key) for key in keys] or ["（无记录）"])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in section.rows:
            sheet.append([_cell(row[key]) for key in keys])
        for cells in sheet.iter_rows(min_row=2):
            for cell in cells:
                if isinstance(cell.value, str):
                    cell.data_type = "s"
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _cell(value):
    value = _plain(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "是" if value else "否"
    return value


# --- the sections -----------------------------------------------------------------------------


def _staff_name(staff: Staff | None) -> str:
    return staff.name if staff is not None else ""


def _mask_openid(openid: str) -> str:
    return f"{openid[:4]}****{openid[-4:]}" if len(openid) > 8 else "****"


def _profile(session: Session, customer: Customer) -> list[dict]:
    return [
        {
            "id": customer.id,
            "name": customer.name,
            "phone": customer.phone,
            "id_number": customer.id_number,
            "address": customer.address,
            "gender": {"M": "男", "F": "女"}.get(customer.gender, ""),
            "birthday": customer.birthday,
            "occupation": customer.occupation,
            "city": customer.city,
            "hobbies": customer.hobbies,
            "employer": customer.employer,
            "licence_no": customer.licence_no,
            "licence_class": customer.licence_class,
            "licence_expiry": customer.licence_expiry,
            "store": customer.store.name,
            "sales_owner": _staff_name(customer.sales_owner),
            "advisor": _staff_name(customer.advisor),
            "created_at": customer.created_at,
            "erased_at": customer.erased_at,
        }
    ]


def _member_card(session: Session, customer: Customer) -> list[dict]:
    card = session.scalar(select(MemberCard).where(MemberCard.customer_id == customer.id))
    if card is None:
        return []
    return [
        {
            "card_no": card.card_no,
            "tier": card.tier,
            "spend_fen": card.spend_fen,
            "issued_at": card.issued_at,
        }
    ]


def _identities(session: Session, customer: Customer) -> list[dict]:
    found = session.scalars(
        select(WeChatIdentity)
        .where(WeChatIdentity.customer_id == customer.id)
        .order_by(WeChatIdentity.id)
    )
    return [
        {
            "app": {"oa": "公众号", "mp": "小程序"}.get(identity.app, identity.app),
            "openid": _mask_openid(identity.openid),
            "subscribed": identity.subscribed,
            "bound_at": identity.bound_at,
        }
        for identity in found
    ]


def _vehicles(session: Session, customer: Customer) -> list[dict]:
    vehicles = session.scalars(
        select(Vehicle).where(Vehicle.customer_id == customer.id).order_by(Vehicle.id)
    )
    return [
        {
            "id": vehicle.id,
            "vin": vehicle.vin,
            "model": vehicle.model,
            "plate": vehicle.plate,
            "engine_no": vehicle.engine_no,
            "transmission_no": vehicle.transmission_no,
            "colour": vehicle.colour,
            "usage": vehicle.usage_label,
            "purchase_date": vehicle.purchase_date,
            "delivered_on": vehicle.delivered_on,
            "warranty_until": vehicle.warranty_until,
            "mileage_km": vehicle.mileage_km,
            "compulsory_insurance_expiry": vehicle.compulsory_insurance_expiry,
            "commercial_insurance_expiry": vehicle.commercial_insurance_expiry,
            "inspection_due": vehicle.inspection_due,
            "next_service_on": vehicle.next_service_on,
            "next_service_km": vehicle.next_service_km,
        }
        for vehicle in vehicles
    ]


def _vehicle_ids(customer: Customer):
    return select(Vehicle.id).where(Vehicle.customer_id == customer.id)


def _mileage(session: Session, customer: Customer) -> list[dict]:
    readings = session.execute(
        select(MileageReading, Vehicle.vin)
        .join(Vehicle, Vehicle.id == MileageReading.vehicle_id)
        .where(Vehicle.customer_id == customer.id)
        .order_by(MileageReading.read_on, MileageReading.id)
    )
    return [
        {"vin": vin, "read_on": reading.read_on, "km": reading.km, "source": reading.source}
        for reading, vin in readings
    ]


def _service_orders(session: Session, customer: Customer) -> list[dict]:
    orders = session.execute(
        select(ServiceOrder, Vehicle.vin)
        .join(Vehicle, Vehicle.id == ServiceOrder.vehicle_id)
        .where(Vehicle.customer_id == customer.id)
        .order_by(ServiceOrder.opened_on, ServiceOrder.id)
    )
    return [
        {
            "work_order_no": order.work_order_no,
            "vin": vin,
            "kind": SERVICE_KIND_LABELS.get(order.kind, order.kind),
            "opened_on": order.opened_on,
            "mileage_km": order.mileage_km,
            "work_items": order.work_items,
            "parts": order.parts,
            "labour_fen": order.labour_fen,
            "parts_fen": order.parts_fen,
            "paid_on": order.paid_on,
            "advisor": _staff_name(order.advisor),
        }
        for order, vin in orders
    ]


def _lead_ids(customer: Customer):
    # Leads linked to the customer, and those with the same phone (customers are matched to
    # their records by phone, PRODUCT "Who uses it").
    return select(Lead.id).where(
        (Lead.customer_id == customer.id) | (Lead.phone_index == customer.phone_index)
    )


def _leads(session: Session, customer: Customer) -> list[dict]:
    leads = session.scalars(select(Lead).where(Lead.id.in_(_lead_ids(customer))).order_by(Lead.id))
    return [
        {
            "id": lead.id,
            "store": lead.store.name,
            "name": lead.name,
            "phone": lead.phone,
            "source": lead.source_label,
            "lead_class": lead.class_label,
            "status": lead.status,
            "model_of_interest": lead.model_of_interest,
            "sales_owner": _staff_name(lead.owner),
            "note": lead.note,
            "consented_at": lead.consented_at,
            "created_at": lead.created_at,
        }
        for lead in leads
    ]


def _communications(session: Session, customer: Customer) -> list[dict]:
    found = session.scalars(
        select(Communication)
        .where(Communication.lead_id.in_(_lead_ids(customer)))
        .order_by(Communication.occurred_at, Communication.id)
    )
    return [
        {
            "lead_id": item.lead_id,
            "occurred_at": item.occurred_at,
            "channel": item.channel_label,
            "staff": _staff_name(item.staff),
            "content": item.content,
            "concerns": item.concerns,
            "need_changes": item.need_changes,
            "decision_factors": item.decision_factors,
            "next_step": item.next_step,
        }
        for item in found
    ]


def _test_drives(session: Session, customer: Customer) -> list[dict]:
    found = session.scalars(
        select(TestDrive)
        .where(TestDrive.lead_id.in_(_lead_ids(customer)))
        .order_by(TestDrive.scheduled_at, TestDrive.id)
    )
    return [
        {
            "lead_id": drive.lead_id,
            "scheduled_at": drive.scheduled_at,
            "car": drive.car,
            "status": drive.status_label,
            "feelings": drive.feelings,
        }
        for drive in found
    ]


def _deals(session: Session, customer: Customer) -> list[dict]:
    found = session.scalars(
        select(Deal)
        .where((Deal.customer_id == customer.id) | Deal.lead_id.in_(_lead_ids(customer)))
        .order_by(Deal.id)
    )
    return [
        {
            "id": deal.id,
            "store": deal.store.name,
            "model": deal.model,
            "trim": deal.trim,
            "status": DEAL_STATUS_LABELS.get(deal.status, deal.status),
            "deposit_fen": deal.deposit_fen,
            "deposit_on": deal.deposit_on,
            "paid_fen": deal.paid_fen,
            "paid_on": deal.paid_on,
            "delivered_on": deal.delivered_on,
            "sales_owner": _staff_name(deal.salesperson),
        }
        for deal in found
    ]


def _bookings(session: Session, customer: Customer) -> list[dict]:
    found = session.scalars(
        select(Booking).where(Booking.customer_id == customer.id).order_by(Booking.starts_at)
    )
    return [
        {
            "starts_at": booking.starts_at,
            "kind": SERVICE_KIND_LABELS.get(booking.kind, booking.kind),
            "status": BOOKING_STATUS_LABELS.get(booking.status, booking.status),
            "note": booking.note,
            "created_at": booking.created_at,
        }
        for booking in found
    ]


def _complaints(session: Session, customer: Customer) -> list[dict]:
    found = session.scalars(
        select(Complaint).where(Complaint.customer_id == customer.id).order_by(Complaint.filed_at)
    )
    return [
        {
            "id": complaint.id,
            "filed_at": complaint.filed_at,
            "channel": complaint.channel_label,
            "text": complaint.text,
            "state": COMPLAINT_STATE_LABELS.get(complaint.state, complaint.state),
            "resolution": complaint.resolution,
            "root_cause": complaint.root_cause_label,
            "photos": len(complaint.photos),
        }
        for complaint in found
    ]


def _complaint_photos(session: Session, customer: Customer) -> list[dict]:
    found = session.scalars(
        select(ComplaintPhoto)
        .join(Complaint, Complaint.id == ComplaintPhoto.complaint_id)
        .where(Complaint.customer_id == customer.id)
        .order_by(ComplaintPhoto.id)
    )
    return [
        {
            "complaint_id": photo.complaint_id,
            "content_type": photo.content_type,
            "size": photo.size,
            "created_at": photo.created_at,
        }
        for photo in found
    ]


def _surveys(session: Session, customer: Customer) -> list[dict]:
    found = session.scalars(
        select(Survey).where(Survey.customer_id == customer.id).order_by(Survey.created_at)
    )
    return [
        {
            "kind": survey.kind_label,
            "period": survey.period,
            "score": survey.score,
            "comment": survey.comment,
            "answered_at": survey.answered_at,
        }
        for survey in found
    ]


def _consents(session: Session, customer: Customer) -> list[dict]:
    found = session.scalars(
        select(Consent)
        .where(Consent.customer_id == customer.id)
        .order_by(Consent.recorded_at, Consent.id)
    )
    return [
        {
            "purpose": PURPOSE_LABELS.get(row.purpose, row.purpose),
            "granted": row.granted,
            "channel": CHANNEL_LABELS.get(row.channel, row.channel),
            "policy_version": row.policy_version,
            "note": row.note,
            "recorded_at": row.recorded_at,
            "recorded_by": _staff_name(session.get(Staff, row.recorded_by_id))
            if row.recorded_by_id
            else "本人",
        }
        for row in found
    ]


def _opt_outs(session: Session, customer: Customer) -> list[dict]:
    labels = {kind.name: kind.label for kind in care_opt_outs.member_kinds()}
    found = session.scalars(
        select(CareOptOut).where(CareOptOut.customer_id == customer.id).order_by(CareOptOut.id)
    )
    return [
        {"kind": labels.get(row.kind, row.kind), "recorded_at": row.recorded_at} for row in found
    ]


def _messages(session: Session, customer: Customer) -> list[dict]:
    found = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.customer_id == customer.id, OutboxMessage.staff_id.is_(None))
        .order_by(OutboxMessage.not_before, OutboxMessage.id)
    )
    return [
        {
            "kind": message.kind,
            "state": OUTBOX_STATE_LABELS.get(message.state, message.state),
            "not_before": message.not_before,
            "sent_at": message.sent_at,
            "fields": (message.payload or {}).get("data", {}),
        }
        for message in found
    ]


def _tasks(session: Session, customer: Customer) -> list[dict]:
    found = session.scalars(
        select(CareTask).where(CareTask.customer_id == customer.id).order_by(CareTask.due_at)
    )
    return [
        {
            "kind": CARE_TASK_LABELS.get(task.kind, task.kind),
            "due_at": task.due_at,
            "staff": _staff_name(task.staff),
            "text": task.text,
            "done_at": task.done_at,
            "outcome": task.outcome,
        }
        for task in found
    ]


SECTIONS: list[tuple[str, str, Callable[[Session, Customer], list[dict]]]] = [
    ("profile", "个人资料", _profile),
    ("member_card", "会员卡", _member_card),
    ("wechat_identities", "微信身份", _identities),
    ("vehicles", "车辆", _vehicles),
    ("mileage_readings", "里程记录", _mileage),
    ("service_orders", "维修保养工单", _service_orders),
    ("leads", "购车线索", _leads),
    ("communications", "沟通记录", _communications),
    ("test_drives", "试驾", _test_drives),
    ("deals", "订单", _deals),
    ("bookings", "预约", _bookings),
    ("complaints", "投诉", _complaints),
    ("complaint_photos", "投诉照片", _complaint_photos),
    ("surveys", "问卷", _surveys),
    ("consents", "授权记录", _consents),
    ("care_opt_outs", "关怀退订", _opt_outs),
    ("messages", "消息记录", _messages),
    ("care_tasks", "服务任务", _tasks),
]
