"""The routing engine's behaviour, one rule per test."""
from __future__ import annotations

import pytest

from acd.engine import AUTO_PAUSE_REASON, AgentState, CallState, Engine
from acd.engine import decisions as d
from acd.engine import events as e
from tests.engine_helpers import Recorder, make_config

ONE_QUEUE = """
q:
  requires: {topic:a: 1}
  wrapup: 10
  ring_timeout: 15
  announcements: {first_after: 0, every: 0}
"""


def agents(*ids: str, skills: str = "{topic:a: 3}") -> str:
    return "".join(f"'{i}': {{pin: '1234', skills: {skills}}}\n" for i in ids)


def engine_with(queues: str = ONE_QUEUE, agent_text: str | None = None, routing: str = "") -> Recorder:
    config = make_config(queues, agent_text or agents("11", "12"), routing=routing)
    return Recorder(Engine(config))


def test_call_goes_to_the_free_agent_with_the_skill():
    rec = engine_with(agent_text=agents("11", skills="{topic:b: 5}") + agents("12"))
    rec(e.AgentLoggedIn(0, "11"))
    rec(e.AgentLoggedIn(0, "12"))
    rec(e.CallArrived(1, "c1", "q"))
    assert rec.offers() == [("c1", "12")]


def test_caller_keeps_place_when_agent_does_not_answer():
    rec = engine_with()
    rec(e.CallArrived(0, "c1", "q"))
    rec(e.CallArrived(1, "c2", "q"))
    rec(e.AgentLoggedIn(2, "11"))
    assert rec.offers() == [("c1", "11")]
    rec(e.OfferFailed(17, "c1", "11", "no_answer"))
    rec(e.AgentLoggedIn(18, "12"))
    # c1 is back at the head of the line, ahead of c2 who came later
    assert rec.offers()[-1] == ("c1", "12")
    missed = rec.of(d.OfferMissed)
    assert missed and missed[0].reason == "no_answer" and missed[0].ring_time == 15


def test_agent_rests_after_a_missed_offer_then_is_offered_again():
    rec = engine_with(agent_text=agents("11"), routing="missed_offer_rest: 5\n")
    rec(e.AgentLoggedIn(0, "11"))
    rec(e.CallArrived(1, "c1", "q"))
    rec(e.OfferFailed(16, "c1", "11"))
    assert rec.engine.agents["11"].state is AgentState.RESTING
    rec.advance(20.9)
    assert rec.engine.agents["11"].state is AgentState.RESTING
    rec.advance(21)
    assert rec.engine.agents["11"].state is AgentState.RINGING
    assert rec.offers() == [("c1", "11"), ("c1", "11")]


def test_agent_is_paused_after_consecutive_misses():
    rec = engine_with(agent_text=agents("11"), routing="auto_pause_after: 2\nmissed_offer_rest: 0\n")
    rec(e.AgentLoggedIn(0, "11"))
    rec(e.CallArrived(1, "c1", "q"))
    rec(e.OfferFailed(16, "c1", "11"))
    rec(e.OfferFailed(31, "c1", "11"))
    agent = rec.engine.agents["11"]
    assert agent.state is AgentState.PAUSED and agent.reason == AUTO_PAUSE_REASON
    assert rec.engine.calls["c1"].state.value == "waiting"


def test_an_answer_resets_the_miss_count():
    rec = engine_with(agent_text=agents("11"), routing="auto_pause_after: 2\nmissed_offer_rest: 0\n")
    rec(e.AgentLoggedIn(0, "11"))
    rec(e.CallArrived(1, "c1", "q"))
    rec(e.OfferFailed(16, "c1", "11"))
    rec(e.OfferAnswered(20, "c1", "11"))
    rec(e.AgentHungUp(30, "c1"))
    rec(e.CallArrived(41, "c2", "q"))
    rec(e.OfferFailed(56, "c2", "11"))
    assert rec.engine.agents["11"].state is not AgentState.PAUSED


def test_agent_hangup_leads_to_wrap_up_then_available():
    rec = engine_with(agent_text=agents("11"))
    rec(e.AgentLoggedIn(0, "11"))
    rec(e.CallArrived(1, "c1", "q"))
    rec(e.OfferAnswered(3, "c1", "11"))
    rec(e.AgentHungUp(60, "c1"))
    agent = rec.engine.agents["11"]
    assert agent.state is AgentState.WRAP_UP
    ended = rec.of(d.CallEnded)[0]
    assert (ended.by, ended.talk_time, ended.waited) == ("agent", 57, 2)
    rec.advance(69.9)
    assert agent.state is AgentState.WRAP_UP
    rec.advance(70)
    assert agent.state is AgentState.AVAILABLE


