"""The customer's surveys (issue 9 "Surveys"; issue 11 "surveys (answer)"): the open ones,
one with its state, and the answer — a 1–5 score (CS) or 0–10 (NPS) and a comment, one answer
per survey — through ``crm.services.surveys`` as the member pages do. Another customer's
survey is 404; an expired one is 409."""

from __future__ import annotations

from marshmallow import fields, pre_dump

from crm import clock
from crm.api.auth import current_customer, customer_required
from crm.api.blueprint import ID, ApiBlueprint
from crm.api.pagination import cursor_page
from crm.api.schemas import ApiSchema, PageArgs, page_of, text
from crm.extensions import db
from crm.services import surveys

bp = ApiBlueprint(
    "api_customer_surveys", __name__, url_prefix="/member/surveys", description="问卷"
)


class SurveyOut(ApiSchema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"description": "cs（1–5分）或 nps（0–10分）"})
    state = fields.String(required=True, metadata={"description": "open / answered / expired"})
    subject = fields.String(required=True)
    deadline = fields.AwareDateTime(required=True)
    scale_min = fields.Integer(required=True)
    scale_max = fields.Integer(required=True)
    score = fields.Integer(required=True, allow_none=True)
    comment = fields.String(required=True)

    @pre_dump
    def _from_page(self, page: surveys.SurveyPage, **_kwargs) -> dict:
        return {
            "id": page.survey.id,
            "kind": page.survey.kind,
            "state": page.state,
            "subject": page.subject,
            "deadline": page.deadline,
            "scale_min": page.scale[0],
            "scale_max": page.scale[1],
            "score": page.survey.score,
            "comment": page.survey.comment,
        }


class AnswerIn(ApiSchema):
    # The service checks the range of the survey's own scale and names the field.
    score = fields.Integer(required=True, metadata={"label": "评分"})
    comment = text("意见建议", surveys.COMMENT_MAX, load_default="")


class AnswerOut(ApiSchema):
    recorded = fields.Boolean(
        required=True, metadata={"description": "false：这份问卷之前已经回答过，答案未改变"}
    )
    survey = fields.Nested(SurveyOut, required=True)


@bp.get("")
@customer_required
@bp.arguments(PageArgs, location="query")
@bp.etag
@bp.response(200, page_of(SurveyOut, "SurveyPage"))
def index(args):
    """My surveys waiting for an answer, the soonest to expire first."""
    pages = surveys.open_surveys(db.session, current_customer(), clock.now())
    return cursor_page(pages, args, key=lambda page: (page.deadline, page.survey.id))


@bp.get(f"/<{ID}:survey_id>")
@customer_required
@bp.etag
@bp.response(200, SurveyOut)
def show(survey_id: int):
    """One of my surveys with its state (and my answer once given)."""
    return surveys.survey_page(db.session, current_customer(), survey_id, clock.now())


@bp.post(f"/<{ID}:survey_id>/answer")
@customer_required
@bp.arguments(AnswerIn)
@bp.response(200, AnswerOut)
def answer(data, survey_id: int):
    """Answer one of my surveys; a second answer changes nothing (``recorded`` false)."""
    customer, now = current_customer(), clock.now()
    result = surveys.answer(db.session, customer, survey_id, data["score"], data["comment"], now)
    return {
        "recorded": result.recorded,
        "survey": surveys.survey_page(db.session, customer, survey_id, now),
    }
