"""The PNG plots read on their own: each says what it shows and over how many days,
every axis names its unit, the x axis is clock time, and the target is drawn."""
from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from sim.figures import Figures
from sim.plots import PLOTS, PlotContext, draw_all, write_plots
from sim.replications import Replicated, summarise

CONTEXT = PlotContext(service="1555", threshold=20.0, target_level=0.8, short_abandon=5.0, lines=100)


def fake_row(start: str, rng: random.Random, calls: int) -> Figures:
    answered = calls * 8 // 10
    return Figures(start=start, offered=calls, blocked=calls // 10, answered=answered, abandoned=calls // 20,
                   short_abandoned=calls // 40, exited=0, unfinished=0, redials=calls // 30, escalated=answered // 7,
                   waited=answered // 2, service_level=math.nan if not calls else 0.7 + 0.2 * rng.random(),
                   asa=math.nan if not calls else 10 * rng.random(), longest_wait=90 * rng.random(),
                   aht=280.0, blocking=0.1, abandon_rate=0.05, occupancy=rng.random(), staffed_agents=40,
                   needed_agents=35)


def fake_days(count: int, interval_minutes: int = 30) -> Replicated:
    rng = random.Random(5)
    days = []
    for _ in range(count):
        rows = [fake_row(f"{m // 60:02d}:{m % 60:02d}", rng, 0 if m < 6 * 60 else 100 + rng.randrange(50))
                for m in range(0, 24 * 60, interval_minutes)]
        days.append((rows, fake_row("day", rng, 5000)))
    return summarise(days)


@pytest.fixture(scope="module")
def figures_by_name():
    import matplotlib.pyplot as plt

    drawn = draw_all(fake_days(3), CONTEXT)
    yield drawn
    for fig in drawn.values():
        plt.close(fig)


def test_every_plot_has_a_title_naming_the_service_and_the_number_of_days(figures_by_name):
    assert set(figures_by_name) == set(PLOTS)
    for name, fig in figures_by_name.items():
        title = fig.axes[0].get_title()
        assert title.startswith("1555: ") and "mean of 3 simulated days" in title, name


@pytest.mark.parametrize("name, units", [
    ("calls.png", ["calls per 30 min"]),
    ("service.png", ["answered within 20 s (%)", "wait (seconds)"]),
    ("staffing.png", ["agents", "occupancy (%)"]),
])
def test_every_axis_names_its_unit(figures_by_name, name, units):
    axes = figures_by_name[name].axes
    assert [ax.get_ylabel() for ax in axes] == units
    assert axes[-1].get_xlabel().startswith("time of day")


def test_the_time_axis_reads_as_clock_times_over_the_whole_day(figures_by_name):
    for name, fig in figures_by_name.items():
        bottom = fig.axes[-1]
        assert bottom.get_xlim() == (0, 24), name
        labels = [label.get_text() for label in bottom.get_xticklabels()]
        assert labels[0] == "00:00" and "10:00" in labels and labels[-1] == "24:00", name


def test_every_series_is_named_in_a_legend(figures_by_name):
    for name, fig in figures_by_name.items():
        for ax in fig.axes:
            legend = ax.get_legend()
            assert legend is not None and legend.get_texts(), name
    calls_legend = [t.get_text() for t in figures_by_name["calls.png"].axes[0].get_legend().get_texts()]
    assert "busy signal (all 100 lines taken)" in calls_legend
    assert "short abandons (within 5 s)" in calls_legend


def test_the_service_level_plot_draws_the_target_and_says_what_the_error_bars_are(figures_by_name):
    top = figures_by_name["service.png"].axes[0]
    assert "95% confidence interval" in top.get_title()
    assert any(set(line.get_ydata()) == {80.0} for line in top.get_lines()), "no 80 % target line"
    legend = [t.get_text() for t in top.get_legend().get_texts()]
    assert "target 80% within 20 s" in legend


def test_one_day_says_so_instead_of_claiming_an_interval(tmp_path: Path):
    written = write_plots(fake_days(1, interval_minutes=15), tmp_path, CONTEXT)
    assert [p.name for p in written] == list(PLOTS)
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.pyplot as plt

    drawn = draw_all(fake_days(1, interval_minutes=15), CONTEXT)
    try:
        assert "1 simulated day" in drawn["service.png"].axes[0].get_title()
        assert "confidence" not in drawn["service.png"].axes[0].get_title()
        assert drawn["calls.png"].axes[0].get_ylabel() == "calls per 15 min"
    finally:
        for fig in drawn.values():
            plt.close(fig)
