"""The waiting room: the ``wait`` FastAGI handler that holds each caller until an agent
answers.

Each caller waits inside its own FastAGI session, and the agent is dialled from it
(``EXEC Dial``) rather than redirected there over AMI: the coroutine that owns the
channel is the only one that acts on it (no race between a decision and a hang-up),
music on hold plays while it sleeps, and Dial's DIALSTATUS says how the offer ended.
The moment of answer comes from AMI (``DialEnd``, ami_bridge.py), because Dial only
returns when the conversation is over. The Asterisk facts behind this, with their
sources: docs/architecture.md, "Asterisk facts the daemon relies on".

Restarts: the routing attributes live on the channel (ACD_* variables, the call
contract: acd/call_contract.py, docs/architecture.md). The handler stamps
``ACD_ENQUEUED_AT`` once; if the daemon dies, the socket closes, AGI returns with ``ACD_WAIT_RESULT`` still empty, and the generated dialplan loops
back into ``wait`` (retrying while no daemon listens, ``ACD_TRIES``, reset here): the restarted daemon reads the same variables and re-queues the
caller at the original place (``CallArrived(enqueued_at=...)``). A caller whose Dial was
answered is recognised by ``DIALSTATUS=ANSWER`` and never queued again, by the daemon
(``was_answered``) nor by the dialplan's loop when no daemon runs. Why DIALSTATUS and not
a variable the daemon sets on answer (AMI ``Setvar``): app_dial sets it on the caller's
own channel when the Dial returns, with no daemon and no AMI link needed, which is
exactly when the mark matters (an outage); a Setvar would be lost with the link.

An offer cuts the sentence playing at once, not between sentences: each sentence is one
STREAM FILE of 1.5 to 3 s, and while it finishes the reserved agent sits idle and the
caller waits for nothing. The room does not speak AMI itself: the daemon injects
``stop_playback`` (AMI ``ControlPlayback``, ``Control: stop``). A stop that fails, or
reaches the channel when no file plays, costs only the old behaviour (the sentence
finishes).

On the way out the handler always sets ``ACD_WAIT_RESULT`` (``answered``, ``exit``,
``error``, ``handover`` when the daemon stops: ``hand_over``) and for an exit ``ACD_EXIT`` / ``ACD_EXIT_TARGET`` (the queue's on_max_wait
action), so the dialplan has a next step for every outcome.
"""
from __future__ import annotations

import asyncio
import logging
import math
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from acd import call_contract as c
from acd.call_contract import CallVariablesError, parse_skills
from acd.config.model import ANNOUNCE_POSITION, ANNOUNCE_WAIT, Config
from acd.daemon.live_engine import LiveEngine
from acd.daemon.returning_callers import ReturningCallers
from acd.engine import decisions as d
from acd.engine import events as e
from acd.engine.states import CallState

if TYPE_CHECKING:
    from acd.daemon.queue_log import QueueLogFormatter
    from acd.daemon.callbacks import CallbackDialer

log = logging.getLogger(__name__)

#: The channel variables read at entry, in the order of the one GET FULL VARIABLE request.
CALL_VARIABLES: tuple[str, ...] = (
    c.CALLID, c.QUEUE, c.SKILLS, c.PRIORITY, c.LANG, c.CALLER_TYPE,
    c.ENQUEUED_AT, c.CALLBACK, "DIALSTATUS", "UNIQUEID", "CALLERID(num)", c.QUEUED, c.ARRIVED, c.WAIT_RESULT,
    "BLINDTRANSFER",
)
#: What the caller's channel says when an answered Dial returns, in one GET FULL VARIABLE:
#: who blind-transferred it (main/bridge.c ``set_transfer_variables_all`` sets
#: ``BLINDTRANSFER`` on every channel of the bridge, then the transferee's
#: ``ast_async_goto`` in main/pbx.c sets its context and exten to the target before
#: kicking it out of the bridge, which is what ends the Dial).
AFTER_DIAL_VARIABLES: tuple[str, ...] = ("BLINDTRANSFER", "CONTEXT", "EXTEN")
_SEPARATOR = "\x1f"  # a byte no variable value holds, so one round trip reads them all
#: how many answered call ids the room remembers (a day of the 1555 line is ~18,500 calls)
ANSWERED_MEMORY = 50_000

#: DIALSTATUS (app_dial.c) -> why the offer failed, for ``OfferFailed.reason``.
DIAL_FAILURES: Mapping[str, str] = {
    "NOANSWER": "no_answer",
    "BUSY": "busy",
    "CHANUNAVAIL": "unreachable",
    "CONGESTION": "failed",
    "DONTCALL": "failed",
    "TORTURE": "failed",
    "INVALIDARGS": "failed",
    "CANCEL": "failed",
}

class Session(Protocol):
    """What the waiting room uses of ``acd.protocol.AGISession``."""

    env: Any

    async def command(self, *words: str) -> Any: ...
    async def answer(self) -> Any: ...
    async def set_variable(self, name: str, value: str) -> Any: ...
    async def get_variable(self, name: str) -> str | None: ...
    async def get_full_variable(self, expression: str) -> str | None: ...
    async def exec(self, application: str, *args: str) -> Any: ...
    async def stream_file(self, name: str, escape_digits: str = "") -> str | None: ...


