"""The customer's complaints (issue 9 "Complaints"; issue 11 "complaints (create with photos,
status)"): file one with text, optionally a car and up to 9 photos, list mine with their
status, one with its timeline, and its photos — through ``crm.services.complaints`` as the
member pages do. Photos travel as base64 strings in the JSON body and get the same checks as
uploads on the member pages (crm.services.complaint_photos: JPEG/PNG/WebP by their bytes,
5 MB each). Another customer's complaint is 404."""

from __future__ import annotations

import base64
import binascii

from flask import request
from marshmallow import fields, pre_dump, validate

from crm import clock
from crm.api import auth
from crm.api.auth import current_customer, customer_required
from crm.api.blueprint import ID, ApiBlueprint
from crm.api.idempotency import idempotent
from crm.api.pagination import cursor_page
from crm.api.schemas import ApiSchema, PageArgs, page_of, record_id, text
from crm.errors import DomainError, ValidationError
from crm.extensions import db
from crm.services import complaint_photos, complaints
from crm.views.member_complaints import photo_response

bp = ApiBlueprint(
    "api_customer_complaints", __name__, url_prefix="/member/complaints", description="投诉"
)
# Base64 makes 3 bytes 4 characters.
MAX_PHOTO_CHARS = (complaint_photos.MAX_BYTES + 2) // 3 * 4
UPLOAD_LIMIT = complaint_photos.MAX_PHOTOS * MAX_PHOTO_CHARS + 1024 * 1024


@bp.url_value_preprocessor
def allow_photo_uploads(endpoint, _values):
    """A logged-in customer's complaint may carry nine photos: more than the app-wide request
    limit (set before the body is read; strangers keep the app-wide limit)."""
    if endpoint != "api_customer_complaints.create" or request.method != "POST":
        return
    try:
        principal = auth.authenticate()
    except DomainError:
        return
    if principal.kind == "customer":
        request.max_content_length = UPLOAD_LIMIT


class StepOut(ApiSchema):
    at = fields.AwareDateTime(required=True)
    step = fields.String(required=True)


class ComplaintOut(ApiSchema):
    id = fields.Integer(required=True)
    state = fields.String(required=True)
    state_label = fields.String(required=True)
    text = fields.String(required=True)
    vehicle_id = fields.Integer(required=True, allow_none=True)
    filed_at = fields.AwareDateTime(required=True)
    photo_ids = fields.List(fields.Integer(), required=True)
    timeline = fields.List(fields.Nested(StepOut), required=True)

    @pre_dump
    def _from_complaint(self, complaint, **_kwargs) -> dict:
        return {
            "id": complaint.id,
            "state": complaint.state,
            "state_label": complaint.state_label,
            "text": complaint.text,
            "vehicle_id": complaint.vehicle_id,
            "filed_at": complaint.filed_at,
            "photo_ids": [photo.id for photo in complaint.photos],
            "timeline": [
                {"at": at, "step": step} for at, step in complaints.customer_timeline(complaint)
            ],
        }


class ComplaintIn(ApiSchema):
    text = text("投诉内容", complaints.TEXT_MAX, required=True)
    vehicle = record_id("车辆", "请选择该客户名下的车辆", load_default=None, allow_none=True)
    photos = fields.List(
        fields.String(
            validate=validate.Length(max=MAX_PHOTO_CHARS, error="每张照片不能超过5MB"),
            metadata={"format": "byte"},
        ),
        load_default=list,
        validate=validate.Length(
            max=complaint_photos.MAX_PHOTOS, error=f"最多上传{complaint_photos.MAX_PHOTOS}张照片"
        ),
        metadata={"label": "照片", "description": "JPEG、PNG 或 WebP 图片的 base64"},
    )


def _decoded(photos: list[str]) -> list[bytes]:
    files = []
    for number, encoded in enumerate(photos, start=1):
        try:
            files.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            raise ValidationError(f"第{number}张照片不是有效的base64", "photos") from None
    return files


@bp.get("")
@customer_required
@bp.arguments(PageArgs, location="query")
@bp.etag
@bp.response(200, page_of(ComplaintOut, "ComplaintPage"))
def index(args):
    """My complaints with their status, newest first."""
    listed = complaints.my_complaints(db.session, current_customer())
    return cursor_page(
        listed, args, key=lambda complaint: (complaint.filed_at, complaint.id), descending=True
    )


@bp.post("")
@customer_required
@idempotent
@bp.arguments(ComplaintIn)
@bp.response(201, ComplaintOut)
def create(data):
    """File a complaint; the store's care specialist is told at once."""
    return complaints.file_from_member(
        db.session,
        current_customer(),
        complaints.ComplaintInput(data["text"], data["vehicle"]),
        _decoded(data["photos"]),
        [],
        None,
        clock.now(),
    )


@bp.get(f"/<{ID}:complaint_id>")
@customer_required
@bp.etag
@bp.response(200, ComplaintOut)
def detail(complaint_id: int):
    """One of my complaints with its timeline."""
    return complaints.my_complaint(db.session, current_customer(), complaint_id)


IMAGE = {"schema": {"type": "string", "format": "binary"}}


@bp.get(f"/<{ID}:complaint_id>/photos/<{ID}:photo_id>")
@customer_required
@bp.doc(
    responses={
        200: {
            "description": "照片",
            "content": {"image/jpeg": IMAGE, "image/png": IMAGE, "image/webp": IMAGE},
        }
    }
)
def photo(complaint_id: int, photo_id: int):
    """A photo of one of my complaints, as its own image type."""
    return photo_response(
        complaints.my_photo(db.session, current_customer(), complaint_id, photo_id)
    )
