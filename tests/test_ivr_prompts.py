"""Prompt audio built from the config's texts with espeak-ng and sox (ivr.prompts)."""
from __future__ import annotations

import shutil
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from ivr.prompts import PromptBuildError, build

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

    prompts = load_config(EXAMPLE).prompts
    assert f"{2 * len(prompts)} rendered" in done.stdout
    for prompt_id in prompts:
        assert (tmp_path / "el" / f"{prompt_id}.wav").is_file() and (tmp_path / "en" / f"{prompt_id}.wav").is_file()


def test_ivr_command_is_installed_with_the_build_subcommand(tmp_path: Path) -> None:
    """The issue's spelling, ``ivr prompts build``: the console script, not only ``-m``."""
    script = Path(sys.executable).with_name("ivr")
    assert script.is_file(), "the 'ivr' console script is not installed (pip install -e .)"
    done = subprocess.run([str(script), "prompts", "build", "--config", str(EXAMPLE), "--out", str(tmp_path),
                           "--quiet"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "en" / "welcome.wav").is_file() and (tmp_path / "el" / "survey_question.wav").is_file()
