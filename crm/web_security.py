"""HTTP-level protections (issue 12 "Security", OWASP ASVS level 2): the security headers every
response carries, the client address behind the proxy, and a fresh session at every log-in.

The Content-Security-Policy allows no inline script at all: page behaviour lives in
``static/js/`` (``data-confirm`` forms use ``static/js/confirm.js``). The few ``<style>`` blocks
in the templates are allowed by their SHA-256 hashes, computed from the template files at
start-up, so ``'unsafe-inline'`` is never needed and a changed block keeps working.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from flask import Flask, Response, request, session
from werkzeug.middleware.proxy_fix import ProxyFix

# jweixin (the WeChat JS-SDK, vendored under static/vendor/) reports its calls with an image
# beacon to this host; the H5 and member pages that load it must allow it as an image source.
WECHAT_SDK_REPORT_HOST = "https://open.weixin.qq.com"
H5_PREFIXES = ("/h5", "/m")
# Only features a page of ours could ask for; none of them is used (QR codes are scanned by
# WeChat's own scanner, photos are chosen through the JS-SDK or a file input).
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
HSTS = "max-age=31536000"  # the same as nginx's, for a deployment where the app sees HTTPS
_STYLE_BLOCK = re.compile(r"<style>(.*?)</style>", re.S)


def register(app: Flask) -> None:
    """Add the headers to every response; in production, take the client address and scheme
    from nginx (one proxy hop) so rate limits count per client, not per proxy."""
    settings = app.extensions["crm_settings"]
    if settings.production:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)
    style_hashes = inline_style_hashes(Path(app.template_folder))
    policies = {h5: content_security_policy(style_hashes, wechat_sdk=h5) for h5 in (False, True)}

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        headers = response.headers
        headers["Content-Security-Policy"] = policies[request.path.startswith(H5_PREFIXES)]
        # Nothing of ours is ever shown inside a frame: WeChat opens the H5 pages in its own
        # web view, and the callback answers XML to WeChat's servers, not to a browser.
        headers["X-Frame-Options"] = "DENY"
        headers["X-Content-Type-Options"] = "nosniff"
        # Our URLs carry record ids and search terms (a phone in ?q=): never send them away.
        headers["Referrer-Policy"] = "same-origin"
        headers["Permissions-Policy"] = PERMISSIONS_POLICY
        if request.is_secure:
            headers["Strict-Transport-Security"] = HSTS
        if request.endpoint != "static" and "Cache-Control" not in headers:
            # Pages hold personal data: no shared cache or back-button copy keeps them.
            headers["Cache-Control"] = "no-store"
        return response


def content_security_policy(style_hashes: list[str], wechat_sdk: bool) -> str:
    """The policy: our own origin only, no inline script, no plugins, no framing."""
    styles = " ".join(["'self'", *(f"'{digest}'" for digest in style_hashes)])
    images = "'self' data:" + (f" {WECHAT_SDK_REPORT_HOST}" if wechat_sdk else "")
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            f"style-src {styles}",
            f"img-src {images}",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def inline_style_hashes(template_folder: Path) -> list[str]:
    """``sha256-…`` of every literal ``<style>`` block in the templates (blocks with Jinja in
    them would render differently from the file, so they are not hashed; keep CSS literal)."""
    digests = set()
    for path in sorted(template_folder.rglob("*.html")):
        for block in _STYLE_BLOCK.findall(path.read_text(encoding="utf-8")):
            if "{{" in block or "{%" in block:
                continue
            digest = hashlib.sha256(block.encode("utf-8")).digest()
            digests.add("sha256-" + base64.b64encode(digest).decode("ascii"))
    return sorted(digests)


def begin_login_session(*keep: str) -> None:
    """Start a new session before a log-in is recorded (ASVS 3.2.1, session fixation): nothing
    from the anonymous session survives (its CSRF token, OAuth state, another identity) except
    the named ``keep`` keys. Call it right before ``login_user`` or storing a customer id."""
    kept = {key: session[key] for key in keep if key in session}
    session.clear()
    session.update(kept)


def end_session() -> None:
    """Log-out: forget everything the session held, the CSRF token included."""
    session.clear()
