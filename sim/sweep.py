"""A scenario sweep: the day's figures over a grid of staffing x volume x AHT, the
planner's "what if we are 10 % short on a day with 20 % more calls of longer talks".

Every point of the grid is independent (its own days, its own seeds), so the sweep
runs them on a process pool by default, or on a Dask cluster (``scheduler`` is the
address of a ``dask.distributed`` scheduler, ``tcp://host:8786``): the way past one
machine, since a grid of 5 x 5 x 5 points of five 18,500-call days is 625 days.

Each axis is a list of factors applied to the config: staffing multiplies the agents
per interval (the config's ``sim.staffing``, else Erlang C's per interval), volume the
calls of the day, AHT both the talk time and every queue's wrap-up (so the AHT itself,
talk + wrap-up, is multiplied). Every point replays the same seeds (common random
numbers): two points differ by their factors, not by luck.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from acd.config.model import Config
from acd.config.sim import SimSettings
from sim.needed import erlang_c_agents, mean_handle_time
from sim.opening import open_minutes
from sim.replications import run_days

#: the columns of sweep.csv, with their units
COLUMNS: tuple[str, ...] = ("staffing_factor", "volume_factor", "aht_factor", "calls_per_day", "aht_s",
                            "agent_hours", "service_level_pct", "service_level_pct_ci", "asa_s",
                            "abandon_rate_pct", "occupancy_pct", "blocking_pct")


@dataclass(frozen=True, slots=True)
class Point:
    staffing: float
    volume: float
    aht: float


def grid(staffing: Sequence[float], volume: Sequence[float], aht: Sequence[float]) -> list[Point]:
    for name, values in (("staffing", staffing), ("volume", volume), ("aht", aht)):
        if not values or any(not (math.isfinite(v) and v > 0) for v in values):
            raise ValueError(f"--{name}: give factors > 0, got {list(values)!r}")
    return [Point(s, v, a) for s, v, a in itertools.product(staffing, volume, aht)]


def base_staffing(config: Config, settings: SimSettings, day: date | None) -> tuple[float, ...]:
    """The staffing the factors multiply: the config's table, else Erlang C's per interval."""
    if settings.staffing is not None:
        return tuple(float(n) for n in settings.staffing)
    return tuple(erlang_c_agents(config, settings, opening=open_minutes(config, day) if day is not None else None))


def scenario(config: Config, settings: SimSettings, base: Sequence[float], point: Point
             ) -> tuple[Config, SimSettings, tuple[int, ...]]:
    """The config, settings and staffing of one point of the grid."""
    queues = {name: replace(queue, wrapup=queue.wrapup * point.aht) for name, queue in config.queues.items()}
    talk = replace(settings.talk_time, mean=settings.talk_time.mean * point.aht)
    settings = replace(settings, calls_per_day=settings.calls_per_day * point.volume, talk_time=talk, staffing=None)
    staffing = tuple(max(0, round(n * point.staffing)) for n in base)
    return replace(config, queues=queues), settings, staffing


@dataclass(frozen=True, slots=True)
class _Task:
    """One point's work, picklable for a process pool or a Dask worker."""

    config: Config
    settings: SimSettings
    base: tuple[float, ...]
    replications: int
    day: date | None

    def __call__(self, point: Point) -> dict[str, float]:
        config, settings, staffing = scenario(self.config, self.settings, self.base, point)
        result = run_days(config, settings, self.replications, settings.seed, staffing=staffing, day=self.day)
        day = result.day

        def pct(name: str) -> float:
            return day[name].mean * 100

        level = day["service_level"]
        return {"staffing_factor": point.staffing, "volume_factor": point.volume, "aht_factor": point.aht,
                "calls_per_day": settings.calls_per_day, "aht_s": mean_handle_time(config, settings),
                "agent_hours": sum(staffing) * settings.interval / 60,
                "service_level_pct": pct("service_level"),
                "service_level_pct_ci": level.half_width * 100 if level.replications > 1 else math.nan,
                "asa_s": day["asa"].mean, "abandon_rate_pct": pct("abandon_rate"),
                "occupancy_pct": pct("occupancy"), "blocking_pct": pct("blocking")}


