"""A call an earlier daemon connected becomes the restarted engine's conversation."""
from __future__ import annotations

from acd.engine import AgentState, Engine
from acd.engine import decisions as d
from acd.engine import events as e
from tests.engine_helpers import make_config

QUEUE = "q:\n  requires: {topic:a: 1}\n  wrapup: 5\n"
AGENTS = "'11': {pin: '1234', skills: {topic:a: 3}}\n'12': {pin: '1234', skills: {topic:a: 3}}\n"


def test_a_resumed_call_ends_with_its_real_wait_and_talk_and_queues_nothing_again():
    engine = Engine(make_config(QUEUE, AGENTS), start=1000.0)
    engine.handle(e.AgentLoggedIn(1000.0, "11"))
    out = engine.handle(e.CallResumed(1000.0, "c1", "11", "q", enqueued_at=900.0, answered_at=930.0))
    assert not [x for x in out if isinstance(x, d.OfferCall)]
    assert [(x.call_id, x.enqueued_at) for x in out if isinstance(x, d.CallQueued)] == [("c1", 900.0)]
    assert [(x.agent_id, x.waited) for x in out if isinstance(x, d.CallConnected)] == [("11", 30.0)]
    assert [(x.agent_id, x.state) for x in out if isinstance(x, d.AgentStatus)] == [("11", "on_call")]
    assert engine.agents["11"].state is AgentState.ON_CALL
    engine.handle(e.CallArrived(1001.0, "c2", "q"))
    assert engine.calls["c2"].agent_id is None              # 11 talks: nobody to offer
    ended = [x for x in engine.handle(e.AgentHungUp(1010.0, "c1")) if isinstance(x, d.CallEnded)]
    assert [(x.call_id, x.by, x.waited, x.talk_time) for x in ended] == [("c1", "agent", 30.0, 80.0)]
    assert engine.agents["11"].state is AgentState.WRAP_UP


def test_a_resume_for_an_agent_not_available_or_a_known_call_is_ignored():
    engine = Engine(make_config(QUEUE, AGENTS), start=1000.0)
    out = engine.handle(e.CallResumed(1000.0, "c1", "11", "q", 900.0, 930.0))      # 11 logged out
    assert [x.reason for x in out if isinstance(x, d.Ignored)] == ["agent is logged_out, not available"]
    engine.handle(e.AgentLoggedIn(1000.0, "11"))
    engine.handle(e.AgentLoggedIn(1000.0, "12"))
    engine.handle(e.CallResumed(1000.0, "c1", "11", "q", 900.0, 930.0))
    out = engine.handle(e.CallResumed(1000.0, "c1", "12", "q", 900.0, 930.0))
    assert [x.reason for x in out if isinstance(x, d.Ignored)] == ["call is already known"]
    assert engine.agents["12"].state is AgentState.AVAILABLE
