"""How ``acd-sim erlang`` and ``acd-sim staff`` show a `Performance`: an aligned table
with units for people, or one JSON object for scripts.

JSON has no infinity, so an unstable queue's ASA is written as null next to
``"stable": false`` rather than as the non-standard ``Infinity``.
"""
from __future__ import annotations

import json
import math
from typing import Any

from sim.erlang import Performance


#: Above this share of busy signals the table warns that its other figures flatter the
#: queue (they count only callers who got a line).
BUSY_WARNING = 0.05


def model_name(figures: Performance) -> str:
    name = "Erlang A (M/M/n+M)" if figures.patience_s is not None else "Erlang C (M/M/n)"
    if figures.lines is not None:
        name += f" on {figures.lines} lines"
    return name


def _percent(value: float) -> str:
    return f"{value * 100:.2f} %"


def performance_rows(figures: Performance) -> list[tuple[str, str, str]]:
    """(figure, value with unit, what it means) for every figure the model gives."""
    asa = f"{figures.asa:.1f} s" if math.isfinite(figures.asa) else "unbounded"
    rows = [
        ("offered load", f"{figures.offered_load:.2f} Erlangs", "calls per second x AHT"),
        ("p_wait", _percent(figures.p_wait), "callers who must queue"),
        ("service level", _percent(figures.service_level), f"answered within {figures.threshold_s:g} s"),
        ("asa", asa, "mean wait of answered callers"),
        ("occupancy", _percent(figures.occupancy), "agents' time on calls"),
    ]
    if figures.p_abandon is not None:
        rows.append(("p_abandon", _percent(figures.p_abandon), "callers who hang up before an answer"))
    if figures.p_block is not None:
        rows.append(("p_block", _percent(figures.p_block), "callers who get busy (all lines taken)"))
    rows += [("warning", key, text) for key, text in warnings(figures)]
    return rows


def warnings(figures: Performance) -> list[tuple[str, str]]:
    """(short key, explanation) of every trap these figures fall into: targets met
    by turning callers away or by letting them hang up rather than by answering."""
    found = []
    if figures.p_block is not None and figures.p_block > BUSY_WARNING:
        found.append(("busy", "many callers get busy: the other figures are of those who got a line"))
    if figures.patience_s is not None and figures.agents < figures.offered_load:
        found.append(("abandonment", f"fewer agents ({figures.agents}) than Erlangs offered "
                                     f"({figures.offered_load:.2f}): {_percent(figures.p_abandon or 0.0)} hang up, and their "
                                     "leaving shortens the others' wait: abandonment, not agents, carries the "
                                     "service level; add --max-abandon"))
    elif not figures.stable:
        found.append(("unstable", "agents <= offered load: the queue grows without bound"))
    return found


def table(title: str, rows: list[tuple[str, str, str]]) -> str:
    """``title`` then one aligned line per row: name, right-aligned value, meaning."""
    name_width = max(len(name) for name, _, _ in rows)
    value_width = max(len(value) for _, value, _ in rows)
    lines = [title]
    lines += [f"  {name:<{name_width}}  {value:>{value_width}}  {meaning}" for name, value, meaning in rows]
    return "\n".join(lines)


def describe(figures: Performance) -> str:
    """The table's title line: the model and its inputs."""
    parts = [f"{figures.calls_per_hour:g} calls/h", f"AHT {figures.aht_s:g} s", f"{figures.agents} agents"]
    if figures.patience_s is not None:
        parts.append(f"patience {figures.patience_s:g} s")
    return f"{model_name(figures)}: " + ", ".join(parts)


def performance_json(figures: Performance, **extra: Any) -> str:
    data: dict[str, Any] = {"model": model_name(figures), **extra, **figures.as_dict(), "stable": figures.stable,
                            "warnings": [text for _, text in warnings(figures)]}
    data = {key: (None if isinstance(value, float) and not math.isfinite(value) else value)
            for key, value in data.items()}
    return json.dumps(data, indent=2)
