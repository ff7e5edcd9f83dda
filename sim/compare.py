"""``acd-sim compare``: a forecast beside the day it forecast, interval by interval.

    acd-sim compare --forecast SIM_OUT --actual REPORT [--out DIR] [--no-plots]

``SIM_OUT`` is what ``acd-sim run`` (or ``acd-sim replay``) wrote, ``REPORT`` what
``acd report --out`` wrote: both a directory holding ``figures.csv`` (or the file
itself), in the same columns. Prints a table of the intervals that had calls, with the
differences (actual - forecast); ``--out DIR`` gets ``compare.csv`` (every interval,
every compared figure: forecast, its confidence half-width, actual, difference, and
whether the actual lies in the forecast's confidence interval) and ``compare.png``.
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.output import DEFINITION_COLUMN, csv_column

#: compared figures: (figure, table header, digits); their CSV columns carry units
COMPARED: tuple[tuple[str, str, int], ...] = (
    ("offered", "offered", 0), ("answered", "answered", 0), ("abandoned", "abandoned", 0),
    ("service_level", "SL %", 1), ("asa", "ASA s", 1), ("aht", "AHT s", 0), ("abandon_rate", "aband %", 1),
    ("occupancy", "occ %", 1), ("staffed_agents", "staffed", 1),
)
#: shown in the printed table (the CSV has every compared figure)
_TABLE = ("offered", "service_level", "asa", "abandon_rate", "staffed_agents")


class CompareError(Exception):
    """The two sides cannot be compared: why, for the person who asked."""


@dataclass(frozen=True, slots=True)
class Side:
    path: Path
    rows: list[dict[str, str]]

    @property
    def definition(self) -> str:
        return self.rows[0].get(DEFINITION_COLUMN, "") if self.rows else ""


def read_side(path: Path, role: str) -> Side:
    """A ``figures.csv`` (or the directory that holds one)."""
    file = path / "figures.csv" if path.is_dir() else path
    try:
        with file.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise CompareError(f"--{role}: cannot read {file}: {error.strerror or error}") from error
    if not rows or "interval" not in rows[0]:
        raise CompareError(f"--{role}: {file} is not a figures.csv (no interval column)")
    missing = [csv_column(name) for name, _, _ in COMPARED if csv_column(name) not in rows[0]]
    if missing:
        raise CompareError(f"--{role}: {file} has no column {missing[0]!r}: not a figures.csv of acd-sim run "
                           "or acd report")
    return Side(file, rows)


def _number(text: str | None) -> float:
    if text is None or text == "":
        return math.nan
    return float(text)


def compare(forecast: Side, actual: Side) -> list[dict[str, Any]]:
    """One row per interval (and the day's), each compared figure's forecast, its
    confidence half-width, actual, difference and whether the actual is in the interval."""
    ours = [row["interval"] for row in forecast.rows]
    theirs = [row["interval"] for row in actual.rows]
    if ours != theirs:
        raise CompareError(f"the intervals differ: the forecast has {len(ours) - 1} ({', '.join(ours[:3])}, ...), "
                           f"the actual {len(theirs) - 1} ({', '.join(theirs[:3])}, ...); make the report with the "
                           "forecast's --interval")
    table = []
    for f_row, a_row in zip(forecast.rows, actual.rows):
        row: dict[str, Any] = {"interval": f_row["interval"]}
        for name, _, _ in COMPARED:
            column = csv_column(name)
            predicted, real = _number(f_row.get(column)), _number(a_row.get(column))
            half = _number(f_row.get(csv_column(name + "_ci")))
            row[f"{column}_forecast"] = predicted
            row[f"{column}_forecast_ci"] = half
            row[f"{column}_actual"] = real
            row[f"{column}_difference"] = real - predicted
            inside = "" if math.isnan(half) or math.isnan(real) or math.isnan(predicted) \
                else ("yes" if abs(real - predicted) <= half else "no")
            row[f"{column}_in_ci"] = inside
        table.append(row)
    return table


def render(table: Sequence[dict[str, Any]], forecast: Side, actual: Side) -> str:
    heads = {name: (header, digits) for name, header, digits in COMPARED}
    width = 24
    top = "interval " + "".join(f"{heads[n][0] + ' fc/act/diff':>{width}}" for n in _TABLE)
    lines = [f"forecast {forecast.path}", f"actual   {actual.path}", top]
    for row in table:
        if row["interval"] != "day" and not (row["offered_forecast"] or 0) > 0 and not (row["offered_actual"] or 0) > 0:
            continue
        cells = []
        for name in _TABLE:
            column, digits = csv_column(name), heads[name][1]
            values = [row[f"{column}_{part}"] for part in ("forecast", "actual", "difference")]
            text = "/".join("-" if math.isnan(v) else f"{v:.{digits}f}" for v in values)
            cells.append(f"{text:>{width}}")
        lines.append(f"{row['interval']:<8} " + "".join(cells))
    if forecast.definition != actual.definition:
        lines.append(f"warning: the service levels are divided differently: forecast "
                     f"{forecast.definition or '(not said)'}, actual {actual.definition or '(not said)'}")
    else:
        lines.append(f"service level = {forecast.definition}")
    return "\n".join(lines)


def write_csv(table: Sequence[dict[str, Any]], path: Path, definition: str) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*table[0], DEFINITION_COLUMN])
        writer.writeheader()
        for row in table:
            writer.writerow({**{k: ("" if isinstance(v, float) and math.isnan(v) else
                                    round(v, 6) if isinstance(v, float) else v) for k, v in row.items()},
                             DEFINITION_COLUMN: definition})


def draw(table: Sequence[dict[str, Any]], title: str) -> Any:
    """Offered calls, service level and ASA per interval: forecast (with its confidence
    band) against actual."""
    from sim.plots import _clock_axis, _hours, _pyplot

    plt = _pyplot()
    rows = [row for row in table if row["interval"] != "day"]
    hours = _hours([row["interval"] for row in rows])
    step = (hours[1] - hours[0]) if len(hours) > 1 else 24.0
    middle = [h + step / 2 for h in hours]
    fig, panels = plt.subplots(3, 1, figsize=(11, 9), sharex=True)
    for ax, (name, label) in zip(panels, (("offered", "calls offered per interval"),
                                          ("service_level", "service level (%)"), ("asa", "ASA (s)"))):
        column = csv_column(name)
        predicted = [row[f"{column}_forecast"] for row in rows]
        half = [0.0 if math.isnan(row[f"{column}_forecast_ci"]) else row[f"{column}_forecast_ci"] for row in rows]
        ax.plot(middle, predicted, "-", color="tab:blue", label="forecast")
        ax.fill_between(middle, [p - h for p, h in zip(predicted, half)], [p + h for p, h in zip(predicted, half)],
                        color="tab:blue", alpha=0.2, label="forecast's confidence interval")
        ax.plot(middle, [row[f"{column}_actual"] for row in rows], "o", ms=3, color="tab:red", label="actual")
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    panels[0].set_title(title, fontsize=11)
    _clock_axis(panels[-1])
    return fig


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("compare", help="a forecast beside the real day, per interval",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--forecast", required=True, type=Path, help="acd-sim run's --out (or its figures.csv)")
    parser.add_argument("--actual", required=True, type=Path, help="acd report's --out (or its figures.csv)")
    parser.add_argument("--out", type=Path, default=None, help="write compare.csv and compare.png here")
    parser.add_argument("--no-plots", action="store_true", help="with --out: skip compare.png")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    try:
        forecast, actual = read_side(args.forecast, "forecast"), read_side(args.actual, "actual")
        table = compare(forecast, actual)
    except CompareError as error:
        print(f"acd-sim compare: {error}", file=sys.stderr)
        return 2
    print(render(table, forecast, actual))
    if args.out is not None:
        try:
            args.out.mkdir(parents=True, exist_ok=True)
            written = [args.out / "compare.csv"]
            write_csv(table, written[0], actual.definition)
            if not args.no_plots:
                fig = draw(table, f"forecast ({forecast.path.parent.name}) against actual ({actual.path.parent.name})")
                fig.tight_layout()
                fig.savefig(args.out / "compare.png", dpi=100)
                written.append(args.out / "compare.png")
                from sim.plots import _pyplot

                _pyplot().close(fig)
        except OSError as error:
            print(f"acd-sim compare: cannot write to --out {args.out}: {error.strerror or error}", file=sys.stderr)
            return 2
        print("wrote " + ", ".join(str(p) for p in written))
    return 0
