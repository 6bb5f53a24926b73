"""The production gunicorn settings (deploy/gunicorn.conf.py, issue 12 "Deploy"): they load,
size the workers from the cores, and the access log they write holds no personal data — a
phone number in a query string never reaches it."""

from __future__ import annotations

import runpy
import subprocess
import time
from pathlib import Path

import requests

from tests.test_browser import (
    BIN,
    PROJECT_ROOT,
    _control_socket_options,
    _free_port,
    _server_env,
)

CONFIG = PROJECT_ROOT / "deploy" / "gunicorn.conf.py"
PHONE = "13912345678"


def test_workers_follow_the_cores_and_can_be_overridden(monkeypatch):
    monkeypatch.delenv("GUNICORN_WORKERS", raising=False)
    monkeypatch.setattr("multiprocessing.cpu_count", lambda: 2)
    assert runpy.run_path(str(CONFIG))["workers"] == 5
    monkeypatch.setattr("multiprocessing.cpu_count", lambda: 32)
    assert runpy.run_path(str(CONFIG))["workers"] == 9  # capped for the database's connections
    monkeypatch.setenv("GUNICORN_WORKERS", "3")
    assert runpy.run_path(str(CONFIG))["workers"] == 3


def test_the_access_log_keeps_paths_but_never_query_strings(tmp_path: Path):
    port = _free_port()
    env = _server_env(tmp_path, f"sqlite:///{tmp_path / 'deploy.sqlite3'}")
    env.update(
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="1",
        GUNICORN_ACCESS_LOG=str(tmp_path / "access.log"),
        GUNICORN_ERROR_LOG=str(tmp_path / "error.log"),
    )
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", str(CONFIG), *_control_socket_options(tmp_path), "app:app"],
        cwd=PROJECT_ROOT,
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                requests.get(f"{base}/healthz", timeout=5)
                break
            except requests.ConnectionError:
                # Refused until gunicorn binds; once bound, the worker may still be importing
                # the app, so the first answer gets a generous timeout above.
                time.sleep(0.1)
        requests.get(f"{base}/healthz", params={"phone": PHONE}, timeout=5)
        requests.get(f"{base}/console/customers", params={"q": PHONE}, timeout=5)
    finally:
        server.terminate()
        server.wait(timeout=30)

    log = (tmp_path / "access.log").read_text()
    assert '"GET /healthz HTTP/1.1" 200' in log
    assert "/console/customers" in log
    assert PHONE not in log
    assert PHONE not in (tmp_path / "error.log").read_text()
