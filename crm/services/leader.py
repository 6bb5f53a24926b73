"""The scheduler's leader lease (ARCHITECTURE "Modes": one jobs process per deployment; issue 8:
a second ``jobs run`` stays idle behind a leader lock and takes over within 60 s when the
leader dies).

A lease is a name held by one holder (``host:pid:random``) until it expires: ``ttl`` seconds
(``JOBS_LEASE_SECONDS``, default 30) after the holder last took or renewed it.

- With ``REDIS_URL``: the key ``crm:leader:<name>``, taken with ``SET key holder NX PX ttl`` and
  renewed with a compare-and-``PEXPIRE`` script, so only the current holder extends it. Redis
  keeps the time, so hosts' clocks do not matter.
- Otherwise (embedded mode): the ``leader_leases`` row, taken and renewed by one atomic
  ``INSERT … ON CONFLICT (name) DO UPDATE … WHERE holder = me OR expires_at < now``; the row is
  written only when it is free, expired or already ours. Expiry uses the hosts' clocks (kept by
  NTP).

How ``jobs run`` uses it (:func:`lead`): the scheduler starts paused. One loop on the main
thread takes or renews the lease every ``ttl / 3`` seconds while leading, and tries again every
``min(5, ttl / 3)`` seconds while standing by; when the lease is gained the scheduler resumes,
when a renewal fails (another holder, or the database or Redis unreachable) it pauses at once.
A takeover therefore happens at most ``ttl`` plus one retry after the leader's last renewal —
35 s with the defaults. Each job also checks :meth:`Lease.held` (the last successful renewal
plus ``ttl``, on this process's monotonic clock) just before it runs, so a leader whose loop
is stuck never starts a job after its lease could have passed to another process. A job
already running when the lease is lost finishes; jobs are idempotent and safe to run
concurrently (ARCHITECTURE rule 6), so that overlap costs nothing but work.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime, timedelta

import redis
from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from crm import clock, coordination
from crm.config import Settings
from crm.models import LeaderLease

log = logging.getLogger("jobs.leader")

SCHEDULER = "scheduler"  # the lease ``jobs run`` holds
STANDBY_RETRY_SECONDS = 5.0

_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}

# Extend the key's expiry only while it still names this holder.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
# Delete the key only while it still names this holder.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


def holder_id() -> str:
    """This process, recognisably: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"[-100:]


# --- the database lease -----------------------------------------------------------------------


def take(session: Session, name: str, holder: str, ttl: timedelta, now: datetime) -> bool:
    """Take the lease ``name`` for ``holder`` until ``now + ttl`` if it is free, expired or
    already ``holder``'s (a renewal); whether ``holder`` now holds it. Commits.

    One statement, so two processes taking a free or expired lease at once cannot both win:
    the loser's conflicting insert re-checks the winner's committed row.
    """
    dialect = session.get_bind().dialect.name
    if dialect not in _INSERTS:
        raise RuntimeError(f"the leader lease needs PostgreSQL or SQLite, not {dialect}")
    insert = _INSERTS[dialect](LeaderLease).values(name=name, holder=holder, expires_at=now + ttl)
    statement = insert.on_conflict_do_update(
        index_elements=[LeaderLease.name],
        set_={"holder": insert.excluded.holder, "expires_at": insert.excluded.expires_at},
        where=or_(LeaderLease.holder == holder, LeaderLease.expires_at < now),
    ).returning(LeaderLease.name)
    taken = session.execute(statement).scalar() is not None
    session.commit()
    return taken


