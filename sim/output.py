"""Writing a simulation's figures where planners read them: CSV for spreadsheets, JSON
for tools (the PNG plots for people are ``sim.plots``).

Every file carries the mean over replications and, when there were at least two, the
half-width of the confidence interval (``<figure>_ci``), so a reader can tell a real
difference between two plans from noise.
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, TextIO

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


#: figures of the agents and the trunk, not of one queue's calls: shared by every queue
_AGENT_FIGURES = ("occupancy", "staffed_agents", "needed_agents", "line_load", "lines_needed")


def queue_rows(result: Replicated) -> list[dict[str, Any]]:
    """One row per queue for the whole day: its calls' figures, not the agents'."""
    table = []
    for queue, estimates in result.queues.items():
        row = _row(queue, estimates)
        del row["interval"]
        table.append({"queue": queue, **{k: v for k, v in row.items() if k.removesuffix("_ci") not in _AGENT_FIGURES}})
    return table


#: figure -> its unit; the CSV, read by people in spreadsheets, writes shares as
#: percentages and names every column with its unit (``service_level_pct``,
#: ``asa_s``); the JSON, read by tools, keeps shares in 0..1 and lists these units.
UNITS: dict[str, str] = {
    "service_level": "pct", "blocking": "pct", "abandon_rate": "pct", "occupancy": "pct",
    "asa": "s", "longest_wait": "s", "aht": "s", "line_load": "erlangs",
}


def csv_column(name: str) -> str:
    """The CSV header of a figure (or of its ``_ci``): the name with its unit."""
    base = name.removesuffix("_ci")
    unit = UNITS.get(base)
    if unit is None:
        return name
    return f"{base}_{unit}" + ("_ci" if name.endswith("_ci") else "")


def _with_units(row: dict[str, Any]) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for name, value in row.items():
        if UNITS.get(name.removesuffix("_ci")) == "pct" and value is not None:
            value = round(value * 100, 4)
        shown[csv_column(name)] = value
    return shown


#: the last column of every CSV: the service level's formula in words
#: (acd.metrics.service_level_definition), so a spreadsheet says which division it holds
DEFINITION_COLUMN = "service_level_definition"


def write_csv(result: Replicated, path: Path, definition: str) -> None:
    _write_table(rows(result), path, definition)


def write_queue_csv(result: Replicated, path: Path, definition: str) -> None:
    _write_table(queue_rows(result), path, definition)


def csv_text(result: Replicated, definition: str) -> str:
    """``figures.csv`` as text (what ``write_csv`` writes)."""
    buffer = io.StringIO()
    _table_to(rows(result), buffer, definition)
    return buffer.getvalue()


def _write_table(table: list[dict[str, Any]], path: Path, definition: str) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        _table_to(table, handle, definition)


def _table_to(table: list[dict[str, Any]], handle: TextIO, definition: str) -> None:
    shown = [{**_with_units(row), DEFINITION_COLUMN: definition} for row in table]
    writer = csv.DictWriter(handle, fieldnames=list(shown[0]))
    writer.writeheader()
    for row in shown:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})


def write_json(result: Replicated, path: Path, meta: dict[str, Any]) -> None:
    document = {
        **meta,
        "replications": len(result.days),
        "confidence_level": result.level,
        "units": {**UNITS, "pct": "share of 0..1 here (percent in the CSV files)"},
        "intervals": rows(result)[:-1],
        "day": rows(result)[-1],
        "queues": {row["queue"]: {k: v for k, v in row.items() if k != "queue"} for row in queue_rows(result)},
        "days": [{name: _number(float(getattr(total, name))) for name in NUMERIC_FIGURES}
                 for _, total in result.days],
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
