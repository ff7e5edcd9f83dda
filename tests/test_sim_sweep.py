"""The scenario sweep (staffing x volume x AHT): on a process pool, and on a Dask
cluster started here (``distributed.LocalCluster``), with the same figures either way."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from acd.config import load_config_text
from acd.config.sim import settings_for
from bench.plan import flat_config_text
from sim.cli import main
from sim.sweep import grid, run_sweep

FLAT = flat_config_text(2)


@pytest.fixture(scope="module")
def flat():
    config = load_config_text(FLAT, "flat.yaml")
    return config, settings_for(config)


def test_the_grid_is_every_combination_and_refuses_bad_factors():
    points = grid([0.9, 1.1], [1.0], [0.8, 1.0, 1.2])
    assert len(points) == 6 and {p.aht for p in points} == {0.8, 1.0, 1.2}
    with pytest.raises(ValueError, match="--volume"):
        grid([1.0], [0.0], [1.0])


def test_more_agents_and_fewer_calls_raise_the_service_level(flat):
    config, settings = flat
    rows = run_sweep(config, settings, grid([0.9, 1.1], [0.9, 1.1], [1.0]), 2, jobs=2)
    level = {(r["staffing_factor"], r["volume_factor"]): r["service_level_pct"] for r in rows}
    assert level[(1.1, 0.9)] > level[(1.1, 1.1)] > level[(0.9, 1.1)]
    assert level[(1.1, 0.9)] > level[(0.9, 0.9)]
    # Erlang C's 65 agents for the first two hours, scaled
    hours = {r["staffing_factor"]: r["agent_hours"] for r in rows}
    assert hours == {0.9: 2 * 58, 1.1: 2 * 72}


def test_a_longer_aht_is_talk_and_wrapup_together(flat):
    config, settings = flat
    rows = run_sweep(config, settings, grid([1.0], [1.0], [1.0, 1.5]), 1)
    assert [r["aht_s"] for r in rows] == [270.0, 405.0]
    assert rows[1]["occupancy_pct"] > rows[0]["occupancy_pct"]


def test_the_sweep_on_a_dask_cluster_gives_the_pools_figures(flat):
    import distributed      # a dependency of the project (pyproject): missing is a failure, not a skip
    config, settings = flat
    points = grid([0.9, 1.0], [1.0, 1.2], [1.0])
    pooled = run_sweep(config, settings, points, 2, jobs=2)
    done: list[int] = []
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster:
        on_dask = run_sweep(config, settings, points, 2, scheduler=cluster.scheduler_address,
                            progress=lambda n, total: done.append(n))
        workers = len(cluster.scheduler_info["workers"])
    assert workers == 2
    assert on_dask == pooled
    assert done == [1, 2, 3, 4]


def test_the_sweep_command_writes_the_csv_and_the_heatmap(tmp_path: Path, capsys):
    path = tmp_path / "flat.yaml"
    path.write_text(FLAT, encoding="utf-8")
    out = tmp_path / "sweep"
    assert main(["sweep", "--config", str(path), "--staffing", "0.9,1.1", "--volume", "1", "--aht", "1",
                 "--replications", "2", "--jobs", "2", "--out", str(out), "--quiet"]) == 0
    with (out / "sweep.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [float(r["staffing_factor"]) for r in rows] == [0.9, 1.1]
    assert float(rows[0]["service_level_pct"]) < float(rows[1]["service_level_pct"])
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "2 points" in capsys.readouterr().out


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path: Path, capsys):
    path = tmp_path / "flat.yaml"
    path.write_text(FLAT, encoding="utf-8")
    assert main(["sweep", "--config", str(path), "--scheduler", "tcp://127.0.0.1:9", "--out",
                 str(tmp_path / "o"), "--quiet"]) == 2
    assert "Dask scheduler tcp://127.0.0.1:9" in capsys.readouterr().err
