"""The customer's care settings and personal-information rights (issue 9 "Preferences";
issue 11 "care preferences, consent, 'export my data' and 'delete my account' requests
(PIPL)"): which kinds of care to receive, the consents on record with granting and
withdrawing the optional ones, and the requests for a copy or the deletion of their data —
through crm.services.consents, crm.services.care_opt_outs and crm.services.privacy_requests,
as the member pages do."""

from __future__ import annotations

from marshmallow import fields, pre_dump, validate

from crm import clock
from crm.api.auth import current_customer, customer_required
from crm.api.blueprint import ApiBlueprint
from crm.api.idempotency import idempotent
from crm.api.schemas import ApiSchema, text
from crm.extensions import db
from crm.services import care_opt_outs, consents, privacy_requests

bp = ApiBlueprint(
    "api_customer_privacy", __name__, url_prefix="/member", description="关怀设置与个人信息"
)


class CareChoiceOut(ApiSchema):
    kind = fields.String(required=True)
    label = fields.String(required=True)
    critical = fields.Boolean(required=True, metadata={"description": "关系到用车安全，不能关闭"})
    receiving = fields.Boolean(required=True)
    switchable = fields.Boolean(required=True)

    @pre_dump
    def _from_choice(self, choice: care_opt_outs.MemberChoice, **_kwargs) -> dict:
        return {
            "kind": choice.kind.name,
            "label": choice.kind.label,
            "critical": choice.kind.critical,
            "receiving": choice.receiving,
            "switchable": choice.switchable,
        }


class PreferencesOut(ApiSchema):
    choices = fields.List(fields.Nested(CareChoiceOut), required=True)


class PreferencesIn(ApiSchema):
    choices = fields.Dict(
        keys=fields.String(),
        values=fields.String(
            validate=validate.OneOf(
                [care_opt_outs.ON, care_opt_outs.OFF], error="请选择接收（on）或不接收（off）"
            )
        ),
        required=True,
        metadata={"label": "关怀设置", "description": "关怀类型 → on / off；未列出的保持不变"},
    )


class ConsentOut(ApiSchema):
    purpose = fields.String(required=True)
    label = fields.String(required=True)
    essential = fields.Boolean(
        required=True, metadata={"description": "服务所必需，撤回须申请删除"}
    )
    granted = fields.Boolean(
        required=True, allow_none=True, metadata={"description": "null：未登记"}
    )
    channel = fields.String(required=True)
    recorded_at = fields.AwareDateTime(required=True, allow_none=True)
    policy_version = fields.String(required=True)


class ConsentsOut(ApiSchema):
    consents = fields.List(fields.Nested(ConsentOut), required=True)


class DecisionIn(ApiSchema):
    purpose = fields.String(
        required=True,
        validate=validate.OneOf(list(consents.PURPOSES), error="请选择授权用途"),
        metadata={"label": "授权用途"},
    )
    granted = fields.Boolean(required=True, metadata={"label": "是否同意"})


class RequestOut(ApiSchema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    label = fields.String(required=True)
    requested_at = fields.AwareDateTime(required=True)
    answer_within = fields.String(required=True)


class RequestsOut(ApiSchema):
    open_requests = fields.List(fields.Nested(RequestOut), required=True)


class RequestIn(ApiSchema):
    kind = fields.String(
        required=True,
        validate=validate.OneOf(list(privacy_requests.KINDS), error="请选择申请类型"),
        metadata={"label": "申请类型", "description": "export：导出我的个人信息；delete：删除"},
    )
    note = text("补充说明", privacy_requests.NOTE_MAX, load_default="")


def _request_json(kind: str, task) -> dict:
    return {
        "id": task.id,
        "kind": kind,
        "label": privacy_requests.KINDS[kind][0],
        "requested_at": task.created_at,
        "answer_within": privacy_requests.ANSWER_WITHIN,
    }


@bp.get("/preferences")
@customer_required
@bp.etag
@bp.response(200, PreferencesOut)
def preferences():
    """Every kind of care I may receive and whether I receive it."""
    return {"choices": care_opt_outs.for_member(db.session, current_customer())}


@bp.put("/preferences")
@customer_required
@bp.arguments(PreferencesIn)
@bp.response(200, PreferencesOut)
def set_preferences(data):
    """Switch kinds of care on and off (service-critical ones cannot be switched off)."""
    choices = consents.set_member_choices(
        db.session, current_customer(), data["choices"], clock.now()
    )
    return {"choices": choices}


@bp.get("/consents")
@customer_required
@bp.etag
@bp.response(200, ConsentsOut)
def consent_list():
    """What I consented to, purpose by purpose, as it stands."""
    return {"consents": consents.current(db.session, current_customer())}


@bp.post("/consents")
@customer_required
@bp.arguments(DecisionIn)
@bp.response(200, ConsentsOut)
def decide(data):
    """Grant or withdraw one purpose (only optional purposes can be withdrawn: for the
    necessary ones ask for deletion)."""
    customer, now = current_customer(), clock.now()
    decide_on = consents.grant if data["granted"] else consents.withdraw
    decide_on(db.session, customer, customer, data["purpose"], consents.MEMBER_CHANNEL, now)
    return {"consents": consents.current(db.session, customer)}


@bp.get("/privacy-requests")
@customer_required
@bp.etag
@bp.response(200, RequestsOut)
def privacy_request_list():
    """My requests for a copy or the deletion of my data that are still being handled."""
    page = privacy_requests.page(db.session, current_customer())
    return {
        "open_requests": [_request_json(kind, task) for kind, task in page.open_requests.items()]
    }


@bp.post("/privacy-requests")
@customer_required
@idempotent
@bp.arguments(RequestIn)
@bp.response(201, RequestOut)
def privacy_request(data):
    """Ask for a copy (export) or the deletion (delete) of my personal information; the
    store's care specialist answers within 15 working days. One open request per kind (409)."""
    task = privacy_requests.request(
        db.session, current_customer(), data["kind"], data["note"], clock.now()
    )
    return _request_json(data["kind"], task)
