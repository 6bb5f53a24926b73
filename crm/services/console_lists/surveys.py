"""The console's survey results as Excel (issue 10 "Excel export of any list"; issue 9
"Surveys"): every survey of the quarter shown on 满意度与NPS — answered or not — so that the
NPS, the CS average and the answer rates on the page can be recomputed from the file.

Rules: the surveys ``crm.access`` lets the actor see ("survey.view"), of one quarter and
optionally one store, newest first; an NPS answer is classed 推荐者 (9–10), 中立者 (7–8) or
贬损者 (0–6), a CS answer of 3 or less 低分 (PRODUCT "Complaints and surveys"). Exporting also
takes "list.export_pii", as the file holds the customers' phones.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from crm import access
from crm.models import Staff, Survey, SurveyKind
from crm.services import nps, surveys
from crm.services.console_lists import listing

SHEET = listing.Sheet(
    "surveys",
    "满意度问卷",
    (
        "问卷编号",
        "类型",
        "季度",
        "客户",
        "手机号",
        "分店",
        "工单号",
        "发出时间",
        "状态",
        "作答时间",
        "评分",
        "分类",
        "留言",
        "回访任务完成时间",
        "回访结果",
    ),
)
STATE_LABELS = {"answered": "已作答", "open": "待作答", "expired": "已过期"}


def export(
    session: Session, actor: Staff, values: Mapping[str, str], now: datetime
) -> tuple[bytes, int]:
    """The quarter's surveys (``period``, default the current one; ``store`` optional) as an
    .xlsx."""
    access.require(actor, "survey.view")
    period = nps.parse_period(values.get("period") or "", now)
    store_id = listing.record_id(values, "store", "请选择有效的分店")
    query = access.scope(
        select(Survey)
        .options(
            selectinload(Survey.customer),
            selectinload(Survey.store),
            selectinload(Survey.callback_task),
            selectinload(Survey.outbox_message),
            selectinload(Survey.service_order),
        )
        .where(Survey.period == period)
        .order_by(Survey.created_at.desc(), Survey.id.desc()),
        actor,
    )
    if store_id is not None:
        query = query.where(Survey.store_id == store_id)
    chosen = {"period": period} | ({"store": store_id} if store_id else {})
    return listing.export_rows(
        session, actor, SHEET, query, lambda row: _cells(row[0], now), chosen, now
    )


def answer_class(survey: Survey) -> str:
    """推荐者 / 中立者 / 贬损者 for an NPS answer, 低分 for a low CS answer, else ""."""
    if survey.score is None:
        return ""
    if survey.kind == SurveyKind.NPS:
        if survey.score >= surveys.PROMOTER_MIN:
            return "推荐者"
        return "贬损者" if survey.score <= surveys.DETRACTOR_MAX else "中立者"
    return "低分" if surveys.is_low(survey) else ""


def _cells(survey: Survey, now: datetime) -> list:
    customer, task, message = survey.customer, survey.callback_task, survey.outbox_message
    return [
        survey.id,
        survey.kind_label,
        surveys.period_label(survey.period),
        customer.name,
        listing.national_phone(customer.phone) if customer.phone else "",
        survey.store.name,
        survey.service_order.work_order_no if survey.service_order else "",
        listing.excel_time(message.sent_at if message else None),
        STATE_LABELS[surveys.state(survey, now)],
        listing.excel_time(survey.answered_at),
        survey.score,
        answer_class(survey),
        survey.comment,
        listing.excel_time(task.done_at if task else None),
        task.outcome if task else "",
    ]
