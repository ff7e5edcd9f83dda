"""Calls that ended while no daemon ran get their end recorded after the first resync."""
from __future__ import annotations

from acd.daemon.ended_away import record_calls_ended_away
from acd.engine import decisions as d
from tests.daemon_fakes import Room
from tests.test_daemon_ami_bridge import bridge_for


class StoredCalls:
    """``LiveState.connected_calls`` as the last active daemon left them."""

    def __init__(self, calls: list[dict]) -> None:
        self.calls = calls

    async def connected_calls(self) -> list[dict]:
        return self.calls


def stored(call_id: str, agent: str, now: float) -> dict:
    return {"call_id": call_id, "agent": agent, "queue": "q", "state": "connected", "enqueued_at": now - 100,
            "priority": 0, "requirements": {"topic:a": 1}, "connected_at": now - 80, "waited": 20.0}


async def test_a_call_no_phone_carries_is_recorded_once_and_a_busy_agents_call_is_left(tmp_path):
    r = Room(tmp_path)
    bridge, _ = bridge_for(r)
    bridge._busy_elsewhere.add("12")                      # 12's phone still carries its call
    calls = StoredCalls([stored("gone", "11", r.clock.now), stored("talking", "12", r.clock.now)])
    formatter = r.room.queue_log
    assert await record_calls_ended_away(r.live, bridge, calls, formatter) == 1
    ended = r.of(d.CallEnded)
    assert [(x.call_id, x.agent_id, x.by, x.waited, x.talk_time) for x in ended] == [("gone", "11", "unknown", 20, 80)]
    assert [x for x in r.queue_log_events() if x != "QUEUESTART"] == ["COMPLETEAGENT"]
    assert r.live.engine.agents["11"].state.value == "logged_out"        # the engine's agents are untouched
