"""``acd-sim replay``: a real day's callers and staffing through the simulator. The
"real day" is a simulated one written as records (and as an app_queue queue_log), 15 %
short of agents so that callers wait and hang up: the replay must come within 10 % of
its service level, ASA and abandon rate."""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace
from pathlib import Path

import pytest

from acd.config import load_config
from acd.config.sim import settings_for
from acd.reports.day_figures import day_figures
from acd.reports.queue_log_file import agent_of, day_from_lines, read_queue_log
from acd.reports.real_day import AgentChange, RealCall, RealDay, day_bounds, from_records
from sim.cli import main as acd_sim
from sim.figures import day_report
from sim.needed import erlang_c_agents
from sim.replay import relative_difference, replay
from tests.engine_helpers import make_config
from tests.real_days import LoggedDay, simulate_day, write_records

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "1555.yaml"
DAY = dt.date(2026, 12, 1)
AGENT = "'11': {pin: '1234', skills: {topic:a: 1, lang:el: 1, lang:en: 1}}\n"


@pytest.fixture(scope="module")
def short_day(tmp_path_factory):
    folder = tmp_path_factory.mktemp("replay")
    config = load_config(EXAMPLE)
    plan = replace(settings_for(config), calls_per_day=3000)
    staffing = tuple(max(1, round(n * 0.85)) for n in erlang_c_agents(config, plan))
    day = simulate_day(config, plan, seed=21, staffing=staffing)
    url = write_records(day, folder / "acd.sqlite3", DAY, config.daemon.timezone)
    log = folder / "queue_log"
    log.write_text(queue_log(day, config.daemon.timezone))
    return config, plan, day, url, log


def queue_log(day: LoggedDay, timezone: str) -> str:
    """The day as app_queue writes it: integer seconds, member names as app_queue's
    ``<name>`` for even agents and the dial interface for odd ones, an agent in two
    queues logged in to both (one agent, one presence)."""
    midnight = day_bounds(DAY, timezone)[0]

    def member(agent: str) -> str:
        return f"desk {agent}" if int(agent) % 2 == 0 else f"PJSIP/agent-{agent}"

    lines: list[tuple[int, int, str]] = []

    def add(at: float, text: str) -> None:
        lines.append((int(midnight + at), len(lines), text))

    for call in day.result.attempts:
        if call.enqueued is None or call.wait is None or call.outcome not in ("answered", "abandoned", "exited"):
            continue
        t, q = call.enqueued, call.queue
        add(t, f"{call.id}|{q}|NONE|ENTERQUEUE||2100000000|1")
        if call.outcome == "answered":
            assert call.agent is not None
            add(t + call.wait, f"{call.id}|{q}|{member(call.agent)}|CONNECT|{int(call.wait)}|peer|2")
            add(t + call.wait + call.talk,
                f"{call.id}|{q}|{member(call.agent)}|COMPLETEAGENT|{int(call.wait)}|{round(call.talk)}|1")
        else:
            event = "ABANDON" if call.outcome == "abandoned" else "EXITWITHTIMEOUT"
            add(t + call.wait, f"{call.id}|{q}|NONE|{event}|1|1|{int(call.wait)}")
    for agent, at, state, previous in day.changes:
        name = member(agent)
        if previous == "logged_out":
            add(at, f"MANAGER|pensions|{name}|ADDMEMBER|")
            add(at, f"MANAGER|welfare|{name}|ADDMEMBER|")
        if state == "logged_out":
            add(at, f"MANAGER|pensions|{name}|REMOVEMEMBER|")
            add(at, f"MANAGER|welfare|{name}|REMOVEMEMBER|")
        elif state == "paused":
            add(at, f"NONE|NONE|{name}|PAUSEALL|break")
        elif previous == "paused":
            add(at, f"NONE|NONE|{name}|UNPAUSEALL|")
    lines.sort()
    return "".join(f"{at}|{text}\n" for at, _, text in lines)


def _close(actual, replayed) -> dict[str, float]:
    return {name: relative_difference(actual.day[name].mean, replayed[name]) for name in
            ("service_level", "asa", "abandon_rate")}


