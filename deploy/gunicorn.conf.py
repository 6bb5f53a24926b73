"""gunicorn settings for production (issue 12 "Deploy"): ``gunicorn -c deploy/gunicorn.conf.py
app:app``. Every value can be overridden from the environment (``GUNICORN_*``) so systemd,
docker compose and a laptop share this one file.

The access log never holds personal data: it records the path without its query string
(``%(U)s``; a phone search puts the number in ``?q=``), and no referrer or cookies.
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# The usual 2 × cores + 1, capped so a big host does not open more database connections than
# PostgreSQL's max_connections allows (each worker thread may hold one).
workers = _int("GUNICORN_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 9))
threads = _int("GUNICORN_THREADS", 4)
worker_class = "gthread"
# A request waiting longer than this on the database or WeChat is cut off, never left hanging.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 20)
keepalive = 5
# Recycle workers now and then so a slow leak cannot grow for months.
max_requests = _int("GUNICORN_MAX_REQUESTS", 5000)
max_requests_jitter = 500
# nginx sits in front on the same host; trust its X-Forwarded-* headers only from there.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# remote address, time, method, path WITHOUT the query, status, bytes, duration (s).
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)s'
