"""The config loader: the 1555 example loads, and every mistake names file, line and reason."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from acd.config import ConfigError, load_config, load_config_text

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "1555.yaml"

MINIMAL = """\
service:
  languages: [el, en]
skills:
  topic:a: A
  lang:el: Greek
queues:
  q:
    requires: {topic:a: 2}
agents:
  '11': {pin: '1234', skills: {topic:a: 3, lang:el: 5}}
"""


def test_the_1555_example_loads():
    config = load_config(EXAMPLE)
    assert config.languages == ("el", "en") and config.default_language == "el"
    assert set(config.queues) == {"pensions", "unemployment", "welfare", "labour", "solidarity", "equality", "violence"}
    violence = config.queues["violence"]
    assert violence.always_open and violence.priority > 0 and violence.record
    assert {a.skills.get("topic:violence", 0) >= 3 for a in config.agents.values()} == {True, False}
    assert config.lines == 240
    assert config.routing.pause_reasons["backoffice"] is True
    assert config.agents["2001"].endpoint == "agent-2001"
    assert config.schedules["business"].holidays == ("greece",)


def test_minimal_config_gets_defaults():
    config = load_config_text(MINIMAL)
    q = config.queues["q"]
    assert (q.strategy, q.wrapup, q.max_wait, q.widening) == ("longest_idle", 10.0, None, ())
    assert q.title == {"el": "q", "en": "q"}


def error_for(text: str, tmp_path: Path) -> ConfigError:
    path = tmp_path / "acd.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.file == str(path)
    return info.value


@pytest.mark.parametrize("change, line, words", [
    (("    requires: {topic:a: 2}", "    requires: {topic:a: 2}\n    stratgy: random"), 9, "did you mean 'strategy'"),
    (("    requires: {topic:a: 2}", "    requires: {topic:b: 2}"), 8, "unknown skill 'topic:b'"),
    (("    requires: {topic:a: 2}", "    requires: {topic:a: 11}"), 8, "at most 10"),
    (("    requires: {topic:a: 2}", "    requires: {topic:a: 2}\n    wrapup: ten"), 9, "expected a number"),
    (("    requires: {topic:a: 2}", "    requires: {topic:a: 2}\n    strategy: ringall"), 9, "not one of"),
    (("  lang:el: Greek", "  lang:el: Greek\n  topic:a: again"), 6, "duplicate key 'topic:a'"),
    (("pin: '1234'", "pin: '12'"), 10, "4 to 8 digits"),
    (("  '11':", "  'x1':"), 10, "2 to 8 digits"),
    (("    requires: {topic:a: 2}", "    requires: {topic:a: 2}\n    schedule: office"), 9, "unknown schedule"),
    (("    requires: {topic:a: 2}", "    requires: {topic:a: 2}\n    max_wait: 60\n    on_max_wait: queue:nowhere"), 10,
     "unknown queue 'nowhere'"),
    (("    requires: {topic:a: 2}", "    requires: {topic:a: 2}\n    widening: [{after: 60, min_level: 1}, {after: 30, min_level: 1}]"),
     9, "increasing"),
    (("    requires: {topic:a: 2}", "    requires: {topic:a: 2}\n    widening: [{after: 60}]"), 9, "needs 'min_level' or 'drop'"),
    (("  languages: [el, en]", "  languages: [el, en, el]"), 2, "listed twice"),
    (("  languages: [el, en]", "  languages: [el, en\n"), 4, "YAML syntax"),
    (("agents:", "daemon: {pin_max_failures: 0}\nagents:"), 9, "at least 1"),
    (("agents:", "daemon: {pin_lockout: soon}\nagents:"), 9, "expected a number"),
])
def test_mistakes_name_the_line_and_reason(tmp_path, change, line, words):
    old, new = change
    assert old in MINIMAL
    error = error_for(MINIMAL.replace(old, new, 1), tmp_path)
    assert error.line == line, str(error)
    assert words in error.reason
    assert str(error).startswith(f"{tmp_path / 'acd.yaml'}:{line}: ")


def test_missing_section_is_named(tmp_path):
    error = error_for(MINIMAL.replace("queues:\n  q:\n    requires: {topic:a: 2}\n", ""), tmp_path)
    assert "missing required key 'queues'" in error.reason


def test_prompt_without_every_language_is_refused(tmp_path):
    error = error_for(MINIMAL + "prompts:\n  hello: {el: 'Γεια σας'}\n", tmp_path)
    assert error.line == 12 and "no text for en" in error.reason


def test_missing_file_and_non_utf8_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("service: {name: 'Αθήνα'}".encode("iso-8859-7"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(bad)


def test_teams_expand_to_agents_and_collisions_are_refused(tmp_path):
    text = MINIMAL + "teams:\n  desk:\n    ids: 20-22\n    skills: {topic:a: 1}\n"
    config = load_config_text(text)
    assert {"20", "21", "22"} <= set(config.agents)
    error = error_for(text.replace("ids: 20-22", "ids: 10-12"), tmp_path)
    assert "used twice" in error.reason and error.line == 13


def test_schedule_hours_and_day_ranges():
    text = MINIMAL + textwrap.dedent("""\
        schedules:
          office:
            weekly:
              mon-fri: ["08:00-12:00", "13:00-17:00"]
              sat: "09:00-24:00"
        """)
    config = load_config_text(text)
    weekly = config.schedules["office"].weekly
    assert len(weekly[0]) == 2 and 6 not in weekly and weekly[5][0].end.hour == 23


HOLIDAYS = MINIMAL + textwrap.dedent("""\
    holidays:
      greece:
        builtin: greece
        dates: [2024-05-08]
        not_dates: [2024-05-07]
    """)


def test_holidays_can_add_and_remove_days_of_the_computed_calendar():
    from datetime import date

    calendar = load_config_text(HOLIDAYS).holidays["greece"]
    assert (calendar.builtin, calendar.dates, calendar.not_dates) == ("greece", (date(2024, 5, 8),), (date(2024, 5, 7),))


@pytest.mark.parametrize("old, new, line, words", [
    ("not_dates: [2024-05-07]", "not_dates: [2024-13-07]", 15, "expected a date like 2026-12-24, got '2024-13-07'"),
    ("not_dates: [2024-05-07]", "not_dates: [May 7]", 15, "expected a date"),
    ("not_dates: [2024-05-07]", "not_dates: [2024-05-01]", 15, "not a holiday the 'greece' calendar computes"),
    ("not_dates: [2024-05-07]", "not_dates: [2024-05-07, 2024-05-07]", 15, "listed twice"),
    ("not_dates: [2024-05-07]", "not_dates: [2024-05-08]", 15, "both in 'dates' and in 'not_dates'"),
    ("not_dates: [2024-05-07]", "not_dates: 2024-05-07", 15, "expected a list"),
    ("not_dates: [2024-05-07]", "not_date: [2024-05-07]", 15, "did you mean 'not_dates'"),
    ("    builtin: greece\n", "", 14, "has no 'builtin'"),
    ("dates: [2024-05-08]", "dates: [2024-05-08 10:00:00]", 14, "expected a date"),
])
def test_holiday_mistakes_name_the_line_and_reason(tmp_path, old, new, line, words):
    assert old in HOLIDAYS
    error = error_for(HOLIDAYS.replace(old, new, 1), tmp_path)
    assert error.line == line, str(error)
    assert words in error.reason, str(error)


def test_a_value_yaml_takes_for_an_impossible_date_is_a_config_error_not_a_crash(tmp_path):
    error = error_for(MINIMAL + "prompts:\n  hello: {el: 2024-13-07, en: x}\n", tmp_path)
    assert error.line == 12 and "'2024-13-07' cannot be read" in error.reason


# -- PINs and the network surface -----------------------------------------------------------

def test_a_team_pin_is_refused_with_the_way_out(tmp_path):
    text = MINIMAL + "teams:\n  desk:\n    ids: 20-22\n    pin: '5555'\n    skills: {topic:a: 1}\n"
    error = error_for(text, tmp_path)
    assert error.line == 14 and "one PIN for a whole team" in error.reason and "acd pins generate" in error.reason


def test_a_clear_text_pin_is_accepted_with_a_warning_and_a_hash_without():
    config = load_config_text(MINIMAL)
    assert config.agents["11"].pin == "1234"
    assert len(config.warnings) == 1 and "clear-text PIN" in config.warnings[0] and ":10:" in config.warnings[0]
    hashed = load_config_text(MINIMAL.replace("pin: '1234'", "pin: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA'"))
    assert hashed.warnings == ()
    assert load_config_text(MINIMAL.replace("{pin: '1234', ", "{")).agents["11"].pin == ""


def test_the_pins_file_gives_each_agent_its_hash(tmp_path):
    from acd.config.pins import hash_pin, pin_verifies, write_pins_file

    config_path = tmp_path / "acd.yaml"
    config_path.write_text(MINIMAL.replace("{pin: '1234', ", "{") + "daemon:\n  pins_file: agents.pins\n")
    assert "no pins file yet" in load_config(config_path).warnings[0]
    write_pins_file(tmp_path / "agents.pins", {"11": hash_pin("482913")})
    assert oct((tmp_path / "agents.pins").stat().st_mode & 0o777) == "0o600"
    config = load_config(config_path)
    assert config.warnings == () and pin_verifies(config.agents["11"].pin, "482913")
    assert not pin_verifies(config.agents["11"].pin, "482914")
    (tmp_path / "agents.pins").chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        load_config(config_path)


@pytest.mark.parametrize("line, reason", [
    ("11 1234", "'<agent id> <argon2 hash>'"),
    ("99 $argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA", "agent '99' is not in the config"),
])
def test_pins_file_mistakes_name_file_and_line(tmp_path, line, reason):
    config_path = tmp_path / "acd.yaml"
    config_path.write_text(MINIMAL.replace("{pin: '1234', ", "{") + "daemon:\n  pins_file: agents.pins\n")
    pins = tmp_path / "agents.pins"
    pins.write_text(f"# comment\n\n{line}\n")
    pins.chmod(0o600)
    with pytest.raises(ConfigError) as info:
        load_config(config_path)
    assert info.value.file == str(pins) and info.value.line == 3 and reason in info.value.reason


def test_an_agent_with_a_pin_in_both_places_is_refused(tmp_path):
    from acd.config.pins import hash_pin, write_pins_file

    config_path = tmp_path / "acd.yaml"
    config_path.write_text(MINIMAL + "daemon:\n  pins_file: agents.pins\n")
    write_pins_file(tmp_path / "agents.pins", {"11": hash_pin("1111")})
    error = error_for(config_path.read_text(), tmp_path)
    assert error.line == 10 and "keep only the pins file's" in error.reason


def test_api_and_fastagi_bind_apart_and_fastagi_names_its_asterisks(tmp_path):
    config = load_config_text(MINIMAL + "daemon:\n  api_host: 0.0.0.0\n  asterisk_hosts: [10.0.0.5, '::1']\n")
    assert config.daemon.api_host == "0.0.0.0" and config.daemon.agi_host == "127.0.0.1"
    assert config.daemon.asterisk_hosts == ("10.0.0.5", "::1")
    assert load_config_text(MINIMAL).daemon.asterisk_hosts == ("127.0.0.1",)
    error = error_for(MINIMAL + "daemon:\n  asterisk_hosts: [pbx.example]\n", tmp_path)
    assert error.line == 12 and "not an IP address" in error.reason


def test_callback_rules_have_defaults_and_a_bad_share_names_its_line(tmp_path):
    routing = load_config_text(MINIMAL).routing
    assert (routing.callback_share, routing.callback_attempts, routing.callback_retry_delay,
            routing.callback_window) == (0.25, 3, 600.0, 14400.0)
    error = error_for(MINIMAL + "routing:\n  callback_share: 0\n", tmp_path)
    assert error.line == MINIMAL.count("\n") + 2 and "callback_share" in str(error)


def test_two_daemons_share_a_lease_only_with_redis(tmp_path):
    config = load_config_text(MINIMAL + "daemon: {redis_url: 'redis://127.0.0.1:6379/0', lease: true, "
                                        "redis_prefix: 'centre-a:'}\n")
    assert (config.daemon.lease, config.daemon.redis_prefix) == (True, "centre-a:")
    error = error_for(MINIMAL + "daemon:\n  lease: true\n", tmp_path)
    assert error.line == 12 and "daemon.lease needs daemon.redis_url" in str(error)