def test_agent_can_end_wrap_up_early():
    rec = engine_with(agent_text=agents("11"))
    rec(e.AgentLoggedIn(0, "11"))
    rec(e.CallArrived(1, "c1", "q"))
    rec(e.CallArrived(2, "c2", "q"))
    rec(e.OfferAnswered(3, "c1", "11"))
    rec(e.CallerHungUp(60, "c1"))
    rec(e.AgentReady(62, "11"))
    assert rec.offers()[-1] == ("c2", "11")
    assert rec.of(d.CallEnded)[0].by == "caller"


def test_pause_during_a_call_applies_after_wrap_up():
    rec = engine_with(agent_text=agents("11"))
    rec(e.AgentLoggedIn(0, "11"))
    rec(e.CallArrived(1, "c1", "q"))
    rec(e.OfferAnswered(2, "c1", "11"))
    rec(e.AgentPaused(10, "11", "lunch"))  # not a configured reason
    assert isinstance(rec.log[-1], d.Ignored)
    rec(e.AgentPaused(11, "11", "break"))
    assert rec.engine.agents["11"].state is AgentState.ON_CALL
    rec(e.AgentHungUp(20, "c1"))
    rec.advance(30)
    agent = rec.engine.agents["11"]
    assert agent.state is AgentState.PAUSED and agent.reason == "break"
    rec(e.CallArrived(31, "c2", "q"))
    assert ("c2", "11") not in rec.offers()
    rec(e.AgentUnpaused(40, "11"))
    assert rec.offers()[-1] == ("c2", "11")


def test_logout_during_a_call_waits_for_the_call_to_end():
    rec = engine_with(agent_text=agents("11"))
    rec(e.AgentLoggedIn(0, "11"))
    rec(e.CallArrived(1, "c1", "q"))
    rec(e.OfferAnswered(2, "c1", "11"))
    rec(e.AgentLoggedOut(5, "11"))
    assert rec.engine.agents["11"].state is AgentState.ON_CALL
    rec(e.AgentHungUp(20, "c1"))
    rec.advance(40)
    assert rec.engine.agents["11"].state is AgentState.LOGGED_OUT
    statuses = [s.state for s in rec.of(d.AgentStatus)]
    assert statuses[-2:] == ["wrap_up", "logged_out"]


def test_caller_hangup_while_ringing_cancels_the_offer_and_frees_the_agent():
    rec = engine_with(agent_text=agents("11"))
    rec(e.AgentLoggedIn(0, "11"))
    rec(e.CallArrived(1, "c1", "q"))
    rec(e.CallerHungUp(4, "c1"))
    assert rec.of(d.CancelOffer) == [d.CancelOffer(4, "c1", "11")]
    abandoned = rec.of(d.CallAbandoned)[0]
    assert abandoned.waited == 3
    assert rec.engine.agents["11"].state is AgentState.AVAILABLE
    rec(e.CallerHungUp(5, "c1"))  # a second hang-up frees nothing twice
    assert isinstance(rec.log[-1], d.Ignored)
    assert len(rec.of(d.CallAbandoned)) == 1


def test_offer_made_when_a_rest_ends_then_cancelled_by_the_same_events_hangup():
    """Timers due by an event's time fire before the event: the rested agent is offered
    the call, then the caller's hang-up at that instant cancels the offer and the agent
    takes the next caller (found by the property test)."""
    rec = engine_with(agent_text=agents("11"), routing="missed_offer_rest: 3\n")
    rec(e.CallArrived(0, "c1", "q"))
    rec(e.CallArrived(0, "c2", "q"))
    rec(e.AgentLoggedIn(0, "11"))
    rec(e.OfferFailed(0, "c1", "11"))
    rec(e.CallerHungUp(3, "c1"))
    assert rec.offers() == [("c1", "11"), ("c1", "11"), ("c2", "11")]
    assert rec.of(d.CancelOffer) == [d.CancelOffer(3, "c1", "11")]
    assert "c1" not in rec.engine.calls and rec.engine.agents["11"].call_id == "c2"


