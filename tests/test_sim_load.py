"""The load model's building blocks as the issue states them: lognormal handling time of
mean 270 s by default, the shares of durations the config describes, and a day cut in
15-minute intervals as well as 30."""
from __future__ import annotations

import math
import random
from statistics import fmean, stdev

import pytest

from acd.config import load_config_text
from acd.config.sim import Distribution, SimSettings, settings_for
from sim.load import sampler
from sim.replications import run_days


def draws(distribution: Distribution, count: int = 40_000, seed: int = 2) -> list[float]:
    draw = sampler(distribution, random.Random(seed))
    return [draw() for _ in range(count)]


def test_default_handling_time_is_lognormal_with_mean_270_seconds():
    default = SimSettings().talk_time
    assert (default.kind, default.mean) == ("lognormal", 270.0)
    values = draws(default)
    assert min(values) > 0
    assert fmean(values) == pytest.approx(270.0, rel=0.02)
    assert stdev(values) / fmean(values) == pytest.approx(default.cv, rel=0.08)
    # lognormal, not exponential or normal: the median lies well below the mean
    assert sorted(values)[len(values) // 2] == pytest.approx(270.0 / (1 + default.cv ** 2) ** 0.5, rel=0.03)


def test_lognormal_draws_are_those_of_random_lognormvariate_draw_for_draw():
    # the sampler spells out lognormvariate's arithmetic (sim.load): seeded days must
    # draw exactly what they drew through the random module
    for mean, cv, seed in ((270.0, 0.8, 2), (45.0, 0.3, 7), (1.5, 2.5, 11)):
        sigma = math.sqrt(math.log(1.0 + cv ** 2))
        mu = math.log(mean) - sigma * sigma / 2.0
        reference = random.Random(seed)
        expected = [reference.lognormvariate(mu, sigma) for _ in range(20_000)]
        assert draws(Distribution("lognormal", mean, cv), count=20_000, seed=seed) == expected


def test_exponential_patience_has_its_mean_and_constant_durations_do_not_vary():
    patience = draws(Distribution("exponential", 240.0))
    assert fmean(patience) == pytest.approx(240.0, rel=0.02)
    assert stdev(patience) == pytest.approx(240.0, rel=0.03)
    assert set(draws(Distribution("constant", 40.0), count=10)) == {40.0}


def test_a_day_in_15_minute_intervals_reports_96_of_them():
    config = load_config_text("""\
service: {name: q15, languages: [el], lines: 50}
skills: {topic:a: A}
queues:
  q: {requires: {topic:a: 1}, wrapup: 0}
agents:
  '11': {pin: '1234', skills: {topic:a: 1}}
  '12': {pin: '1234', skills: {topic:a: 1}}
sim:
  calls_per_day: 300
  interval: 15
  profile: {"09:00": 1, "09:15": 3, "09:30": 0}
  talk_time: {distribution: exponential, mean: 60}
""", "q15.yaml")
    settings = settings_for(config)
    assert settings.intervals == 96 and len(settings.profile) == 96
    result = run_days(config, settings, 2, seed=4)
    assert len(result.intervals) == 96
    assert result.starts[37] == "09:15"
    offered = [row["offered"].mean for row in result.intervals]
    assert not any(offered[:36]), "nobody calls before the profile's first interval"
    # the profile's calls land where it sends them; redials of the busy ones come later
    assert sum(offered[36:38]) > 0.8 * sum(offered)
    assert offered[37] > 2 * offered[36]
