"""The config's sim: section: 1555 defaults when absent, step tables per interval, and
every mistake refused with file, line and reason."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from acd.config import ConfigError, load_config, load_config_text
from acd.config.sim import DEFAULT_HOURLY_SHAPE, Distribution, SimSettings, settings_for

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "1555.yaml"

BASE = """\
service: {name: t, languages: [el, en]}
skills:
  topic:a: A
  topic:b: B
  lang:el: Greek
  lang:en: English
  type:employer: employers
queues:
  qa: {requires: {topic:a: 1}}
  qb: {requires: {topic:b: 1}}
agents:
  '11': {pin: '1234', skills: {topic:a: 2, topic:b: 2, lang:el: 5, lang:en: 3, type:employer: 1}}
  '12': {pin: '1234', skills: {topic:a: 2, lang:el: 5}}
  '13': {pin: '1234', skills: {topic:b: 2, lang:el: 5}}
"""

#: the line of the first entry of the sim: section that config_with appends
SIM_LINE = len(BASE.splitlines()) + 2


def config_with(sim: str):
    return load_config_text(BASE + "sim:\n" + textwrap.indent(textwrap.dedent(sim), "  "), "plan.yaml")


def sim_error(sim: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        config_with(sim)
    return info.value


def test_a_config_without_sim_section_gets_the_1555_defaults():
    config = load_config_text(BASE, "plain.yaml")
    assert config.sim is None
    settings = settings_for(config)
    assert settings.calls_per_day == 18_500
    assert settings.talk_time == Distribution("lognormal", 270.0, 0.8)
    assert settings.first_contact == 0.85
    assert settings.topics == {"qa": 0.5, "qb": 0.5}
    assert settings.languages["el"] == pytest.approx(0.95)
    assert len(settings.profile) == 48 and sum(settings.profile) == pytest.approx(1.0)
    peak = max(range(48), key=lambda i: settings.profile[i])
    assert 9 * 2 <= peak < 12 * 2, "the default day peaks mid-morning"
    assert settings.staffing is None


def test_the_1555_example_has_a_sim_section_that_loads():
    config = load_config(EXAMPLE)
    settings = settings_for(config)
    assert isinstance(config.sim, SimSettings) and settings is config.sim
    assert set(settings.topics) <= set(config.queues)
    assert settings.calls_per_day == 18_500


def test_profile_steps_hold_until_the_next_time_and_are_normalised():
    settings = config_with("""\
        interval: 60
        profile: {"08:00": 1, "10:00": 3, "12:00": 0}
    """).sim
    assert settings.profile[:8] == (0.0,) * 8
    assert settings.profile[8] == settings.profile[9] == pytest.approx(1 / 8)
    assert settings.profile[10] == settings.profile[11] == pytest.approx(3 / 8)
    assert settings.profile[12:] == (0.0,) * 12


def test_staffing_table_gives_a_head_count_per_interval():
    settings = config_with("""\
        interval: 30
        staffing: {"00:00": 1, "07:30": 3, "22:00": 2}
    """).sim
    assert settings.staffing[14] == 1 and settings.staffing[15] == 3 and settings.staffing[43] == 3
    assert settings.staffing[44:] == (2,) * 4


def test_shares_are_normalised_and_durations_accept_a_plain_mean():
    settings = config_with("""\
        topics: {qa: 3, qb: 1}
        languages: {el: 9, en: 1}
        talk_time: 300
        patience: none
        ivr_time: {distribution: constant, mean: 30}
    """).sim
    assert settings.topics == {"qa": 0.75, "qb": 0.25}
    assert settings.languages == {"el": 0.9, "en": pytest.approx(0.1)}
    assert settings.talk_time == Distribution("lognormal", 300.0, 0.8)
    assert settings.patience is None
    assert (settings.ivr_time.kind, settings.ivr_time.mean) == ("constant", 30.0)


@pytest.mark.parametrize("sim, reason, line", [
    ("interval: 20\n", "use one of 15, 30, 60", SIM_LINE),
    ("profile: {\"07:10\": 1}\n", "not on a 30-minute interval boundary", SIM_LINE),
    ("profile: {\"09:00\": 1, \"08:00\": 2}\n", "must come after the time before it", SIM_LINE),
    ("profile: {\"25:00\": 1}\n", "impossible time", SIM_LINE),
    ("topics: {qa: 1, qc: 1}\n", "qc", SIM_LINE),
    ("topics: {qa: 0}\n", "add up to nothing", SIM_LINE),
    ("staffing: {\"00:00\": 4}\n", "asks for 4 agents but the config has 3", SIM_LINE),
    ("talk_time: {distribution: gamma, mean: 3}\n", "gamma", SIM_LINE),
    ("first_contact: 1.5\n", "1.5", SIM_LINE),
    ("calls_per_dai: 100\n", "calls_per_dai", SIM_LINE),
    ("redial: {probability: -0.1}\n", "-0.1", SIM_LINE),
    ("patience: 0\n", "needs a mean above 0", SIM_LINE),
    ("ivr_time: [1, 2]\n", "expected a number", SIM_LINE),
    ("target: {max_blocking: 0.9}\n", "at most 0.5", SIM_LINE),
])
def test_mistakes_name_file_line_and_reason(sim: str, reason: str, line: int):
    error = sim_error(sim)
    assert error.file == "plan.yaml"
    assert reason in str(error)
    assert error.line == line


def test_employers_sent_where_no_agent_handles_employers_are_refused():
    mix = "sim:\n  employers: {qa: 0.2}\n  languages: {el: 1}\n"
    assert load_config_text(BASE + mix, "plan.yaml").sim.employers == {"qa": 0.2}
    without_employer_agents = BASE.replace(", type:employer: 1}", "}")
    with pytest.raises(ConfigError) as info:
        load_config_text(without_employer_agents + mix, "plan.yaml")
    assert "no agent can take 'el' callers of queue 'qa'" in str(info.value)
    assert "type:employer>=1" in str(info.value)


def test_english_callers_of_a_queue_without_english_agents_are_refused():
    # qb's only English speaker is 11; drop lang:en from everyone via a config of its own
    text = BASE.replace("lang:en: 3, ", "") + "sim:\n  languages: {el: 1, en: 1}\n"
    with pytest.raises(ConfigError) as info:
        load_config_text(text, "plan.yaml")
    assert "no agent can take 'en' callers" in str(info.value)
    assert info.value.line == text.splitlines().index("sim:") + 2


def test_callers_that_a_widening_step_lets_any_agent_take_are_not_refused():
    """The check widens the caller's whole requirements, as the engine does: a queue whose
    widening drops ``lang:en`` serves English callers after that step, English agents or
    none (the check used to widen the queue's own requirements only, and refused)."""
    text = BASE.replace("lang:en: 3, ", "").replace(
        "qb: {requires: {topic:b: 1}}", "qb: {requires: {topic:b: 1}, widening: [{after: 60, drop: [lang:en]}]}")
    mix = "sim:\n  topics: {qb: 1}\n  languages: {el: 1, en: 1}\n"
    config = load_config_text(text + mix, "plan.yaml")
    assert config.queues["qb"].widened({"topic:b": 1, "lang:en": 1}, 1) == {"topic:b": 1}
    with pytest.raises(ConfigError, match="no agent can take 'en' callers of queue 'qb'"):
        load_config_text(text.replace(", widening: [{after: 60, drop: [lang:en]}]", "") + mix, "plan.yaml")


def test_defaults_that_no_agent_can_serve_name_the_queue():
    text = BASE.replace("lang:en: 3, ", "")
    config = load_config_text(text, "plain.yaml")
    with pytest.raises(ConfigError) as info:
        settings_for(config)
    assert "sim (defaults)" in str(info.value) and info.value.file == "plain.yaml"


def test_default_shape_has_24_hours():
    assert len(DEFAULT_HOURLY_SHAPE) == 24


def test_the_old_name_handle_time_still_works_with_a_warning_naming_file_and_line():
    with pytest.warns(FutureWarning, match=r"sim\.handle_time is deprecated: it is the talk time.*talk_time"):
        settings = config_with("handle_time: 300\n").sim
    assert settings.talk_time == Distribution("lognormal", 300.0, 0.8)


def test_talk_time_and_its_old_name_together_are_refused():
    with pytest.raises(ConfigError, match="give talk_time alone"):
        config_with("talk_time: 300\nhandle_time: 200\n")
