"""Writing a simulation's figures where planners read them: CSV for spreadsheets, JSON
for tools, PNG plots for people.

Every file carries the mean over replications and, when there were at least two, the
half-width of the confidence interval (``<figure>_ci``), so a reader can tell a real
difference between two plans from noise.
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from sim.confidence import Estimate
from sim.replications import NUMERIC_FIGURES, Replicated


def _number(value: float) -> float | None:
    """JSON has no NaN: an undefined figure (no call answered, so no ASA) is null."""
    return None if math.isnan(value) else round(value, 6)


def _row(start: str, estimates: dict[str, Estimate]) -> dict[str, Any]:
    row: dict[str, Any] = {"interval": start}
    for name in NUMERIC_FIGURES:
        row[name] = _number(estimates[name].mean)
        row[f"{name}_ci"] = _number(estimates[name].half_width)
    return row


def rows(result: Replicated) -> list[dict[str, Any]]:
    """One row per interval and a last row for the whole day (``interval`` = "day")."""
    return [_row(start, est) for start, est in zip(result.starts, result.intervals)] + [_row("day", result.day)]


def write_csv(result: Replicated, path: Path) -> None:
    table = rows(result)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]))
        writer.writeheader()
        for row in table:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})


def write_json(result: Replicated, path: Path, meta: dict[str, Any]) -> None:
    document = {
        **meta,
        "replications": len(result.days),
        "confidence_level": result.level,
        "intervals": rows(result)[:-1],
        "day": rows(result)[-1],
        "days": [{name: _number(float(getattr(total, name))) for name in NUMERIC_FIGURES}
                 for _, total in result.days],
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_plots(result: Replicated, directory: Path, title: str) -> list[Path]:
    """Three plots of the day by interval: load, waiting, and staffing."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = [int(s[:2]) + int(s[3:]) / 60 for s in result.starts]
    width = hours[1] - hours[0] if len(hours) > 1 else 1.0

    def series(name: str) -> tuple[list[float], list[float]]:
        means = [est[name].mean for est in result.intervals]
        halves = [0.0 if math.isnan(est[name].half_width) else est[name].half_width for est in result.intervals]
        return means, halves

    written: list[Path] = []

    fig, ax = plt.subplots(figsize=(10, 4.5))
    bottom = [0.0] * len(hours)
    for name, colour in (("answered", "tab:green"), ("abandoned", "tab:orange"),
                         ("short_abandoned", "tab:olive"), ("exited", "tab:purple"), ("blocked", "tab:red")):
        values, _ = series(name)
        ax.bar(hours, values, width=width * 0.9, bottom=bottom, align="edge", label=name, color=colour)
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set(title=f"{title}: calls per interval", xlabel="hour of day", ylabel="calls", xlim=(0, 24))
    ax.legend(loc="upper right")
    written.append(_save(fig, directory / "calls.png"))

    fig, ax = plt.subplots(figsize=(10, 4.5))
    sl, sl_ci = series("service_level")
    ax.errorbar([h + width / 2 for h in hours], [v * 100 for v in sl], yerr=[v * 100 for v in sl_ci],
                fmt="o-", ms=3, label="service level (%)", color="tab:blue")
    ax.set(title=f"{title}: service level and waiting", xlabel="hour of day", ylabel="service level (%)",
           xlim=(0, 24), ylim=(0, 105))
    twin = ax.twinx()
    asa, _ = series("asa")
    longest, _ = series("longest_wait")
    twin.plot([h + width / 2 for h in hours], asa, "s-", ms=3, color="tab:orange", label="ASA (s)")
    twin.plot([h + width / 2 for h in hours], longest, ":", color="tab:red", label="longest wait (s)")
    twin.set_ylabel("seconds")
    fig.legend(loc="upper right")
    written.append(_save(fig, directory / "service.png"))

    fig, ax = plt.subplots(figsize=(10, 4.5))
    staffed, _ = series("staffed_agents")
    needed, _ = series("needed_agents")
    occupancy, _ = series("occupancy")
    ax.step(hours, staffed, where="post", label="agents staffed", color="tab:blue")
    if not all(math.isnan(v) for v in needed):
        ax.step(hours, needed, where="post", label="agents needed (Erlang C)", color="tab:red", linestyle="--")
    ax.set(title=f"{title}: staffing", xlabel="hour of day", ylabel="agents", xlim=(0, 24))
    twin = ax.twinx()
    twin.plot([h + width / 2 for h in hours], [v * 100 for v in occupancy], color="tab:green", label="occupancy (%)")
    twin.set_ylabel("occupancy (%)")
    twin.set_ylim(0, 105)
    fig.legend(loc="upper right")
    written.append(_save(fig, directory / "staffing.png"))
    return written


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
