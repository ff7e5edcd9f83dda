"""What agents did and why each call went where it went: one structured line each."""
from __future__ import annotations

import logging

from acd.daemon.decision_log import DecisionLog
from acd.engine import Engine
from acd.engine import events as e
from tests.engine_helpers import make_config

QUEUE = "q:\n  requires: {topic:a: 2}\n  wrapup: 0\n  max_wait: 60\n  announcements: {first_after: 0, every: 0}\n"
AGENTS = "'11': {pin: '1234', skills: {topic:a: 3}}\n'12': {pin: '9999', skills: {topic:a: 5}}\n"


def run(engine: Engine, *events: e.Event) -> None:
    log = DecisionLog(engine)
    for event in events:
        log(engine.handle(event))


def lines(caplog) -> list[tuple[str, dict]]:
    keep = ("agent", "state", "previous", "reason", "call", "queue", "strategy", "needs", "levels", "score",
            "skills", "why", "waited", "exit")
    return [(r.getMessage(), {k: getattr(r, k) for k in keep if hasattr(r, k)})
            for r in caplog.records if r.name == "acd.decisions"]


def test_agents_logins_pauses_and_auto_pauses_are_logged(caplog):
    caplog.set_level(logging.INFO, logger="acd.decisions")
    engine = Engine(make_config(QUEUE, AGENTS, routing="auto_pause_after: 1\n"))
    run(engine, e.AgentLoggedIn(0, "11"), e.AgentPaused(1, "11", "break"), e.AgentUnpaused(2, "11"),
        e.CallArrived(3, "c1", "q"), e.OfferFailed(4, "c1", "11", "no_answer"), e.AgentLoggedOut(5, "12"))
    said = [(m, f.get("agent"), f.get("reason")) for m, f in lines(caplog) if m.startswith("agent")]
    assert said == [("agent logged in", "11", None), ("agent paused", "11", "break"),
                    ("agent unpaused", "11", None), ("agent auto-paused", "11", "auto:no-answer")]


def test_each_routing_decision_says_which_agent_and_why(caplog):
    caplog.set_level(logging.INFO, logger="acd.decisions")
    engine = Engine(make_config(QUEUE, AGENTS))
    run(engine, e.AgentLoggedIn(0, "11"), e.AgentLoggedIn(0, "12"), e.CallArrived(10, "c1", "q"),
        e.CallArrived(11, "c2", "q"), e.CallArrived(12, "c3", "q"), e.CallerHungUp(20, "c3"))
    routed = [f for m, f in lines(caplog) if m == "call routed"]
    assert [(f["call"], f["agent"]) for f in routed] == [("c1", "12"), ("c2", "11")]
    assert routed[0]["needs"] == {"topic:a": 2} and routed[0]["levels"] == {"topic:a": 5}
    assert routed[0]["strategy"] == engine.config.queues["q"].strategy and routed[0]["waited"] == 0
    # the score that ranked 12 before 11: its level 5 against 3 on the line's skill
    assert [(f["score"], f["skills"]) for f in routed] == [(5, 1), (3, 1)]
    assert routed[0]["why"] == f"best match, then {engine.config.queues['q'].strategy}"
    gone = [f for m, f in lines(caplog) if m == "caller abandoned"]
    assert gone == [{"call": "c3", "queue": "q", "waited": 8}]


def test_nothing_is_built_when_info_is_off(caplog):
    caplog.set_level(logging.WARNING, logger="acd.decisions")
    engine = Engine(make_config(QUEUE, AGENTS))
    run(engine, e.AgentLoggedIn(0, "11"), e.CallArrived(1, "c1", "q"))
    assert lines(caplog) == []


def test_the_end_of_wrap_up_is_logged_whether_the_agent_ends_it_or_its_time_runs_out(caplog):
    caplog.set_level(logging.INFO, logger="acd.decisions")
    engine = Engine(make_config(QUEUE.replace("wrapup: 0", "wrapup: 30"), AGENTS))
    run(engine, e.AgentLoggedIn(0, "11"), e.CallArrived(1, "c1", "q"), e.OfferAnswered(2, "c1", "11"),
        e.CallerHungUp(10, "c1"), e.AgentReady(12, "11"))
    ended = [f for m, f in lines(caplog) if m == "agent wrap-up ended"]
    assert ended == [{"agent": "11", "state": "available", "previous": "wrap_up", "reason": None}]
    # routing's own changes (ringing, on call, into wrap-up) are not agent lines
    assert [m for m, _ in lines(caplog) if m.startswith("agent")] == ["agent logged in", "agent wrap-up ended"]
