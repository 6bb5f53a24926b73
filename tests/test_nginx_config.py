"""The nginx sites in deploy/nginx (issue 12 "Deploy"), checked by Debian's own nginx.

Both sites pass ``nginx -t``, and the host site really serves: nginx in front of gunicorn
answers over TLS with the app's headers, serves /static/ itself, redirects plain HTTP, and
keeps query strings (a phone search) out of its access log. Only the host-specific paths
(certificates, logs, static root, ports) are swapped for the test's own.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support import servers
from tests.test_browser import _free_port, _server_env, gunicorn

PROJECT_ROOT = Path(__file__).resolve().parents[1]
NGINX_DIR = PROJECT_ROOT / "deploy" / "nginx"
PHONE = "13912345678"


def _nginx() -> str:
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if binary is None:
        servers.missing("nginx")
    return binary


def _self_signed(folder: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    (folder / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "privkey.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _prepare(tmp_path: Path, site: str, upstream: str, http_port: int, https_port: int) -> Path:
    """nginx.conf in ``tmp_path`` including ``site`` with this host's paths swapped in."""
    _self_signed(tmp_path)
    (tmp_path / "logs").mkdir()
    (tmp_path / "static").mkdir()
    text = (NGINX_DIR / site).read_text()
    swaps = {
        "/etc/ssl/crm/": f"{tmp_path}/",
        "/etc/nginx/snippets/crm-proxy.conf": str(NGINX_DIR / "crm-proxy.conf"),
        "/var/log/nginx/": f"{tmp_path}/logs/",
        "/dev/stdout": f"{tmp_path}/logs/crm.access.log",
        "/opt/crm/static/": f"{PROJECT_ROOT}/static/",
        "/var/www/letsencrypt": f"{tmp_path}/static",
        "server 127.0.0.1:8000;": f"server {upstream};",
        "server web:8000;": f"server {upstream};",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
    }
    for old, new in swaps.items():
        text = text.replace(old, new)
    # The test host may have no IPv6; the IPv4 listeners above stand for both.
    text = "\n".join(line for line in text.splitlines() if "listen [::]" not in line)
    (tmp_path / "site.conf").write_text(text)
    temp = tmp_path / "temp"
    temp.mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"""daemon off;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/logs/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include /etc/nginx/mime.types;
    include {tmp_path}/site.conf;
}}
"""
    )
    return conf


def _check(conf: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_nginx(), "-t", "-p", str(conf.parent), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("site", ["crm.conf", "docker.conf"])
def test_the_site_passes_nginx_own_check(tmp_path, site):
    conf = _prepare(tmp_path, site, "127.0.0.1:8000", _free_port(), _free_port())
    result = _check(conf)
    assert result.returncode == 0, result.stderr


def test_nginx_serves_the_app_over_tls_and_logs_no_query_strings(tmp_path):
    env = _server_env(tmp_path, f"sqlite:///{tmp_path / 'nginx.sqlite3'}")
    subprocess.run(
        [str(PROJECT_ROOT / ".venv" / "bin" / "flask"), "--app", "app", "db", "upgrade"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        check=True,
        timeout=120,
    )
    http_port, https_port = _free_port(), _free_port()
    with gunicorn(env, tmp_path) as app_url:
        conf = _prepare(
            tmp_path, "crm.conf", app_url.removeprefix("http://"), http_port, https_port
        )
        assert _check(conf).returncode == 0
        nginx = subprocess.Popen(
            [_nginx(), "-p", str(tmp_path), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"https://127.0.0.1:{https_port}"
            ca = str(tmp_path / "fullchain.pem")  # the test's own certificate, trusted
            for _ in range(100):
                try:
                    requests.get(f"{base}/healthz", verify=ca, timeout=5)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
                    nginx.poll()
                    assert nginx.returncode is None, (tmp_path / "logs" / "error.log").read_text()
            health = requests.get(f"{base}/healthz", verify=ca, timeout=5)
            login = requests.get(f"{base}/console/login", params={"q": PHONE}, verify=ca, timeout=5)
            css = requests.get(f"{base}/static/css/console.css", verify=ca, timeout=5)
            plain = requests.get(
                f"http://127.0.0.1:{http_port}/console/", allow_redirects=False, timeout=5
            )
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)

    assert health.status_code == 200
    assert login.status_code == 200 and "登录" in login.text
    # The app's own headers come through nginx, and nginx adds HSTS on TLS.
    assert "script-src 'self'" in login.headers["Content-Security-Policy"]
    assert login.headers["X-Frame-Options"] == "DENY"
    assert "max-age=31536000" in login.headers["Strict-Transport-Security"]
    # nginx serves /static/ from disk with a week's cache, without asking gunicorn.
    assert css.status_code == 200 and ".topbar" in css.text
    assert "max-age=604800" in css.headers["Cache-Control"]
    assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")
    log = (tmp_path / "logs" / "crm.access.log").read_text()
    assert "/console/login" in log and PHONE not in log
    assert "/static/css/console.css" not in (tmp_path / "gunicorn.log").read_text()
