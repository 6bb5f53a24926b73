"""The front page and the health endpoints."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template

from crm.extensions import db, limiter
from crm.services import health

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    settings = current_app.extensions["crm_settings"]
    return render_template("index.html", settings=settings)


@bp.get("/healthz")
@limiter.exempt
def healthz():
    """The process is up; nothing else is touched."""
    return jsonify(status="ok")


@bp.get("/readyz")
@limiter.exempt
def readyz():
    """Ready to serve: database, Redis and the WeChat token are reachable."""
    checks = health.readiness(db.session, current_app.extensions["crm_settings"])
    ready = all(check.ok for check in checks)
    body = {
        "status": "ready" if ready else "not ready",
        "checks": {check.name: {"ok": check.ok, "detail": check.detail} for check in checks},
    }
    return jsonify(body), 200 if ready else 503