def test_abandon_while_waiting_reports_position():
    rec = engine_with()
    for n in range(3):
        rec(e.CallArrived(n, f"c{n}", "q"))
    rec(e.CallerHungUp(10, "c2"))
    abandoned = rec.of(d.CallAbandoned)[0]
    assert (abandoned.position, abandoned.original_position, abandoned.waited) == (3, 3, 8)
    rec(e.CallerHungUp(11, "c0"))
    assert rec.of(d.CallAbandoned)[1].position == 1


WIDENING = """
q:
  requires: {topic:a: 4}
  widening:
    - {after: 30, min_level: 2}
    - {after: 60, drop: [lang:en]}
  announcements: {first_after: 0, every: 0}
"""


def test_widening_lets_lower_levels_take_the_call_after_the_wait():
    rec = engine_with(WIDENING, agents("11", skills="{topic:a: 2}"))
    rec(e.AgentLoggedIn(0, "11"))
    rec(e.CallArrived(0, "c1", "q"))
    rec.advance(29.9)
    assert rec.offers() == []
    rec.advance(30)
    assert rec.offers() == [("c1", "11")]
    widened = rec.of(d.CallWidened)[0]
    assert widened.requirements == {"topic:a": 2}


def test_widening_can_drop_a_requirement():
    rec = engine_with(WIDENING, agents("11", skills="{topic:a: 4, lang:el: 5}"))
    rec(e.AgentLoggedIn(0, "11"))
    rec(e.CallArrived(0, "c1", "q", {"lang:en": 1}))
    rec.advance(59)
    assert rec.offers() == []
    rec.advance(60)
    assert rec.offers() == [("c1", "11")]


def test_widened_caller_does_not_change_place():
    rec = engine_with(WIDENING, agents("11", skills="{topic:a: 2}") + agents("12", skills="{topic:a: 5}"))
    rec(e.CallArrived(0, "old", "q"))
    rec(e.CallArrived(40, "new", "q"))
    rec(e.AgentLoggedIn(41, "12"))
    # the strong agent takes the oldest caller, even though only it can take the new one
    assert rec.offers() == [("old", "12")]


def test_specialist_before_generalist():
    text = agents("11", skills="{topic:a: 3, topic:b: 3, lang:el: 3}") + agents("12", skills="{topic:a: 3}")
    rec = engine_with(agent_text=text)
    rec(e.AgentLoggedIn(0, "11"))
    rec(e.AgentLoggedIn(1, "12"))
    rec(e.CallArrived(5, "c1", "q"))
    assert rec.offers() == [("c1", "12")]


def test_higher_level_before_longest_idle():
    text = agents("11", skills="{topic:a: 2}") + agents("12", skills="{topic:a: 5}")
    rec = engine_with(agent_text=text)
    rec(e.AgentLoggedIn(0, "11"))
    rec(e.AgentLoggedIn(9, "12"))
    rec(e.CallArrived(10, "c1", "q"))
    assert rec.offers() == [("c1", "12")]


def test_longest_idle_among_equals():
    rec = engine_with(agent_text=agents("11", "12", "13"))
    for t, agent in ((0, "12"), (1, "13"), (2, "11")):
        rec(e.AgentLoggedIn(t, agent))
    rec(e.CallArrived(5, "c1", "q"))
    assert rec.offers() == [("c1", "12")]


def _strategy_queue(strategy: str) -> str:
    return ONE_QUEUE.replace("wrapup: 10", "wrapup: 0") + f"  strategy: {strategy}\n  prefer_best_match: false\n"


def _serve(rec: Recorder, calls: int, start: float = 10) -> list[str]:
    """Each call is answered and ended at once; returns who took each."""
    takers = []
    t = start
    for n in range(calls):
        rec(e.CallArrived(t, f"s{n}", "q"))
        call_id, agent_id = rec.offers()[-1]
        assert call_id == f"s{n}"
        rec(e.OfferAnswered(t + 1, call_id, agent_id))
        rec(e.AgentHungUp(t + 2, call_id))
        takers.append(agent_id)
        t += 3
    return takers


