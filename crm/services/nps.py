"""Survey results per store and quarter (PRODUCT "Complaints and surveys", "Reports and KPIs":
NPS ≥ 40; issue 9 "Surveys").

* **NPS** = % promoters (9–10) − % detractors (0–6), over the surveys of the quarter that were
  answered; passives (7–8) count in the denominator only. No answers: no NPS (``None``), never
  a 0 that looks like a result.
* **CS**: the average score (1–5) of the quarter's answered CS surveys, and how many were low
  (3 or less). A CS survey belongs to the quarter its order was settled in.
* **Answer rate** = answered ÷ surveys sent out (queued) in the quarter.
* Small samples are shown as such: every figure carries its counts, and ``small`` marks fewer
  than 30 answers, where one more answer moves the NPS by several points.

Everything is seen through ``access.scope`` on ``Survey`` (the store it asks about) and needs
"survey.view": group admins see every store, store admins and care specialists their own.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from datetime import datetime

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session, selectinload

from crm import access, clock
from crm.models import ServiceOrder, Staff, Store, Survey, SurveyKind
from crm.services import surveys

SMALL_SAMPLE = 30
PER_PAGE = 30
COUNTED = ("issued", "answered", "promoters", "detractors", "low", "score_sum")


def _share(part: int, whole: int) -> float | None:
    return 100 * part / whole if whole else None


class _Counted:
    """What NPS and CS figures share: counts that add up store by store into a total."""

    issued: int
    answered: int

    @property
    def answer_rate(self) -> float | None:
        return _share(self.answered, self.issued)

    @property
    def small(self) -> bool:
        return self.answered < SMALL_SAMPLE

    def __add__(self, other):
        return type(self)(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


@dataclass(frozen=True)
class NpsFigure(_Counted):
    issued: int = 0
    answered: int = 0
    promoters: int = 0
    detractors: int = 0

    @property
    def passives(self) -> int:
        return self.answered - self.promoters - self.detractors

    @property
    def score(self) -> float | None:
        """% promoters − % detractors over the answered surveys; None without answers."""
        if not self.answered:
            return None
        return 100 * (self.promoters - self.detractors) / self.answered


@dataclass(frozen=True)
class CsFigure(_Counted):
    issued: int = 0
    answered: int = 0
    score_sum: int = 0
    low: int = 0  # answers of 3 or less

    @property
    def average(self) -> float | None:
        return self.score_sum / self.answered if self.answered else None


@dataclass(frozen=True)
class StoreFigures:
    store_id: int | None  # None: the total of the stores shown
    store_name: str
    nps: NpsFigure
    cs: CsFigure


@dataclass(frozen=True)
class PeriodFigures:
    period: str
    stores: list[StoreFigures]
    total: StoreFigures


def current_period(now: datetime) -> str:
    return surveys.period_of(clock.today(now))


def parse_period(raw: str, now: datetime) -> str:
    """A quarter typed as "2026Q4" (any case); empty is the current quarter."""
    text = (raw or "").strip().upper()
    if not text:
        return current_period(now)
    surveys.quarter_start(text)
    return text


def _counts(session: Session, actor: Staff, period: str) -> dict[tuple[int, str], dict]:
    """Per (store, kind): issued, answered, promoters, detractors, low CS and the score sum."""
    answered = Survey.answered_at.is_not(None)

    def answered_with(condition):
        return func.sum(case((and_(answered, condition), 1), else_=0))

    query = access.scope(
        select(
            Survey.store_id,
            Survey.kind,
            func.count().label("issued"),
            func.count(Survey.answered_at).label("answered"),
            answered_with(Survey.score >= surveys.PROMOTER_MIN).label("promoters"),
            answered_with(Survey.score <= surveys.DETRACTOR_MAX).label("detractors"),
            answered_with(Survey.score <= surveys.CS_LOW_MAX).label("low"),
            func.coalesce(func.sum(Survey.score), 0).label("score_sum"),
        )
        .where(Survey.period == period)
        .group_by(Survey.store_id, Survey.kind),
        actor,
        Survey,
    )
    return {
        (row.store_id, row.kind): {name: int(row._mapping[name] or 0) for name in COUNTED}
        for row in session.execute(query)
    }


def figures(
    session: Session, actor: Staff, period: str, store_id: int | None = None
) -> PeriodFigures:
    """NPS and CS of every store the actor sees (or the one ``store_id``) for ``period``, with
    the counts behind each figure, and their total."""
    access.require(actor, "survey.view")
    surveys.quarter_start(period)
    stores_query = access.scope(select(Store).order_by(Store.code), actor)
    if store_id is not None:
        stores_query = stores_query.where(Store.id == store_id)
    counts = _counts(session, actor, period)
    rows = []
    for store in session.scalars(stores_query):
        nps = counts.get((store.id, SurveyKind.NPS.value))
        cs = counts.get((store.id, SurveyKind.CS.value))
        rows.append(
            StoreFigures(
                store.id,
                store.name,
                NpsFigure(nps["issued"], nps["answered"], nps["promoters"], nps["detractors"])
                if nps
                else NpsFigure(),
                CsFigure(cs["issued"], cs["answered"], cs["score_sum"], cs["low"])
                if cs
                else CsFigure(),
            )
        )
    total = StoreFigures(
        None,
        "合计",
        sum((row.nps for row in rows), NpsFigure()),
        sum((row.cs for row in rows), CsFigure()),
    )
    return PeriodFigures(period, rows, total)


def low_scores_query(actor: Staff, period: str, store_id: int | None = None) -> Select:
    """The period's low answers — CS 3 or less, NPS detractors (0–6) — newest first, with their
    callback tasks (paginate it)."""
    access.require(actor, "survey.view")
    low = or_(
        and_(Survey.kind == SurveyKind.CS.value, Survey.score <= surveys.CS_LOW_MAX),
        and_(Survey.kind == SurveyKind.NPS.value, Survey.score <= surveys.DETRACTOR_MAX),
    )
    query = (
        select(Survey)
        .options(
            selectinload(Survey.customer),
            selectinload(Survey.store),
            selectinload(Survey.callback_task),
            selectinload(Survey.service_order).selectinload(ServiceOrder.vehicle),
        )
        .where(Survey.period == period, Survey.answered_at.is_not(None), low)
        .order_by(Survey.answered_at.desc(), Survey.id.desc())
    )
    if store_id is not None:
        query = query.where(Survey.store_id == store_id)
    return access.scope(query, actor)
