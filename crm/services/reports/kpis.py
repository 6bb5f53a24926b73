"""The KPI dashboard: each KPI of PRODUCT "Reports and KPIs" with its target, a red/amber/green
mark, a one-line definition, and the rows behind the number (issue 10 "Reports").

Targets come from the seeds ([000 §2.2], [002 §5]); where a seed names only an alarm line
(first follow-up within 24 h: below 80%) that line is the target. Marks *(ours)*: green at or
above the target; amber up to 10 points below it; red further below. A KPI without a target
is shown without a mark. A figure with nothing to count is None ("—"), never a 0 that looks
like a result. KPIs whose data the system does not hold are listed as unavailable with the
reason, not estimated.

Complaint timeliness and NPS are counted by their own services
(``crm.services.complaints.timeliness``, ``crm.services.nps.figures``) and drill down to
their own pages. Store-wide KPIs (after-sales, complaints, NPS, members) are for store and
group admins; a supervisor's dashboard shows the team's sales KPIs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from crm import access
from crm.errors import NotFound
from crm.models import Role, ServiceKind, Staff
from crm.services import audit, complaints, nps
from crm.services.reports import kpi_measures as m
from crm.services.reports import periods
from crm.services.reports.scope import VIEW, Filters

AMBER_POINTS = 0.10
PER_PAGE = 30
FOLLOW_UP_WINDOW = timedelta(hours=24)
ACTIVATION_WINDOW = timedelta(days=30)
STORE_ADMINS = (Role.GROUP_ADMIN.value, Role.STORE_ADMIN.value)


@dataclass(frozen=True)
class Spec:
    """What a KPI is: its name, definition (the hover text), target and how it is counted."""

    key: str
    name: str
    definition: str
    target: float | None = None  # a share (0.3 = 30%), or NPS points
    unit: str = "%"  # "%", "分" (NPS points) or "台次" (a count)
    rows: Callable | None = None  # (actor, month, filters[, now]) -> select(record, hit)
    timed: timedelta | None = None  # hits decided in Python: done within this of "since"
    needs_now: bool = False
    store_wide: bool = False
    record: str = ""  # what the drill-down lists: lead, communication, task, vehicle, ...
    unavailable: str = ""  # why there is no figure

    @property
    def is_count(self) -> bool:
        return self.unit == "台次"


@dataclass(frozen=True)
class Kpi:
    spec: Spec
    value: float | None = None
    numerator: int | None = None
    denominator: int | None = None
    note: str = ""  # why there is no figure for this actor or month
    drill_url: dict = field(default_factory=dict)  # for KPIs drilled on their own pages

    @property
    def mark(self) -> str | None:
        """ "green", "amber", "red", or None (no target, or no figure)."""
        target = self.spec.target
        if target is None or self.value is None:
            return None
        if self.value >= target:
            return "green"
        band = AMBER_POINTS * (100 if self.spec.unit == "分" else 1)
        return "amber" if self.value >= target - band else "red"


SPECS: tuple[Spec, ...] = (
    Spec(
        "lead_conversion",
        "潜客转化率",
        "本月新建线索中已成交（已收定金且未取消）的比例；目标≥30%",
        target=0.30,
        rows=m.lead_conversion,
        record="lead",
    ),
    Spec(
        "first_follow_up",
        "24小时首次跟进率",
        "本月新建线索中，录入后24小时内有首次跟进记录的比例（未满24小时且未跟进的不计）；低于80%告警",
        target=0.80,
        rows=m.first_follow_up,
        timed=FOLLOW_UP_WINDOW,
        record="lead",
    ),
    Spec(
        "record_completeness",
        "跟进记录完整率",
        "本月跟进记录中，客户疑虑、需求变化、决策因素、下一步及其时间均已填写的比例",
        rows=m.record_completeness,
        record="communication",
    ),
    Spec(
        "dormant_activation",
        "休眠客户激活率",
        "本月唤醒的休眠线索中，唤醒后30天内有跟进互动的比例（未满30天且未互动的不计）",
        rows=m.dormant_activation,
        timed=ACTIVATION_WINDOW,
        record="lead",
    ),
    Spec(
        "referral_rate",
        "转介绍率",
        "本月成交（收取定金且未取消）中，来源为老客户转介绍的比例",
        rows=m.referral_rate,
        record="deal",
    ),
    Spec(
        "return_visit_7d",
        "交车7天回访率",
        "本月到期（截至现在）的交车7天回访任务中已完成的比例；目标100%",
        target=1.0,
        rows=m.return_visit_7d,
        needs_now=True,
        record="task",
    ),
    Spec(
        "return_to_shop",
        "老客回厂率",
        "本月之前售出的车辆中，截至月末的12个月内有进厂工单的比例；目标≥60%",
        target=0.60,
        rows=m.return_to_shop,
        store_wide=True,
        record="vehicle",
    ),
    Spec(
        "value_added",
        "增值服务渗透率",
        "进厂工单中购买延保、精品等增值服务的比例；目标≥40%",
        target=0.40,
        store_wide=True,
        unavailable="暂无数据：工单只记录作业项目和配件，未记录延保、精品等增值服务的销售",
    ),
    Spec(
        "complaint_timeliness",
        "投诉处理及时率",
        "本月提交的投诉中，10分钟内首次联系且解决后24小时内回访的比例（时限未到的不计）；目标100%",
        target=1.0,
        store_wide=True,
    ),
    Spec(
        "nps",
        "NPS",
        "本月所在季度已回答的NPS调查：推荐者（9–10分）占比减贬损者（0–6分）占比；目标≥40",
        target=40,
        unit="分",
        store_wide=True,
    ),
    Spec(
        "member_activity",
        "会员活跃度",
        "月末前已办卡的会员中，截至月末90天内有进厂工单或预约的比例；目标≥50%",
        target=0.50,
        rows=m.member_activity,
        store_wide=True,
        record="customer",
    ),
    Spec(
        "lost_recall",
        "流失客户召回率",
        "月初已满一年未进厂的老客户（曾有工单）中，本月有进厂工单的比例；目标≥15%",
        target=0.15,
        rows=m.lost_recall,
        store_wide=True,
        record="customer",
    ),
    Spec(
        "insurance_renewal",
        "续保率",
        "本月保险到期的车辆中在本店续保的比例；目标每月≥20%",
        target=0.20,
        store_wide=True,
        unavailable="暂无数据：系统只记录保险到期日，未记录续保保单及承保门店",
    ),
    Spec(
        "first_maintenance",
        "首保进厂台次",
        "本月开单的首保工单数",
        unit="台次",
        rows=m.maintenance_visits(ServiceKind.FIRST_MAINTENANCE),
        store_wide=True,
        record="order",
    ),
    Spec(
        "periodic_maintenance",
        "定保进厂台次",
        "本月开单的定期保养工单数",
        unit="台次",
        rows=m.maintenance_visits(ServiceKind.PERIODIC_MAINTENANCE),
        store_wide=True,
        record="order",
    ),
)
BY_KEY = {spec.key: spec for spec in SPECS}


# --- counting -------------------------------------------------------------------------------


def _rows(spec: Spec, actor: Staff, month: periods.Month, filters: Filters, now) -> Select:
    if spec.needs_now:
        return spec.rows(actor, month, filters, now)
    return spec.rows(actor, month, filters)


def decided(spec: Spec, since: datetime, done_at: datetime | None, now: datetime) -> bool | None:
    """For timed KPIs: True done in time, False missed, None still within the window."""
    deadline = since + spec.timed
    if done_at is not None and done_at <= deadline:
        return True
    return False if now > deadline or done_at is not None else None


def _counted(session: Session, spec: Spec, query: Select, now: datetime) -> tuple[int, int]:
    if spec.timed is not None:
        moments = query.with_only_columns(
            query.selected_columns.since, query.selected_columns.done_at
        )
        outcomes = [decided(spec, since, done, now) for since, done in session.execute(moments)]
        known = [outcome for outcome in outcomes if outcome is not None]
        return sum(known), len(known)
    rows = query.subquery()
    hits, total = session.execute(
        select(func.coalesce(func.sum(case((rows.c.hit, 1), else_=0)), 0), func.count())
    ).one()
    return int(hits), int(total)


def _measured(session, spec, actor, month, filters, now) -> Kpi:
    hits, total = _counted(session, spec, _rows(spec, actor, month, filters, now), now)
    if spec.is_count:
        return Kpi(spec, value=hits, numerator=hits, denominator=None)
    return Kpi(spec, value=hits / total if total else None, numerator=hits, denominator=total)


def _complaints(session, actor, month, filters, now) -> Kpi:
    spec = BY_KEY["complaint_timeliness"]
    rows = complaints.timeliness(session, actor, month.first, month.last_day, now)
    rows = [row for row in rows if filters.store_id in (None, row.store_id)]
    timely, counted = sum(r.timely for r in rows), sum(r.decided for r in rows)
    url = {"start": month.first.isoformat(), "end": month.last_day.isoformat()}
    if filters.store_id is not None:
        url["store"] = filters.store_id
    return Kpi(spec, timely / counted if counted else None, timely, counted, drill_url=url)


def _nps(session, actor, month, filters, now) -> Kpi:
    spec = BY_KEY["nps"]
    period = month.quarter()
    figures = nps.figures(session, actor, period, filters.store_id)
    figure = figures.total.nps
    url = {"period": period}
    if filters.store_id is not None:
        url["store"] = filters.store_id
    return Kpi(
        spec, figure.score, figure.promoters - figure.detractors, figure.answered, drill_url=url
    )


SERVICES = {"complaint_timeliness": _complaints, "nps": _nps}


def dashboard(
    session: Session, actor: Staff, *, month_start, now: datetime, filters: Filters
) -> list[Kpi]:
    """Every KPI for the month beginning on ``month_start`` over what the actor sees, narrowed
    by the filters (PRODUCT "Reports and KPIs"). A salesperson filter applies to the sales
    KPIs; the store-wide ones are then shown without a figure, saying so."""
    access.require(actor, VIEW)
    month = periods.month_of(month_start)
    result = []
    for spec in SPECS:
        if spec.unavailable:
            result.append(Kpi(spec, note=spec.unavailable))
        elif spec.store_wide and actor.role not in STORE_ADMINS:
            result.append(Kpi(spec, note="门店整体指标，仅分店及集团管理员可见"))
        elif spec.store_wide and filters.salesperson_id is not None:
            result.append(Kpi(spec, note="门店整体指标，不按销售顾问统计"))
        elif spec.key in SERVICES:
            result.append(SERVICES[spec.key](session, actor, month, filters, now))
        else:
            result.append(_measured(session, spec, actor, month, filters, now))
    return result


@dataclass(frozen=True)
class DrillRow:
    record: object
    hit: bool | None  # None: a timed row still within its window


def drill_down(
    session: Session,
    actor: Staff,
    key: str,
    *,
    month_start,
    now: datetime,
    filters: Filters,
    page: int = 1,
) -> tuple[Spec, list[DrillRow], int]:
    """The rows behind one KPI's figure — its denominator, each marked whether it counts in
    the numerator — one page of them, and how many there are. Unknown KPIs, and those drilled
    on their own pages or without data, are NotFound."""
    access.require(actor, VIEW)
    spec = BY_KEY.get(key)
    if spec is None or spec.rows is None:
        raise NotFound()
    if spec.store_wide and actor.role not in STORE_ADMINS:
        raise NotFound()
    month = periods.month_of(month_start)
    query = _rows(spec, actor, month, filters, now)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    entity = query.column_descriptions[0]["entity"]
    paged = query.order_by(entity.id.desc()).limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    rows = []
    for row in session.execute(paged):
        if spec.timed is not None:
            rows.append(DrillRow(row[0], decided(spec, row.since, row.done_at, now)))
        else:
            rows.append(DrillRow(row[0], bool(row.hit)))
    # The rows name customers: opening them is a view of customer data (issue 10 "audit log").
    audit.record(
        session,
        actor,
        "report.drill_down",
        subject_type="kpi",
        subject_id=None,
        store_id=filters.store_id or actor.store_id,
        detail={"kpi": key, "month": month_start.isoformat(), "page": page, "rows": len(rows)},
        now=now,
    )
    session.commit()
    return spec, rows, int(total)
