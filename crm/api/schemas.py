"""The marshmallow base schema of the JSON API and the shapes every endpoint shares: the error
body, the cursor-pagination arguments and page envelope.

``ApiSchema`` gives every field Chinese error messages (marshmallow's ``on_bind_field`` hook),
so a bad request is answered like a bad form: in Chinese, naming the field. A field may carry
``metadata={"label": "预约时间"}`` to be named in words; otherwise its name is used.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

# Marshmallow's error keys -> Chinese templates ({label} is the field's label or name).
_COMMON = {
    "required": "{label}为必填项",
    "null": "{label}不能为空",
    "validator_failed": "{label}的值不正确",
}
_INVALID = [
    # Most specific first: AwareDateTime is a DateTime, Integer a Number.
    (fields.AwareDateTime, "{label}须为带时区的ISO 8601时间，如 2026-11-24T10:00:00+08:00"),
    (fields.DateTime, "{label}须为ISO 8601时间，如 2026-11-24T10:00:00+08:00"),
    (fields.Date, "{label}须为日期，如 2026-11-24"),
    (fields.Integer, "{label}须为整数"),
    (fields.Number, "{label}须为数字"),
    (fields.Boolean, "{label}须为 true 或 false"),
    (fields.String, "{label}须为文字"),
    (fields.List, "{label}须为列表"),
    (fields.Dict, "{label}须为JSON对象"),
]
_EXTRA = {
    "invalid_awareness": "{label}须带时区，如 2026-11-24T10:00:00+08:00",
    "too_large": "{label}超出范围",
    "invalid_utf8": "{label}不是有效的UTF-8文字",
    "type": "{label}须为JSON对象",
    "format": "{label}格式不正确",
}
UNKNOWN_FIELD = "不支持的字段"


class ApiSchema(Schema):
    """Base of every request and response schema of ``/api/v1``."""

    error_messages = {"unknown": UNKNOWN_FIELD, "type": "请求体须为JSON对象"}

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        label = field_obj.metadata.get("label") or field_obj.data_key or field_name
        messages = {**_COMMON, **{k: v for k, v in _EXTRA.items() if k in field_obj.error_messages}}
        invalid = next((text for kind, text in _INVALID if isinstance(field_obj, kind)), None)
        if invalid:
            messages["invalid"] = invalid
        if isinstance(field_obj, fields.Enum):
            messages["unknown"] = "{label}须为以下之一：{choices}"
        field_obj.error_messages = {
            **field_obj.error_messages,
            **{key: text.replace("{label}", label) for key, text in messages.items()},
        }


def text(label: str, max_length: int, **kwargs) -> fields.String:
    """A string field of at most ``max_length`` characters, refused in Chinese beyond it."""
    return fields.String(
        validate=validate.Length(max=max_length, error=f"{label}不能超过{max_length}个字"),
        metadata={"label": label},
        **kwargs,
    )


def record_id(label: str, message: str, **kwargs) -> fields.Integer:
    """The id of a record chosen in the request (a car, a store), refused with ``message``
    when it cannot be one."""
    return fields.Integer(
        validate=validate.Range(min=1, max=2**31 - 1, error=message),
        metadata={"label": label},
        **kwargs,
    )


class ErrorDetail(ApiSchema):
    code = fields.String(required=True, metadata={"description": "机器可读的错误代码"})
    message = fields.String(required=True, metadata={"description": "给用户看的中文说明"})
    field = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "出错的字段或请求头，没有则为 null"},
    )


class ErrorSchema(ApiSchema):
    """Every error under ``/api/v1``: ``{"error": {"code", "message", "field"}}``."""

    error = fields.Nested(ErrorDetail, required=True)


class PageArgs(ApiSchema):
    """``?limit=&cursor=``: at most ``limit`` items after the opaque ``cursor`` of the
    previous page's ``next_cursor``."""

    limit = fields.Integer(
        load_default=20,
        validate=validate.Range(min=1, max=100, error="limit须在1到100之间"),
        metadata={"label": "limit"},
    )
    cursor = fields.String(
        load_default=None,
        validate=validate.Length(max=500, error="分页游标无效，请从第一页重新获取"),
        metadata={"label": "cursor"},
    )


def page_of(item: type[Schema], name: str) -> type[Schema]:
    """The page envelope ``{"items": [...], "next_cursor": str | null}`` of ``item``;
    ``name`` names it in the OpenAPI document."""
    return ApiSchema.from_dict(
        {
            "items": fields.List(fields.Nested(item), required=True),
            "next_cursor": fields.String(
                required=True,
                allow_none=True,
                metadata={"description": "下一页的游标；没有更多时为 null"},
            ),
        },
        name=name,
    )


class ServiceOrderOut(ApiSchema):
    """A service order as its customer sees it (the staff view adds to it)."""

    id = fields.Integer(required=True)
    work_order_no = fields.String(required=True)
    kind = fields.String(required=True)
    kind_label = fields.String(required=True)
    opened_on = fields.Date(required=True)
    mileage_km = fields.Integer(required=True)
    work_items = fields.String(required=True)
    parts = fields.String(required=True)
    labour_fen = fields.Integer(required=True)
    parts_fen = fields.Integer(required=True)
    paid_on = fields.Date(required=True, allow_none=True)
    store_id = fields.Integer(required=True)