def test_replaying_the_records_comes_within_ten_percent(short_day, tmp_path, capsys):
    config, plan, _, url, _ = short_day
    day = from_records(url, DAY, config.daemon.timezone)
    actual = day_figures(day, config, plan.target, plan.interval)
    rows, total = day_report(replay(config, plan, day))
    gaps = _close(actual, {n: getattr(total, n) for n in ("service_level", "asa", "abandon_rate")})
    print("replay from the records:", {k: f"{v:+.1%}" for k, v in gaps.items()},
          f"(day: SL {actual.day['service_level'].mean:.1%}, ASA {actual.day['asa'].mean:.1f} s, "
          f"abandon {actual.day['abandon_rate'].mean:.1%})")
    assert actual.day["asa"].mean > 10 and actual.day["abandon_rate"].mean > 0.05      # a day with queueing
    assert all(abs(gap) <= 0.10 for gap in gaps.values()), gaps
    assert acd_sim(["replay", "--config", str(EXAMPLE), "--date", DAY.isoformat(), "--records", url,
                    "--out", str(tmp_path), "--no-plots", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "service level and ASA within 10% of the day" in out and "(service level = answered within 20 s" in out
    assert (tmp_path / "figures.csv").exists()


def test_the_queue_log_gives_the_same_day_and_replays_as_close(short_day, capsys):
    config, plan, day, url, log = short_day
    warnings: list[str] = []
    from_log = read_queue_log(log, DAY, config.daemon.timezone, config, warn=warnings.append)
    recorded = from_records(url, DAY, config.daemon.timezone)
    assert warnings == []
    assert sorted((c.call_id, c.queue, c.outcome, c.agent_id) for c in from_log.calls) == \
        sorted((c.call_id, c.queue, c.outcome, c.agent_id) for c in recorded.calls)
    presence = {(c.agent_id, int(c.at)) for c in from_log.changes if c.state == "logged_out"}
    assert presence == {(c.agent_id, int(c.at)) for c in recorded.changes if c.state == "logged_out"}
    assert acd_sim(["replay", "--config", str(EXAMPLE), "--date", DAY.isoformat(), "--queue-log", str(log),
                    "--quiet"]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    print(out)
    assert "within 10% of the day" in out


def test_a_paused_agent_takes_no_call_until_unpaused():
    config = make_config("q:\n  requires: {topic:a: 1}\n  wrapup: 0\n", AGENT)
    plan = replace(settings_for(config), patience=None)
    start = day_bounds(DAY, config.daemon.timezone)[0]
    day = RealDay(DAY, config.daemon.timezone,
                  [RealCall("c1", "q", start + 200, "answered", start + 205, start + 300, talk_time=95.0)],
                  [AgentChange("11", start, "available"), AgentChange("11", start + 100, "paused"),
                   AgentChange("11", start + 400, "available")])
    result = replay(config, plan, day)
    (call,) = result.attempts
    assert call.outcome == "answered" and call.wait == pytest.approx(200 + plan.answer_delay)


def test_unknown_queues_and_agents_are_named_not_guessed():
    config = make_config("q:\n  requires: {topic:a: 1}\n", AGENT)
    start = day_bounds(DAY, config.daemon.timezone)[0]
    day = RealDay(DAY, config.daemon.timezone,
                  [RealCall("c1", "gone", start + 10, "abandoned", None, start + 20)],
                  [AgentChange("99", start, "available")])
    said: list[str] = []
    result = replay(config, settings_for(config), day, warn=said.append)
    assert result.attempts == []
    assert any("queue 'gone'" in s for s in said) and any("agent '99'" in s for s in said)


def test_the_parser_reads_app_queues_member_names_and_names_bad_lines():
    config = load_config(EXAMPLE)
    assert agent_of("PJSIP/agent-2001", config) == "2001"
    assert agent_of("desk 2002", config) == "2002"
    assert agent_of("english 2003", config) == "2003"      # app_queue's "<team> <id>"
    assert agent_of("2004", config) == "2004"
    assert agent_of("PJSIP/nobody", config) is None
    start = int(day_bounds(DAY, config.daemon.timezone)[0])
    said: list[str] = []
    day = day_from_lines([
        f"{start + 5}|c1|pensions|NONE|ENTERQUEUE||2100000000|1\n",
        "garbage\n",
        f"{start + 9}|c1|pensions|english 2003|CONNECT|4|peer|3\n",
        f"{start + 99}|c1|pensions|english 2003|BLINDTRANSFER|600|from-internal|4|90|1\n",
        f"noon|c2|pensions|NONE|ENTERQUEUE||x|1\n",
        f"{start + 10}|c3|pensions|NONE|ENTERQUEUE||x|1\n",
        f"{start + 40}|c3|pensions|NONE|EXITWITHKEY|5|1|1|30\n",
        f"{start + 50}|MANAGER|pensions|Stranger|ADDMEMBER|\n",
    ], DAY, config.daemon.timezone, config, warn=said.append, name="queue_log")
    assert [(c.call_id, c.outcome, c.agent_id, c.talk_time) for c in day.calls] == \
        [("c1", "answered", "2003", 90.0), ("c3", "exited", None, None)]
    assert said[0].startswith("queue_log:2: ") and "at least 5" in said[0]
    assert said[1].startswith("queue_log:5: time 'noon'")
    assert "'Stranger' is no agent of the config" in said[2]
    assert not math.isnan(day.calls[0].answered_at or math.nan)


def test_a_free_agent_of_another_topic_does_not_make_a_callers_queueing_its_ring_time():
    """Found replaying a demo day (7 queues): the ring time came out 14 s where the
    phones rang about a second, because a caller counted as "offered at once" whenever
    any agent was free, though only agents of another topic were; its whole wait in line
    was taken for the ring. Only a free agent who could take the call counts."""
    from sim.replay import ring_time

    config = make_config("q:\n  requires: {topic:a: 1}\n  wrapup: 0\n"
                         "r:\n  requires: {topic:b: 1}\n  wrapup: 0\n",
                         AGENT + "'12': {pin: '1234', skills: {topic:b: 1, lang:el: 1}}\n")
    start = day_bounds(DAY, config.daemon.timezone)[0]
    rung = [RealCall(f"c{i}", "q", start + 100 * i, "answered", start + 100 * i + 0.7, start + 100 * i + 30,
                     talk_time=29.3, agent_id="11") for i in range(1, 8)]
    # agent 11 busy, agent 12 (topic b only) free: these q callers queued 20 s each
    queued = [RealCall(f"w{i}", "q", start + 2000 + 100 * i, "answered", start + 2020 + 100 * i,
                       start + 2050 + 100 * i, talk_time=30.0, agent_id="11") for i in range(1, 26)]
    changes = [AgentChange("11", start, "available"), AgentChange("12", start, "available"),
               AgentChange("11", start + 1999, "on_call")]
    day = RealDay(DAY, config.daemon.timezone, rung + queued, changes)
    assert ring_time(day, config) == pytest.approx(0.7)
    # a queue_log's day: no on-call state, agent 11 "available" throughout, but on one long
    # call (rung 0.7 s) while the w callers came in: its answered call says so
    busy = [RealCall("x1", "q", start + 1989.3, "answered", start + 1990, start + 5000, talk_time=3010.0,
                     agent_id="11")]
    from_log = RealDay(DAY, config.daemon.timezone, rung + busy + queued, changes[:2])
    assert ring_time(from_log, config) == pytest.approx(0.7)


def test_the_replay_rings_as_long_as_the_day_did():
    """On a day without queueing the ASA is the ring time: taken from the day (calls
    answered while an agent was free), not from the model's default."""
    from sim.replay import ring_time

    config = make_config("q:\n  requires: {topic:a: 1}\n  wrapup: 0\n", AGENT)
    start = day_bounds(DAY, config.daemon.timezone)[0]
    calls = [RealCall(f"c{i}", "q", start + 100 * i, "answered", start + 100 * i + 0.7, start + 100 * i + 30,
                      talk_time=29.3) for i in range(1, 8)]
    day = RealDay(DAY, config.daemon.timezone, calls, [AgentChange("11", start, "available")])
    assert ring_time(day, config) == pytest.approx(0.7)
    result = replay(config, replace(settings_for(config), answer_delay=5.0), day)
    assert all(c.wait == pytest.approx(0.7) for c in result.attempts)