def give_up(session: Session, name: str, holder: str) -> bool:
    """Free the lease at once if ``holder`` still holds it (a clean shutdown: the standby need
    not wait for the expiry); whether it did. Commits."""
    result = session.execute(
        delete(LeaderLease)
        .where(LeaderLease.name == name, LeaderLease.holder == holder)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount > 0


def holder_of(session: Session, name: str, now: datetime) -> str | None:
    """Who holds the lease ``name`` at ``now``; None when it is free or expired."""
    return session.scalar(
        select(LeaderLease.holder).where(LeaderLease.name == name, LeaderLease.expires_at >= now)
    )


# --- the lease a process keeps ----------------------------------------------------------------


class Lease(ABC):
    """One process's claim on a named lease; :meth:`hold` takes or renews it."""

    def __init__(self, name: str, holder: str, ttl_seconds: float):
        self.name = name
        self.holder = holder
        self.ttl_seconds = float(ttl_seconds)
        self._valid_until = 0.0  # time.monotonic() until which the lease is surely ours

    def hold(self) -> bool:
        """Take the lease, or renew it while it is still ours; whether we hold it now."""
        started = time.monotonic()
        taken = self._take()
        # Counted from before the request: the store's expiry can only be later than this.
        self._valid_until = started + self.ttl_seconds if taken else 0.0
        return taken

    def held(self) -> bool:
        """Whether the lease is surely still ours, without asking the store."""
        return time.monotonic() < self._valid_until

    def release(self) -> None:
        """Free the lease if it is still ours."""
        self._valid_until = 0.0
        self._release()

    @abstractmethod
    def current_holder(self) -> str | None:
        """Who holds the lease now, if anyone."""

    @abstractmethod
    def _take(self) -> bool:
        """Take the lease, or renew it while ours, in one atomic step of the store."""

    @abstractmethod
    def _release(self) -> None:
        """Delete the lease only if it is still ours."""


class RedisLease(Lease):
    def __init__(self, client: redis.Redis, name: str, holder: str, ttl_seconds: float):
        super().__init__(name, holder, ttl_seconds)
        self.client = client
        self.key = f"{coordination.KEY_PREFIX}:leader:{name}"
        self._renew = client.register_script(_RENEW)
        self._drop = client.register_script(_RELEASE)

    @property
    def _ttl_ms(self) -> int:
        return max(1, int(self.ttl_seconds * 1000))

    def _take(self) -> bool:
        if self.client.set(self.key, self.holder, nx=True, px=self._ttl_ms):
            return True
        return bool(self._renew(keys=[self.key], args=[self.holder, self._ttl_ms]))

    def _release(self) -> None:
        self._drop(keys=[self.key], args=[self.holder])

    def current_holder(self) -> str | None:
        value = self.client.get(self.key)
        return value.decode() if value is not None else None


class DatabaseLease(Lease):
    """The ``leader_leases`` row, through ``session`` (each call ends its own transaction)."""

    def __init__(self, session: Session, name: str, holder: str, ttl_seconds: float):
        super().__init__(name, holder, ttl_seconds)
        self.session = session

    def _take(self) -> bool:
        try:
            return take(
                self.session,
                self.name,
                self.holder,
                timedelta(seconds=self.ttl_seconds),
                clock.now(),
            )
        except SQLAlchemyError:
            self.session.rollback()
            raise

    def _release(self) -> None:
        try:
            give_up(self.session, self.name, self.holder)
        except SQLAlchemyError:
            self.session.rollback()
            raise

    def current_holder(self) -> str | None:
        try:
            return holder_of(self.session, self.name, clock.now())
        finally:
            self.session.rollback()  # a read: end the transaction, hold no lock


def lease_for(settings: Settings, session: Session, name: str = SCHEDULER) -> Lease:
    """Redis when ``REDIS_URL`` is set (production), the database otherwise (embedded)."""
    holder = holder_id()
    if settings.redis_url:
        client = coordination.redis_client(settings.redis_url)
        return RedisLease(client, name, holder, settings.jobs_lease_seconds)
    return DatabaseLease(session, name, holder, settings.jobs_lease_seconds)


# --- leading ----------------------------------------------------------------------------------


def lead(
    lease: Lease,
    on_gain: Callable[[], object],
    on_loss: Callable[[], object],
    stop: threading.Event,
) -> None:
    """Keep trying for the lease until ``stop`` is set: ``on_gain`` when this process becomes
    the leader, ``on_loss`` as soon as it is not provably the leader any more. Returns with the
    lease possibly still held; the caller stops its jobs, then releases it."""
    renew_every = lease.ttl_seconds / 3
    retry_every = min(STANDBY_RETRY_SECONDS, renew_every)
    leading = False
    announced: str | None = ""  # the holder last logged while standing by
    while not stop.is_set():
        try:
            held = lease.hold()
        except (SQLAlchemyError, redis.RedisError) as error:
            # Unreachable store: we cannot prove we lead, so we must not run jobs.
            log.warning("could not reach the scheduler lease: %s", error)
            held = False
        if held and not leading:
            log.info("leading as %s: the scheduler lease is ours, jobs running", lease.holder)
            on_gain()
        elif leading and not held:
            on_loss()
            log.warning("lost the scheduler lease; jobs paused, standing by")
        if not held:
            other = _holder_or_unknown(lease)
            if leading or other != announced:
                log.info(
                    "standing by as %s: the scheduler lease is held by %s; retrying every %.0f s",
                    lease.holder,
                    other or "nobody",
                    retry_every,
                )
                announced = other
        leading = held
        stop.wait(renew_every if leading else retry_every)


def _holder_or_unknown(lease: Lease) -> str | None:
    try:
        return lease.current_holder()
    except (SQLAlchemyError, redis.RedisError):
        return "unknown (store unreachable)"
