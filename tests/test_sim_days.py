"""A week or a month of simulated days (``acd-sim run --days N --from DATE``), and the
closed-hours path: each date keeps its own day type, volume and opening hours."""
from __future__ import annotations

import csv
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from acd.config import load_config, load_config_text
from acd.config.sim import settings_for
from sim.calendar import simulate_days, total_row
from sim.cli import main
from sim.model import CallCentreDay
from tests.test_sim_opening import CONFIG

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "1555.yaml"
VOLUMES = CONFIG + "  day_volumes: {saturday: 240, sunday: 200, holiday: 100}\n"


@pytest.fixture(scope="module")
def config():
    return load_config_text(VOLUMES, "volumes.yaml")


def test_a_week_has_each_day_its_type_volume_and_hours(config):
    # Monday 2027-03-22 .. Sunday 2027-03-28: Thursday 25 March is Independence Day
    days = simulate_days(config, settings_for(config), date(2027, 3, 22), 7, 2)
    assert [d.day_type for d in days] == ["weekday"] * 3 + ["holiday", "weekday", "saturday", "sunday"]
    assert [d.settings.calls_per_day for d in days] == [960] * 3 + [100, 960, 240, 200]
    # the days are different days (their own seeds), not one day copied
    assert len({d.totals[0].offered for d in days[:3]}) > 1
    for simulated in days:
        dialled = simulated.totals[0].offered + simulated.totals[0].closed
        assert 0.75 * simulated.settings.calls_per_day < dialled < 1.25 * simulated.settings.calls_per_day
    # qa (3/4 of the calls) is closed all the holiday; on Saturday it opens 10-11 only
    assert days[3].result.day["closed"].mean > 0.6 * 100
    assert days[5].result.day["closed"].mean > 0.6 * 240 * 0.75


def test_the_total_pools_the_calls_not_the_percentages(config):
    days = simulate_days(config, settings_for(config), date(2027, 3, 24), 3, 2)
    total = total_row(days)
    rows = [d.row() for d in days]
    assert total["offered"] == pytest.approx(sum(r["offered"] for r in rows))
    assert total["closed"] == pytest.approx(sum(r["closed"] for r in rows))
    # weighted by the callers counted: between the days' own levels, nearer the busy day's
    levels = [r["service_level_pct"] for r in rows]
    assert min(levels) - 1e-9 <= total["service_level_pct"] <= max(levels) + 1e-9


def test_run_days_writes_each_day_and_the_total(tmp_path: Path, capsys):
    path = tmp_path / "volumes.yaml"
    path.write_text(VOLUMES, encoding="utf-8")
    out = tmp_path / "week"
    # from a Sunday: the weekdays after it keep the weekday volume, not the first day's
    assert main(["run", "--config", str(path), "--days", "4", "--from", "2027-01-03", "--replications", "2",
                 "--out", str(out), "--quiet", "--no-plots"]) == 0
    with (out / "days.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["date"], r["day_type"], float(r["calls_per_day"])) for r in rows] == [
        ("2027-01-03", "sunday", 200), ("2027-01-04", "weekday", 960), ("2027-01-05", "weekday", 960),
        ("2027-01-06", "holiday", 100), ("total", "", 2220)]
    assert "service_level_pct" in rows[0] and rows[4]["weekday"] == "4 days"
    for day in ("2027-01-03", "2027-01-04", "2027-01-05", "2027-01-06"):
        assert (out / day / "figures.json").exists()
    printed = capsys.readouterr().out
    assert "2027-01-06  Wednesday  holiday" in printed and "total" in printed


def test_callers_of_a_closed_queue_get_the_ivrs_callback_offer():
    # examples/1555.yaml: closed: {exit: callback}; on a holiday only the 24/7 line is open
    example = load_config(EXAMPLE)
    settings = replace(settings_for(example), calls_per_day=400)
    day = CallCentreDay(example, settings, 1, day=date(2027, 1, 6)).run()
    closed = [c for c in day.attempts if c.outcome == "closed"]
    assert closed and all(c.exit_action == "callback" for c in closed)
    assert all(c.queue != "violence" for c in closed)


def test_without_an_ivr_the_closed_path_says_goodbye(config):
    day = CallCentreDay(config, settings_for(config), 1, day=date(2027, 1, 6)).run()
    closed = [c for c in day.attempts if c.outcome == "closed"]
    assert closed and all(c.exit_action == "goodbye" for c in closed)


def test_a_day_type_has_its_own_profile_and_the_other_days_keep_theirs(tmp_path: Path):
    # Saturday's calls come 10-11 only; a week starting on Saturday keeps the weekdays' profile
    text = VOLUMES + '  day_profiles: {saturday: {"10:00": 1, "11:00": 0}}\n'
    config = load_config_text(text, "profiles.yaml")
    settings = settings_for(config)
    assert settings.day_profiles["saturday"][10] == 1.0 and sum(settings.day_profiles["saturday"]) == 1.0
    days = simulate_days(config, settings, date(2027, 3, 27), 3, 1)     # Sat, Sun, Mon
    saturday, sunday, monday = (d.result.days[0][0] for d in days)
    assert sum(row.offered + row.closed for row in saturday[:10]) == 0
    assert sum(row.offered + row.closed for row in sunday[8:10]) > 0
    assert [d.settings.calls_per_day for d in days] == [240, 200, 960]
    assert days[2].settings.profile == settings.profile


def test_a_profile_for_an_unknown_day_type_is_refused():
    from acd.config import ConfigError

    with pytest.raises(ConfigError, match="friday"):
        load_config_text(VOLUMES + '  day_profiles: {friday: {"10:00": 1}}\n', "bad.yaml")