@dataclass(frozen=True, slots=True)
class CallerAttributes:
    """A caller's routing attributes as carried on the channel."""

    call_id: str
    queue: str
    requirements: Mapping[str, int]
    priority: int | None
    enqueued_at: float | None
    language: str | None
    caller_type: str | None
    callback: str | None
    caller_number: str = ""
    #: when the channel entered the waiting room's dialplan (``ACD_ARRIVED``), if it says
    arrived_at: float | None = None


def caller_attributes(values: Mapping[str, str], *, default_call_id: str, default_queue: str | None,
                      config: Config) -> CallerAttributes:
    """Validate the ACD_* variables read from a channel (empty means unset)."""
    queue = values.get(c.QUEUE) or default_queue
    if not queue:
        raise CallVariablesError(f"{c.QUEUE} is not set and the AGI request names no queue")
    if queue not in config.queues:
        raise CallVariablesError(f"{c.QUEUE} {queue!r} is not a queue of {config.source}")
    priority_text = values.get(c.PRIORITY, "")
    enqueued_text = values.get(c.ENQUEUED_AT, "")
    try:
        priority = int(priority_text) if priority_text else None
    except ValueError:
        raise CallVariablesError(f"{c.PRIORITY} {priority_text!r} is not an integer") from None
    try:
        enqueued_at = float(enqueued_text) if enqueued_text else None
    except ValueError:
        raise CallVariablesError(f"{c.ENQUEUED_AT} {enqueued_text!r} is not epoch seconds") from None
    if enqueued_at is not None and not math.isfinite(enqueued_at):
        raise CallVariablesError(f"{c.ENQUEUED_AT} {enqueued_text!r} is not epoch seconds")
    if priority is not None and priority not in config_priorities(config, queue):
        # a channel variable is the client's word: only a priority the config can give counts
        log.warning(f"{c.PRIORITY} not one the config gives; the queue's own applies",
                    extra={"queue": queue, "priority": priority})
        priority = None
    requirements = parse_skills(values.get(c.SKILLS, ""))
    unknown = sorted(set(requirements) - config.skills)
    if unknown:
        raise CallVariablesError(f"{c.SKILLS} names unknown skills {unknown}")
    return CallerAttributes(
        call_id=values.get(c.CALLID) or default_call_id,
        queue=queue,
        requirements=requirements,
        priority=priority,
        enqueued_at=enqueued_at,
        language=values.get(c.LANG) or None,
        caller_type=values.get(c.CALLER_TYPE) or None,
        callback=values.get(c.CALLBACK) or None,
        caller_number=values.get("CALLERID(num)", ""),
        arrived_at=epoch_seconds(values.get(c.ARRIVED, "")),
    )


def config_priorities(config: Config, queue: str) -> set[int]:
    """The priorities a caller of ``queue`` can carry: the queue's own and any the IVR's
    keys set (``ivr.nodes.*.options.*.priority``)."""
    result = {config.queues[queue].priority}
    for node in (config.ivr.nodes if config.ivr is not None else {}).values():
        result.update(a.priority for a in node.options.values() if a.priority is not None)
    return result


def epoch_seconds(text: str) -> float | None:
    """A channel variable holding epoch seconds (``1700000000.123``), or None."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


#: values MSet takes as they are: no comma (its argument separator), quote, backslash or
#: blank; and not empty (an empty value is cleared with SET VARIABLE, whose meaning is plain)
_MSET_SAFE = re.compile(r"^[A-Za-z0-9._:@+-]+$")


async def set_variables(session: Session, values: Mapping[str, str]) -> None:
    """Set channel variables in one AGI round trip (``EXEC MSet``, main/pbx_variables.c
    ``pbx_builtin_setvar_multiple``) rather than one ``SET VARIABLE`` each: every round trip
    wakes the channel's AGI thread in Asterisk, which at hundreds of callers is where
    its CPU goes. A value MSet would split or unquote is set on its own."""
    plain = {name: value for name, value in values.items() if _MSET_SAFE.match(name) and _MSET_SAFE.match(value)}
    if len(plain) > 1:
        await session.exec("MSet", *(f"{name}={value}" for name, value in plain.items()))
    else:
        plain = {}
    for name, value in values.items():
        if name not in plain:
            await session.set_variable(name, value)


class _Hangup:
    """Put in a caller's inbox when Asterisk says the channel is gone."""


HANGUP = _Hangup()


class _HandOver:
    """Put in a waiting caller's inbox when the daemon stops (SIGTERM)."""


HANDOVER = _HandOver()


#: Stops the sound a channel is playing now, given the channel's name (``agi_channel``);
#: the daemon's one (``Daemon.stop_playback``) sends AMI ``ControlPlayback`` with
#: ``Control: stop``. It may raise: the room logs the failure and the sentence finishes.
StopPlayback = Callable[[str], Awaitable[object]]


