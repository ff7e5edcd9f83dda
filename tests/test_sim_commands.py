"""``acd-sim run`` and ``acd-sim plan``: files a planner can open, figures that add up,
and a staffing plan that really meets its target when simulated again."""
from __future__ import annotations

import csv
import re
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from acd.config import load_config, load_config_text
from acd.config.sim import settings_for
from sim.cli import main
from sim.output import csv_column
from sim.plan import search
from sim.replications import run_days

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "1555.yaml"

CONFIG = """\
service: {name: small, languages: [el], lines: 60}
skills: {topic:a: A, topic:b: B}
queues:
  qa: {requires: {topic:a: 1}, wrapup: 5, announcements: {first_after: 0, every: 0}}
  qb: {requires: {topic:b: 1}, wrapup: 5, announcements: {first_after: 0, every: 0}}
teams:
  both: {ids: 100-109, skills: {topic:a: 1, topic:b: 1}}
  onlya: {ids: 200-209, skills: {topic:a: 2}}
sim:
  calls_per_day: 1200
  interval: 60
  profile: {"08:00": 1, "10:00": 3, "12:00": 1, "14:00": 0}
  topics: {qa: 2, qb: 1}
  talk_time: {distribution: exponential, mean: 120}
  patience: {distribution: exponential, mean: 300}
  target: {threshold: 20, service_level: 0.8}
"""


def acd_sim(argv: list[str]) -> int:
    """The ``acd-sim`` entry point, in-process."""
    return main(argv)


