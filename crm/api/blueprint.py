"""``ApiBlueprint``: a flask-smorest blueprint with the API's error body, 400 for bad input,
and the OpenAPI notes of ``crm.api.auth`` (bearer security) and ``crm.api.idempotency``
(the ``Idempotency-Key`` header)."""

from __future__ import annotations

import flask_smorest
import marshmallow as ma
from webargs.flaskparser import FlaskParser, is_json_request

from crm.api import auth, errors, idempotency
from crm.services.idempotency import HEADER

PREFIX = "/api/v1"
# Record ids in paths: positive and within the database's integer, else the route does not
# match (404) — a 20-digit id never reaches the database.
MAX_ID = 2**31 - 1
ID = f"int(min=1, max={MAX_ID})"
SECURITY_SCHEME = "bearerAuth"


class _Parser(FlaskParser):
    # Bad input is a 400 naming the field, as everywhere in the product.
    DEFAULT_VALIDATION_STATUS = 400

    def _raw_load_json(self, req):
        # webargs reads a body that is not JSON as "no body"; a client sending a form or text
        # where JSON is expected is told so instead of getting "field required" errors.
        if not is_json_request(req) and req.get_data(cache=True):
            raise ma.ValidationError("请求体须为JSON对象（Content-Type: application/json）")
        return super()._raw_load_json(req)


def _api_doc(doc: dict, doc_info: dict, **_kwargs) -> dict:
    kind = doc_info.get(auth.DOC_KEY)
    doc["security"] = [{SECURITY_SCHEME: []}] if kind else []
    if kind:
        doc["x-principal"] = kind
    if doc_info.get(idempotency.DOC_KEY):
        doc.setdefault("parameters", []).append(
            {
                "in": "header",
                "name": HEADER,
                "required": False,
                "description": "同一个键重试只创建一次，并返回第一次的响应",
                "schema": {"type": "string", "minLength": 1, "maxLength": 100},
            }
        )
    return doc


class ApiBlueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = _Parser()

    def __init__(self, name: str, import_name: str, url_prefix: str = "", **kwargs):
        super().__init__(name, import_name, url_prefix=PREFIX + url_prefix, **kwargs)
        errors.attach(self)
        self._prepare_doc_cbks.append(_api_doc)
