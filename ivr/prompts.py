"""Rendering the config's prompt texts into audio Asterisk plays.

Why synthesised: the texts live in the config, next to the menu that uses them, so a
changed menu and its changed announcement ship together; espeak-ng (Greek and English
voices) gives an intelligible placeholder until a studio recording replaces a file.

Each prompt becomes ``<out>/<lang>/<prompt_id>.wav``, 8 kHz mono 16-bit PCM (what
Asterisk's ``format_wav`` reads without transcoding for a narrowband call). A file is
rendered again only when its text, voice or renderer settings changed: the hash of
those is kept in ``<out>/.prompts.json``, so a rebuild after editing one prompt costs
one prompt and a studio-recorded file is never overwritten unless its text changes.

A number prompt (the waiting room's position and wait, ``acd.config.number_prompts``)
is expanded first into one plain prompt per number, ``<id>-1`` .. ``<id>-<up_to>`` and
``<id>-over``, each with the sentence of its plural form: from there on it is rendered,
hashed and skipped like any other prompt, so raising ``up_to`` renders only the new
numbers.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from acd.config.model import Config, NumberPrompt

#: espeak-ng voice per language code of the config
VOICES: Mapping[str, str] = {"el": "el", "en": "en"}
SAMPLE_RATE = 8000
MANIFEST = ".prompts.json"
#: part of the hash: bump when the rendering below changes, so every file is redone
RENDERER = "espeak-ng+sox/8k-mono-16/1"


class PromptBuildError(RuntimeError):
    """A prompt could not be rendered (missing program, unknown voice, failed run)."""


@dataclass(frozen=True, slots=True)
class BuildReport:
    rendered: tuple[Path, ...]
    unchanged: tuple[Path, ...]


def content_hash(language: str, text: str) -> str:
    return hashlib.sha256(f"{RENDERER}\0{VOICES.get(language, language)}\0{text}".encode()).hexdigest()


def check_tools() -> None:
    for program in ("espeak-ng", "sox"):
        if shutil.which(program) is None:
            raise PromptBuildError(f"{program} is not installed (Debian packages espeak-ng and sox)")


def render(text: str, language: str, target: Path) -> None:
    """One prompt: espeak-ng speaks it at its own rate, sox makes it 8 kHz mono 16-bit."""
    voice = VOICES.get(language)
    if voice is None:
        raise PromptBuildError(f"no espeak-ng voice configured for language {language!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="prompt-") as scratch:
        raw = Path(scratch) / "raw.wav"
        _run(["espeak-ng", "-v", voice, "-w", str(raw), "--", text], f"espeak-ng for {target.name}")
        partial = target.with_suffix(".tmp.wav")
        _run(["sox", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", "-e", "signed-integer", str(partial)],
             f"sox for {target.name}")
        partial.replace(target)   # never a half-written file where Asterisk looks


def _run(command: list[str], what: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, timeout=60)
    except FileNotFoundError as error:
        raise PromptBuildError(f"{command[0]} is not installed (Debian package {command[0]})") from error
    except subprocess.TimeoutExpired as error:
        raise PromptBuildError(f"{what} took more than 60 s") from error
    if done.returncode != 0:
        raise PromptBuildError(f"{what} failed ({done.returncode}): {done.stderr.decode(errors='replace').strip()}")


def expand(number_prompts: Mapping[str, NumberPrompt]) -> dict[str, dict[str, str]]:
    """Number prompts as plain ones: file id -> language -> the sentence for that number."""
    files: dict[str, dict[str, str]] = {}
    for prompt in number_prompts.values():
        for language in prompt.texts:
            for file_id, text in prompt.expanded(language).items():
                files.setdefault(file_id, {})[language] = text
    return files


def config_texts(config: Config) -> dict[str, dict[str, str]]:
    """Every file the config's prompts make: plain prompts and expanded number prompts."""
    texts = {prompt_id: dict(languages) for prompt_id, languages in config.prompts.items()}
    texts.update(expand(config.number_prompts))
    return texts


def build(prompts: Mapping[str, Mapping[str, str]], out: Path, *,
          progress: Callable[[Iterable[tuple[str, str, str]]], Iterable[tuple[str, str, str]]] | None = None
          ) -> BuildReport:
    """Render every (prompt, language) whose text changed since the last build."""
    check_tools()
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST
    try:
        manifest: dict[str, str] = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        manifest = {}
    jobs = [(prompt_id, language, text) for prompt_id, texts in prompts.items() for language, text in texts.items()]
    rendered: list[Path] = []
    unchanged: list[Path] = []
    try:
        for prompt_id, language, text in (progress(jobs) if progress else jobs):
            target = out / language / f"{prompt_id}.wav"
            key = f"{language}/{prompt_id}"
            digest = content_hash(language, text)
            if manifest.get(key) == digest and target.is_file():
                unchanged.append(target)
                continue
            render(text, language, target)
            manifest[key] = digest
            rendered.append(target)
    finally:   # what was rendered before a failure stays known
        manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    return BuildReport(tuple(rendered), tuple(unchanged))