@pytest.fixture()
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def test_run_writes_csv_json_and_plots_with_a_row_per_interval_and_the_day(config_file: Path, tmp_path: Path, capsys):
    out = tmp_path / "out"
    assert acd_sim(["run", "--config", str(config_file), "--replications", "3", "--seed", "4",
                    "--out", str(out), "--quiet"]) == 0
    with (out / "figures.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["interval"] for r in rows] == [f"{h:02d}:00" for h in range(24)] + ["day"]
    day = rows[-1]
    intervals = rows[:-1]
    assert float(day["offered"]) == pytest.approx(sum(float(r["offered"]) for r in intervals))
    assert float(day["answered"]) + float(day["abandoned"]) + float(day["short_abandoned"]) \
        + float(day["blocked"]) + float(day["exited"]) + float(day["unfinished"]) == pytest.approx(float(day["offered"]))
    assert 1000 < float(day["offered"]) < 1600
    assert float(day["service_level_pct_ci"]) > 0, "three replications give an interval"
    document = json.loads((out / "figures.json").read_text())
    assert document["replications"] == 3 and document["seed"] == 4 and len(document["days"]) == 3
    assert document["intervals"][3]["offered"] == 0 and document["intervals"][3]["asa"] is None
    for name in ("calls.png", "service.png", "staffing.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "service level" in printed and "figures.csv" in printed


#: the issue's columns, per interval and for the day: offered, blocked, answered,
#: abandoned with short abandons apart, service level, ASA, longest wait, occupancy,
#: agents staffed vs needed
REPORTED = ("offered", "blocked", "answered", "abandoned", "short_abandoned", "service_level", "asa",
            "longest_wait", "occupancy", "staffed_agents", "needed_agents")


def test_every_reported_figure_is_a_column_with_its_confidence_interval(config_file: Path, tmp_path: Path):
    out = tmp_path / "out"
    assert acd_sim(["run", "--config", str(config_file), "--replications", "2", "--out", str(out),
                    "--quiet", "--no-plots"]) == 0
    with (out / "figures.csv").open() as handle:
        header = next(csv.reader(handle))
    document = json.loads((out / "figures.json").read_text())
    for name in REPORTED:
        assert csv_column(name) in header and csv_column(f"{name}_ci") in header, name
        assert name in document["day"] and f"{name}_ci" in document["day"], name
        assert all(name in row for row in document["intervals"]), name
    busiest = max(document["intervals"], key=lambda row: row["offered"])
    assert busiest["staffed_agents"] == 20 and busiest["needed_agents"] >= 1
    assert 0 < busiest["occupancy"] <= 1 and 0 <= busiest["service_level"] <= 1


def test_a_run_shows_a_progress_bar_on_stderr_and_keeps_stdout_for_figures(config_file: Path, tmp_path: Path,
                                                                         capsys):
    assert acd_sim(["run", "--config", str(config_file), "--replications", "2", "--out", str(tmp_path / "o"),
                    "--no-plots"]) == 0
    captured = capsys.readouterr()
    assert "simulating" in captured.err and "100%" in captured.err
    assert "100%" not in captured.out and "service level" in captured.out


def test_run_the_1555_example_with_the_issue_options(tmp_path: Path, capsys):
    # acd-sim run --config examples/1555.yaml --calls-per-day ... --replications ... --seed ... --out DIR
    out = tmp_path / "1555"
    assert acd_sim(["run", "--config", str(EXAMPLE), "--calls-per-day", "1500", "--replications", "2",
                    "--seed", "7", "--out", str(out), "--quiet"]) == 0
    document = json.loads((out / "figures.json").read_text())
    assert (document["service"], document["lines"], document["seed"]) == ("1555", 240, 7)
    assert document["calls_per_day"] == 1500 and len(document["intervals"]) == 48
    assert 1300 < document["day"]["offered"] < 1800
    assert document["day"]["escalated"] > 0, "15 % of answered calls go to the back office"
    for name in ("calls.png", "service.png", "staffing.png"):
        assert (out / name).stat().st_size > 10_000, name
    assert 0 < document["day"]["line_load"] < document["day"]["lines_needed"]
    printed = capsys.readouterr().out
    assert "service level" in printed and "got busy" in printed and "lines needed for at most 1% busy" in printed


def test_the_day_per_queue_adds_up_to_the_day_and_names_the_queue_that_misses(tmp_path: Path, capsys):
    # a team too small for its queue: the pooled day hides it, the per-queue rows show it
    text = EXAMPLE.read_text(encoding="utf-8").replace("ids: 2201-2250", "ids: 2201-2205")
    text = re.sub(r"\n  staffing: \{[^}]*\}", "", text)     # everyone on duty all day
    config = tmp_path / "short-labour.yaml"
    config.write_text(text, encoding="utf-8")
    out = tmp_path / "o"
    assert acd_sim(["run", "--config", str(config), "--calls-per-day", "6000", "--replications", "2",
                    "--out", str(out), "--quiet", "--no-plots"]) == 0
    document = json.loads((out / "figures.json").read_text())
    queues = document["queues"]
    assert set(queues) == {"pensions", "unemployment", "welfare", "labour", "solidarity", "equality", "violence"}
    for name in ("offered", "answered", "abandoned", "escalated"):
        assert sum(q[name] for q in queues.values()) == pytest.approx(document["day"][name]), name
    assert "occupancy" not in queues["labour"], "agents serve several queues: no per-queue occupancy"
    worst = min(queues, key=lambda queue: queues[queue]["service_level"])
    assert worst == "labour" and queues["labour"]["service_level"] < 0.5 < queues["pensions"]["service_level"]
    with (out / "queues.csv").open(encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert [row["queue"] for row in table] == sorted(queues)
    printed = capsys.readouterr().out
    assert any(line.split()[:1] == ["labour"] for line in printed.splitlines())


def test_run_overrides_calls_per_day_and_lines(config_file: Path, tmp_path: Path):
    out = tmp_path / "out"
    assert acd_sim(["run", "--config", str(config_file), "--replications", "1", "--calls-per-day", "300",
                    "--lines", "1", "--out", str(out), "--quiet", "--no-plots"]) == 0
    document = json.loads((out / "figures.json").read_text())
    assert document["lines"] == 1 and document["calls_per_day"] == 300
    assert document["day"]["blocked"] > 0
    assert not (out / "calls.png").exists()


def test_run_refuses_a_bad_config_with_file_and_line(tmp_path: Path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(CONFIG.replace("interval: 60", "interval: 7"), encoding="utf-8")
    assert acd_sim(["run", "--config", str(bad), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert f"{bad}:{CONFIG.splitlines().index('  interval: 60') + 1}" in capsys.readouterr().err


def test_run_refuses_nonsense_options(config_file: Path, tmp_path: Path):
    for option in (["--replications", "0"], ["--calls-per-day", "-5"], ["--lines", "0"]):
        with pytest.raises(SystemExit):
            acd_sim(["run", "--config", str(config_file), "--out", str(tmp_path), *option])


def test_the_same_seed_gives_the_same_figures(config_file: Path, tmp_path: Path):
    for name in ("a", "b"):
        acd_sim(["run", "--config", str(config_file), "--replications", "2", "--seed", "9",
                 "--out", str(tmp_path / name), "--quiet", "--no-plots"])
    assert (tmp_path / "a" / "figures.csv").read_text() == (tmp_path / "b" / "figures.csv").read_text()


def test_plan_meets_the_target_in_every_interval_when_simulated_with_fresh_seeds():
    config = load_config_text(CONFIG, "small.yaml")
    settings = settings_for(config)
    plan = search(config, settings, replications=3)
    assert plan.converged and not plan.short_of_agents
    busy_hours = range(8, 14)
    assert all(plan.staffing[h] >= 1 for h in busy_hours)
    assert plan.staffing[10] > plan.staffing[8], "the peak needs more agents than the morning"
    assert not any(plan.staffing[:8]), "nobody before the first call"
    # callers who dialled just before 14:00 are still on the line at 14:00 (IVR, talk):
    # the 14:00 interval covers that moment, then the staffing falls away
    assert 0 < plan.staffing[14] <= plan.staffing[13]
    assert sum(plan.staffing[15:]) <= 1
    fresh = run_days(config, replace(settings, seed=1000), 6, 1000, staffing=plan.staffing)
    for hour in busy_hours:
        level = fresh.intervals[hour]["service_level"]
        assert level.high >= settings.target.service_level, (hour, level)


def test_plan_says_when_even_every_agent_is_not_enough():
    config = load_config_text(CONFIG.replace("calls_per_day: 1200", "calls_per_day: 6000"), "busy.yaml")
    plan = search(config, settings_for(config), replications=2, max_rounds=4)
    assert plan.short_of_agents
    assert all(plan.staffing[i] == 20 for i in plan.short_of_agents)


def test_plan_writes_a_staffing_table_the_config_accepts(config_file: Path, tmp_path: Path):
    out = tmp_path / "plan"
    assert acd_sim(["plan", "--config", str(config_file), "--replications", "2", "--out", str(out),
                    "--quiet", "--no-plots"]) == 0
    table = (out / "staffing.yaml").read_text()
    planned = config_file.read_text() + "".join("  " + line + "\n" for line in table.splitlines()[1:])
    config_path = tmp_path / "planned.yaml"
    config_path.write_text(planned)
    settings = settings_for(load_config(config_path))
    with (out / "plan.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["planned_agents"]) for r in rows] == list(settings.staffing)
    assert all(math.isclose(float(r["erlang_c_agents"]), int(r["erlang_c_agents"])) for r in rows)
    with (out / "teams.csv").open() as handle:
        teams = list(csv.DictReader(handle))
    assert list(teams[0]) == ["interval", "both", "onlya"]
    assert [int(t["both"]) + int(t["onlya"]) for t in teams] == list(settings.staffing)
    # the rotation keeps the teams' mix: any interval with two agents on duty has one of each
    assert all(int(t["both"]) >= 1 and int(t["onlya"]) >= 1 for t in teams if int(t["both"]) + int(t["onlya"]) >= 2)


def test_replications_in_several_processes_give_the_same_figures(config_file: Path, tmp_path: Path):
    for name, jobs in (("one", "1"), ("two", "2")):
        assert acd_sim(["run", "--config", str(config_file), "--replications", "3", "--seed", "5", "--jobs", jobs,
                        "--out", str(tmp_path / name), "--quiet", "--no-plots"]) == 0
    assert (tmp_path / "one" / "figures.csv").read_text() == (tmp_path / "two" / "figures.csv").read_text()
