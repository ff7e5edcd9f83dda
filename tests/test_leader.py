"""The leader lease against a real Redis: one leader at a time, fencing tokens grow,
a standby takes over after a release at once and after a crash within the ttl."""
from __future__ import annotations

import asyncio
import uuid

import pytest

from acd.daemon.leader import LeaderLease

pytestmark = pytest.mark.redis


async def test_one_leader_a_growing_fencing_token_and_takeover_after_release_or_expiry(redis_url):
    key = f"test-{uuid.uuid4().hex[:8]}:leader"
    first, second = LeaderLease(redis_url, key, ttl=0.6), LeaderLease(redis_url, key, ttl=0.6)
    try:
        token = await first.try_acquire()
        assert token is not None and await second.try_acquire() is None
        assert await first.renew() and not await second.renew()        # never extends another's lease
        await first.release()
        assert await second.try_acquire() == token + 1                   # at once after a release
        await asyncio.sleep(0.8)                                          # the holder dies: no renewal
        assert not await second.renew() and not second.leader
        assert await first.try_acquire() == token + 2
    finally:
        await first.redis.delete(key, f"{key}:token")
        await first.close()
        await second.close()


async def test_run_reports_gaining_and_losing_the_lease(redis_url):
    key = f"test-{uuid.uuid4().hex[:8]}:leader"
    lease = LeaderLease(redis_url, key, ttl=0.3)
    events: list[str] = []
    task = asyncio.create_task(lease.run(lambda token: events.append(f"gained {token}"),
                                         lambda: events.append("lost")))
    try:
        for _ in range(100):
            if events:
                break
            await asyncio.sleep(0.02)
        assert events == ["gained 1"]
        await lease.redis.set(key, "someone else")                         # another took it (or it expired)
        for _ in range(100):
            if len(events) == 2:
                break
            await asyncio.sleep(0.02)
        assert events == ["gained 1", "lost"]
    finally:
        task.cancel()
        await lease.redis.delete(key, f"{key}:token")
        await lease.close()


async def test_holds_is_asked_of_redis_and_fails_once_another_daemon_has_the_lease(redis_url):
    """The fence a write asks right before acting: true while the key and the token are
    ours, false as soon as another holder took the lease, even before our next renewal."""
    key = f"test-{uuid.uuid4().hex[:8]}:leader"
    first, second = LeaderLease(redis_url, key, ttl=0.6), LeaderLease(redis_url, key, ttl=0.6)
    try:
        assert not await first.holds()                   # not the leader yet
        await first.try_acquire()
        assert await first.holds()
        await asyncio.sleep(0.8)                          # paused: the lease expired, unrenewed
        assert await second.try_acquire() is not None
        assert first.leader and not await first.holds()   # it still believes, Redis says no
    finally:
        await first.redis.delete(key, f"{key}:token")
        await first.close()
        await second.close()
