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


ERLANG_C_FIELDS = ("offered_load", "p_wait", "service_level", "asa", "occupancy")


def test_erlang_json_in_the_issue_form_prints_the_named_figures(capsys):
    # acd-sim erlang --arrival-rate <calls/hour> --aht <s> --agents <n> --threshold <s> --json
    status, out, _ = run(capsys, "erlang", "--arrival-rate", "720", "--aht", "240", "--agents", "55",
                         "--threshold", "15", "--json")
    assert status == 0
    data = json.loads(out)
    # Mitan's published example (see test_erlang): 48 E on 55 agents, 15 s threshold
    expected = dict(offered_load=48.0, p_wait=0.2387, service_level=0.8459, asa=8.184, occupancy=48 / 55)
    for key in ERLANG_C_FIELDS:
        assert data[key] == pytest.approx(expected[key], abs=5e-4), key
    assert data["p_abandon"] is None and data["p_block"] is None
    assert (data["agents"], data["threshold_s"], data["stable"]) == (55, 15.0, True)


def test_erlang_json_with_patience_adds_p_abandon_and_with_lines_p_block(capsys):
    base = ["erlang", "--arrival-rate", "200", "--aht", "180", "--agents", "11", "--threshold", "20", "--json"]
    _, out, _ = run(capsys, *base, "--patience", "60")
    patient = json.loads(out)
    assert all(isinstance(patient[key], float) for key in (*ERLANG_C_FIELDS, "p_abandon"))
    assert patient["p_block"] is None and patient["model"] == "Erlang A (M/M/n+M)"
    _, out, _ = run(capsys, *base, "--lines", "13")
    trunk = json.loads(out)
    assert all(isinstance(trunk[key], float) for key in (*ERLANG_C_FIELDS, "p_block"))
    assert trunk["p_abandon"] is None and 0 < trunk["p_block"] < 1


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


def test_staff_json_in_the_issue_form_prints_agents_needed_and_their_figures(capsys):
    # acd-sim staff --arrival-rate ... --aht ... --target-sl 0.8 --threshold 20 --json
    status, out, _ = run(capsys, "staff", "--arrival-rate", "770", "--aht", "270", "--target-sl", "0.8",
                         "--threshold", "20", "--json")
    assert status == 0
    data = json.loads(out)
    assert data["agents_needed"] == data["agents"] == 65
    for key in ERLANG_C_FIELDS:
        assert isinstance(data[key], float), key
    assert data["service_level"] >= 0.8 and data["offered_load"] == pytest.approx(57.75)


def test_staff_with_patience_abandon_and_occupancy_caps_meets_every_one(capsys):
    status, out, _ = run(capsys, "staff", "--arrival-rate", "770", "--aht", "270", "--target-sl", "0.8",
                         "--threshold", "20", "--patience", "120", "--max-abandon", "0.01",
                         "--max-occupancy", "0.85", "--json")
    assert status == 0
    data = json.loads(out)
    assert data["service_level"] >= 0.8 and data["p_abandon"] <= 0.01 and data["occupancy"] <= 0.85
    assert data["model"] == "Erlang A (M/M/n+M)"
    _, fewer, _ = run(capsys, "erlang", "--arrival-rate", "770", "--aht", "270", "--threshold", "20",
                      "--patience", "120", "--agents", str(data["agents_needed"] - 1), "--json")
    one_fewer = json.loads(fewer)
    assert one_fewer["service_level"] < 0.8 or one_fewer["p_abandon"] > 0.01 or one_fewer["occupancy"] > 0.85


def test_staff_with_an_asa_target_alone(capsys):
    status, out, _ = run(capsys, "staff", "--arrival-rate", "770", "--aht", "270", "--target-asa", "16", "--json")
    assert status == 0
    data = json.loads(out)
    assert data["asa"] <= 16
    _, fewer, _ = run(capsys, "erlang", "--arrival-rate", "770", "--aht", "270",
                      "--agents", str(data["agents_needed"] - 1), "--json")
    assert json.loads(fewer)["asa"] > 16


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


@pytest.mark.parametrize("command", ["erlang", "staff"])
def test_help_defines_every_figure(capsys, command):
    status, out, _ = run(capsys, command, "--help")
    assert status == 0
    for definition in ("offered load   calls per second x AHT, in Erlangs",
                       "p_wait         share of callers who find every agent busy and queue",
                       "service level  share of callers answered within --threshold seconds (wait <= T)",
                       "asa            average speed of answer: mean wait of the answered callers",
                       "occupancy      share of agents' time spent on calls (carried load / agents)",
                       "p_abandon      with --patience: share of callers who hang up before an answer",
                       "p_block        with --lines: share of callers who get busy"):
        assert definition in out, definition


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


def test_lines_takes_the_load_in_erlangs_for_erlang_b(capsys):
    # Erlang B, 10 erlangs: B(10, 10) = 0.2146, 18 lines are the fewest under 1 %
    status, out, _ = run(capsys, "lines", "--load", "10", "--lines", "10", "--json")
    assert status == 0
    data = json.loads(out)
    assert data["p_block"] == pytest.approx(0.21458, abs=1e-5) and data["lines_needed"] == 18
    status, out, _ = run(capsys, "lines", "--load", "10")
    assert status == 0 and "lines needed for at most 1.0% busy: 18" in out


def test_lines_refuses_a_negative_load(capsys):
    status, _, err = run(capsys, "lines", "--load", "-1")
    assert status == 2 and "expected a number >= 0, got '-1'" in err
