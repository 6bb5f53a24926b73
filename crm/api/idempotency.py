"""``Idempotency-Key`` on API POSTs that create things (issue 11): the HTTP side of
``crm.services.idempotency``.

``@idempotent`` goes under the auth decorator (it needs the principal) and above
``@blp.arguments``. A request without the header runs as usual; with it, the first request
runs and its success is stored, a retry gets the stored status and body back (marked
``Idempotent-Replayed: true``) and creates nothing.
"""

from __future__ import annotations

import hashlib
from functools import wraps

from flask import Response, current_app, request

from crm import clock
from crm.api.auth import current_principal, principal_key
from crm.extensions import db
from crm.services import idempotency

DOC_KEY = "idempotent"
REPLAYED = "Idempotent-Replayed"


def fingerprint() -> str:
    """What makes two requests "the same": method, path, query and body. Uploaded files count
    by their bytes (a retried multipart upload gets a new boundary, not a new meaning)."""
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.query_string.decode("latin-1")):
        digest.update(part.encode() + b"\0")
    if request.files or request.form:
        for name, value in sorted(request.form.items(multi=True)):
            digest.update(f"form:{name}={value}\0".encode())
        for name, storage in sorted(request.files.items(multi=True), key=lambda pair: pair[0]):
            data = storage.stream.read()
            storage.stream.seek(0)
            digest.update(f"file:{name}:".encode() + hashlib.sha256(data).digest())
    else:
        digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def idempotent(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(idempotency.HEADER)
        if key is None:
            return view(*args, **kwargs)
        claim = idempotency.claim(
            db.session, principal_key(current_principal()), key, fingerprint(), clock.now()
        )
        if claim.replay is not None:
            replay = Response(
                claim.replay.body, status=claim.replay.status_code, mimetype="application/json"
            )
            replay.headers[REPLAYED] = "true"
            return replay
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except BaseException:
            idempotency.release(db.session, claim.key_id)
            raise
        if 200 <= response.status_code < 300:
            idempotency.complete(
                db.session,
                claim.key_id,
                response.status_code,
                response.get_data(as_text=True),
                clock.now(),
            )
        else:
            idempotency.release(db.session, claim.key_id)
        return response

    wrapper._apidoc = {**getattr(view, "_apidoc", {}), DOC_KEY: True}
    return wrapper
