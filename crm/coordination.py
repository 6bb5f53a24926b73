"""State shared between processes: Redis when ``REDIS_URL`` is set, this process otherwise.

Embedded mode runs one web process, so an in-process store and lock are enough there; in
production every web worker and the jobs process share Redis.

Redis going away must not take log-in, pages or the API with it (issue 12 "Faults survived"):
the WeChat token cache, locks and progress boards fall back to this process while Redis is
unreachable (each process then fetches its own token — WeChat's stable token endpoint hands
every caller the same one — and locks only its own threads), and use Redis again as soon as
it answers. Rate limits fall back the same way (Flask-Limiter's in-memory fallback). The jobs
leader does NOT fall back: unable to prove it leads, it steps down (crm/services/leader.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import lru_cache

import redis
from wechatpy.session.memorystorage import MemoryStorage
from wechatpy.session.redisstorage import RedisStorage

KEY_PREFIX = "crm"
log = logging.getLogger(__name__)


class LockTimeout(RuntimeError):
    """Another process held the lock for longer than we were willing to wait."""


@lru_cache(maxsize=8)
def redis_client(url: str) -> redis.Redis:
    """One connection pool per Redis URL per process."""
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3)


_memory_storage = MemoryStorage()
_memory_locks: dict[str, threading.Lock] = {}
_memory_locks_guard = threading.Lock()


class _FallbackStorage:
    """wechatpy session storage in Redis, or in this process while Redis cannot be reached."""

    def __init__(self, primary: RedisStorage):
        self._primary = primary

    def _call(self, method: str, *args):
        try:
            return getattr(self._primary, method)(*args)
        except redis.RedisError as error:
            log.warning(
                "Redis unreachable for the WeChat token cache, using this process: %s", error
            )
            return getattr(_memory_storage, method)(*args)

    def get(self, key, default=None):
        return self._call("get", key, default)

    def set(self, key, value, ttl=None):
        return self._call("set", key, value, ttl)

    def delete(self, key):
        return self._call("delete", key)

    def __getitem__(self, key):
        return self.get(key)

    def __setitem__(self, key, value):
        self.set(key, value)

    def __delitem__(self, key):
        self.delete(key)


def wechat_storage(redis_url: str):
    """wechatpy session storage (tokens, tickets) shared by every client of this deployment."""
    if redis_url:
        return _FallbackStorage(
            RedisStorage(redis_client(redis_url), prefix=f"{KEY_PREFIX}:wechat")
        )
    return _memory_storage


@contextmanager
def lock(redis_url: str, name: str, timeout: float = 10, wait: float = 15) -> Iterator[None]:
    """Hold ``name`` exclusively across the deployment; at most ``timeout`` seconds (a crashed
    holder cannot block others for longer), waiting at most ``wait`` seconds for it."""
    if redis_url:
        held = redis_client(redis_url).lock(
            f"{KEY_PREFIX}:lock:{name}", timeout=timeout, blocking_timeout=wait
        )
        try:
            acquired = held.acquire()
        except redis.RedisError as error:
            log.warning("Redis unreachable for lock %s, locking this process only: %s", name, error)
            held = None
        else:
            if not acquired:
                raise LockTimeout(name)
        if held is not None:
            try:
                yield
            finally:
                # If it expired while we worked, someone else may hold it now: leave it be.
                # If Redis went away meanwhile, the lock expires by itself.
                with suppress(redis.exceptions.LockError, redis.RedisError):
                    held.release()
            return
    with _memory_locks_guard:
        local = _memory_locks.setdefault(name, threading.Lock())
    if not local.acquire(timeout=wait):
        raise LockTimeout(name)
    try:
        yield
    finally:
        local.release()


PROGRESS_TTL_SECONDS = 3600


class ProgressBoard:
    """Where a long request (a spreadsheet import) posts how far it got, for another request
    (the browser polling) to read: Redis when configured, so any web worker can answer the
    poll; this process's memory otherwise (embedded mode). Entries expire after an hour."""

    def __init__(self, client: redis.Redis | None):
        self._client = client

    def set(self, key: str, done: int, total: int, phase: str) -> None:
        entry = {"done": done, "total": total, "phase": phase}
        if self._client is not None:
            name = f"{KEY_PREFIX}:progress:{key}"
            pipeline = self._client.pipeline()
            pipeline.hset(name, mapping=entry)
            pipeline.expire(name, PROGRESS_TTL_SECONDS)
            try:
                pipeline.execute()
                return
            except redis.RedisError as error:
                log.warning("Redis unreachable for progress, keeping it in this process: %s", error)
        now = time.monotonic()
        with _memory_progress_guard:
            for stale in [
                k for k, (at, _) in _memory_progress.items() if now - at > PROGRESS_TTL_SECONDS
            ]:
                del _memory_progress[stale]
            _memory_progress[key] = (now, entry)

    def get(self, key: str) -> dict | None:
        """``{"done": int, "total": int, "phase": str}``, or ``None`` when nothing was posted."""
        raw = None
        if self._client is not None:
            with suppress(redis.RedisError):
                raw = self._client.hgetall(f"{KEY_PREFIX}:progress:{key}")
        if raw:
            entry = {k.decode(): v.decode() for k, v in raw.items()}
            return {
                "done": int(entry.get("done", 0)),
                "total": int(entry.get("total", 0)),
                "phase": entry.get("phase", ""),
            }
        with _memory_progress_guard:
            held = _memory_progress.get(key)
        if held is None or time.monotonic() - held[0] > PROGRESS_TTL_SECONDS:
            return None
        return dict(held[1])


_memory_progress: dict[str, tuple[float, dict]] = {}
_memory_progress_guard = threading.Lock()


def progress_board(redis_url: str) -> ProgressBoard:
    return ProgressBoard(redis_client(redis_url) if redis_url else None)
