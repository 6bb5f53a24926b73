"""Security headers on every response (issue 12 "Security", ASVS 14.4): a Content-Security-Policy
without inline scripts, no framing, no MIME sniffing, no referrer leaving the site, HSTS over
HTTPS only, and pages with personal data kept out of caches. The templates themselves hold no
inline script, so the policy can stay strict."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest

from crm import create_app, web_security
from tests.conftest import app_config, login

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def _directives(policy: str) -> dict[str, list[str]]:
    parts = (part.split() for part in policy.split(";") if part.strip())
    return {words[0]: words[1:] for words in parts}


def _pages(client, org) -> dict[str, object]:
    """One response of every kind: console, staff H5, member, API, callback, static, errors."""
    answers = {
        "console login": client.get("/console/login"),
        "h5 login": client.get("/h5/login"),
        "member login": client.get("/m/login"),
        "health": client.get("/healthz"),
        "api": client.get("/api/v1/openapi.json"),
        "callback": client.get("/wechat/callback"),
        "not found": client.get("/console/no-such-page"),
    }
    with client.get("/static/js/confirm.js") as static:
        answers["static"] = static
    login(client, org.store_admin_a)
    answers["console page"] = client.get(f"/console/stores/{org.store_a.id}")
    return answers


def test_every_response_carries_the_security_headers(client, org):
    for name, response in _pages(client, org).items():
        headers = response.headers
        assert headers["X-Frame-Options"] == "DENY", name
        assert headers["X-Content-Type-Options"] == "nosniff", name
        assert headers["Referrer-Policy"] == "same-origin", name
        assert "camera=()" in headers["Permissions-Policy"], name
        policy = _directives(headers["Content-Security-Policy"])
        assert policy["frame-ancestors"] == ["'none'"], name
        assert policy["object-src"] == ["'none'"], name
        assert policy["base-uri"] == ["'self'"], name
        assert policy["form-action"] == ["'self'"], name
        assert policy["default-src"] == ["'self'"], name


def test_the_policy_allows_no_inline_script_or_style(client, org):
    for name, response in _pages(client, org).items():
        policy = _directives(response.headers["Content-Security-Policy"])
        assert policy["script-src"] == ["'self'"], name
        for directive in ("script-src", "style-src", "default-src"):
            assert "'unsafe-inline'" not in policy[directive], (name, directive)
            assert "'unsafe-eval'" not in policy[directive], (name, directive)


def test_only_the_wechat_pages_may_send_the_js_sdk_report_beacon(client, org):
    console = _directives(client.get("/console/login").headers["Content-Security-Policy"])
    member = _directives(client.get("/m/login").headers["Content-Security-Policy"])
    staff = _directives(client.get("/h5/login").headers["Content-Security-Policy"])
    assert web_security.WECHAT_SDK_REPORT_HOST not in console["img-src"]
    assert web_security.WECHAT_SDK_REPORT_HOST in member["img-src"]
    assert web_security.WECHAT_SDK_REPORT_HOST in staff["img-src"]


def test_every_inline_style_block_is_allowed_by_its_hash(client):
    """The survey page's star rating is styled by a <style> block: its exact hash is listed."""
    policy = _directives(client.get("/m/login").headers["Content-Security-Policy"])
    source = (TEMPLATES / "member" / "survey.html").read_text(encoding="utf-8")
    block = re.search(r"<style>(.*?)</style>", source, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy["style-src"]


def test_a_style_block_with_jinja_in_it_is_not_hashed(tmp_path):
    (tmp_path / "page.html").write_text(
        "<style>.a{color:red}</style><style>.b{width:{{ w }}px}</style>", encoding="utf-8"
    )
    assert len(web_security.inline_style_hashes(tmp_path)) == 1


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>")
INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+(\s*=|[\s>])", re.I)


@pytest.mark.parametrize(
    "path", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES))
)
def test_templates_hold_no_inline_script_handler_or_javascript_url(path):
    source = path.read_text(encoding="utf-8")
    assert not INLINE_SCRIPT.search(source), "inline <script> block: move it to static/js/"
    assert not INLINE_HANDLER.search(source), "inline event handler: use static/js/ and data-*"
    assert "javascript:" not in source.lower()
    assert not re.search(r"\sstyle=", source), "style attribute: move it to static/css/"


def test_consequential_console_forms_ask_through_data_confirm(client, org):
    login(client, org.group_admin)
    page = client.get(f"/console/stores/{org.store_a.id}").get_data(as_text=True)
    assert 'data-confirm="确定停用该分店？"' in page
    assert "/static/js/confirm.js" in page
    with client.get("/static/js/confirm.js") as response:
        script = response.get_data(as_text=True)
    assert "data-confirm" in script and "preventDefault" in script


def test_hsts_is_sent_over_https_only(client):
    assert "Strict-Transport-Security" not in client.get("/console/login").headers
    secure = client.get("/console/login", base_url="https://crm.example.com")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"


@pytest.fixture
def production_client(tmp_path, app, session):
    production = create_app(
        app_config(
            tmp_path,
            CRM_ENV="production",
            DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
            WECHAT_APP_ID="wx-prod",
            WECHAT_APP_SECRET="prod-secret",
        )
    )
    return production.test_client()


def test_behind_nginx_https_is_recognised_from_the_forwarded_proto(production_client):
    """nginx terminates TLS and says so in X-Forwarded-Proto; the app then sends HSTS."""
    answer = production_client.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in production_client.get("/healthz").headers


def test_pages_are_not_cached_but_static_files_may_be(client, org):
    login(client, org.store_admin_a)
    assert client.get("/console/").headers["Cache-Control"] == "no-store"
    assert client.get("/m/login").headers["Cache-Control"] == "no-store"
    with client.get("/static/js/confirm.js") as static:
        assert "no-store" not in static.headers.get("Cache-Control", "")
