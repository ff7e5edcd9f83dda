"""The simulated day keeps the config's opening hours (issue 13): callers whose queue is
closed take the closed path, not an agent, and the plan staffs nobody for them."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from acd.config import ConfigError, load_config_text
from acd.config.sim import settings_for
from sim.cli import main
from sim.model import CallCentreDay
from sim.needed import erlang_c_agents
from sim.opening import open_minutes, representative_date
from sim.plan import search

# qa opens 09-12 on weekdays, 10-11 at weekends, closes on holidays; qb is 24/7
CONFIG = """\
service: {name: hours, languages: [el], lines: 200}
skills: {topic:a: A, topic:b: B}
holidays:
  gr: {builtin: greece}
schedules:
  office:
    weekly: {mon-fri: "09:00-12:00", sat-sun: "10:00-11:00"}
    holidays: [gr]
queues:
  qa: {requires: {topic:a: 1}, wrapup: 0, schedule: office, announcements: {first_after: 0, every: 0}}
  qb: {requires: {topic:b: 1}, wrapup: 0, always_open: true, announcements: {first_after: 0, every: 0}}
teams:
  all: {ids: 100-119, skills: {topic:a: 1, topic:b: 1}}
sim:
  calls_per_day: 960
  interval: 60
  profile: {"08:00": 1, "14:00": 0}
  topics: {qa: 3, qb: 1}
  talk_time: {distribution: exponential, mean: 120}
  redial: {probability: 0}
"""


@pytest.fixture(scope="module")
def config():
    return load_config_text(CONFIG, "hours.yaml")


def test_day_types_are_dates_of_their_kind(config):
    assert representative_date(config, "weekday").weekday() == 2
    assert representative_date(config, "saturday").weekday() == 5
    holiday = representative_date(config, "holiday")
    assert holiday == date(2027, 1, 1) and holiday.weekday() < 5


def test_callers_reach_a_queue_only_in_its_hours(config):
    day = CallCentreDay(config, settings_for(config), 3, day=representative_date(config, "weekday")).run()
    for call in day.attempts:
        hour = (call.arrived + call.ivr) / 3600
        if call.queue == "qb" or 9 <= hour < 12:
            assert call.outcome != "closed"
        else:
            assert call.outcome == "closed" and call.agent is None
    assert any(c.outcome == "closed" for c in day.attempts) and any(c.outcome == "answered" for c in day.attempts)


def test_on_a_holiday_only_the_24_7_queue_takes_calls(config):
    day = CallCentreDay(config, settings_for(config), 3, day=representative_date(config, "holiday")).run()
    assert {c.queue for c in day.attempts if c.outcome != "closed"} == {"qb"}
    assert all(c.outcome == "closed" for c in day.attempts if c.queue == "qa")


def test_the_plan_staffs_only_the_open_hours_load(config):
    settings = settings_for(config)
    weekday = search(config, settings, 2, day=representative_date(config, "weekday")).staffing
    holiday = search(config, settings, 2, day=representative_date(config, "holiday")).staffing
    # 08-09 and 12-14 only qb's quarter of the calls; 09-12 all of them
    assert weekday[8] < weekday[9] and weekday[11] > weekday[13]
    assert holiday[9] < weekday[9] and holiday[9] == holiday[8]


def test_run_reports_closed_calls_and_the_date(tmp_path: Path, capsys):
    path = tmp_path / "hours.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    out = tmp_path / "o"
    assert main(["run", "--config", str(path), "--date", "2027-01-06", "--replications", "2",
                 "--out", str(out), "--quiet", "--no-plots"]) == 0
    document = json.loads((out / "figures.json").read_text())
    assert document["date"] == "2027-01-06" and document["weekday"] == "Wednesday"   # Epiphany
    # qa (3/4 of the 960 calls) is closed all day, qb (1/4) is offered
    assert 600 < document["day"]["closed"] < 840 and 160 < document["day"]["offered"] < 330
    assert "closed (hours, holidays)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["run", "--config", str(path), "--day-type", "holiday", "--date", "2027-01-06", "--out", str(out)])


def test_a_small_shift_is_of_agents_who_serve_the_open_queues():
    # at night only the 24/7 queue is open: two agents on duty must be two who serve it
    text = CONFIG.replace("  all: {ids: 100-119, skills: {topic:a: 1, topic:b: 1}}",
                          "  a: {ids: 100-109, skills: {topic:a: 1}}\n"
                          "  b: {ids: 200-209, skills: {topic:b: 1}}")
    config = load_config_text(text, "teams.yaml")
    model = CallCentreDay(config, settings_for(config), 1, staffing=(2,) * 24,
                          day=representative_date(config, "weekday"))
    assert all(agent.startswith("2") for agent in model.roster[3])     # 03:00: qb only
    assert model.roster[10] == frozenset({"100", "200"})                 # 10:00: both open


def test_each_day_type_brings_its_own_volume(tmp_path: Path):
    path = tmp_path / "volumes.yaml"
    path.write_text(CONFIG + "  day_volumes: {saturday: 240, holiday: 100}\n", encoding="utf-8")
    totals = {}
    for option in (["--day-type", "saturday"], ["--date", "2027-01-01"], ["--day-type", "weekday"]):
        out = tmp_path / option[1]
        assert main(["run", "--config", str(path), *option, "--replications", "2", "--out", str(out),
                     "--quiet", "--no-plots"]) == 0
        document = json.loads((out / "figures.json").read_text())
        totals[document["day_type"]] = document["day"]["offered"] + document["day"]["closed"]
        assert document["calls_per_day"] == {"saturday": 240, "holiday": 100, "weekday": 960}[document["day_type"]]
    assert 180 < totals["saturday"] < 300 and 60 < totals["holiday"] < 140 and 850 < totals["weekday"] < 1070


def test_a_day_volume_for_an_unknown_day_type_is_refused():
    with pytest.raises(ConfigError, match="friday"):
        load_config_text(CONFIG + "  day_volumes: {friday: 240}\n", "bad.yaml")


def test_erlang_c_needs_no_agents_for_a_closed_queue(config):
    settings = settings_for(config)
    always = erlang_c_agents(config, settings)
    holiday = erlang_c_agents(config, settings, opening=open_minutes(config, representative_date(config, "holiday")))
    assert holiday[9] < always[9]             # on a holiday only qb's quarter of the calls
    assert holiday[9] == erlang_c_agents(config, replace(settings, calls_per_day=240, topics={"qb": 1.0}))[9]