@pytest.mark.parametrize("strategy, expected", [
    ("linear", ["11", "11", "11", "11"]),
    ("rrmemory", ["11", "12", "13", "11"]),
    ("leastrecent", ["11", "12", "13", "11"]),
    ("fewestcalls", ["11", "12", "13", "11"]),
])
def test_app_queue_strategies(strategy, expected):
    rec = engine_with(_strategy_queue(strategy), agents("11", "12", "13"))
    for agent in ("13", "12", "11"):  # logged in in reverse order: idle times differ from config order
        rec(e.AgentLoggedIn(0, agent))
    assert _serve(rec, 4) == expected


def test_random_strategy_repeats_with_the_same_seed_and_spreads_calls():
    def takers(seed: int) -> list[str]:
        rec = engine_with(_strategy_queue("random"), agents("11", "12", "13"), routing=f"seed: {seed}\n")
        for agent in ("11", "12", "13"):
            rec(e.AgentLoggedIn(0, agent))
        return _serve(rec, 30)
    first = takers(3)
    assert first == takers(3)
    assert set(first) == {"11", "12", "13"}


TWO_QUEUES = """
normal:
  requires: {topic:a: 1}
  announcements: {first_after: 0, every: 0}
urgent:
  requires: {topic:a: 1}
  priority: 2
  announcements: {first_after: 0, every: 0}
"""


def test_priority_goes_first_but_ages_with_wait():
    rec = engine_with(TWO_QUEUES, agents("11"), routing="priority_seconds: 60\n")
    rec(e.CallArrived(0, "n1", "normal"))
    rec(e.CallArrived(100, "u1", "urgent"))   # worth 120 s of waiting: ahead of n1 (100 s)
    rec(e.AgentLoggedIn(101, "11"))
    assert rec.offers() == [("u1", "11")]
    rec(e.OfferAnswered(102, "u1", "11"))
    rec(e.CallArrived(200, "u2", "urgent"))   # n1 has waited 200 s > 0 + 120
    rec(e.AgentHungUp(205, "u1"))
    rec.advance(300)
    assert rec.offers()[-1] == ("n1", "11")


def test_queue_weight_makes_waits_age_faster():
    queues = TWO_QUEUES.replace("priority: 2", "weight: 3")
    rec = engine_with(queues, agents("11"))
    rec(e.CallArrived(0, "n1", "normal"))
    rec(e.CallArrived(60, "u1", "urgent"))    # 3 x 41 s > 101 s at t=101
    rec(e.AgentLoggedIn(101, "11"))
    assert rec.offers() == [("u1", "11")]


def test_max_wait_takes_the_configured_exit():
    queues = ONE_QUEUE + "  max_wait: 120\n  on_max_wait: callback\n"
    rec = engine_with(queues)
    rec(e.CallArrived(0, "c1", "q"))
    rec(e.CallArrived(10, "c2", "q"))
    rec.advance(125)
    exits = rec.of(d.ExitCall)
    assert [(x.call_id, x.action.kind, x.waited, x.position) for x in exits] == [("c1", "callback", 120, 1)]
    assert "c1" not in rec.engine.calls


def test_callback_keeps_the_place_and_survives_the_hangup():
    rec = engine_with(agent_text=agents("11"))
    rec(e.CallArrived(0, "c1", "q"))
    rec(e.CallArrived(1, "c2", "q"))
    rec(e.CallbackRequested(5, "c1", "6900000000"))
    rec(e.CallerHungUp(6, "c1"))
    assert rec.of(d.CallAbandoned) == []
    rec(e.AgentLoggedIn(10, "11"))
    offer = rec.of(d.OfferCall)[0]
    assert (offer.call_id, offer.callback) == ("c1", "6900000000")


def test_restored_call_keeps_its_original_place():
    rec = engine_with(agent_text=agents("11"))
    rec(e.CallArrived(100, "new", "q"))
    rec(e.CallArrived(101, "old", "q", enqueued_at=50))  # rebuilt after a daemon restart
    rec(e.AgentLoggedIn(102, "11"))
    assert rec.offers() == [("old", "11")]
    queued = [q for q in rec.of(d.CallQueued) if q.call_id == "old"][0]
    assert (queued.position, queued.enqueued_at) == (1, 50)


def test_unreachable_agent_is_not_offered_calls():
    rec = engine_with(agent_text=agents("11"))
    rec(e.AgentLoggedIn(0, "11"))
    rec(e.AgentReachability(1, "11", False))
    rec(e.CallArrived(2, "c1", "q"))
    assert rec.offers() == []
    rec(e.AgentReachability(3, "11", True))
    assert rec.offers() == [("c1", "11")]


