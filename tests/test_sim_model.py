"""The simulated day: the story a planner relies on (trunk limit, shifts, routing by
skill through the engine, patience, redials, first-contact resolution, repeatability)."""
from __future__ import annotations

import random
from collections import Counter

import pytest

from acd.config import load_config_text
from acd.config.model import Config
from acd.config.sim import settings_for
from sim.load import DAY, arrival_times, chooser
from sim.model import CallCentreDay, DayResult
from sim.roster import on_duty, rotation


def centre(sim: str, agents: str | None = None, lines: int = 100) -> Config:
    agents = agents or """\
  '11': {pin: '1234', skills: {topic:a: 1, lang:el: 1, lang:en: 1}}
  '12': {pin: '1234', skills: {topic:a: 1, lang:el: 1}}
  '13': {pin: '1234', skills: {topic:a: 1, lang:el: 1}}
"""
    return load_config_text(f"""\
service: {{name: t, languages: [el, en], lines: {lines}}}
skills: {{topic:a: A, lang:el: Greek, lang:en: English}}
queues:
  q: {{requires: {{topic:a: 1}}, wrapup: 5}}
agents:
{agents}sim:
{sim}""", "t.yaml")


def simulate(config: Config, seed: int = 3, **kwargs) -> DayResult:
    return CallCentreDay(config, settings_for(config), seed, **kwargs).run()


QUIET_DAY = """\
  calls_per_day: 400
  interval: 60
  profile: {"08:00": 1, "16:00": 0}
  talk_time: {distribution: exponential, mean: 120}
  patience: none
  redial: {probability: 0}
"""


def test_callers_beyond_the_trunk_lines_get_busy_and_are_counted():
    config = centre(QUIET_DAY.replace("mean: 120", "mean: 3000"), lines=2)
    day = simulate(config)
    outcomes = Counter(a.outcome for a in day.attempts)
    assert outcomes["blocked"] > 0.5 * len(day.attempts)
    # never more calls in the system than lines: replay the answered calls' line use
    spans = sorted([(a.arrived, 1) for a in day.attempts if a.outcome != "blocked"]
                   + [(a.enqueued + a.wait + a.talk, -1) for a in day.attempts if a.outcome == "answered"])
    in_system = peak = 0
    for _, change in spans:
        in_system += change
        peak = max(peak, in_system)
    assert peak <= 2


def test_without_trunk_pressure_nobody_is_blocked():
    day = simulate(centre(QUIET_DAY, lines=1000))
    assert not any(a.outcome == "blocked" for a in day.attempts)
    assert Counter(a.outcome for a in day.attempts)["answered"] == len(day.attempts)


def test_english_callers_reach_only_agents_who_speak_english():
    config = centre(QUIET_DAY + "  languages: {el: 1, en: 1}\n")
    day = simulate(config)
    english = [a for a in day.attempts if a.language == "en" and a.outcome == "answered"]
    greek = [a for a in day.attempts if a.language == "el" and a.outcome == "answered"]
    assert len(english) > 50 and len(greek) > 50
    assert {a.agent for a in english} == {"11"}
    assert {a.agent for a in greek} > {"12", "13"}


def test_calls_arrive_only_in_the_intervals_of_the_profile():
    day = simulate(centre(QUIET_DAY))
    assert day.attempts and all(8 * 3600 <= a.arrived < 16 * 3600 for a in day.attempts)


def test_agents_work_only_in_their_shifts():
    agents = """\
  '11': {pin: '1234', skills: {topic:a: 1, lang:el: 1, lang:en: 1}, shifts: ["08:00-12:00"]}
  '12': {pin: '1234', skills: {topic:a: 1, lang:el: 1, lang:en: 1}, shifts: ["12:00-16:00"]}
"""
    day = simulate(centre(QUIET_DAY + "  languages: {el: 1}\n", agents))
    for attempt in day.attempts:
        if attempt.outcome == "answered":
            answered_at = attempt.enqueued + attempt.wait
            assert attempt.agent == ("11" if answered_at < 12 * 3600 else "12")
    assert day.staffed_agents[7] == 0 and day.staffed_agents[8] == 1 and day.staffed_agents[16] == 0
    assert day.staffed_seconds[7] == 0.0


def test_a_logout_at_shift_end_waits_for_the_call_to_finish():
    agents = """\
  '11': {pin: '1234', skills: {topic:a: 1, lang:el: 1}, shifts: ["08:00-09:00"]}
  '12': {pin: '1234', skills: {topic:a: 1, lang:el: 1}, shifts: ["09:00-16:00"]}
"""
    sim = """\
  calls_per_day: 40
  interval: 60
  profile: {"08:00": 1, "09:00": 0}
  talk_time: {distribution: constant, mean: 2400}
  patience: none
  redial: {probability: 0}
"""
    day = simulate(centre(sim + "  languages: {el: 1}\n", agents, lines=1000))
    by_11 = [a for a in day.attempts if a.agent == "11"]
    late = [a for a in by_11 if a.enqueued + a.wait + a.talk > 9 * 3600]
    assert late, "agent 11 was still on a call at the end of the shift"
    assert all(a.enqueued + a.wait < 9 * 3600 for a in by_11), "no new call after the shift"
    # agent 12 is staffed all of 09:00-10:00; agent 11 adds the overrun of the last call
    assert 3600 < day.staffed_seconds[9] < 7200


