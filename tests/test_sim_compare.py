"""``acd-sim compare``: a forecast (``acd-sim run``) beside the real day (``acd report``),
interval by interval, with the differences, from the two commands' own files."""
from __future__ import annotations

import csv
import datetime as dt
import math
from dataclasses import replace
from pathlib import Path

import pytest

from acd.cli import main as acd
from acd.config import load_config
from acd.config.sim import settings_for
from sim.cli import main as acd_sim
from tests.real_days import simulate_day, write_records

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "1555.yaml"
DAY = dt.date(2026, 12, 1)


@pytest.fixture(scope="module")
def sides(tmp_path_factory):
    """(forecast directory, actual directory): a 2-replication forecast of a 3000-call
    day, and the report of one such day (another seed) from its records."""
    folder = tmp_path_factory.mktemp("compare")
    config = load_config(EXAMPLE)
    day = simulate_day(config, replace(settings_for(config), calls_per_day=3000), seed=11)
    url = write_records(day, folder / "acd.sqlite3", DAY, config.daemon.timezone)
    assert acd(["report", "--config", str(EXAMPLE), "--date", DAY.isoformat(), "--database-url", url,
                "--out", str(folder / "actual"), "--no-plots", "--quiet", "--format", "csv"]) == 0
    assert acd_sim(["run", "--config", str(EXAMPLE), "--calls-per-day", "3000", "--replications", "2",
                    "--seed", "5", "--out", str(folder / "forecast"), "--no-plots", "--quiet"]) == 0
    return folder / "forecast", folder / "actual", url


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_each_interval_has_forecast_actual_and_difference(sides, tmp_path, capsys):
    forecast, actual, _ = sides
    capsys.readouterr()
    assert acd_sim(["compare", "--forecast", str(forecast), "--actual", str(actual), "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "SL % fc/act/diff" in printed and "service level = answered within 20 s" in printed
    table = _rows(tmp_path / "compare.csv")
    predicted, real = _rows(forecast / "figures.csv"), _rows(actual / "figures.csv")
    assert [r["interval"] for r in table] == [r["interval"] for r in real]
    for row, f_row, a_row in zip(table, predicted, real):
        for column in ("offered", "service_level_pct", "asa_s", "occupancy_pct"):
            f_value = float(f_row[column]) if f_row[column] else math.nan
            a_value = float(a_row[column]) if a_row[column] else math.nan
            if math.isnan(f_value) or math.isnan(a_value):
                assert row[f"{column}_difference"] == ""
                continue
            assert float(row[f"{column}_difference"]) == pytest.approx(a_value - f_value, abs=1e-5)
            half = float(f_row[f"{column}_ci"]) if f_row[f"{column}_ci"] else math.nan
            if not math.isnan(half):
                assert row[f"{column}_in_ci"] == ("yes" if abs(a_value - f_value) <= half + 1e-9 else "no")
    assert (tmp_path / "compare.png").stat().st_size > 0
    day = table[-1]
    assert day["interval"] == "day" and float(day["offered_actual"]) > 2500


def test_intervals_of_different_lengths_are_refused_with_the_fix(sides, tmp_path, capsys):
    forecast, _, url = sides
    coarse = tmp_path / "hourly"
    assert acd(["report", "--config", str(EXAMPLE), "--date", DAY.isoformat(), "--database-url", url,
                "--interval", "60", "--out", str(coarse), "--no-plots", "--quiet", "--format", "csv"]) == 0
    capsys.readouterr()
    assert acd_sim(["compare", "--forecast", str(forecast), "--actual", str(coarse)]) == 2
    assert "the intervals differ" in capsys.readouterr().err


def test_a_missing_or_foreign_file_is_named(tmp_path, capsys, sides):
    forecast, _, _ = sides
    assert acd_sim(["compare", "--forecast", str(forecast), "--actual", str(tmp_path / "nothing")]) == 2
    assert f"--actual: cannot read {tmp_path / 'nothing'}" in capsys.readouterr().err
    other = tmp_path / "other.csv"
    other.write_text("interval,calls\n08:00,3\n")
    assert acd_sim(["compare", "--forecast", str(other), "--actual", str(forecast)]) == 2
    assert "has no column 'offered'" in capsys.readouterr().err


def test_service_levels_divided_differently_are_flagged(sides, tmp_path, capsys):
    forecast, actual, _ = sides
    text = (actual / "figures.csv").read_text().replace("(answered + abandoned after 5 s + exited)", "answered")
    (tmp_path / "figures.csv").write_text(text)
    assert acd_sim(["compare", "--forecast", str(forecast), "--actual", str(tmp_path)]) == 0
    assert "warning: the service levels are divided differently" in capsys.readouterr().out
