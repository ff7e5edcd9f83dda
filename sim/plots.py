"""The PNG plots of a simulated day, drawn for a planner who opens them without the CSV.

Three pictures, one question each: what became of the calls (``calls.png``), did the
callers wait too long (``service.png``), and were there enough agents (``staffing.png``).
Every plot says in its title what it shows and over how many simulated days, every axis
names its unit, the x axis reads as clock times, and a figure with a target (service
level) draws the target line, so a reader sees at a glance where and when the plan
falls short.

Figures of different units get panels of their own rather than a second y axis on the
same panel: twin axes invite reading a percentage against a seconds scale, and their
legends collide.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.replications import Replicated

#: file name -> what it shows; ``write_plots`` writes them in this order
PLOTS: dict[str, str] = {
    "calls.png": "what became of the calls, per interval",
    "service.png": "service level, ASA and longest wait, per interval",
    "staffing.png": "agents staffed and needed, and occupancy, per interval",
}


@dataclass(frozen=True, slots=True)
class PlotContext:
    """What the plots say beside the figures: whose day, its target and its limits."""

    service: str
    #: seconds within which a call counts as answered in time
    threshold: float
    #: the service-level target (share), drawn as a line (None: the plan has none)
    target_level: float | None
    #: callers who hang up within this many seconds are short abandons
    short_abandon: float
    lines: int
    #: the service level's formula in words (acd.metrics.service_level_definition)
    definition: str = ""


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only: never needs a display
    import matplotlib.pyplot as plt

    return plt


def _series(result: Replicated, name: str) -> tuple[list[float], list[float]]:
    """Mean and confidence half-width of a figure, interval by interval (0 when the
    half-width is undefined: a single day)."""
    means = [est[name].mean for est in result.intervals]
    halves = [0.0 if math.isnan(est[name].half_width) else est[name].half_width for est in result.intervals]
    return means, halves


def share_bars(means: Sequence[float], halves: Sequence[float]) -> tuple[list[float], list[list[float]]]:
    """Percentages and their error bars (below, above) for a share: a confidence
    interval of 97 % +- 5 is drawn up to 100 %, not past it (a share cannot exceed it,
    nor fall below 0; the t interval does not know that)."""
    values = [m * 100 for m in means]
    below = [min(h * 100, v) if not math.isnan(v) else 0.0 for v, h in zip(values, halves)]
    above = [min(h * 100, 100 - v) if not math.isnan(v) else 0.0 for v, h in zip(values, halves)]
    return values, [below, above]


def _hours(starts: Sequence[str]) -> list[float]:
    return [int(s[:2]) + int(s[3:]) / 60 for s in starts]


def _interval_minutes(hours: Sequence[float]) -> int:
    return round((hours[1] - hours[0]) * 60) if len(hours) > 1 else 24 * 60


def _clock_axis(ax: Any) -> None:
    """Midnight to midnight, ticks every two hours as clock times."""
    ax.set_xlim(0, 24)
    ax.set_xticks(range(0, 25, 2))
    ax.set_xticklabels([f"{h:02d}:00" for h in range(0, 25, 2)])
    ax.set_xlabel("time of day (interval start)")
    ax.grid(axis="y", alpha=0.3)


def _days(result: Replicated, *, error_bars: bool = False) -> str:
    """How many days the plotted figures average, and what the error bars mean."""
    count = len(result.days)
    if count == 1:
        return "1 simulated day"
    text = f"mean of {count} simulated days"
    return text + f", bars: {result.level:.0%} confidence interval" if error_bars else text


def _percent(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value * 100:.1f} %"


def draw_calls(result: Replicated, context: PlotContext) -> Any:
    """Stacked bars: each interval's offered calls split by what became of them."""
    plt = _pyplot()
    hours = _hours(result.starts)
    minutes = _interval_minutes(hours)
    width = minutes / 60
    fig, ax = plt.subplots(figsize=(11, 5))
    parts = (
        ("answered", "answered", "tab:green"),
        ("abandoned", f"hung up waiting (after {context.short_abandon:g} s)", "tab:orange"),
        ("short_abandoned", f"short abandons (within {context.short_abandon:g} s)", "tab:olive"),
        ("exited", "sent to the queue's exit (max wait)", "tab:purple"),
        ("blocked", f"busy signal (all {context.lines} lines taken)", "tab:red"),
    )
    bottom = [0.0] * len(hours)
    for name, label, colour in parts:
        values, _ = _series(result, name)
        ax.bar(hours, values, width=width * 0.9, bottom=bottom, align="edge", label=label, color=colour)
        bottom = [b + v for b, v in zip(bottom, values)]
    day = result.day
    offered = day["offered"].mean
    ax.set_title(f"{context.service}: calls offered per {minutes}-minute interval ({_days(result)})\n"
                 f"day: {offered:,.0f} offered, {_percent(day['blocking'].mean)} got busy, "
                 f"{_percent(day['abandon_rate'].mean)} abandoned, {day['redials'].mean:,.0f} redials",
                 fontsize=11)
    ax.set_ylabel(f"calls per {minutes} min")
    _clock_axis(ax)
    ax.legend(loc="upper right", fontsize=9)
    return fig


