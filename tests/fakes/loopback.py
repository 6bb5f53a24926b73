"""The HTTP plumbing the fakes share: a JSON-answering request handler and a threaded server
on a free loopback port, used as a context manager (``with Server(fake) as server``)."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class JsonHandler(BaseHTTPRequestHandler):
    fake: object  # set per server: the fake world this handler answers from

    def _json(self, body: dict, status: int = 200) -> None:
        payload = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):  # keep test output quiet
        pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A caller that hung up before its answer (a dispatcher killed mid-call, as the crash
        # test does) is the caller's business, not an error of the fake.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class LoopbackServer:
    """Serves ``handler`` (a JsonHandler subclass) answering from ``fake``."""

    def __init__(self, fake, handler: type[JsonHandler]):
        self.fake = fake
        bound = type("Handler", (handler,), {"fake": fake})
        self.httpd = _Server(("127.0.0.1", 0), bound)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
