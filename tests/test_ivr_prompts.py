"""Prompt audio built from the config's texts with espeak-ng and sox (ivr.prompts)."""
from __future__ import annotations

import shutil
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from acd.config.model import NumberForms, NumberPrompt
from ivr.prompts import PromptBuildError, build, expand

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "1555.yaml"
TEXTS = {"welcome": {"el": "Καλωσορίσατε.", "en": "Welcome."}, "goodbye": {"el": "Αντίο.", "en": "Goodbye."}}


@pytest.fixture(autouse=True)
def tools_installed() -> None:
    for program in ("espeak-ng", "sox"):
        if shutil.which(program) is None:
            from tests.conftest import missing

            missing(f"{program} is not installed")


def test_every_prompt_becomes_8khz_mono_16bit_wav_per_language(tmp_path: Path) -> None:
    report = build(TEXTS, tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in report.rendered) == \
        ["el/goodbye.wav", "el/welcome.wav", "en/goodbye.wav", "en/welcome.wav"]
    for path in report.rendered:
        with wave.open(str(path)) as audio:
            assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (8000, 1, 2)
            assert audio.getnframes() > 8000 * 0.2      # some speech, not an empty file


def test_unchanged_prompts_are_not_rendered_again(tmp_path: Path) -> None:
    build(TEXTS, tmp_path)
    before = (tmp_path / "el" / "welcome.wav").stat().st_mtime_ns
    report = build(TEXTS, tmp_path)
    assert report.rendered == () and len(report.unchanged) == 4
    assert (tmp_path / "el" / "welcome.wav").stat().st_mtime_ns == before


def test_a_changed_text_renders_only_that_prompt(tmp_path: Path) -> None:
    build(TEXTS, tmp_path)
    changed = {**TEXTS, "goodbye": {"el": "Αντίο σας.", "en": "Goodbye."}}
    report = build(changed, tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in report.rendered] == ["el/goodbye.wav"]


def test_a_deleted_file_is_rendered_again(tmp_path: Path) -> None:
    build(TEXTS, tmp_path)
    (tmp_path / "en" / "welcome.wav").unlink()
    assert [p.name for p in build(TEXTS, tmp_path).rendered] == ["welcome.wav"]


def test_language_without_a_voice_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PromptBuildError, match="no espeak-ng voice"):
        build({"welcome": {"xx": "?"}}, tmp_path)


def test_missing_programs_are_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PromptBuildError, match="espeak-ng is not installed"):
        build(TEXTS, tmp_path)


def test_cli_builds_every_prompt_of_the_example(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "ivr", "prompts", "build", "--config", str(EXAMPLE),
                           "--out", str(tmp_path), "--quiet"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    from acd.config import load_config

    config = load_config(EXAMPLE)
    numbered = sum(prompt.up_to + 1 for prompt in config.number_prompts.values())
    assert numbered == 50 + 1 + 60 + 1
    assert f"{2 * (len(config.prompts) + numbered)} rendered" in done.stdout
    for prompt_id in config.prompts:
        assert (tmp_path / "el" / f"{prompt_id}.wav").is_file() and (tmp_path / "en" / f"{prompt_id}.wav").is_file()
    for name in ("announce_position-1", "announce_position-50", "announce_position-over",
                 "announce_wait-1", "announce_wait-60", "announce_wait-over"):
        assert (tmp_path / "el" / f"{name}.wav").is_file() and (tmp_path / "en" / f"{name}.wav").is_file()
    assert not (tmp_path / "el" / "announce_wait-61.wav").exists()


# A small config of its own: the console script needs no full build of the example.
SMALL_CONFIG = """\
service: {languages: [el, en]}
skills: {topic:a: A}
queues: {q: {requires: {topic:a: 1}}}
agents: {'11': {pin: '1234', skills: {topic:a: 1}}}
prompts:
  welcome: {el: "Καλωσορίσατε.", en: "Welcome."}
  announce_position:
    up_to: 1
    el: {one: "Είστε επόμενοι.", other: "Θέση {n}.", over: "Μετά τη θέση {n}."}
    en: {one: "You are next.", other: "Number {n}.", over: "Behind number {n}."}
  announce_wait:
    up_to: 1
    el: {one: "Ένα λεπτό.", other: "{n} λεπτά.", over: "Πάνω από {n} λεπτά."}
    en: {other: "{n} minutes.", over: "More than {n} minutes."}
"""


def test_ivr_command_is_installed_with_the_build_subcommand(tmp_path: Path) -> None:
    """The issue's spelling, ``ivr prompts build``: the console script, not only ``-m``."""
    script = Path(sys.executable).with_name("ivr")
    assert script.is_file(), "the 'ivr' console script is not installed (pip install -e .)"
    config = tmp_path / "small.yaml"
    config.write_text(SMALL_CONFIG, encoding="utf-8")
    out = tmp_path / "sounds"
    done = subprocess.run([str(script), "prompts", "build", "--config", str(config), "--out", str(out),
                           "--quiet"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "10 rendered, 0 unchanged" in done.stdout
    assert (out / "en" / "welcome.wav").is_file() and (out / "el" / "announce_wait-over.wav").is_file()


def test_cli_refuses_a_bad_template_with_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "small.yaml"
    config.write_text(SMALL_CONFIG.replace('other: "{n} λεπτά."', 'other: "{λεπτά} λεπτά."'), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "ivr", "prompts", "build", "--config", str(config),
                           "--out", str(tmp_path / "sounds"), "--quiet"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2
    assert f"{config}:13: " in done.stderr and "unknown placeholder {λεπτά}" in done.stderr
    assert not (tmp_path / "sounds").exists()


WAIT = NumberPrompt("wait", 2, {
    "el": NumberForms(one="Περίπου ένα λεπτό.", other="Περίπου {n} λεπτά.", over="Πάνω από {n} λεπτά."),
    "en": NumberForms(one="About one minute.", other="About {n} minutes.", over="More than {n} minutes."),
})


def test_a_number_prompt_becomes_one_file_per_number_and_one_beyond(tmp_path: Path) -> None:
    files = expand({"wait": WAIT})
    assert files == {
        "wait-1": {"el": "Περίπου ένα λεπτό.", "en": "About one minute."},
        "wait-2": {"el": "Περίπου 2 λεπτά.", "en": "About 2 minutes."},
        "wait-over": {"el": "Πάνω από 2 λεπτά.", "en": "More than 2 minutes."},
    }
    report = build(files, tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in report.rendered) == [
        "el/wait-1.wav", "el/wait-2.wav", "el/wait-over.wav", "en/wait-1.wav", "en/wait-2.wav", "en/wait-over.wav"]
    with wave.open(str(tmp_path / "el" / "wait-1.wav")) as audio:
        assert audio.getframerate() == 8000 and audio.getnframes() > 8000 * 0.5


def test_raising_the_maximum_renders_only_the_new_numbers_and_the_changed_over_file(tmp_path: Path) -> None:
    build(expand({"wait": WAIT}), tmp_path)
    raised = NumberPrompt("wait", 3, WAIT.texts)
    report = build(expand({"wait": raised}), tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in report.rendered) == [
        "el/wait-3.wav", "el/wait-over.wav", "en/wait-3.wav", "en/wait-over.wav"]
    assert len(report.unchanged) == 4
