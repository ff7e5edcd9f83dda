"""Number prompts in the config (acd.config.number_prompts): the waiting room's position
and wait sentences per language and plural form, and every mistake with file and line."""
from __future__ import annotations

from pathlib import Path

import pytest

from acd.config import ConfigError, load_config, load_config_text
from acd.config.model import NumberForms, NumberPrompt, plural_form

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "1555.yaml"

BASE = """\
service:
  languages: [el, en]
skills:
  topic:a: A
queues:
  q:
    requires: {topic:a: 1}
agents:
  '11': {pin: '1234', skills: {topic:a: 3}}
prompts:
  hello: {el: "Γεια σας.", en: "Hello."}
"""
#: lines 12.. of the file: the two number prompts, one key a line so errors have a line
PAIR = """\
  announce_position:
    up_to: 3
    el:
      one: "Είστε επόμενοι."
      other: "Η θέση σας είναι {n}."
      over: "Η θέση σας είναι μετά τη θέση {n}."
    en:
      one: "You are next."
      other: "You are number {n}."
      over: "You are behind number {n}."
  announce_wait:
    up_to: 2
    el:
      one: "Περίπου ένα λεπτό."
      other: "Περίπου {n} λεπτά."
      over: "Πάνω από {n} λεπτά."
    en:
      other: "About {n} minutes."
      over: "More than {n} minutes."
"""


def error_for(text: str, tmp_path: Path) -> ConfigError:
    path = tmp_path / "acd.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.file == str(path)
    return info.value


def test_number_prompts_are_parsed_apart_from_the_plain_prompts() -> None:
    config = load_config_text(BASE + PAIR)
    assert set(config.prompts) == {"hello"}
    wait = config.number_prompts["announce_wait"]
    assert wait.up_to == 2 and wait.line == 23
    assert wait.texts["el"] == NumberForms(other="Περίπου {n} λεπτά.", over="Πάνω από {n} λεπτά.",
                                           one="Περίπου ένα λεπτό.")
    assert wait.texts["en"].one is None


def test_greek_says_one_minute_in_the_singular_and_more_in_the_plural() -> None:
    wait = load_config_text(BASE + PAIR).number_prompts["announce_wait"]
    assert wait.text("el", 1) == "Περίπου ένα λεπτό."
    assert wait.text("el", 2) == "Περίπου 2 λεπτά."
    assert wait.text("el", 3) == "Πάνω από 2 λεπτά."          # past up_to: the over form, {n} = up_to
    assert wait.text("en", 1) == "About 1 minutes."        # no 'one' given: 'other' serves for 1 too
    assert (wait.file_id(1), wait.file_id(2), wait.file_id(3), wait.file_id(0)) == \
        ("announce_wait-1", "announce_wait-2", "announce_wait-over", "announce_wait-over")


def test_plural_rule_of_greek_and_english() -> None:
    assert [plural_form(n) for n in (0, 1, 2, 11, 21)] == ["other", "one", "other", "other", "other"]


def test_expanded_files_are_every_number_up_to_the_maximum_and_the_over_file() -> None:
    prompt = NumberPrompt("p", 2, {"en": NumberForms(one="One.", other="{n} of them.", over="Over {n}.")})
    assert prompt.expanded("en") == {"p-1": "One.", "p-2": "2 of them.", "p-over": "Over 2."}


def test_the_1555_example_announces_in_greek_and_english() -> None:
    config = load_config(EXAMPLE)
    position, wait = config.number_prompts["announce_position"], config.number_prompts["announce_wait"]
    assert (position.up_to, wait.up_to) == (50, 60)
    assert set(position.texts) == set(wait.texts) == {"el", "en"}
    assert wait.text("el", 1).endswith("ένα λεπτό.") and wait.text("el", 5).endswith("5 λεπτά.")
    assert "{" not in position.text("el", 51) and "50" in position.text("el", 51)


def test_a_config_without_number_prompts_has_none() -> None:
    assert load_config_text(BASE).number_prompts == {}


@pytest.mark.parametrize("old, new, line, words", [
    ('      other: "Περίπου {n} λεπτά."', '      other: "Περίπου {minutes} λεπτά."', 26, "unknown placeholder {minutes}"),
    ('      other: "Περίπου {n} λεπτά."', '      other: "Περίπου {n λεπτά."', 26, "unbalanced brace"),
    ('      other: "Περίπου {n} λεπτά."', '      other: "Περίπου λίγα λεπτά."', 26, "never says the number"),
    ('      over: "More than {n} minutes."', '      over: "More than {max} minutes."', 30, "unknown placeholder {max}"),
    ('      over: "More than {n} minutes."', '      ovr: "More than {n} minutes."', 30, "did you mean 'over'"),
    ('    up_to: 2', '    up_to: 0', 23, "at least 1"),
    ('    up_to: 2', '    up_to: many', 23, "expected a whole number"),
    ('    en:\n      other: "About {n} minutes."\n      over: "More than {n} minutes."\n', '', 23,
     "number prompt 'announce_wait' has no text for en"),
    ('    en:\n      other: "About {n} minutes."\n      over: "More than {n} minutes."\n',
     '    en: "About {n} minutes."\n', 28,
     "a number prompt's text is a mapping of forms"),
])
def test_template_mistakes_name_the_line_and_reason(tmp_path: Path, old: str, new: str, line: int, words: str) -> None:
    text = BASE + PAIR
    assert old in text
    error = error_for(text.replace(old, new, 1), tmp_path)
    assert (error.line, words in error.reason) == (line, True), str(error)


def test_a_language_the_service_does_not_speak_is_refused(tmp_path: Path) -> None:
    text = BASE + PAIR + '    de:\n      other: "{n}"\n      over: "{n}"\n'
    error = error_for(text, tmp_path)
    assert error.line == 31 and "unknown key 'de'" in error.reason


def test_position_without_wait_is_refused_because_the_caller_would_hear_two_languages(tmp_path: Path) -> None:
    position_only = BASE + PAIR[:PAIR.index("  announce_wait:")]
    error = error_for(position_only, tmp_path)
    assert error.line == 13 and "without 'announce_wait'" in error.reason


def test_the_waiting_rooms_prompt_written_as_a_plain_prompt_is_refused(tmp_path: Path) -> None:
    error = error_for(BASE + '  announce_wait: {el: "Περίπου {n} λεπτά.", en: "About {n} minutes."}\n', tmp_path)
    assert error.line == 12 and "'up_to: N'" in error.reason


def test_a_plain_prompt_saying_n_is_refused_rather_than_read_out_with_its_braces(tmp_path: Path) -> None:
    error = error_for(BASE + '  queue_size: {el: "Περιμένουν {n}.", en: "{n} waiting."}\n', tmp_path)
    assert error.line == 12 and "says {n} but has no 'up_to'" in error.reason


def test_a_plain_prompt_named_like_a_number_prompts_file_is_refused(tmp_path: Path) -> None:
    error = error_for(BASE + PAIR + '  announce_wait-over: {el: "α", en: "a"}\n', tmp_path)
    assert error.line == 31 and "name of a file of number prompt 'announce_wait'" in error.reason
