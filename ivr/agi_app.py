"""The IVR's FastAGI handlers, ``ivr`` and ``survey``: thin translators between AGI
commands and the pure state machines in ``menu`` and ``survey``.

What the dialplan can rely on when ``ivr`` returns: ``ACD_IVR_RESULT`` is ``queue``
(the ACD_* variables of the shared contract are set: go to the waiting room) or
``goodbye`` (the caller heard the goodbye: hang up). Anything else, an empty value
included, means the IVR did not finish (no daemon, a crash): the dialplan takes its
degraded path, so no caller is left in silence.

A prompt is played with ``STREAM FILE`` interruptible by every key, then ``WAIT FOR
DIGIT`` waits the node's timeout. Keys pressed *between* two AGI commands are lost
(res_agi's loop reads and drops frames while it waits for the next command), which is
why no step ever plays a prompt that cannot be interrupted before it listens.

The clock is injected (``now``), so tests run the real handler against a real Asterisk
on a chosen date: a holiday, a Sunday night.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from acd.call_contract import CALLER_TYPE, CALLID, ENQUEUED_AT, IVR_GOODBYE, IVR_QUEUE, IVR_RESULT, LANG, QUEUE, SATISFACTION
from acd.config.model import Config
from ivr.menu import ALL_KEYS, AskNumber, Goodbye, Listen, MenuWalk, Route, Step, ivr_section, sound_file
from ivr.survey import Answered, SurveyQuestion

log = logging.getLogger(__name__)

#: keys that may end or fill a callback number
NUMBER_KEYS = "0123456789#"


class Session(Protocol):
    """What the IVR uses of ``acd.protocol.AGISession``."""

    env: Mapping[str, str]

    async def answer(self) -> Any: ...
    async def stream_file(self, name: str, escape_digits: str = "") -> str | None: ...
    async def wait_for_digit(self, timeout_ms: int = -1) -> str | None: ...
    async def set_variable(self, name: str, value: str) -> Any: ...
    async def get_variable(self, name: str) -> str | None: ...


Handler = Callable[[Any], Awaitable[None]]
SatisfactionSink = Callable[[str, int], None]
#: stores a callback before its confirmation plays: (call id, the route with the number,
#: the channel's ACD_ENQUEUED_AT or None) -> the place kept; raises when not stored
CallbackSink = Callable[[str, Route, "float | None"], Awaitable[float]]


class IvrApp:
    def __init__(self, config: Config, *, now: Callable[[], float] = time.time,
                 on_satisfaction: SatisfactionSink | None = None, prompts_dir: str | None = None,
                 on_callback: CallbackSink | None = None) -> None:
        """``on_callback`` keeps a callback durably before the caller hears it confirmed
        (None: the waiting room keeps it in memory); ``prompts_dir`` overrides the config's (tests play prompts from a temporary
        directory); ``on_satisfaction(call_id, score)`` stores a survey answer (the
        daemon passes its call records' ``set_satisfaction``)."""
        self.config = config
        self.ivr = ivr_section(config)
        self.now = now
        self.on_satisfaction = on_satisfaction
        self.on_callback = on_callback
        self.prompts_dir = prompts_dir or self.ivr.prompts_dir

    # ------------------------------------------------------------------ handlers
    async def handle_ivr(self, session: Session) -> None:
        """The ``ivr`` handler: from the first prompt to a queue or a goodbye."""
        env = session.env
        walk = MenuWalk(self.config, self.now, caller_number=_digits_only(env.get("agi_callerid", "")))
        await session.answer()
        await session.set_variable(IVR_RESULT, "")
        step = await self._first_step(session, walk)
        while True:
            if isinstance(step, Listen):
                key = await self._listen(session, step, walk.language)
                step = walk.press(key) if key else walk.no_input()
            elif isinstance(step, AskNumber):
                step = walk.entered(await self._number(session, step, walk.language))
            elif isinstance(step, Route):
                await self._route(session, step, env.get("agi_uniqueid", ""))
                return
            else:
                assert isinstance(step, Goodbye)
                log.info("IVR goodbye", extra={"channel": env.get("agi_channel"), "node": walk.node.id})
                await session.set_variable(IVR_RESULT, IVR_GOODBYE)
                await self._play(session, step.prompts, walk.language)
                return

    async def _first_step(self, session: Session, walk: MenuWalk) -> Step:
        """The tree's entry; or, called as ``ivr,callback`` after a wait ran out, only
        the callback question for the queue the caller was in."""
        args = getattr(session.env, "args", ())
        if "callback" in args or getattr(session.env, "query", {}).get("step") == "callback":
            queue = await session.get_variable(QUEUE) or ""
            if queue in self.config.queues:
                return walk.request_callback(queue, await session.get_variable(LANG),
                                             await session.get_variable(CALLER_TYPE))
            log.error("callback asked for an unknown queue", extra={"queue": queue})
        return walk.start()

    async def handle_survey(self, session: Session) -> None:
        """The ``survey`` handler: one question after the agent hung up."""
        if self.ivr.survey is None:
            return
        call_id = await session.get_variable(CALLID) or session.env.get("agi_uniqueid", "")
        language = await session.get_variable(LANG) or self.config.default_language
        if language not in self.config.languages:
            language = self.config.default_language
        question = SurveyQuestion(self.ivr.survey, invalid=self.ivr.sounds["invalid"], timeout=self.ivr.timeout,
                                  retries=self.ivr.retries)
        step: Listen | Answered = question.start()
        while isinstance(step, Listen):
            key = await self._listen(session, step, language)
            step = question.press(key) if key else question.no_input()
        if step.score is not None:
            await session.set_variable(SATISFACTION, str(step.score))
            log.info("satisfaction", extra={"call_id": call_id, "score": step.score})
            if self.on_satisfaction is not None:
                self.on_satisfaction(call_id, step.score)
        await self._play(session, step.prompts, language)

    # ------------------------------------------------------------------ AGI translation
    async def _listen(self, session: Session, step: Listen, language: str) -> str | None:
        for reference in step.prompts:
            key = await session.stream_file(sound_file(reference, language, self.prompts_dir), ALL_KEYS)
            if key:
                return key
        return await session.wait_for_digit(round(step.timeout * 1000))

    async def _number(self, session: Session, step: AskNumber, language: str) -> str:
        """Digits up to ``#``, ``max_digits`` or a silence of the step's timeout."""
        typed = ""
        for reference in step.prompts:
            key = await session.stream_file(sound_file(reference, language, self.prompts_dir), NUMBER_KEYS)
            if key:
                typed = key
                break
        while not typed.endswith("#") and len(typed) < step.max_digits:
            key = await session.wait_for_digit(round(step.timeout * 1000))
            if not key:
                break
            if key in NUMBER_KEYS:
                typed += key
        return typed.rstrip("#")

    async def _route(self, session: Session, route: Route, uniqueid: str) -> None:
        """Variables first: a caller who hangs up during the last prompt is gone anyway,
        and one who stays must never reach the waiting room half-described."""
        call_id = await session.get_variable(CALLID)
        if not call_id:
            call_id = uniqueid
            await session.set_variable(CALLID, uniqueid)
        if route.callback is not None and self.on_callback is not None:
            route = await self._keep_callback(session, call_id, route)
        for name, value in route.variables.items():
            await session.set_variable(name, value)
        await session.set_variable(IVR_RESULT, IVR_QUEUE)
        log.info("IVR route", extra={"channel": session.env.get("agi_channel"), **route.variables})
        await self._play(session, route.prompts, route.language)

    async def _keep_callback(self, session: Session, call_id: str, route: Route) -> Route:
        """The promise is stored before its confirmation plays. Not stored: the caller
        hears it could not be taken (the ``callback_failed`` sound, else ``transfer``) and
        stays in line, without a callback number."""
        assert self.on_callback is not None
        stamped = await session.get_variable(ENQUEUED_AT)
        try:
            place = await self.on_callback(call_id, route, float(stamped) if stamped else None)
        except Exception as error:
            log.error("callback not stored; the caller stays in line",
                      extra={"call_id": call_id, "reason": repr(error)})
            sorry = self.ivr.sounds.get("callback_failed") or self.ivr.sounds.get("transfer", ())
            return dataclasses.replace(route, callback=None, prompts=tuple(sorry))
        await session.set_variable(ENQUEUED_AT, f"{place:.3f}")
        return route

    async def _play(self, session: Session, prompts: tuple[str, ...], language: str) -> None:
        for reference in prompts:
            await session.stream_file(sound_file(reference, language, self.prompts_dir), "")


def _digits_only(caller_id: str) -> str:
    return caller_id if caller_id.isdigit() else ""


def handlers(config: Config, *, now: Callable[[], float] = time.time,
             on_satisfaction: SatisfactionSink | None = None, prompts_dir: str | None = None,
             on_callback: CallbackSink | None = None) -> dict[str, Handler]:
    """The named FastAGI handlers the daemon serves next to ``wait`` and ``agent``;
    none when the config has no IVR (the dialplan then routes straight to queues)."""
    if config.ivr is None:
        return {}
    app = IvrApp(config, now=now, on_satisfaction=on_satisfaction, prompts_dir=prompts_dir, on_callback=on_callback)
    return {"ivr": app.handle_ivr, "survey": app.handle_survey}
