"""Live figures follow acd.metrics' definitions over the engine's real decisions."""
from __future__ import annotations

from acd.live_figures import LiveFigures
from acd.engine import Engine
from acd.engine import events as e
from tests.engine_helpers import make_config

QUEUE = "q:\n  requires: {topic:a: 1}\n  wrapup: 0\n  announcements: {first_after: 0, every: 0}\n"


def test_answered_abandoned_and_service_level_come_from_finished_calls():
    engine = Engine(make_config(QUEUE, "'11': {pin: '1234', skills: {topic:a: 1}}\n"))
    figures = LiveFigures(engine.config)
    for event in (e.CallArrived(0, "fast", "q"), e.CallArrived(1, "slow", "q"), e.CallArrived(2, "gone", "q"),
                  e.AgentLoggedIn(5, "11"), e.OfferAnswered(6, "fast", "11"), e.CallerHungUp(12, "gone"),
                  e.AgentHungUp(60, "fast"), e.OfferAnswered(61, "slow", "11"), e.CallerHungUp(90, "slow")):
        figures(engine.handle(event))
    report = figures.figures(threshold_s=20)
    assert (report.offered, report.answered, report.abandoned) == (3, 2, 1)
    # answered within 20 s: "fast" (6 s) but not "slow" (60 s); the abandon after 10 s counts against
    assert report.answered_within_threshold == 1
    assert report.service_level == 1 / 3
    assert report.asa == (6 + 60) / 2


def test_a_call_still_talking_is_not_yet_an_outcome():
    engine = Engine(make_config(QUEUE, "'11': {pin: '1234', skills: {topic:a: 1}}\n"))
    figures = LiveFigures(engine.config)
    for event in (e.AgentLoggedIn(0, "11"), e.CallArrived(1, "c", "q"), e.OfferAnswered(2, "c", "11")):
        figures(engine.handle(event))
    assert figures.figures().offered == 0


def test_aht_is_talk_plus_the_queues_wrapup_as_in_the_records_and_the_simulator():
    # acd.metrics defines AHT as talk + wrap-up; the live figures gave talk alone
    config = make_config(QUEUE.replace("wrapup: 0", "wrapup: 30"), "'11': {pin: '1234', skills: {topic:a: 1}}\n")
    engine = Engine(config)
    figures = LiveFigures(config)
    for event in (e.AgentLoggedIn(0, "11"), e.CallArrived(1, "c", "q"), e.OfferAnswered(6, "c", "11"),
                  e.AgentHungUp(60, "c")):
        figures(engine.handle(event))
    assert figures.figures().aht == 54 + 30


def test_aht_follows_a_reload_of_the_wrapup():
    config = make_config(QUEUE, "'11': {pin: '1234', skills: {topic:a: 1}}\n")
    engine = Engine(config)
    figures = LiveFigures(config)
    reloaded = make_config(QUEUE.replace("wrapup: 0", "wrapup: 15"), "'11': {pin: '1234', skills: {topic:a: 1}}\n")
    for event in (e.AgentLoggedIn(0, "11"), e.CallArrived(1, "c", "q"), e.OfferAnswered(6, "c", "11")):
        figures(engine.handle(event))
    figures(engine.reconfigure(reloaded))
    figures.reconfigure(reloaded)
    figures(engine.handle(e.AgentHungUp(60, "c")))
    assert figures.figures().aht == 54 + 15