def test_impatient_callers_abandon_and_some_redial():
    sim = """\
  calls_per_day: 3000
  interval: 60
  profile: {"08:00": 1, "12:00": 0}
  talk_time: {distribution: exponential, mean: 300}
  patience: {distribution: exponential, mean: 30}
  redial: {probability: 1, delay: {distribution: constant, mean: 60}, max_attempts: 2}
  languages: {el: 1}
"""
    day = simulate(centre(sim, lines=1000))
    outcomes = Counter(a.outcome for a in day.attempts)
    first_abandons = [a for a in day.attempts if a.outcome == "abandoned" and a.attempt == 1]
    redials = [a for a in day.attempts if a.attempt == 2]
    assert outcomes["abandoned"] > 100
    assert len(redials) == len(first_abandons), "every first-try abandon redials once (probability 1)"
    assert not any(a.attempt > 2 for a in day.attempts), "max_attempts caps the redials"
    for redial in redials:
        assert redial.arrived >= 8 * 3600 + 60


def test_a_share_of_answered_calls_is_escalated_to_the_back_office():
    sim = """\
  calls_per_day: 3000
  talk_time: {distribution: exponential, mean: 30}
  profile: {"00:00": 1}
  first_contact: 0.85
  languages: {el: 1}
"""
    day = simulate(centre(sim, lines=1000))
    answered = [a for a in day.attempts if a.outcome == "answered"]
    share = sum(a.escalated for a in answered) / len(answered)
    assert 0.12 < share < 0.18
    assert not any(a.escalated for a in day.attempts if a.outcome != "answered")


def test_the_same_seed_gives_the_same_day_and_another_seed_another():
    config = centre(QUIET_DAY.replace("patience: none", "patience: 60"))
    first = [(a.arrived, a.outcome, a.wait) for a in simulate(config, seed=5).attempts]
    again = [(a.arrived, a.outcome, a.wait) for a in simulate(config, seed=5).attempts]
    other = [(a.arrived, a.outcome, a.wait) for a in simulate(config, seed=6).attempts]
    assert first == again
    assert first != other


def test_the_garbage_collector_is_paused_only_while_a_day_runs():
    """The day runs without the cyclic collector (sim.model._young_objects_only), and
    gives it back as it found it, even when the day fails."""
    import gc

    seen = []
    config = centre(QUIET_DAY)
    day = CallCentreDay(config, settings_for(config), 1)
    day.run(progress=lambda _at: seen.append(gc.isenabled()))
    assert seen and not any(seen) and gc.isenabled()

    def broken(_at: float) -> None:
        raise RuntimeError("a progress bar that fails")

    with pytest.raises(RuntimeError):
        CallCentreDay(config, settings_for(config), 1).run(progress=broken)
    assert gc.isenabled()
    gc.disable()
    try:
        CallCentreDay(config, settings_for(config), 1).run()
        assert not gc.isenabled()            # a caller who had switched it off keeps it off
    finally:
        gc.enable()


def test_the_engine_never_has_to_ignore_what_the_model_tells_it():
    sim = QUIET_DAY.replace("calls_per_day: 400", "calls_per_day: 5000").replace("patience: none", "patience: 40")
    day = simulate(centre(sim + "  languages: {el: 3, en: 1}\n"))
    assert day.ignored == 0


def test_occupancy_counts_talk_and_wrap_up_against_staffed_time():
    sim = QUIET_DAY.replace('profile: {"08:00": 1, "16:00": 0}', 'profile: {"00:00": 1}') + "  answer_delay: 0\n"
    day = simulate(centre(sim + "  languages: {el: 1}\n", lines=1000))
    answered = [a for a in day.attempts if a.outcome == "answered"]
    expected_busy = sum(a.talk for a in answered) + 5 * len(answered)   # wrap-up 5 s each
    assert sum(day.busy_seconds) == pytest.approx(expected_busy, rel=0.01)
    assert sum(day.staffed_seconds) == pytest.approx(3 * DAY)


def test_unknown_trunk_size_is_refused():
    with pytest.raises(ValueError, match="at least one line"):
        CallCentreDay(centre(QUIET_DAY), settings_for(centre(QUIET_DAY)), 1, lines=0)


# -- load and roster ----------------------------------------------------------------------------

def test_arrivals_follow_the_profile_in_number_and_place():
    profile = [0.0] * 24
    profile[10] = 0.75
    profile[11] = 0.25
    times = arrival_times(40_000, profile, random.Random(1))
    in_ten = sum(1 for t in times if 10 * 3600 <= t < 11 * 3600)
    in_eleven = sum(1 for t in times if 11 * 3600 <= t < 12 * 3600)
    assert in_ten + in_eleven == len(times)
    assert in_ten == pytest.approx(30_000, abs=4 * 30_000 ** 0.5)
    assert in_eleven == pytest.approx(10_000, abs=4 * 10_000 ** 0.5)
    assert times == sorted(times)


def test_choices_follow_their_shares():
    pick = chooser({"a": 0.7, "b": 0.2, "c": 0.1}, random.Random(2))
    counts = Counter(pick() for _ in range(20_000))
    assert counts["a"] == pytest.approx(14_000, abs=300) and counts["c"] == pytest.approx(2_000, abs=200)


def test_a_small_head_count_covers_every_skill_set_before_doubling_any():
    agents = "".join(f"  '{20 + n}': {{pin: '1234', skills: {{topic:a: 1, lang:el: 1}}}}\n" for n in range(8))
    agents += "  '40': {pin: '1234', skills: {topic:a: 1, lang:el: 1, lang:en: 1}}\n"
    config = centre(QUIET_DAY, agents)
    order = rotation(config.agents)
    assert set(order[:2]) & {"40"}, "the lone English speaker is among the first two"
    duty = on_duty(config.agents, 60, [2] * 24)
    assert all(len(ids) == 2 and "40" in ids for ids in duty)


def test_a_head_count_larger_than_the_agents_is_refused():
    config = centre(QUIET_DAY)
    with pytest.raises(ValueError, match="asks for 5 agents"):
        on_duty(config.agents, 60, [5] * 24)
