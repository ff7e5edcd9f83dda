"""Callbacks: the agent's phone is rung over AMI Originate, its fate comes back as events."""
from __future__ import annotations

import asyncio

from acd.daemon.callbacks import CALLBACK_CONTEXT, CallbackDialer
from acd.engine import AgentState
from acd.engine import decisions as d
from acd.engine import events as e
from tests.daemon_fakes import Room, settle


class FakeAMI:
    def __init__(self, answer: str = "Success") -> None:
        self.answer = answer
        self.actions: list[tuple[str, dict]] = []
        self.handlers: dict[str, object] = {}

    def on_event(self, name, callback) -> None:
        self.handlers[name] = callback

    async def action(self, name: str, **fields) -> dict:
        self.actions.append((name, fields))
        return {"Response": self.answer, "Message": "Originate successfully queued"}


async def callback_waiting(tmp_path, answer: str = "Success"):
    r = Room(tmp_path)
    dialer = CallbackDialer(r.live)
    ami = FakeAMI(answer)
    dialer.install(ami)
    r.room.callbacks = dialer
    session = await r.arrive("1.1", ACD_CALLBACK="2101234567")
    session.hang_up()                                 # the caller leaves; the place stays
    await asyncio.wait_for(r.tasks[0], 1)
    assert "1.1" in r.live.engine.calls
    r.login("11")
    await settle()
    return r, ami


async def test_callback_rings_the_agent_first_into_the_callback_context(tmp_path):
    r, ami = await callback_waiting(tmp_path)
    [(name, fields)] = ami.actions
    assert name == "Originate" and fields["Channel"] == "PJSIP/agent-11"
    assert (fields["Context"], fields["Exten"], fields["Async"]) == (CALLBACK_CONTEXT, "2101234567", "true")
    assert fields["Timeout"] == "15000" and "ACD_CALLID=1.1" in fields["Variable"]


async def test_answered_callback_connects_and_the_agent_hang_up_ends_it(tmp_path):
    r, ami = await callback_waiting(tmp_path)
    channel = ami.actions[0][1]["ChannelId"]
    ami.handlers["OriginateResponse"]({"Response": "Success", "Uniqueid": channel, "Reason": "4"})
    assert r.live.engine.agents["11"].state is AgentState.ON_CALL
    ami.handlers["Hangup"]({"Uniqueid": channel})
    assert [x.by for x in r.of(d.CallEnded)] == ["agent"]


async def test_agent_who_does_not_answer_a_callback_is_skipped_and_the_callback_stays(tmp_path):
    r, ami = await callback_waiting(tmp_path)
    channel = ami.actions[0][1]["ChannelId"]
    ami.handlers["OriginateResponse"]({"Response": "Failure", "Uniqueid": channel, "Reason": "3"})
    assert [x.reason for x in r.of(d.OfferMissed)] == ["no_answer"]
    assert "1.1" in r.live.engine.calls
    ami.handlers["Hangup"]({"Uniqueid": channel})     # the failed leg's hang-up changes nothing
    assert r.of(d.CallEnded) == []


async def test_originate_refused_by_asterisk_gives_the_agent_back(tmp_path):
    r, ami = await callback_waiting(tmp_path, answer="Error")
    await settle()
    assert [x.reason for x in r.of(d.OfferMissed)] == ["failed"]
    r.live.feed(e.Tick(r.clock.now + 60))
    assert "1.1" in r.live.engine.calls


async def test_callback_left_after_the_max_wait_is_kept_and_placed(tmp_path):
    """Issue 9 item 1: the max wait ends in the callback exit; the caller leaves a number
    and re-enters the waiting room with the same call id and the original enqueue time
    (what the generated dialplan's ``acd-exit,callback`` keeps). That must be a callback
    waiting at its place, not a second max-wait exit."""
    r = Room(tmp_path)
    dialer = CallbackDialer(r.live)
    ami = FakeAMI()
    dialer.install(ami)
    r.room.callbacks = dialer
    first = await r.arrive("1.1")
    r.clock.now += 301
    r.live.feed(e.Tick(r.clock.now))
    await asyncio.wait_for(r.tasks[0], 1)
    assert (first.vars["ACD_WAIT_RESULT"], first.vars["ACD_EXIT"]) == ("exit", "callback")
    kept = {name: first.vars[name] for name in ("ACD_CALLID", "ACD_QUEUE", "ACD_ENQUEUED_AT")}
    r.clock.now += 20                                # the IVR asks for the number
    again = await r.arrive("1.1", ACD_CALLBACK="2101234567", **kept)
    again.hang_up()
    await asyncio.wait_for(r.tasks[1], 1)
    assert len(r.of(d.ExitCall)) == 1
    call = r.live.engine.calls["1.1"]
    assert call.callback == "2101234567" and call.enqueued_at == float(kept["ACD_ENQUEUED_AT"])
    r.clock.now += 3600
    r.live.feed(e.Tick(r.clock.now))                 # no max wait for a callback: its window rules
    assert "1.1" in r.live.engine.calls
    r.login("11")
    await settle()
    [(name, fields)] = ami.actions
    assert name == "Originate" and fields["Exten"] == "2101234567"
