"""``acd report``: a live day from the call records, in the very columns and by the very
definitions of ``acd-sim run``'s figures.csv. The "live" day is a simulated one written
as records, so every figure the report prints has a known right answer: the simulator's
own report of that day."""
from __future__ import annotations

import csv
import functools
import datetime as dt
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import create_engine, insert

from acd.cli import main as acd
from acd.config import load_config
from acd.config.sim import settings_for
from acd.metrics import service_level_definition
from acd.records.schema import agent_events, calls, metadata
from acd.reports.real_day import AgentChange, agent_times, boundaries, day_bounds, labels
from sim.figures import day_report, queue_report
from sim.output import write_csv
from sim.replications import summarise
from tests.real_days import simulate_day, write_records

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "1555.yaml"
DAY = dt.date(2026, 12, 1)
#: figures the records hold (the rest are the simulator's own or NaN live)
RECORDED = ("offered", "answered", "abandoned", "short_abandoned", "exited", "service_level_pct", "asa_s", "aht_s",
            "abandon_rate_pct", "occupancy_pct", "longest_wait_s", "escalated", "waited")


@pytest.fixture(scope="module")
def real_day(tmp_path_factory):
    """(config file, the simulated day, its records' URL, the config's records path)."""
    folder = tmp_path_factory.mktemp("records")
    config = load_config(EXAMPLE)
    plan = replace(settings_for(config), calls_per_day=3000)
    day = simulate_day(config, plan, seed=7)
    url = write_records(day, folder / "acd.sqlite3", DAY, config.daemon.timezone)
    return config, plan, day, url


def _report(url: str, *args: str) -> list[str]:
    return ["report", "--config", str(EXAMPLE), "--date", DAY.isoformat(), "--database-url", url, "--quiet", *args]


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_report_has_the_simulators_columns_and_its_figures(real_day, tmp_path, capsys):
    config, plan, day, url = real_day
    assert acd(_report(url, "--out", str(tmp_path), "--format", "csv")) == 0
    simulated = summarise([day_report(day.result)], queue_days=[queue_report(day.result)])
    write_csv(simulated, tmp_path / "sim.csv", plan.target.definition)
    header = (tmp_path / "sim.csv").read_text().splitlines()[0]
    assert (tmp_path / "figures.csv").read_text().splitlines()[0] == header
    assert capsys.readouterr().out.splitlines()[0] == header       # --format csv prints the same file
    live, sim = _csv(tmp_path / "figures.csv"), _csv(tmp_path / "sim.csv")
    assert [r["interval"] for r in live] == [r["interval"] for r in sim] == [*labels(30), "day"]
    for ours, theirs in zip(live, sim):
        for column in RECORDED:
            if theirs[column] == "":
                assert ours[column] == "", (ours["interval"], column)
            else:
                assert float(ours[column]) == pytest.approx(float(theirs[column]), rel=1e-6, abs=1e-6), \
                    (ours["interval"], column)
        if theirs["staffed_agents"]:
            # the roster's agents on duty; live, the mean staffed: an agent finishing a call
            # after the shift's end still counts, so it may be a little above the roster
            assert float(theirs["staffed_agents"]) <= float(ours["staffed_agents"]) \
                <= float(theirs["staffed_agents"]) * 1.05 + 0.5, ours["interval"]
    assert float(live[-1]["offered"]) == sum(1 for c in day.result.attempts if c.outcome != "closed")
    assert live[-1]["service_level_definition"] == service_level_definition(20, 5)
    assert live[-1]["redials"] == ""            # the records cannot know it: empty, never 0
    for name in ("figures.json", "queues.csv", "calls.png", "service.png", "staffing.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    meta = json.loads((tmp_path / "figures.json").read_text())
    assert meta["date"] == DAY.isoformat() and meta["service_level_definition"] == plan.target.definition
    queues = {row["queue"]: row for row in _csv(tmp_path / "queues.csv")}
    assert sum(int(float(row["offered"])) for row in queues.values()) == float(live[-1]["offered"])


def test_one_queue_and_the_json_and_table_formats(real_day, capsys):
    config, plan, day, url = real_day
    queue = "pensions"
    assert acd(_report(url, "--queue", queue, "--format", "json")) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["day"]["offered"] == sum(1 for c in day.result.attempts
                                             if c.queue == queue and c.outcome not in ("closed", "blocked"))
    assert document["day"]["occupancy"] is None      # agents serve several queues: no agents' figures
    assert acd(_report(url, "--format", "table")) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["interval", "offered", "answered"]
    assert table[-2].startswith("day") and table[-1] == f"service level = {plan.target.definition}"


def test_a_call_is_counted_on_the_services_local_day_and_clock(tmp_path, capsys):
    """23:30 UTC on 30 November is 01:30 on 1 December in Athens."""
    path = tmp_path / "acd.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    at = dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.timezone.utc).timestamp()
    with engine.begin() as conn:
        conn.execute(insert(calls), [{"call_id": "c1", "queue": "pensions", "enqueued_at": at, "requirements": {},
                                      "outcome": "answered", "answered_at": at + 10, "ended_at": at + 100,
                                      "waited": 10, "talk_time": 90}])
        conn.execute(insert(agent_events), [{"agent_id": "2001", "at": at - 60, "state": "available",
                                             "previous": "logged_out"}])
    engine.dispose()
    assert acd(_report(f"sqlite+aiosqlite:///{path}", "--format", "json")) == 0
    intervals = json.loads(capsys.readouterr().out)["intervals"]
    busy = [row["interval"] for row in intervals if row["offered"]]
    assert busy == ["01:30"]
    one = intervals[3]
    assert (one["answered"], one["asa"], one["service_level"]) == (1, 10.0, 1.0)
    assert one["staffed_agents"] == pytest.approx(1.0)        # logged in since before the interval
    assert intervals[0]["staffed_agents"] == 0                 # 00:00: not yet logged in (the last event is at 01:29)


def test_a_day_without_calls_and_a_bad_date_say_so(real_day, tmp_path, capsys):
    _, _, _, url = real_day
    assert acd(["report", "--config", str(EXAMPLE), "--date", "2026-12-02", "--database-url", url, "--quiet"]) == 1
    assert "no calls in the records for 2026-12-02 (Europe/Athens)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as bad:
        acd(["report", "--config", str(EXAMPLE), "--date", "1/12/2026"])
    assert bad.value.code == 2 and "'1/12/2026' is not a date: use YYYY-MM-DD" in capsys.readouterr().err
    missing = tmp_path / "nothing.sqlite3"
    assert acd(_report(f"sqlite+aiosqlite:///{missing}")) == 1
    assert f"no records database at {missing}" in capsys.readouterr().err
    assert not missing.exists()                 # looking did not make an empty database
    assert acd(_report(url, "--queue", "nosuch")) == 1
    assert "no queue 'nosuch'" in capsys.readouterr().err


def test_progress_goes_to_stderr_and_figures_to_stdout(real_day, capsys):
    _, _, _, url = real_day
    args = [a for a in _report(url, "--format", "json") if a != "--quiet"]
    assert acd(args) == 0
    out, err = capsys.readouterr()
    json.loads(out)
    assert "reading the calls of 2026-12-01" in err and "agent state changes" in err


def test_the_intervals_follow_the_local_clock_on_the_days_it_changes():
    spring, autumn = dt.date(2026, 3, 29), dt.date(2026, 10, 25)     # Athens: 03:00 -> 04:00, 04:00 -> 03:00
    for day, hours in ((spring, 23), (autumn, 25)):
        edges = boundaries(day, "Europe/Athens", 30)
        assert len(edges) == 49 and edges == sorted(edges)
        start, end = day_bounds(day, "Europe/Athens")
        assert (edges[0], edges[-1]) == (start, end) and end - start == hours * 3600


_STATES = st.sampled_from(["logged_out", "available", "ringing", "on_call", "wrap_up", "resting", "paused"])


@hsettings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), st.floats(0, 86_400, allow_nan=False), _STATES),
                max_size=30))
