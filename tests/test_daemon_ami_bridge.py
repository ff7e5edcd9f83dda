"""AMI events reach the engine and the waiting room as the right facts."""
from __future__ import annotations

import asyncio

from acd.daemon.ami_bridge import AMIBridge
from acd.engine import AgentState
from acd.engine import decisions as d
from acd.engine import events as e
from tests.daemon_fakes import Room, ringing


class FakeAMI:
    """Registers callbacks and answers event-list actions from canned lists."""

    def __init__(self, lists: dict[str, list[dict]]) -> None:
        self.lists = lists
        self.handlers: dict[str, object] = {}
        self.connected: list[object] = []

    def on_event(self, name, callback) -> None:
        self.handlers[name] = callback

    def on_connect(self, callback) -> None:
        self.connected.append(callback)

    async def action_list(self, name: str, **fields: str) -> list[dict]:
        return self.lists[name]


def bridge_for(room: Room, lists: dict[str, list[dict]] | None = None) -> tuple[AMIBridge, FakeAMI]:
    bridge = AMIBridge(room.live, room.room)
    ami = FakeAMI(lists or {})
    bridge.install(ami)
    return bridge, ami


async def test_unreachable_phone_takes_the_agent_out_of_routing_until_it_is_back(tmp_path):
    r = Room(tmp_path)
    r.login("11")
    bridge, ami = bridge_for(r)
    ami.handlers["DeviceStateChange"]({"Device": "PJSIP/agent-11", "State": "UNAVAILABLE"})
    session = await r.arrive("1.1")
    assert session.dials.empty()
    ami.handlers["DeviceStateChange"]({"Device": "PJSIP/agent-11", "State": "NOT_INUSE"})
    target, _ = await ringing(session)
    assert target.startswith("PJSIP/agent-11,")


async def test_busy_device_states_do_not_change_reachability(tmp_path):
    r = Room(tmp_path)
    r.login("11")
    bridge, ami = bridge_for(r)
    for state in ("INUSE", "RINGING", "NOT_INUSE", "INUSE"):
        ami.handlers["DeviceStateChange"]({"Device": "PJSIP/agent-11", "State": state})
    assert r.live.engine.agents["11"].reachable


async def test_dial_end_answer_connects_the_call_at_that_moment(tmp_path):
    r = Room(tmp_path)
    r.login("11")
    bridge, ami = bridge_for(r)
    session = await r.arrive("1.1")
    await ringing(session)
    r.clock.now += 4
    ami.handlers["DialEnd"]({"Uniqueid": "1.1", "DestUniqueid": "7.7", "DialStatus": "ANSWER"})
    assert r.live.engine.agents["11"].state is AgentState.ON_CALL
    assert [c.ring_time for c in r.of(d.CallConnected)] == [4]
    assert "|7.7|" in r.queue_log.path.read_text()


async def test_hangup_request_of_an_idle_waiting_caller_is_an_abandon_and_the_later_hangup_changes_nothing(tmp_path):
    r = Room(tmp_path)
    bridge, ami = bridge_for(r)
    await r.arrive("1.1")
    ami.handlers["HangupRequest"]({"Uniqueid": "1.1", "Channel": "PJSIP/citizens-0001"})
    await asyncio.wait_for(r.tasks[0], 1)
    ami.handlers["Hangup"]({"Uniqueid": "1.1", "Channel": "PJSIP/citizens-0001"})
    assert len(r.of(d.CallAbandoned)) == 1


async def test_resync_after_reconnect_drops_callers_whose_channel_vanished_and_reads_device_states(tmp_path):
    r = Room(tmp_path)
    r.login("11")
    r.live.feed(e.AgentPaused(r.clock.now, "11", "break"))     # nobody takes the callers
    lists = {"DeviceStateList": [{"Device": "PJSIP/agent-12", "State": "UNAVAILABLE"},
                                 {"Device": "PJSIP/agent-11", "State": "NOT_INUSE"}],
             "CoreShowChannels": [{"Uniqueid": "1.2", "Channel": "PJSIP/citizens-2"}]}
    bridge, ami = bridge_for(r, lists)
    await r.arrive("1.1")
    await r.arrive("1.2")
    await ami.connected[0]()
    await asyncio.wait_for(r.tasks[0], 1)
    assert [a.call_id for a in r.of(d.CallAbandoned)] == ["1.1"]
    assert "1.2" in r.room.callers
    assert not r.live.engine.agents["12"].reachable


async def test_agent_found_on_a_call_at_resync_is_kept_out_of_routing_until_the_phone_is_free(tmp_path):
    r = Room(tmp_path)
    r.login("11")
    lists = {"DeviceStateList": [{"Device": "PJSIP/agent-11", "State": "INUSE"}],
             "CoreShowChannels": [{"Uniqueid": "8.8", "Channel": "PJSIP/agent-11-0000002a"}]}
    bridge, ami = bridge_for(r, lists)
    await ami.connected[0]()
    session = await r.arrive("1.1")
    assert session.dials.empty()                     # not offered while still talking
    ami.handlers["DeviceStateChange"]({"Device": "PJSIP/agent-11", "State": "RINGING"})
    assert session.dials.empty()
    ami.handlers["DeviceStateChange"]({"Device": "PJSIP/agent-11", "State": "NOT_INUSE"})
    target, _ = await ringing(session)
    assert target.startswith("PJSIP/agent-11,")
