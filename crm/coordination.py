"""State shared between processes: Redis when ``REDIS_URL`` is set, this process otherwise.

Embedded mode runs one web process, so an in-process store and lock are enough there; in
production every web worker and the jobs process share Redis.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import lru_cache

import redis
from wechatpy.session.memorystorage import MemoryStorage
from wechatpy.session.redisstorage import RedisStorage

KEY_PREFIX = "crm"


class LockTimeout(RuntimeError):
    """Another process held the lock for longer than we were willing to wait."""


@lru_cache(maxsize=8)
def redis_client(url: str) -> redis.Redis:
    """One connection pool per Redis URL per process."""
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3)


_memory_storage = MemoryStorage()
_memory_locks: dict[str, threading.Lock] = {}
_memory_locks_guard = threading.Lock()


def wechat_storage(redis_url: str):
    """wechatpy session storage (tokens, tickets) shared by every client of this deployment."""
    if redis_url:
        return RedisStorage(redis_client(redis_url), prefix=f"{KEY_PREFIX}:wechat")
    return _memory_storage


@contextmanager
def lock(redis_url: str, name: str, timeout: float = 10, wait: float = 15) -> Iterator[None]:
    """Hold ``name`` exclusively across the deployment; at most ``timeout`` seconds (a crashed
    holder cannot block others for longer), waiting at most ``wait`` seconds for it."""
    if redis_url:
        held = redis_client(redis_url).lock(
            f"{KEY_PREFIX}:lock:{name}", timeout=timeout, blocking_timeout=wait
        )
        if not held.acquire():
            raise LockTimeout(name)
        try:
            yield
        finally:
            # If it expired while we worked, someone else may hold it now: leave it be.
            with suppress(redis.exceptions.LockError):
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