def test_agents_time_is_split_over_intervals_without_loss(changes):
    """Busy within staffed within the interval, and the intervals add up to the agent's
    whole staffed span."""
    edges = [i * 1800.0 for i in range(49)]
    moves = [AgentChange(agent, at, state) for agent, at, state in changes]
    times = agent_times(moves, edges)
    for interval, agents in enumerate(times):
        for agent in agents:
            assert 0 <= agent.busy_s <= agent.staffed_s <= 1800 + 1e-6
    for name in ("a", "b"):
        own = sorted((m for m in moves if m.agent_id == name), key=lambda m: m.at)
        expected = sum(min(nxt.at if nxt else 86_400, 86_400) - m.at
                       for m, nxt in zip(own, [*own[1:], None]) if m.state not in ("logged_out", "paused"))
        got = sum(a.staffed_s for agents in times for a in agents if a.agent == name)
        assert math.isclose(got, expected, abs_tol=1e-6)


def test_today_counts_agents_only_until_now():
    """An agent logged in at 08:00 and still logged in is staffed until the report's
    moment, not for the rest of a day that has not happened yet."""
    edges = [i * 1800.0 for i in range(49)]
    times = agent_times([AgentChange("a", 8 * 3600, "available")], edges, until=9 * 3600 + 900)
    assert [sum(a.staffed_s for a in t) for t in times[15:20]] == [0, 1800, 1800, 900, 0]