@dataclass
class WaitingCaller:
    call_id: str
    session: Session
    channel_uniqueid: str
    music_class: str
    inbox: asyncio.Queue[object] = field(default_factory=asyncio.Queue)
    offer: d.OfferCall | None = None
    answered: bool = False
    #: the channel's name (``agi_channel``), which ``ControlPlayback`` looks the channel up by
    channel: str = ""
    #: the announcement file being streamed now (its STREAM FILE awaits Asterisk's reply)
    playing: str | None = None
    #: ``BLINDTRANSFER`` as the channel came (a receptionist transferred the caller here)
    transferred_in: str = ""
    #: the call was ended while the Dial still held the caller (an attended transfer)
    ended: bool = False


@dataclass(frozen=True, slots=True)
class RoomSettings:
    recordings_dir: Path = Path("var/recordings")
    #: how the caller hears position and wait when the config has no number prompts:
    #: Asterisk's own queue-* sound files (English only: Asterisk ships no Greek ones)
    sounds: Mapping[str, str] = field(default_factory=lambda: {
        "there_are": "queue-thereare", "calls_waiting": "queue-callswaiting",
        "hold_time": "queue-holdtime", "minutes": "queue-minutes",
    })
    #: where the rendered prompts live (``<dir>/<lang>/<id>``); None: the config's
    #: ``ivr.prompts_dir`` (read at each announcement, so a reload moves it), else ``acd``
    prompts_dir: str | None = None


#: One step of an announcement: ``("file", name)`` for STREAM FILE, ``("number", n)``
#: for SAY NUMBER.
AnnouncementStep = tuple[str, str]


def announcement_steps(announce: d.Announce, config: Config, language: str, prompts_dir: str,
                       sounds: Mapping[str, str]) -> list[AnnouncementStep]:
    """What a waiting caller hears, in order, in ``language``.

    With the config's number prompts (``announce_position`` and ``announce_wait``,
    ``acd.config.number_prompts``) each part is one whole sentence rendered for that
    number in the caller's language, ``<prompts_dir>/<lang>/<id>-<n>`` (``-over`` past
    the prompt's ``up_to``). Only a config without them falls back to Asterisk's English
    core sounds and SAY NUMBER, as app_queue announces."""
    folder = f"{prompts_dir.rstrip('/')}/{language}"
    minutes = max(1, math.ceil(announce.estimated_wait / 60)) if announce.estimated_wait is not None else None
    position = config.number_prompts.get(ANNOUNCE_POSITION)
    wait = config.number_prompts.get(ANNOUNCE_WAIT)
    steps: list[AnnouncementStep]
    if position is not None and wait is not None and language in position.texts and language in wait.texts:
        steps = [("file", f"{folder}/{position.file_id(announce.position)}")]
        if minutes is not None:
            steps.append(("file", f"{folder}/{wait.file_id(minutes)}"))
    else:
        steps = [("file", sounds["there_are"]), ("number", str(announce.position)), ("file", sounds["calls_waiting"])]
        if minutes is not None:
            steps += [("file", sounds["hold_time"]), ("number", str(minutes)), ("file", sounds["minutes"])]
    if announce.periodic_prompt:
        steps.append(("file", f"{folder}/{announce.periodic_prompt}"))
    return steps