def draw_service(result: Replicated, context: PlotContext) -> Any:
    """Top: service level with its confidence interval and the target; bottom: ASA and
    the longest wait, in seconds."""
    plt = _pyplot()
    hours = _hours(result.starts)
    middle = [h + _interval_minutes(hours) / 120 for h in hours]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), sharex=True, height_ratios=(3, 2))
    level, level_ci = _series(result, "service_level")
    top.errorbar(middle, *share_bars(level, level_ci), fmt="o-", ms=3,
                 capsize=2, color="tab:blue", label=f"service level (answered within {context.threshold:g} s)")
    if context.target_level is not None:
        top.axhline(context.target_level * 100, color="tab:red", linestyle="--",
                    label=f"target {context.target_level:.0%} within {context.threshold:g} s")
    top.set_ylim(0, 105)
    top.set_ylabel(f"answered within {context.threshold:g} s (%)")
    title = f"{context.service}: service level and waiting per interval ({_days(result, error_bars=True)})"
    if context.definition:
        title += f"\nservice level = {context.definition}"
    top.set_title(title, fontsize=11)
    top.legend(loc="lower left", fontsize=9)
    top.grid(axis="y", alpha=0.3)
    asa, asa_ci = _series(result, "asa")
    longest, _ = _series(result, "longest_wait")
    bottom.errorbar(middle, asa, yerr=asa_ci, fmt="s-", ms=3, capsize=2, color="tab:orange",
                    label="ASA: mean wait of answered calls")
    bottom.plot(middle, longest, ":", color="tab:red", label="longest wait (any caller)")
    bottom.set_ylabel("wait (seconds)")
    bottom.set_ylim(bottom=0)
    bottom.legend(loc="upper left", fontsize=9)
    _clock_axis(bottom)
    return fig


def _steps(hours: Sequence[float], values: Sequence[float]) -> tuple[list[float], list[float]]:
    """A step line that holds each interval's value to its end, the last one to 24:00."""
    if not values:
        return [], []
    return [*hours, 24.0], [*values, values[-1]]


def draw_staffing(result: Replicated, context: PlotContext) -> Any:
    """Top: agents on duty against Erlang C's agents needed; bottom: occupancy."""
    plt = _pyplot()
    hours = _hours(result.starts)
    middle = [h + _interval_minutes(hours) / 120 for h in hours]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), sharex=True, height_ratios=(3, 2))
    staffed, _ = _series(result, "staffed_agents")
    needed, _ = _series(result, "needed_agents")
    top.step(*_steps(hours, staffed), where="post", color="tab:blue", linewidth=2, label="agents staffed (on duty)")
    if not all(math.isnan(v) for v in needed):
        top.step(*_steps(hours, needed), where="post", color="tab:red", linestyle="--",
                 label="agents needed by Erlang C for the plan's targets" if context.target_level is None
                 else f"agents needed by Erlang C for {context.target_level:.0%} within {context.threshold:g} s")
    top.set_ylim(bottom=0)
    top.set_ylabel("agents")
    top.set_title(f"{context.service}: staffing per interval ({_days(result)})", fontsize=11)
    top.legend(loc="upper left", fontsize=9)
    top.grid(axis="y", alpha=0.3)
    occupancy, occupancy_ci = _series(result, "occupancy")
    bottom.errorbar(middle, *share_bars(occupancy, occupancy_ci), fmt="-",
                    color="tab:green", capsize=2, label="occupancy: share of staffed time on calls and wrap-up")
    bottom.set_ylim(0, 105)
    bottom.set_ylabel("occupancy (%)")
    bottom.legend(loc="upper left", fontsize=9)
    _clock_axis(bottom)
    return fig


DRAWERS = {"calls.png": draw_calls, "service.png": draw_service, "staffing.png": draw_staffing}


def draw_all(result: Replicated, context: PlotContext) -> dict[str, Any]:
    """Every plot as a matplotlib figure, by file name (the caller saves or closes them)."""
    return {name: DRAWERS[name](result, context) for name in PLOTS}


def write_plots(result: Replicated, directory: Path, context: PlotContext) -> list[Path]:
    """Draw and save every plot as ``directory/<name>``; returns the paths written."""
    plt = _pyplot()
    written: list[Path] = []
    for name, fig in draw_all(result, context).items():
        fig.tight_layout()
        path = directory / name
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written