@pytest.mark.postgres
def test_postgresql_records_give_the_same_report(real_day, postgres_url, tmp_path):
    """The same day in PostgreSQL and in SQLite: the same figures.csv."""
    import asyncio
    import uuid

    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    config, _, day, url = real_day
    name = f"acd_report_{uuid.uuid4().hex[:12]}"

    async def admin(statement: str) -> None:
        engine = create_async_engine(postgres_url, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(statement))
        await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        postgres = write_records(day, postgres_url.rsplit("/", 1)[0] + "/" + name, DAY, config.daemon.timezone)
        for source, folder in ((url, "sqlite"), (postgres, "postgres")):
            assert acd(_report(source, "--out", str(tmp_path / folder), "--no-plots", "--format", "csv")) == 0
        assert (tmp_path / "postgres" / "figures.csv").read_text() == (tmp_path / "sqlite" / "figures.csv").read_text()
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_a_contradictory_row_is_left_out_by_name_and_a_bad_interval_refused(tmp_path, capsys):
    path = tmp_path / "acd.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    at = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc).timestamp()
    with engine.begin() as conn:
        conn.execute(insert(calls), [
            {"call_id": "good", "queue": "pensions", "enqueued_at": at, "requirements": {}, "outcome": "abandoned",
             "ended_at": at + 30, "waited": 30},
            {"call_id": "odd", "queue": "pensions", "enqueued_at": at, "requirements": {}, "outcome": "answered",
             "answered_at": None, "ended_at": at + 30, "waited": 30}])
    engine.dispose()
    url = f"sqlite+aiosqlite:///{path}"
    assert acd(_report(url, "--format", "json")) == 0
    out, err = capsys.readouterr()
    assert "warning: left out: call odd: answered, but no answered_at" in err
    assert json.loads(out)["day"]["abandoned"] == 1
    for bad in ("7", "0"):
        assert acd(_report(url, "--interval", bad)) == 1
        assert "--interval must divide the day into whole intervals" in capsys.readouterr().err


@functools.cache
def _example():
    return load_config(EXAMPLE)


_OUTCOME = st.sampled_from(["answered", "abandoned", "exited"])


@hsettings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(-3600, 90_000, allow_nan=False), _OUTCOME, st.floats(0, 600, allow_nan=False),
                          st.floats(0, 900, allow_nan=False), st.sampled_from(["pensions", "welfare"])),
                max_size=40))
def test_the_days_counts_are_its_intervals_and_its_queues_counts(rows):
    """Whatever the calls: the day's row counts every call of the day exactly once, as
    do its intervals together and its queues together."""
    from acd.reports.day_figures import day_figures
    from acd.reports.real_day import RealCall, RealDay

    config = _example()
    start, end = day_bounds(DAY, config.daemon.timezone)
    calls_ = [RealCall(f"c{i}", queue, start + at, outcome, start + at + wait if outcome == "answered" else None,
                       start + at + wait + talk, talk if outcome == "answered" else None)
              for i, (at, outcome, wait, talk, queue) in enumerate(rows) if start <= start + at < end]
    result = day_figures(RealDay(DAY, config.daemon.timezone, calls_, []), config, settings_for(config).target)
    for name in ("offered", "answered", "abandoned", "short_abandoned", "exited"):
        day = result.day[name].mean
        assert day == sum(interval[name].mean for interval in result.intervals)
        assert day == sum(queue[name].mean for queue in result.queues.values())
    assert result.day["offered"].mean == len(calls_)


def test_a_queue_with_a_threshold_of_its_own_is_counted_within_it_as_the_simulator_counts_it():
    # sim.target.queues: {violence: {threshold: 10}}: a violence caller answered after 15 s
    # is within the line's 20 s but not within violence's own 10 s, in the real day's
    # report as in the simulated day's (sim.figures.queue_report)
    from acd.config import load_config_text
    from acd.reports.day_figures import day_figures
    from acd.reports.real_day import RealCall, RealDay

    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "  target: {threshold: 20, service_level: 0.8, max_blocking: 0.01}",
        "  target: {threshold: 20, service_level: 0.8, max_blocking: 0.01, "
        "queues: {violence: {threshold: 10, service_level: 0.9}}}")
    config = load_config_text(text, str(EXAMPLE))
    target = settings_for(config).target
    start, _ = day_bounds(DAY, config.daemon.timezone)
    at = start + 9 * 3600
    calls_ = [RealCall("v1", "violence", at, "answered", at + 15, at + 100, 85.0),
              RealCall("p1", "pensions", at, "answered", at + 15, at + 100, 85.0)]
    result = day_figures(RealDay(DAY, config.daemon.timezone, calls_, []), config, target)
    assert result.queues["violence"]["service_level"].mean == 0.0
    assert result.queues["pensions"]["service_level"].mean == 1.0
    assert result.day["service_level"].mean == 1.0                       # the line counts within 20 s
    alone = day_figures(RealDay(DAY, config.daemon.timezone, calls_, []), config, target, queue="violence")
    assert alone.day["service_level"].mean == 0.0
