"""``acd-sim erlang`` and ``acd-sim staff`` as a planner meets them: tables with units,
JSON for scripts, clear refusals with exit status 2."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sim.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        status = main(list(argv))
    except SystemExit as leaving:  # argparse refuses bad usage this way
        status = leaving.code
    out, err = capsys.readouterr()
    return status, out, err


def test_erlang_prints_an_aligned_table_with_units(capsys):
    status, out, _ = run(capsys, "erlang", "--arrival-rate", "200", "--aht", "180", "--agents", "11",
                         "--threshold", "20")
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "Erlang C (M/M/n): 200 calls/h, AHT 180 s, 11 agents"
    rows = {line.split("  ")[1].strip(): line for line in lines[1:]}
    assert "10.00 Erlangs" in rows["offered load"]
    assert "68.21 %" in rows["p_wait"]
    assert "38.96 %" in rows["service level"] and "within 20 s" in rows["service level"]
    assert "122.8 s" in rows["asa"]
    assert "90.91 %" in rows["occupancy"]
    assert "p_abandon" not in out and "p_block" not in out
    # values end in the same column
    value_ends = {line.index(value) + len(value)
                  for line, value in ((rows["p_wait"], "68.21 %"), (rows["asa"], "122.8 s"),
                                      (rows["offered load"], "10.00 Erlangs"))}
    assert len(value_ends) == 1


def test_erlang_json_with_patience_and_lines_has_every_figure(capsys):
    status, out, _ = run(capsys, "erlang", "--arrival-rate", "200", "--aht", "180", "--agents", "11",
                         "--patience", "60", "--lines", "14", "--json")
    assert status == 0
    data = json.loads(out)
    assert data["model"] == "Erlang A (M/M/n+M) on 14 lines"
    assert data["offered_load"] == pytest.approx(10.0)
    for key in ("p_wait", "service_level", "asa", "occupancy", "p_abandon", "p_block"):
        assert isinstance(data[key], float)
    assert 0 < data["p_block"] < data["p_abandon"] < data["p_wait"] < 1


def test_an_unstable_queue_is_flagged_and_its_json_stays_standard(capsys):
    status, out, _ = run(capsys, "erlang", "--arrival-rate", "400", "--aht", "180", "--agents", "11", "--json")
    assert status == 0
    data = json.loads(out)  # no bare Infinity
    assert data["asa"] is None and data["stable"] is False
    _, table, _ = run(capsys, "erlang", "--arrival-rate", "400", "--aht", "180", "--agents", "11")
    assert "unbounded" in table and "unstable" in table


def test_staff_finds_the_fewest_agents_and_shows_their_figures(capsys):
    status, out, _ = run(capsys, "staff", "--arrival-rate", "200", "--aht", "180", "--target-sl", "0.8",
                         "--threshold", "20")
    assert status == 0
    assert out.splitlines()[0] == "agents needed: 14"
    assert "88.84 %" in out


def test_staff_json_with_abandonment_target(capsys):
    status, out, _ = run(capsys, "staff", "--arrival-rate", "200", "--aht", "180", "--patience", "60",
                         "--max-abandon", "0.02", "--json")
    data = json.loads(out)
    assert status == 0 and data["agents_needed"] == data["agents"]
    assert data["p_abandon"] <= 0.02


def test_staff_says_when_no_head_count_meets_the_target(capsys):
    status, _, err = run(capsys, "staff", "--arrival-rate", "400", "--aht", "180", "--lines", "12",
                         "--max-block", "0.05")
    assert status == 1
    assert "not reachable with all 12 lines" in err


@pytest.mark.parametrize("argv, complaint", [
    (["erlang", "--arrival-rate", "200", "--aht", "180", "--agents", "10.5"], "--agents: expected a whole number"),
    (["erlang", "--arrival-rate", "-3", "--aht", "180", "--agents", "10"], "--arrival-rate: expected a number >= 0"),
    (["erlang", "--arrival-rate", "200", "--aht", "0", "--agents", "10"], "--aht: expected a number > 0"),
    (["erlang", "--arrival-rate", "200", "--aht", "nan", "--agents", "10"], "--aht: expected a number > 0"),
    (["erlang", "--arrival-rate", "200", "--aht", "180", "--agents", "11", "--lines", "5"],
     "lines (5) must be at least agents (11)"),
    (["erlang", "--arrival-rate", "200", "--agents", "11"], "--aht"),
    (["staff", "--arrival-rate", "200", "--aht", "180", "--target-sl", "80"], "--target-sl: expected a share"),
    (["staff", "--arrival-rate", "200", "--aht", "180", "--max-abandon", "0.1"], "needs the callers' patience"),
    (["staff", "--arrival-rate", "200", "--aht", "180", "--max-block", "0.1"], "needs the number of lines"),
])
def test_bad_input_is_refused_with_status_2_and_the_reason(capsys, argv, complaint):
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert complaint in err


def test_help_explains_every_figure(capsys):
    status, out, _ = run(capsys, "erlang", "--help")
    assert status == 0
    for word in ("p_wait", "service level", "asa", "occupancy", "p_abandon", "p_block", "Erlang A"):
        assert word in out


def test_every_registered_command_has_a_handler():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # argparse keeps them here
    assert {"erlang", "staff"} <= set(commands)
    for name, sub in commands.items():
        assert callable(sub.get_default("handler")), name


def test_python_dash_m_sim_runs_the_same_command():
    done = subprocess.run([sys.executable, "-m", "sim", "erlang", "--arrival-rate", "720", "--aht", "240",
                           "--agents", "55", "--threshold", "15", "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["service_level"] == pytest.approx(0.8459, abs=5e-5)
