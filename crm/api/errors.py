"""One error body everywhere under ``/api/v1`` (issue 11): ``{"error": {"code", "message",
"field"}}``, the message in Chinese.

``attach(blueprint)`` installs the handlers on an API blueprint; they answer for its views
only, so the HTML pages (/console, /h5, /m) keep their own error pages. Requests that match
no API view (an unknown path, a wrong method) are answered by the app's handlers in
``crm.views``, which give the same body for ``/api/`` paths.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from flask_smorest.exceptions import NotModified
from werkzeug.exceptions import HTTPException, InternalServerError

from crm.api.schemas import UNKNOWN_FIELD
from crm.errors import DomainError

# Status -> (code, message) for HTTP errors raised outside our services.
HTTP_ERRORS = {
    400: ("bad_request", "请求格式不正确"),
    401: ("invalid_token", "请先登录"),
    403: ("forbidden", "没有权限执行此操作"),
    404: ("not_found", "记录不存在"),
    405: ("method_not_allowed", "不支持该请求方式"),
    409: ("conflict", "请求与当前状态冲突"),
    413: ("too_large", "请求内容过大"),
    415: ("unsupported_media_type", "不支持的请求内容类型"),
    422: ("invalid", "请求内容不正确"),
    429: ("rate_limited", "请求过于频繁，请稍后再试"),
    500: ("internal", "系统错误，请稍后再试"),
}
LOCATION_FIELDS = {"json": "body", "form": "body", "files": "photos", "query": "query"}


def body(status: int, code: str, message: str, field: str | None = None, headers=None):
    """The error response."""
    response = jsonify(error={"code": code, "message": message, "field": field})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    response.headers.extend(headers or {})
    return response


def _first_error(messages, path: list[str]) -> tuple[str | None, str]:
    """The first bad field of marshmallow's nested messages, as (dotted path, message)."""
    if isinstance(messages, dict):
        name, inner = next(iter(messages.items()))
        return _first_error(inner, [*path, str(name)])
    text = messages[0] if isinstance(messages, list) and messages else str(messages)
    if isinstance(text, dict | list):
        return _first_error(text, path)
    return (".".join(path) or None), str(text)


def validation_body(messages: dict):
    """Webargs' ``{location: {field: [messages]}}`` as a 400 naming the first bad field."""
    location = next(iter(messages), "json")
    field, message = _first_error(messages.get(location, messages), [])
    if field in (None, "_schema"):
        field = LOCATION_FIELDS.get(location, location)
        if message == "Invalid JSON body.":
            message = "请求体不是合法的JSON"
    elif message == UNKNOWN_FIELD:
        message = f"{UNKNOWN_FIELD}：{field}"
    return body(400, "invalid", message, field)


def domain_error(error: DomainError):
    return body(error.http_status, error.code, error.message, error.field)


def http_error(error: HTTPException):
    if isinstance(error, NotModified):
        return Response(status=304)
    data = getattr(error, "data", None) or {}
    if error.code in (400, 422) and isinstance(data.get("messages"), dict):
        return validation_body(data["messages"])
    code, message = HTTP_ERRORS.get(error.code or 500, ("error", "请求无法处理"))
    headers = dict(error.get_response().headers)
    kept = {k: v for k, v in headers.items() if k in ("Retry-After", "Allow")}
    return body(error.code or 500, code, message, headers=kept)


def internal_error(_error: InternalServerError):
    code, message = HTTP_ERRORS[500]
    return body(500, code, message)


def attach(blueprint: Blueprint) -> None:
    blueprint.register_error_handler(DomainError, domain_error)
    blueprint.register_error_handler(InternalServerError, internal_error)
    blueprint.register_error_handler(HTTPException, http_error)