def test_unreachable_offer_takes_the_agent_out_until_its_phone_is_back():
    rec = engine_with(agent_text=agents("11"), routing="missed_offer_rest: 0\n")
    rec(e.AgentLoggedIn(0, "11"))
    rec(e.CallArrived(1, "c1", "q"))
    rec(e.OfferFailed(2, "c1", "11", "unreachable"))
    assert len(rec.offers()) == 1
    rec(e.AgentReachability(9, "11", True))
    assert rec.offers()[-1] == ("c1", "11")


def test_events_that_do_not_fit_are_ignored_not_raised():
    rec = engine_with(agent_text=agents("11"))
    for event in (e.OfferAnswered(0, "nope", "11"), e.AgentLoggedIn(0, "99"), e.AgentHungUp(0, "x"),
                  e.CallArrived(0, "c1", "no-such-queue"), e.AgentUnpaused(0, "11")):
        out = rec(event)
        assert len(out) == 1 and isinstance(out[0], d.Ignored)
    rec(e.AgentLoggedIn(1, "11"))
    rec(e.CallArrived(2, "c1", "q"))
    out = rec(e.OfferAnswered(3, "c1", "12"))  # the wrong agent answers
    assert isinstance(out[0], d.Ignored)


def test_time_never_runs_backwards():
    rec = engine_with(agent_text=agents("11"))
    rec(e.CallArrived(100, "c1", "q"))
    rec(e.AgentLoggedIn(50, "11"))  # a late event is applied at the engine's present
    assert rec.engine.now == 100
    assert rec.of(d.OfferCall)[0].at == 100


ANNOUNCING = """
q:
  requires: {topic:a: 1}
  wrapup: 30
  announcements: {first_after: 20, every: 60}
"""


def test_announcements_give_position_and_estimate_from_the_pool():
    rec = engine_with(ANNOUNCING, agents("11", "12"), routing="default_handle_time: 200\n")
    rec(e.AgentLoggedIn(0, "11"))
    rec(e.AgentLoggedIn(0, "12"))
    for n in range(5):
        rec(e.CallArrived(n, f"c{n}", "q"))
    rec(e.OfferAnswered(5, "c0", "11"))
    rec(e.OfferAnswered(5, "c1", "12"))
    rec.advance(24)
    first = {a.call_id: a for a in rec.of(d.Announce)}
    # c2..c4 wait behind nobody but each other; two agents; 200 s assumed per call
    assert [first[c].position for c in ("c2", "c3", "c4")] == [1, 2, 3]
    assert first["c4"].estimated_wait == pytest.approx(3 * 200 / 2)
    rec(e.AgentHungUp(95, "c0"))  # a real call: 90 s talk + 30 s wrap-up = 120 s
    rec.advance(144)
    later = [a for a in rec.of(d.Announce) if a.call_id == "c4" and a.at > 100]
    assert later and later[0].position == 2
    assert later[0].estimated_wait == pytest.approx(2 * 120 / 2)


def test_no_estimate_when_nobody_can_take_the_call():
    rec = engine_with(ANNOUNCING, agents("11"))
    rec(e.CallArrived(0, "c1", "q"))
    rec.advance(21)
    assert rec.of(d.Announce)[0].estimated_wait is None


def test_reload_keeps_waiting_callers_in_place_and_applies_new_skills():
    rec = engine_with(agent_text=agents("11", skills="{topic:b: 3}") + agents("12"))
    rec(e.AgentLoggedIn(0, "11"))
    rec(e.CallArrived(1, "c1", "q"))
    rec(e.CallArrived(2, "c2", "q"))
    assert rec.offers() == []
    rec(e.AgentLoggedIn(3, "12"))
    rec(e.OfferAnswered(4, "c1", "12"))
    # the engineer gives agent 11 topic:a and removes agent 12 while 12 is on a call
    new = make_config(ONE_QUEUE, agents("11", skills="{topic:a: 2, topic:b: 3}") + agents("13"))
    out = rec.engine.reconfigure(new)
    assert [(o.call_id, o.agent_id) for o in out if isinstance(o, d.OfferCall)] == [("c2", "11")]
    assert rec.engine.agents["12"].state is AgentState.ON_CALL  # the call is not dropped
    rec(e.AgentHungUp(30, "c1"))
    rec.advance(60)
    assert rec.engine.agents["12"].state is AgentState.LOGGED_OUT
    assert "13" in rec.engine.agents


