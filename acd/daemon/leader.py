"""Which of two daemons is active: a leader lease in Redis with a fencing token.

Two daemons (one or two hosts) share one Redis. The one holding the lease key routes
callers; the other is a standby that answers FastAGI ``wait`` sessions with no result,
so the dialplan tries the other daemon (``acd.daemon.app``). The lease:

- acquire: ``SET <key> <holder> NX PX <ttl>`` and, in the same Lua script, ``INCR
  <key>:token``: each new leadership gets a larger fencing token, so a writer can
  refuse a late write of a leader that lost the lease (a paused process, a partition);
- renew every ``ttl / 3``: a Lua script that ``PEXPIRE``s the key only while it still
  holds our holder id (never extends another daemon's lease);
- holds: a Lua script that checks the key is ours and the token is still ours, asked
  right before a write that cannot be taken back (``CallbackDialer``: ringing a citizen);
- release (SIGTERM): a Lua script that deletes the key only if it is ours, so the
  standby takes over at its next try instead of after the ttl.

A leader that cannot renew (Redis down, the key gone) steps down at once: two active
daemons would offer one agent two calls. redis-py's asyncio client with a blocking
connection pool, like the live state; the URL may name a Sentinel-managed master the
same way.
"""
from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

log = logging.getLogger(__name__)

_ACQUIRE = """
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('incr', KEYS[2])
end
return 0
"""
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_HOLDS = """
if redis.call('get', KEYS[1]) == ARGV[1] and redis.call('get', KEYS[2]) == ARGV[2] then
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


def holder_id() -> str:
    """This process, as the lease names its holder (host, pid and a random part)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class LeaderLease:
    def __init__(self, url: str, key: str, *, ttl: float = 3.0, holder: str | None = None) -> None:
        pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=2, timeout=ttl,
                                                        decode_responses=True, socket_timeout=ttl / 3)
        self.redis = aioredis.Redis(connection_pool=pool)
        self.key = key
        self.ttl = ttl
        self.holder = holder or holder_id()
        #: the fencing token of our current leadership (None: not the leader)
        self.token: int | None = None

    @property
    def leader(self) -> bool:
        return self.token is not None

    async def try_acquire(self) -> int | None:
        token = int(await self.redis.eval(_ACQUIRE, 2, self.key, f"{self.key}:token", self.holder,
                                          str(round(self.ttl * 1000))))
        self.token = token or None
        return self.token

    async def renew(self) -> bool:
        renewed = bool(await self.redis.eval(_RENEW, 1, self.key, self.holder, str(round(self.ttl * 1000))))
        if not renewed:
            self.token = None
        return renewed

    async def holds(self) -> bool:
        """Whether the lease is still ours with our fencing token, asked of Redis now: a
        side effect no retry can undo (ringing a citizen back) is fenced by it, so a
        leader that lost the lease between two renewals (a paused process, a partition)
        does not act as one. A Redis that does not answer is no."""
        token = self.token
        if token is None:
            return False
        try:
            return bool(await self.redis.eval(_HOLDS, 2, self.key, f"{self.key}:token", self.holder, str(token)))
        except Exception as error:
            log.warning("leader lease: not confirmed", extra={"reason": repr(error)})
            return False

    async def release(self) -> None:
        if self.token is not None:
            self.token = None
            await self.redis.eval(_RELEASE, 1, self.key, self.holder)

    async def run(self, gained: Callable[[int], Awaitable[None] | None],
                  lost: Callable[[], Awaitable[None] | None]) -> None:
        """Hold or seek the lease until cancelled; ``gained(token)`` when we become the
        leader, ``lost()`` when we stop being it (renewal refused or Redis unreachable)."""
        while True:
            was_leader = self.leader
            try:
                if was_leader:
                    await self.renew()
                else:
                    await self.try_acquire()
            except Exception as error:   # Redis down: a leader steps down, a standby keeps trying
                log.warning("leader lease: Redis not answering", extra={"reason": repr(error)})
                self.token = None
            if self.leader and not was_leader:
                log.info("leader lease taken: this daemon is active", extra={"token": self.token})
                await _maybe(gained(self.token or 0))
            elif was_leader and not self.leader:
                log.error("leader lease lost: this daemon steps down to standby")
                await _maybe(lost())
            await asyncio.sleep(self.ttl / 3)

    async def close(self) -> None:
        try:
            await self.release()
        except Exception as error:
            log.warning("leader lease not released; the standby waits for its expiry",
                        extra={"reason": repr(error)})
        await self.redis.aclose()


async def _maybe(result: Awaitable[None] | None) -> None:
    if result is not None:
        await result
