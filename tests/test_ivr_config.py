"""The ``ivr`` section's checks (acd.config.ivr): every mistake names file and line."""
from __future__ import annotations

from pathlib import Path

import pytest

from acd.config import ConfigError, load_config_text
from acd.config.ivr import IvrConfig

EXAMPLE_TEXT = (Path(__file__).resolve().parent.parent / "examples" / "1555.yaml").read_text(encoding="utf-8")


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def refused(old: str, new: str) -> tuple[ConfigError, str]:
    assert old in EXAMPLE_TEXT, old
    text = EXAMPLE_TEXT.replace(old, new, 1)
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "1555.yaml")
    return caught.value, text


def test_example_ivr_loads_into_the_config() -> None:
    config = load_config_text(EXAMPLE_TEXT)
    assert isinstance(config.ivr, IvrConfig)
    assert config.ivr.entry == "language" and config.ivr.survey is not None


def test_node_naming_a_missing_prompt_is_refused_with_its_line() -> None:
    error, text = refused("prompt: caller_type_menu", "prompt: caller_typ_menu")
    assert error.file == "1555.yaml" and error.line == line_of(text, "caller_typ_menu")
    assert "unknown prompt 'caller_typ_menu'" in error.reason and "caller_type_menu" in error.reason


def test_prompt_in_an_unknown_language_is_refused() -> None:
    error, text = refused("welcome@el,", "welcome@fr,")
    assert error.line == line_of(text, "welcome@fr") and "'fr'" in error.reason


def test_next_naming_a_missing_node_is_refused() -> None:
    error, text = refused('"8": documents', '"8": documentz')
    assert error.line == line_of(text, "documentz") and "unknown next node 'documentz'" in error.reason


def test_unknown_queue_is_refused() -> None:
    error, text = refused('"3": {queue: welfare}', '"3": {queue: welfair}')
    assert error.line == line_of(text, "welfair") and "unknown queue 'welfair'" in error.reason


def test_option_key_must_be_a_phone_key() -> None:
    error, text = refused('"5": {queue: solidarity}', '"55": {queue: solidarity}')
    assert error.line == line_of(text, '"55"') and "one key of the phone" in error.reason


def test_route_without_a_chosen_queue_is_refused() -> None:
    error, text = refused('"9": {queue: violence}  # the emergency', '"9": {language: el}  # the emergency')
    assert error.line == line_of(text, '"9": {language: el}') and "no queue was chosen" in error.reason


def test_unreachable_node_is_refused() -> None:
    error, text = refused('"8": documents', '"8": {queue: welfare}')
    assert "'documents' is never reached" in error.reason and error.line == line_of(text, "      type: info")


def test_default_key_must_be_an_option() -> None:
    error, _ = refused('default: "1"', 'default: "7"')
    assert "default key '7'" in error.reason


def test_out_of_hours_exit_must_be_known() -> None:
    error, _ = refused("exit: callback}", "exit: voicemail}")
    assert "not an exit" in error.reason


def test_callback_dial_string_needs_the_number() -> None:
    error, _ = refused('dial: "PJSIP/{number}@citizens"', 'dial: "PJSIP/citizens"')
    assert "{number}" in error.reason


def test_unknown_key_in_a_node_gets_a_spelling_hint() -> None:
    error, text = refused("    documents:\n      type: info", "    documents:\n      typ: info")
    assert "did you mean 'type'" in error.reason and error.line == line_of(text, "typ: info")


def test_callback_without_a_dial_string_takes_the_default() -> None:
    text = EXAMPLE_TEXT.replace('    dial: "PJSIP/{number}@citizens"\n', "", 1)
    assert text != EXAMPLE_TEXT
    config = load_config_text(text, "1555.yaml")
    assert config.ivr.callback.dial == "PJSIP/{number}@citizens" and config.ivr.callback.min_digits == 10
