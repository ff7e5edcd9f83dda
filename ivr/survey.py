"""The post-call satisfaction question: one key from 1 to 5, asked after the agent
hangs up, stored with the call.

Pure like ``menu``: fed keys and silences, it answers with the next step. A caller who
does not answer is asked again at most ``retries`` times and then let go without a
score; an unanswered survey is no score, never a guessed one.
"""
from __future__ import annotations

from dataclasses import dataclass

from acd.config.ivr import SurveySettings
from ivr.menu import Listen

SCORES = "12345"


@dataclass(frozen=True, slots=True)
class Answered:
    """The survey is over: ``score`` 1-5, or None when the caller gave none."""

    prompts: tuple[str, ...]
    score: int | None


class SurveyQuestion:
    def __init__(self, settings: SurveySettings, *, invalid: tuple[str, ...], timeout: float, retries: int) -> None:
        self.settings = settings
        self.invalid = invalid
        self.timeout = timeout
        self.retries = retries
        self.failures = 0

    def start(self) -> Listen:
        return Listen(self.settings.prompt, self.timeout)

    def press(self, key: str) -> Listen | Answered:
        if key in SCORES and len(key) == 1:
            return Answered(self.settings.thanks, int(key))
        return self._again(self.invalid)

    def no_input(self) -> Listen | Answered:
        return self._again(())

    def _again(self, message: tuple[str, ...]) -> Listen | Answered:
        self.failures += 1
        if self.failures > self.retries:
            return Answered((), None)
        return Listen((*message, *self.settings.prompt), self.timeout)