def run_sweep(config: Config, settings: SimSettings, points: Sequence[Point], replications: int, *,
              day: date | None = None, jobs: int = 1, scheduler: str | None = None,
              progress: Callable[[int, int], None] | None = None) -> list[dict[str, float]]:
    """The figures of every point, in the order of ``points``; ``progress(done, total)``
    is told as points finish. ``scheduler``: a Dask scheduler's address (module doc)."""
    if replications < 1:
        raise ValueError(f"replications must be at least 1, got {replications}")
    task = _Task(config, settings, base_staffing(config, settings, day), replications, day)
    rows: list[dict[str, float] | None] = [None] * len(points)
    finished = _on_dask(task, points, scheduler) if scheduler else _on_pool(task, points, jobs)
    for done, (index, row) in enumerate(finished, 1):
        rows[index] = row
        if progress is not None:
            progress(done, len(points))
    return [row for row in rows if row is not None]


def _on_pool(task: _Task, points: Sequence[Point], jobs: int) -> Iterator[tuple[int, dict[str, float]]]:
    if jobs <= 1:
        for index, point in enumerate(points):
            yield index, task(point)
        return
    with ProcessPoolExecutor(max_workers=min(jobs, len(points))) as pool:
        futures = {pool.submit(task, point): index for index, point in enumerate(points)}
        for future in as_completed(futures):
            yield futures[future], future.result()


#: seconds to reach the Dask scheduler before the sweep gives up with a clear error
CONNECT_TIMEOUT = 10


def _on_dask(task: _Task, points: Sequence[Point], scheduler: str) -> Iterator[tuple[int, dict[str, float]]]:
    from distributed import Client, as_completed as dask_completed

    # a scheduler that is not there is a mistyped address far more often than a slow one:
    # say so in seconds, not after distributed's default 30 s
    with Client(scheduler, timeout=CONNECT_TIMEOUT) as client:
        # the task (config and settings) travels once, not once per point
        shared = client.scatter(task, broadcast=True)
        futures = [client.submit(_call, shared, point, pure=False) for point in points]
        where = {future.key: index for index, future in enumerate(futures)}
        for future in dask_completed(futures):
            yield where[future.key], future.result()


def _call(task: _Task, point: Point) -> dict[str, float]:
    return task(point)


def write_csv(rows: Sequence[dict[str, float]], path: Path) -> Path:
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if isinstance(v, float) and math.isnan(v) else round(v, 3) for k, v in row.items()})
    return path


def write_heatmap(rows: Sequence[dict[str, float]], path: Path, target: float | None, threshold: float,
                  replications: int, title: str) -> Path:
    """sweep.png: the day's service level over staffing (x) and volume (y), one panel per
    AHT factor, each cell labelled with its value; cells under the target (if the plan
    has a service-level target) are marked."""
    from sim.plots import _pyplot

    plt = _pyplot()
    ahts = sorted({row["aht_factor"] for row in rows})
    staffs = sorted({row["staffing_factor"] for row in rows})
    volumes = sorted({row["volume_factor"] for row in rows})
    fig, axes = plt.subplots(1, len(ahts), figsize=(max(7.0, 4.2 * len(ahts) + 1.2), 0.5 * len(volumes) + 3.4),
                             squeeze=False, layout="constrained")
    image: Any = None
    for ax, aht in zip(axes[0], ahts):
        cells = {(row["staffing_factor"], row["volume_factor"]): row["service_level_pct"]
                 for row in rows if row["aht_factor"] == aht}
        values = [[cells.get((s, v), math.nan) for s in staffs] for v in volumes]
        image = ax.imshow(values, origin="lower", cmap="RdYlGn", vmin=0, vmax=100, aspect="auto")
        for y, row_values in enumerate(values):
            for x, value in enumerate(row_values):
                if not math.isnan(value):
                    mark = "" if target is None or value >= target * 100 else " *"
                    ax.text(x, y, f"{value:.0f}{mark}", ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(staffs)), [f"x{s:g}" for s in staffs])
        ax.set_yticks(range(len(volumes)), [f"x{v:g}" for v in volumes])
        ax.set_xlabel("staffing (factor of the plan)")
        if ax is axes[0][0]:
            ax.set_ylabel("calls (factor of the day's volume)")
        ax.set_title(f"AHT x{aht:g}")
    fig.colorbar(image, ax=axes[0].tolist(), label=f"service level, % within {threshold:g} s")
    fig.suptitle(f"{title}: service level of the day, mean of {replications} simulated days\n"
                 + ("(" if target is None else f"(* below the {target:.0%} target; ")
                 + "staffing: sim.staffing, else Erlang C's, times the factor)",
                 fontsize=10)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
