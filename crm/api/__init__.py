"""The JSON API for the mini-program under ``/api/v1`` (issue 11), on flask-smorest: every
request and response is a marshmallow schema, and ``GET /api/v1/openapi.json`` is generated
from them. It adds no rules: each view parses input, calls ONE service function (the same the
H5 pages call) and returns what it got.

How to add an endpoint (see ``crm/api/customer_bookings.py`` for a complete module)::

    from crm.api.auth import current_customer, current_staff, customer_required, staff_required
    from crm.api.blueprint import ApiBlueprint
    from crm.api.idempotency import idempotent
    from crm.api.pagination import cursor_page, query_page
    from crm.api.schemas import ApiSchema, PageArgs, page_of, text

    bp = ApiBlueprint("api_staff_leads", __name__, url_prefix="/staff/leads",
                      description="线索")          # the name must start with "api_"

    class LeadOut(ApiSchema):                      # responses: ApiSchema, required=True on
        id = fields.Integer(required=True)         # what is always there (schemathesis checks)

    @bp.get("/")
    @staff_required("view")                        # 401 without a token, 403 for a customer or
    @bp.arguments(PageArgs, location="query")      # a role without the action; then rate limit
    @bp.etag                                       # ETag + If-None-Match -> 304 (GETs only)
    @bp.response(200, page_of(LeadOut, "LeadPage"))
    def leads(args):
        query = select(Lead)                       # scope through crm.access, as the H5 does
        return query_page(db.session, access.scope(query, current_staff()),
                          (Lead.id,), args, key=lambda lead: (lead.id,))

    @bp.post("/")
    @staff_required("lead.create")
    @idempotent                                    # POSTs that create: Idempotency-Key
    @bp.arguments(LeadIn)                          # JSON body; bad input -> 400 naming the field
    @bp.response(201, LeadOut)
    def create(data): ...

Then list the module in ``MODULES`` below; ``tests/test_api_platform.py`` checks that every
route under ``/api/v1/`` is in the OpenAPI document.

- **Errors**: raise ``crm.errors`` (``ValidationError(message, field)``, ``NotFound``,
  ``Forbidden``, ``Conflict``) from services; every error under ``/api/v1`` is
  ``{"error": {"code", "message", "field"}}`` in Chinese (``crm.api.errors``). Another
  person's record is 404 — services already say ``NotFound``.
- **Auth**: ``crm.api.auth`` — bearer token from ``POST /api/v1/auth/miniprogram``, verified
  on every request (a left staff member fails at once); permissions and scope through
  ``crm.access`` only. Rate limits: per token on every authenticated route, per IP on log-in.
- **Pagination**: ``crm.api.pagination`` — ``?limit=&cursor=`` → ``{"items", "next_cursor"}``,
  the cursor signed and bound to the endpoint (a bad one is 400 naming ``cursor``).
- **Schemas**: ``crm.api.schemas.ApiSchema`` gives fields Chinese messages; ``text(label, n)``
  is a bounded string; ``metadata={"label": "..."}`` names a field in words.
- **Idempotency**: ``crm.api.idempotency.idempotent`` / ``crm.services.idempotency``.
"""

from __future__ import annotations

from importlib import import_module

import flask_smorest
from flask import Flask

from crm.api.blueprint import PREFIX, SECURITY_SCHEME
from crm.api.schemas import ErrorSchema
from crm.extensions import csrf

# Each module under crm/api with a ``bp`` (an ApiBlueprint), registered in this order.
MODULES = (
    "login",
    "customer_profile",
    "customer_bookings",
    "customer_complaints",
    "customer_surveys",
    "customer_privacy",
    "staff_workbench",
    "staff_pool",
    "staff_leads",
    "staff_test_drives",
    "staff_deals",
    "staff_service_orders",
    "staff_tasks",
)


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        """flask-smorest would answer every HTTP error of the app in JSON; the HTML pages keep
        their own error pages, and API blueprints get theirs from ``crm.api.errors``."""


def register(app: Flask) -> None:
    """Register every API blueprint and the OpenAPI document on ``app``."""
    app.config.setdefault("API_TITLE", "4S店 CRM 小程序接口")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = Api(app)
    api.spec.components.security_scheme(
        SECURITY_SCHEME,
        {
            "type": "http",
            "scheme": "bearer",
            "description": "POST /api/v1/auth/miniprogram 的 token",
        },
    )
    for name in MODULES:
        blueprint = import_module(f"crm.api.{name}").bp
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint)
