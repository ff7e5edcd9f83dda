"""The live state in a real Redis, written from a real engine run."""
from __future__ import annotations

import asyncio
import uuid

import pytest

from acd.engine import Engine
from acd.engine import events as e
from acd.live_state import LiveState
from tests.engine_helpers import make_config

pytestmark = pytest.mark.redis

QUEUE = "q:\n  requires: {topic:a: 1}\n  wrapup: 5\n"
AGENTS = "'11': {pin: '1234', skills: {topic:a: 3}}\n"


async def test_waiting_calls_and_agents_are_mirrored_in_redis(redis_url):
    state = LiveState(redis_url, prefix=f"test-{uuid.uuid4().hex[:8]}:", interval=0.01)
    await state.start()
    engine = Engine(make_config(QUEUE, AGENTS))
    try:
        for event in (e.AgentLoggedIn(0, "11"), e.CallArrived(1, "c1", "q"), e.CallArrived(2, "c2", "q"),
                      e.CallArrived(3, "Κλήση-3", "q"), e.OfferAnswered(4, "c1", "11"), e.CallerHungUp(5, "c2")):
            state(engine.handle(event))
        await state.flush()
        waiting = await state.waiting_calls()
        assert [(c["call_id"], c["state"], c["enqueued_at"]) for c in waiting] == [
            ("c1", "connected", 1.0), ("Κλήση-3", "waiting", 3.0)]
        assert waiting[1]["requirements"] == {"topic:a": 1}
        assert (await state.agents())["11"]["state"] == "on_call"
        events = await state.redis.xrange(f"{state.prefix}events")
        assert len(events) >= 8 and '"CallAbandoned"' in "".join(v["json"] for _, v in events)
    finally:
        keys = await state.redis.keys(f"{state.prefix}*")
        if keys:
            await state.redis.delete(*keys)
        await state.close()


async def test_many_writers_wait_for_a_connection_instead_of_failing(redis_url):
    state = LiveState(redis_url, prefix=f"test-{uuid.uuid4().hex[:8]}:", max_connections=2)
    try:
        import asyncio
        results = await asyncio.gather(*(state.redis.incr(f"{state.prefix}n") for _ in range(50)))
        assert sorted(results) == list(range(1, 51))
    finally:
        await state.redis.delete(f"{state.prefix}n")
        await state.redis.aclose()


async def test_phone_registrations_are_mirrored_in_redis(redis_url):
    from acd.registrations import Registrations

    state = LiveState(redis_url, prefix=f"test-{uuid.uuid4().hex[:8]}:", interval=0.01)
    await state.start()
    phones = Registrations()
    try:
        phones.contact_status("11", "sip:agent-11@10.0.0.11:5060", "NonQualified", 10.0)
        phones.subscribe(state.phone_changed)                      # a late writer hears what is known
        phones.learn_user_agents("11", {"sip:agent-11@10.0.0.11:5060": "Λινφόν/5"})
        await state.flush()
        stored = (await state.phones())["11"]
        assert (stored["registered"], stored["user_agent"], stored["since"]) == (True, "Λινφόν/5", 10.0)
        phones.contact_status("11", "sip:agent-11@10.0.0.11:5060", "Removed", 20.0)
        await state.flush()
        assert (await state.phones())["11"]["registered"] is False and state.backlog == 0
    finally:
        keys = await state.redis.keys(f"{state.prefix}*")
        if keys:
            await state.redis.delete(*keys)
        await state.close()


async def test_agents_a_restarted_daemon_restores_from_its_roster_are_published(redis_url, tmp_path):
    """Issue 9, item 9: the roster's agents were restored before the live state started,
    so Redis (and whatever reads it: a wallboard, a standby) did not show them."""
    import json

    import redis.asyncio as aioredis

    from acd.daemon.app import Daemon
    from rig.ports import free_port

    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    config = tmp_path / "acd.yaml"
    config.write_text(
        "service: {name: t, languages: [el]}\nskills: {topic:a: A}\nqueues:\n  q: {requires: {topic:a: 1}}\n"
        "routing: {pause_reasons: {break: false}}\n"
        "agents:\n  '11': {pin: '1111', skills: {topic:a: 2}}\n  '12': {pin: '1212', skills: {topic:a: 2}}\n"
        "  '13': {pin: '1313', skills: {topic:a: 2}}\n"
        f"daemon: {{ami_port: {free_port(25100)}, agi_port: {free_port(24700)}, api_port: {free_port(28400)},\n"
        f"  queue_log: {tmp_path}/queue_log, redis_url: '{redis_url}', redis_prefix: '{prefix}',\n"
        f"  database_url: 'sqlite+aiosqlite:///{tmp_path}/acd.sqlite3'}}\n")
    (tmp_path / "agents.json").write_text(json.dumps({
        "11": {"state": "logged_in", "reason": None}, "12": {"state": "paused", "reason": "break"}}))
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    await client.hset(f"{prefix}agents", "13", json.dumps({"state": "available"}))   # the last run's, stale
    daemon = Daemon(config)
    await daemon.start()
    try:
        async def published() -> dict:
            return {k: json.loads(v)["state"] for k, v in (await client.hgetall(f"{prefix}agents")).items()}

        for _ in range(100):
            if (await published()).get("11") == "available":
                break
            await asyncio.sleep(0.05)
        assert await published() == {"11": "available", "12": "paused", "13": "logged_out"}
    finally:
        await daemon.stop()
        keys = await client.keys(f"{prefix}*")
        if keys:
            await client.delete(*keys)
        await client.aclose()