def test_reload_keeps_the_order_of_waiting_callers():
    rec = engine_with(agent_text=agents("11"))
    for n in range(4):
        rec(e.CallArrived(n, f"c{n}", "q"))
    rec.engine.reconfigure(make_config(ONE_QUEUE.replace("wrapup: 10", "wrapup: 0"), agents("11")))
    rec(e.AgentLoggedIn(10, "11"))
    for n in range(4):
        call_id, agent_id = rec.offers()[-1]
        assert call_id == f"c{n}"
        rec(e.OfferAnswered(11 + n, call_id, agent_id))
        rec(e.AgentHungUp(11.5 + n, call_id))


# -- the engine's own ring deadline ------------------------------------------------------------

def test_an_offer_nobody_reports_on_is_withdrawn_at_the_ring_deadline():
    """A driver that never reports the ring's outcome (a FastAGI session that never lets
    its Dial finish) holds the agent for ring_timeout + ring_margin at most; the caller
    goes back to its own place, ahead of those who came later."""
    rec = engine_with(agent_text=agents("11"), routing="ring_margin: 5\nmissed_offer_rest: 5\n")
    rec(e.AgentLoggedIn(0, "11"))
    rec(e.CallArrived(1, "c1", "q"))
    rec(e.CallArrived(2, "c2", "q"))
    rec.advance(20.9)
    assert rec.engine.agents["11"].state is AgentState.RINGING
    rec.advance(21)
    assert rec.of(d.CancelOffer) == [d.CancelOffer(21, "c1", "11", "ring_deadline")]
    missed = rec.of(d.OfferMissed)
    assert [(m.call_id, m.agent_id, m.reason, m.ring_time) for m in missed] == [("c1", "11", "ring_deadline", 20)]
    assert rec.engine.agents["11"].state is AgentState.RESTING
    assert rec.engine.calls["c1"].state.value == "waiting"
    rec.advance(26)        # the rest is over: c1 first, it kept its place
    assert rec.offers() == [("c1", "11"), ("c1", "11")]


def test_an_outcome_reported_after_the_deadline_is_ignored():
    rec = engine_with(agent_text=agents("11"), routing="ring_margin: 5\n")
    rec(e.AgentLoggedIn(0, "11"))
    rec(e.CallArrived(1, "c1", "q"))
    rec.advance(21)
    rec(e.OfferAnswered(22, "c1", "11"))
    assert isinstance(rec.log[-1], d.Ignored)
    assert rec.engine.agents["11"].state is AgentState.RESTING


def test_the_deadline_spares_an_offer_answered_or_failed_in_time():
    rec = engine_with(routing="ring_margin: 5\nmissed_offer_rest: 0\n")
    rec(e.AgentLoggedIn(0, "11"))
    rec(e.CallArrived(1, "c1", "q"))
    rec(e.OfferAnswered(10, "c1", "11"))
    rec(e.OfferFailed(1, "nope", "11"))
    rec(e.CallArrived(12, "c2", "q"))          # nobody free: waits
    rec(e.AgentLoggedIn(14, "12"))              # c2 rings 12 from 14
    rec(e.OfferFailed(30, "c2", "12", "busy"))  # reported at 30, before 14 + 20; rung again
    rec(e.CallerHungUp(31, "c2"))
    rec.advance(100)
    assert rec.of(d.CancelOffer) == [d.CancelOffer(31, "c2", "12")]
    assert rec.engine.agents["11"].state is AgentState.ON_CALL
    assert [m.reason for m in rec.of(d.OfferMissed)] == ["busy"]


def test_deadline_expiries_do_not_auto_pause_the_agent():
    """The agent may never have rung: a withdrawn offer is not a no-answer."""
    rec = engine_with(agent_text=agents("11"), routing="ring_margin: 1\nauto_pause_after: 2\nmissed_offer_rest: 0\n")
    rec(e.AgentLoggedIn(0, "11"))
    rec(e.CallArrived(0, "c1", "q"))
    rec.advance(100)
    assert len(rec.of(d.CancelOffer)) == 6      # every 16 s: the caller is offered again
    assert rec.engine.agents["11"].state is AgentState.RINGING
    assert not [s for s in rec.of(d.AgentStatus) if s.state == "paused"]