class WaitingRoom:
    """Holds the callers' sessions and carries out the engine's commands on them (whoever
    builds the room makes it the live engine's ``commands``)."""

    def __init__(self, live: LiveEngine, settings: RoomSettings = RoomSettings(), callbacks: CallbackDialer | None = None,
                 stop_playback: StopPlayback | None = None, queue_log: QueueLogFormatter | None = None) -> None:
        """``callbacks`` places offers of calls whose caller left asking to be called back
        (``acd.daemon.callbacks.CallbackDialer``); ``stop_playback`` cuts the sentence a
        caller is hearing when an agent is offered (None: it finishes first); ``queue_log``
        is told the facts of a call only the channel knows (the caller's number, a transfer,
        the agent's uniqueid), which its lines carry and the engine has no use for (None:
        no queue_log is written)."""
        self.live = live
        self.queue_log = queue_log
        self.settings = settings
        self.callbacks = callbacks
        self.stop_playback = stop_playback
        self.callers: dict[str, WaitingCaller] = {}
        self._by_channel: dict[str, str] = {}
        #: background work on callers' behalf: stopping a sentence, storing a callback
        self._stopping: set[asyncio.Task[Any]] = set()
        #: hangs up the agent's channel a caller's Dial rings, given the caller channel's
        #: Uniqueid (the AMI bridge sets it); used when the engine's ring deadline withdraws
        #: an offer whose Dial never ended
        self.hangup_dial: Callable[[str], Awaitable[object]] | None = None
        #: call ids answered by an agent here, newest last (bounded: ``ANSWERED_MEMORY``)
        self._answered_calls: OrderedDict[str, None] = OrderedDict()
        #: set by ``hand_over``: new sessions are handed over at once, not queued
        self.closing = False
        #: a standby daemon (``acd.daemon.leader``) queues nobody
        self.standby = False
        #: after a restart or a takeover, the callers still to come back into ``wait``
        self.returning = ReturningCallers()

    @property
    def config(self) -> Config:
        return self.live.config

    # -------------------------------------------------------------- the FastAGI handler
    async def handle(self, session: Session) -> None:
        """The ``wait`` handler: from entry to the end of the caller's call with an agent."""
        caller: WaitingCaller | None = None
        if self.closing:     # the daemon is stopping: straight on to the next one
            await session.set_variable(c.WAIT_RESULT, c.WAIT_HANDOVER)
            return
        if self.standby:     # not the active daemon: no result, the dialplan tries the other
            await session.set_variable(c.WAIT_RESULT, "")
            return
        try:
            values = await self._read_variables(session)
            self.returning.came_back(values.get("UNIQUEID") or _env(session, "agi_uniqueid"))
            if self.was_answered(values):
                # answered by an agent while the daemon was away: the call is done, and
                # if this daemon resumed it (ami_bridge), the agent hung up just now
                call = self.live.engine.calls.get(values.get(c.CALLID) or "")
                if call is not None and call.state is CallState.CONNECTED:
                    self.live.feed(e.AgentHungUp(self.live.now(), call.id))
                await session.set_variable(c.WAIT_RESULT, c.WAIT_ANSWERED)
                return
            try:
                attributes = caller_attributes(
                    values, default_call_id=values.get("UNIQUEID") or _env(session, "agi_uniqueid"),
                    default_queue=_requested_queue(session), config=self.config)
            except CallVariablesError as error:
                log.error("caller cannot be queued", extra={"channel": _env(session, "agi_channel"),
                                                           "reason": str(error)})
                await session.set_variable(c.WAIT_RESULT, c.WAIT_ERROR)
                return
            # ENTERQUEUE was written for this very wait (a restart in between): not again
            requeued = attributes.enqueued_at is not None and values.get(c.QUEUED) != c.LEFT_QUEUE
            caller = await self._enter(session, attributes, values.get("UNIQUEID") or _env(session, "agi_uniqueid"),
                                       requeued, stale_result=bool(values.get(c.WAIT_RESULT)))
            if caller is None:
                await session.set_variable(c.WAIT_RESULT, c.WAIT_ERROR)
                return
            caller.transferred_in = values.get("BLINDTRANSFER", "")
            await self._serve(caller)
        except ConnectionError:  # AGIHangup is one: the channel or the connection is gone
            if caller is not None:
                self._caller_left(caller)
        finally:
            if caller is not None:
                self._forget(caller)

    def was_answered(self, values: Mapping[str, str]) -> bool:
        """A call answered once is never queued again. The channel says so itself:
        app_dial sets ``DIALSTATUS=ANSWER`` when its Dial was answered, and only the
        waiting room Dials from this dialplan, so the mark survives any daemon (the
        generated dialplan's retry loop checks the same variable when no daemon answers
        at all). This daemon also remembers the calls it saw answered, should a channel
        come back without it (a Dial of another application in between)."""
        call_id = values.get(c.CALLID) or values.get("UNIQUEID") or ""
        return values.get("DIALSTATUS") == "ANSWER" or call_id in self._answered_calls

    async def _read_variables(self, session: Session) -> dict[str, str]:
        values = await _read_at_once(session, CALL_VARIABLES)
        if values is None:
            values = {name: await session.get_variable(name) or "" for name in CALL_VARIABLES}
        return values

    async def _enter(self, session: Session, attributes: CallerAttributes, uniqueid: str,
                     requeued: bool = False, stale_result: bool = True) -> WaitingCaller | None:
        """Queue the caller first, then answer and start the music: the place in line is
        taken at arrival, not after the answer's round trips (Asterisk's ANSWER can wait
        up to 500 ms for media, ``__ast_answer`` in main/channel.c).

        Only this room stamps ``ACD_ENQUEUED_AT``, and only after the engine took the call
        (its ENTERQUEUE is written), so a caller who comes back with it was queued
        before: ``requeued`` (a daemon restarted) writes no ENTERQUEUE again, even if the
        daemon died before ``ACD_QUEUED`` (the queue of this wait) reached the channel.
        An exit sets ``ACD_QUEUED`` to ``LEFT_QUEUE``, so a caller who comes back after a
        max-wait exit (a callback) enters anew.

        While the caller waits its ``ACD_WAIT_RESULT`` reads empty (the dialplan's "no
        daemon": a crash loops it back here); ``stale_result``: the channel holds one (a
        ``handover`` the standby path passed on), cleared then. A caller with none, almost
        every one, pays no round trip for it."""
        queue = self.config.queues[attributes.queue]
        call_id = attributes.call_id
        old = self.callers.get(call_id)
        if old is not None:
            log.warning("second wait session for a call; the newer one takes over", extra={"call_id": call_id})
            old.inbox.put_nowait(HANGUP)
        now = self.live.now()
        stamped = attributes.enqueued_at is None
        # what the channel variable keeps (ms, rounded down: never after now), so a
        # restarted daemon restores exactly the same place
        enqueued_at = math.floor(now * 1000) / 1000 if attributes.enqueued_at is None else attributes.enqueued_at
        if attributes.enqueued_at is None and attributes.arrived_at is not None and attributes.arrived_at < now:
            # it reached the dialplan while no daemon answered (a crash, a takeover): its
            # place is from then, not from whenever its retry loop found this daemon
            enqueued_at = attributes.arrived_at
        caller = WaitingCaller(call_id, session, uniqueid, queue.music_class, channel=_env(session, "agi_channel"))
        self.callers[call_id] = caller
        self._by_channel[uniqueid] = call_id
        known = self.live.engine.calls.get(call_id)
        if known is None or known.state is not CallState.WAITING:
            # (a known waiting call is a session that came back while this daemon kept it)
            formatter = self.queue_log
            if formatter is not None and attributes.caller_number:
                formatter.note_caller(call_id, attributes.caller_number)
            if formatter is not None and requeued:
                formatter.note_requeued(call_id)
            decisions = self.live.feed(e.CallArrived(
                now, call_id, attributes.queue, dict(attributes.requirements), attributes.priority,
                enqueued_at, attributes.language, attributes.caller_type, attributes.callback))
            if call_id not in self.live.engine.calls:
                reasons = [x.reason for x in decisions if isinstance(x, d.Ignored)]
                log.error("engine refused the caller", extra={"call_id": call_id, "reasons": reasons})
                self._forget(caller)
                return None
        if attributes.callback:
            self._keep_callback(attributes, enqueued_at)
        marks = {}
        if stamped:   # on the channel at once, before the answer: a restart keeps this place
            marks = {c.CALLID: call_id, c.QUEUE: attributes.queue, c.ENQUEUED_AT: f"{enqueued_at:.3f}"}
        if stale_result:
            marks[c.WAIT_RESULT] = ""
        # TRIES: the dialplan's retry count; a daemon answered
        await set_variables(session, {**marks, c.QUEUED: attributes.queue, c.TRIES: "0"})
        await session.answer()
        await session.command("SET MUSIC", "ON", queue.music_class)
        return caller

    def _keep_callback(self, attributes: CallerAttributes, enqueued_at: float) -> None:
        """A callback number that came on the channel (not through the IVR, which stores
        it before confirming) goes to the callback book too, so no restart forgets it."""
        book = self.callbacks.book if self.callbacks is not None else None
        number = attributes.callback
        if book is None or not number or attributes.call_id in book.pending:
            return
        task = asyncio.get_running_loop().create_task(book.promise(
            attributes.call_id, attributes.queue, number, requirements=attributes.requirements,
            priority=attributes.priority, language=attributes.language, caller_type=attributes.caller_type,
            enqueued_at=enqueued_at))
        self._stopping.add(task)
        task.add_done_callback(self._kept)

    def _kept(self, task: asyncio.Task[Any]) -> None:
        self._stopping.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("callback not stored; it waits in memory only", exc_info=task.exception())

    async def _next(self, caller: WaitingCaller) -> object:
        """The next engine command for this caller, or HANGUP when the channel goes first.

        res_agi writes ``HANGUP`` on the socket of an idle session whose caller hung up,
        and the AGI session's reader sees it (``wait_for_hangup``); AMI's HangupRequest
        says the same through ``channel_hung_up``. Whichever comes first wins."""
        wait_for_hangup = getattr(caller.session, "wait_for_hangup", None)
        if not caller.inbox.empty() or wait_for_hangup is None:
            return await caller.inbox.get()
        command = asyncio.ensure_future(caller.inbox.get())
        hangup = asyncio.ensure_future(wait_for_hangup())
        try:
            await asyncio.wait({command, hangup}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            hangup.cancel()
            if not command.done():
                command.cancel()
        return command.result() if command.done() and not command.cancelled() else HANGUP

    async def _serve(self, caller: WaitingCaller) -> None:
        while True:
            item = await self._next(caller)
            if item is HANGUP:
                self._caller_left(caller)
                return
            if item is HANDOVER:
                await caller.session.set_variable(c.WAIT_RESULT, c.WAIT_HANDOVER)
                return
            if isinstance(item, d.OfferCall):
                if await self._ring(caller, item):
                    return
            elif isinstance(item, d.Announce):
                await self._announce(caller, item)
            elif isinstance(item, d.ExitCall):
                session = caller.session
                await session.set_variable(c.QUEUED, c.LEFT_QUEUE)    # its wait in this queue is over
                await session.set_variable(c.EXIT, item.action.kind)
                await session.set_variable(c.EXIT_TARGET, item.action.target or "")
                await session.set_variable(c.WAIT_RESULT, c.WAIT_EXIT)
                return

    async def _ring(self, caller: WaitingCaller, offer: d.OfferCall) -> bool:
        """Dial the reserved agent; True when the call is over (answered, then ended).

        The agent's hang-up is the routing hot path (the agent is free for the next
        caller), so when AMI already reported the answer, Dial returning 0 is enough to
        free the agent at once; the bookkeeping round trips come after."""
        session = caller.session
        agent = self.config.agents[offer.agent_id]
        caller.offer, caller.answered = offer, False
        if offer.record:
            await session.exec("MixMonitor", self.recording_options(offer.call_id))
        ring = max(1, math.ceil(offer.ring_timeout))
        response = await session.exec("Dial", f"PJSIP/{agent.endpoint},{ring},gm({caller.music_class})")
        result = getattr(response, "result", 0)
        if caller.ended:                          # attended-transferred: its end is written
            caller.offer = None
            if result is None or int(result) >= 0:
                await session.set_variable(c.WAIT_RESULT, c.WAIT_ANSWERED)
            return True
        if result is not None and int(result) < 0:
            self._caller_left(caller)
            return True
        if caller.answered:                       # with option g: the agent hung up first
            caller.offer = None
            await self._note_blind_transfer(caller)
            self.live.feed(e.AgentHungUp(self.live.now(), caller.call_id))
            await session.set_variable(c.WAIT_RESULT, c.WAIT_ANSWERED)
            return True
        status = await session.get_variable("DIALSTATUS") or ""
        caller.offer = None
        if status == "ANSWER":                    # answered, and AMI's DialEnd not seen yet
            talked = await session.get_variable("ANSWEREDTIME")
            self._answered(caller, offer, self.live.now() - _seconds(talked))
            await self._note_blind_transfer(caller)
            self.live.feed(e.AgentHungUp(self.live.now(), caller.call_id))
            await session.set_variable(c.WAIT_RESULT, c.WAIT_ANSWERED)
            return True
        self.live.feed(e.OfferFailed(self.live.now(), caller.call_id, offer.agent_id,
                                     DIAL_FAILURES.get(status, "failed")))
        if caller.call_id in self.live.engine.calls:
            await session.command("SET MUSIC", "ON", caller.music_class)
        return False

    async def _note_blind_transfer(self, caller: WaitingCaller) -> None:
        """Before an answered call's end is fed: if the agent blind-transferred the caller
        (AMI ``BlindTransfer`` or a phone's SIP REFER), the queue_log writes
        BLINDTRANSFER exten|context instead of COMPLETEAGENT, as app_queue does. Read from
        the caller's channel, not from AMI's BlindTransfer event: measured on Asterisk 16
        (tests/test_queue_log_parity.py), the Dial's AGI answer arrives before that event.
        One AGI round trip, only when a queue_log is written (GET FULL VARIABLE is answered on
        a hung-up channel too); a session already closed leaves the end as it was."""
        formatter = self.queue_log
        if formatter is None:
            return
        try:
            values = await _read_at_once(caller.session, AFTER_DIAL_VARIABLES)
        except ConnectionError:      # the agent's hang-up still ends the call, as before
            return
        if values is None:
            return
        transferer = values["BLINDTRANSFER"]
        if transferer and transferer != caller.transferred_in:
            formatter.note_transfer(caller.call_id, "BLINDTRANSFER", (values["EXTEN"], values["CONTEXT"]))

    def attended_transfer(self, uniqueid: str, event: str, fields: tuple[str, ...]) -> bool:
        """AMI ``AttendedTransfer`` naming channel ``uniqueid``: if it is a caller this room
        connected, its agent handed it on (a phone's REFER with Replaces after a
        consultation, or Asterisk's atxfer feature), so the call ends now, written as
        ``event`` with ``fields`` instead of COMPLETEAGENT, and the agent is free for the
        next caller. Not at the Dial's return: main/bridge.c
        ``two_bridge_attended_transfer`` swaps or merges bridges, so the caller stays
        bridged (to the colleague) and its Dial returns only when that talk ends
        (measured, tests/test_queue_log_parity.py); app_queue writes the line and frees
        its member at the transfer (``handle_attended_transfer``). True when it was."""
        call_id = self._by_channel.get(uniqueid)
        caller = self.callers.get(call_id) if call_id else None
        call = self.live.engine.calls.get(call_id) if call_id else None
        if caller is None or not caller.answered or caller.ended or call is None \
                or call.state is not CallState.CONNECTED:
            return False
        formatter = self.queue_log
        if formatter is not None:
            formatter.note_transfer(caller.call_id, event, fields)
        caller.ended = True
        self.live.feed(e.AgentHungUp(self.live.now(), caller.call_id))
        return True

    def recording_options(self, call_id: str) -> str:
        """MixMonitor's argument: the file named by call id; ``b`` records only while
        bridged to the agent (the hold music is not worth storing). The directory is
        Asterisk's (a relative one is under its monitor spool); MixMonitor creates it."""
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", call_id)
        return f"{self.settings.recordings_dir / safe}.wav,b"

    async def _announce(self, caller: WaitingCaller, announce: d.Announce) -> None:
        """Position, estimated wait and the periodic message, in the caller's language; an
        offer arriving meanwhile cuts the announcement short so the agent is rung at once:
        no sentence after it starts, and the one playing is stopped (``offer``).

        Only files are stopped: a SAY NUMBER plays one file per word (``say_filenames``
        in main/say.c), which goes on to the next word after a stop (the stop reads as
        0 there too), so stopping it would save one short word; the check before each
        step does the rest."""
        session = caller.session
        steps = announcement_steps(announce, self.config, self._language(caller), self._prompts_dir(),
                                   self.settings.sounds)
        await session.command("SET MUSIC", "OFF")
        for kind, what in steps:
            if not caller.inbox.empty():
                break
            if kind == "file":
                caller.playing = what
                try:
                    await session.stream_file(what, "")
                finally:
                    caller.playing = None
            else:
                await session.command("SAY NUMBER", what, "")
        await session.command("SET MUSIC", "ON", caller.music_class)

    def _language(self, caller: WaitingCaller) -> str:
        """The language the caller chose (the engine's call), if the service speaks it;
        else the default one."""
        call = self.live.engine.calls.get(caller.call_id)
        language = call.language if call is not None else None
        return language if language in self.config.languages else self.config.default_language

    def _prompts_dir(self) -> str:
        if self.settings.prompts_dir is not None:
            return self.settings.prompts_dir
        return self.config.ivr.prompts_dir if self.config.ivr is not None else "acd"

    async def hand_over(self, timeout: float = 3.0) -> int:
        """The daemon is stopping: every caller waiting here (not one whose agent's phone
        rings or who talks: Dial holds those sessions, and they end on their own) leaves
        the waiting room with ``ACD_WAIT_RESULT=handover`` rather than with a closed
        socket, which the dialplan treats as a crash and retries for ``wait_retries``
        seconds. The call stays on the channel (ACD_* variables) for whichever daemon
        answers next. Returns how many were handed over; waits up to ``timeout`` for
        their sessions to say so to Asterisk."""
        self.closing = True
        leaving = [caller for caller in self.callers.values() if caller.offer is None]
        for caller in leaving:
            caller.inbox.put_nowait(HANDOVER)
            if caller.playing is not None:
                self._cut_announcement(caller, caller.playing)
        deadline = asyncio.get_running_loop().time() + timeout
        while any(self.callers.get(caller.call_id) is caller for caller in leaving):
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.02)
        if leaving:
            log.info("waiting callers handed over", extra={"callers": len(leaving)})
        return len(leaving)

    # -------------------------------------------------------------- engine commands
    def offer(self, command: d.OfferCall) -> None:
        caller = self.callers.get(command.call_id)
        if caller is None and command.callback and self.callbacks is not None:
            self.callbacks.place(command)
            return
        if caller is None:
            # The caller's session is gone (hung up in the same instant): give the agent back.
            log.warning("offer for a call without a session", extra={"call_id": command.call_id,
                                                                    "agent_id": command.agent_id})
            asyncio.get_running_loop().call_soon(self._drop_orphan, command)
            return
        caller.inbox.put_nowait(command)
        if caller.playing is not None:
            self._cut_announcement(caller, caller.playing)

    def _cut_announcement(self, caller: WaitingCaller, playing: str) -> None:
        """Stop the sentence the offered caller is hearing, so the reserved agent is rung
        now rather than after it (the agent idles, reserved, while a sentence finishes).
        The stop travels on AMI, apart from the AGI session, whose one command in flight
        is that very STREAM FILE; when it returns the announcement loop sees the offer."""
        if self.stop_playback is None or not caller.channel:
            return
        task = asyncio.get_running_loop().create_task(self._stop(caller, playing))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _stop(self, caller: WaitingCaller, playing: str) -> None:
        stop_playback = self.stop_playback
        try:
            if stop_playback is not None:
                await stop_playback(caller.channel)
        except Exception as error:   # AMI down, refused, timed out: the sentence just finishes
            log.warning("announcement not cut; the sentence finishes first",
                        extra={"call_id": caller.call_id, "channel": caller.channel, "file": playing,
                               "reason": repr(error)})

    def announce(self, command: d.Announce) -> None:
        caller = self.callers.get(command.call_id)
        if caller is not None:
            caller.inbox.put_nowait(command)

    def exit(self, command: d.ExitCall) -> None:
        caller = self.callers.get(command.call_id)
        if caller is not None:
            caller.inbox.put_nowait(command)

    def cancel_offer(self, command: d.CancelOffer) -> None:
        """A caller's hang-up already ended its Dial, which stops the ringing. The engine's
        ring deadline (``ring_deadline``) means the session never reported the end of a
        Dial that Asterisk ends by its own timeout: a session that does not keep time is
        not trusted with the caller any longer. It is closed and the call leaves the
        engine; a real channel's dialplan loops back into ``wait`` and is queued again
        at its original place (``ACD_ENQUEUED_AT``)."""
        if command.reason != "ring_deadline":
            return
        caller = self.callers.get(command.call_id)
        if caller is None or caller.offer is None or caller.offer.agent_id != command.agent_id:
            return
        log.warning("offer withdrawn at the ring deadline; its session is closed",
                    extra={"call_id": caller.call_id, "agent_id": command.agent_id, "channel": caller.channel})
        caller.offer = None
        self._forget(caller)
        asyncio.get_running_loop().call_soon(self._drop_stale, caller)
        if self.hangup_dial is not None:
            self._track(self._hang_up_dial(caller, self.hangup_dial))

    async def _hang_up_dial(self, caller: WaitingCaller, hangup_dial: Callable[[str], Awaitable[object]]) -> None:
        try:
            await hangup_dial(caller.channel_uniqueid)
        except Exception as error:   # AMI down, or the channel already gone: Dial's own timeout ends it
            log.warning("stale Dial not hung up", extra={"call_id": caller.call_id, "reason": repr(error)})

    def _track(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    def _drop_stale(self, caller: WaitingCaller) -> None:
        if caller.call_id in self.live.engine.calls and caller.call_id not in self.callers:
            self.live.feed(e.CallerHungUp(self.live.now(), caller.call_id))
        close = getattr(caller.session, "close", None)
        if close is not None:
            self._track(close())

    def _drop_orphan(self, command: d.OfferCall) -> None:
        if command.call_id not in self.callers and command.call_id in self.live.engine.calls:
            self.live.feed(e.CallerHungUp(self.live.now(), command.call_id))

    # -------------------------------------------------------------- AMI facts
    def channel_hung_up(self, uniqueid: str) -> None:
        """AMI ``Hangup`` of a caller's channel: wake its coroutine if it is idle; one
        still to come back after a restart holds nobody up any more."""
        self.returning.gone(uniqueid)
        call_id = self._by_channel.get(uniqueid)
        caller = self.callers.get(call_id) if call_id else None
        if caller is not None:
            caller.inbox.put_nowait(HANGUP)

    def channels(self) -> frozenset[str]:
        """The Uniqueids of the channels whose ``wait`` session is here now."""
        return frozenset(self._by_channel)

    def call_of_channel(self, uniqueid: str) -> str | None:
        """The call id of the waiting-room caller on channel ``uniqueid``, if any."""
        return self._by_channel.get(uniqueid)

    def dial_answered(self, caller_uniqueid: str, agent_uniqueid: str, at: float) -> bool:
        """AMI ``DialEnd`` with ``DialStatus: ANSWER`` on a caller's channel; True when
        it answered an offer of this room."""
        call_id = self._by_channel.get(caller_uniqueid)
        caller = self.callers.get(call_id) if call_id else None
        if caller is not None and caller.offer is not None and not caller.answered:
            formatter = self.queue_log
            if formatter is not None and agent_uniqueid:
                formatter.note_peer(caller.call_id, agent_uniqueid)
            self._answered(caller, caller.offer, at)
            return True
        return False

    # -------------------------------------------------------------- bookkeeping
    def _answered(self, caller: WaitingCaller, offer: d.OfferCall, at: float) -> None:
        caller.answered = True
        self._answered_calls[caller.call_id] = None
        while len(self._answered_calls) > ANSWERED_MEMORY:
            self._answered_calls.popitem(last=False)
        self.live.feed(e.OfferAnswered(at, caller.call_id, offer.agent_id))
        book = self.callbacks.book if self.callbacks is not None else None
        if offer.callback and book is not None:
            # the caller was still on the line when the agent answered: the promise is kept
            book.tried(caller.call_id, answered=True)

    def _caller_left(self, caller: WaitingCaller) -> None:
        """The caller hung up, whatever the call's state: the engine knows whether that is an
        abandon (waiting), a cancelled offer (ringing) or the end of a conversation."""
        if caller.call_id in self.live.engine.calls:
            self.live.feed(e.CallerHungUp(self.live.now(), caller.call_id))

    def _forget(self, caller: WaitingCaller) -> None:
        if self.callers.get(caller.call_id) is caller:
            del self.callers[caller.call_id]
            self._by_channel.pop(caller.channel_uniqueid, None)

async def _read_at_once(session: Session, names: tuple[str, ...]) -> dict[str, str] | None:
    """Channel variables in one GET FULL VARIABLE round trip (joined by a byte no value
    holds), by name; None when the answer does not split into as many values."""
    raw = await session.get_full_variable(_SEPARATOR.join("${%s}" % name for name in names)) or ""
    parts = raw.split(_SEPARATOR)
    return dict(zip(names, parts)) if len(parts) == len(names) else None


def _env(session: Session, key: str) -> str:
    env = session.env
    try:
        return str(env.get(key, "") or "")
    except AttributeError:
        return ""


def _requested_queue(session: Session) -> str | None:
    """The queue named in the AGI request when the channel carries none: ``wait?queue=q``
    or ``AGI(agi://host/wait,q)`` (the direct per-queue test extensions)."""
    env = session.env
    query = getattr(env, "query", None) or {}
    if isinstance(query, Mapping) and query.get("queue"):
        value = query["queue"]
        return value[0] if isinstance(value, list) else str(value)
    args = getattr(env, "args", None) or ()
    return str(args[0]) if args else None


def _seconds(text: str | None) -> float:
    try:
        return float(text) if text else 0.0
    except ValueError:
        return 0.0