def test_a_callback_has_no_max_wait_even_when_it_comes_back_after_it():
    """A caller whose max wait ended in the callback exit comes back with the original
    enqueue time and a number: it waits at that place, not exited a second time."""
    rec = engine_with(ONE_QUEUE + "  max_wait: 120\n  on_max_wait: callback\n", agents("11"))
    rec(e.CallArrived(200, "c1", "q", enqueued_at=50, callback="6900000000"))
    rec(e.CallArrived(201, "c2", "q"))
    rec(e.CallbackRequested(202, "c2", "6911111111"))     # asked while waiting: no max wait either
    rec.advance(5000)
    assert rec.of(d.ExitCall) == [] and set(rec.engine.calls) == {"c1", "c2"}
    rec(e.AgentLoggedIn(5001, "11"))
    assert rec.offers() == [("c1", "11")]


def test_callbacks_wait_while_they_cannot_be_dialled_and_callers_go_first():
    rec = engine_with(agent_text=agents("11"))
    rec(e.CallbackDialing(0, False))
    rec(e.CallArrived(1, "cb", "q", callback="6900000000"))
    rec(e.CallArrived(2, "caller", "q"))
    rec(e.AgentLoggedIn(3, "11"))
    assert rec.offers() == [("caller", "11")]            # the older callback is held, not the caller
    rec(e.OfferAnswered(4, "caller", "11"))
    rec(e.AgentHungUp(5, "caller"))
    rec(e.AgentReady(6, "11"))
    assert rec.offers() == [("caller", "11")]            # free, but no AMI: the callback waits
    rec(e.CallbackDialing(7, True))
    assert rec.offers() == [("caller", "11"), ("cb", "11")]


def test_a_withdrawn_callback_offer_is_not_the_agents_miss():
    rec = engine_with(agent_text=agents("11"), routing="auto_pause_after: 1\nmissed_offer_rest: 30\n")
    rec(e.CallArrived(0, "cb", "q", callback="6900000000"))
    rec(e.AgentLoggedIn(1, "11"))
    rec(e.CallbackDialing(2, False))
    rec(e.OfferWithdrawn(2, "cb", "11", "failed"))
    assert rec.of(d.OfferMissed) == [] and [x.call_id for x in rec.of(d.OfferWithdrawn)] == ["cb"]
    agent = rec.engine.agents["11"]
    assert agent.state is AgentState.AVAILABLE and agent.misses == 0
    rec(e.CallArrived(3, "caller", "q"))                 # the agent is free for callers at once
    assert rec.offers()[-1] == ("caller", "11")
    assert rec.engine.calls["cb"].state is CallState.WAITING


def test_at_most_the_callback_share_of_free_agents_rings_for_callbacks():
    rec = engine_with(agent_text=agents(*[str(n) for n in range(10, 18)]), routing="callback_share: 0.25\n")
    for n in range(6):
        rec(e.CallArrived(n, f"cb{n}", "q", callback=f"690000000{n}"))
    for agent_id in rec.engine.agents:
        rec(e.AgentLoggedIn(10, agent_id))
    ringing = [c for c in rec.engine.calls.values() if c.state is CallState.OFFERED]
    assert [c.id for c in ringing] == ["cb0", "cb1"]     # 2 of 8 free agents
    rec(e.CallArrived(11, "caller", "q"))
    assert rec.offers()[-1][0] == "caller"               # free agents stay for callers
    rec(e.OfferAnswered(12, "cb0", ringing[0].agent_id))  # 1 rings, 5 free: 1 of 6 is the share
    assert rec.offers()[-1][0] == "caller"
    rec(e.OfferAnswered(13, "cb1", ringing[1].agent_id))  # none rings: the next callback goes
    assert rec.offers()[-1][0] == "cb2"


def test_an_expired_callback_leaves_the_line():
    rec = engine_with(agent_text=agents("11"))
    rec(e.CallArrived(0, "cb", "q", callback="6900000000"))
    rec(e.CallArrived(1, "caller", "q"))
    rec(e.CallbackCancelled(2, "caller"))                # only a callback can be cancelled
    rec(e.CallbackCancelled(3, "cb", "expired"))
    assert [(x.call_id, x.reason, x.waited) for x in rec.of(d.CallbackCancelled)] == [("cb", "expired", 3)]
    assert set(rec.engine.calls) == {"caller"}
