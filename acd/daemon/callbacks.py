"""Placing the callbacks the engine offers: the agent's phone first, then the citizen.

A caller who asked to be called back (``ACD_CALLBACK``, set by the IVR) hangs up and
keeps the place in line inside the engine. When the engine offers that call to an
agent there is no caller channel to Dial from, so the daemon asks Asterisk over AMI to
``Originate`` the agent's endpoint; when the agent answers, the new channel runs the
dialplan at ``acd-callback`` / ``<number>``, which dials the citizen (the generated
dialplan owns how numbers leave the PBX).

Facts used (main/manager.c, Asterisk 16): ``Originate`` with ``Async: true`` answers at
once and reports the first leg's fate later in ``OriginateResponse`` (``Response:
Success`` once answered; else ``Failure`` with ``Reason``, the ``AST_CONTROL`` code:
3 ring timeout, 5 busy, 8 congestion, 1/0 hung up or unreachable); ``ChannelId`` sets the
new channel's Uniqueid, so that event and the channel's ``Hangup`` are recognised
without any lookup, and the end of the call becomes ``AgentHungUp`` (COMPLETEAGENT).
The agent's channel then runs ``Dial`` to the citizen: its ``DialEnd`` (main/dial.c,
the dialling channel's ``Uniqueid`` and ``DialStatus``) says whether the citizen
answered, which the callback book records as the try's outcome.

A try that ends while no daemon listens (the daemon that placed it killed, the next one
not yet up, or its resync too late to read the gone channel) would leave the book
believing the callback still pending, and the citizen would be called twice. Its
outcome is kept where no daemon is needed: the generated ``acd-callback`` context notes
the citizen's answer in AstDB at the answer (``call_contract.CALLBACK_DB``, key the call
id), and the dialer asks it (AMI ``DBGet``: main/db.c answers ``Error``, "Database entry
not found", or a ``DBGetResponse`` event with ``Val``) right before every try: one round
trip per try. Noted answered: the try counts as answered, the offer is withdrawn and
nothing rings. The book has the note deleted (``DBDel``) once the callback's final
outcome is written, so AstDB does not grow; a deletion that finds no link is made at
the link's return.

Only the agent's own phone counts against the agent: an Originate that never rang
anything (no AMI link, the action refused or unanswered) is ``OfferWithdrawn``, never
a RINGNOANSWER and never a rest. While the AMI link is down the engine is told that
callbacks cannot be dialled (``CallbackDialing``), so nobody is offered one and the
callbacks keep their places; the link's return lets them go again.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from acd import call_contract as c
from acd.daemon.live_engine import LiveEngine
from acd.engine import decisions as d
from acd.engine import events as e
from acd.protocol.errors import AMIActionError, AMIError

if TYPE_CHECKING:       # the book needs SQLAlchemy; a daemon without one passes none
    from acd.daemon.callback_book import CallbackBook

log = logging.getLogger(__name__)

CALLBACK_CONTEXT = "acd-callback"
#: DBGet's Error message for a key AstDB does not hold (main/db.c manager_dbget)
NOT_FOUND = "Database entry not found"

#: OriginateResponse Reason (AST_CONTROL_* of the agent's leg) -> OfferFailed.reason
ORIGINATE_FAILURES: Mapping[str, str] = {"3": "no_answer", "5": "busy", "8": "failed", "1": "unreachable",
                                         "0": "unreachable"}


@dataclass
class _Placed:
    call_id: str
    agent_id: str
    answered: bool = False
    #: the citizen's leg's DialStatus (empty until its DialEnd)
    citizen: str = ""


class CallbackDialer:
    def __init__(self, live: LiveEngine, book: CallbackBook | None = None) -> None:
        """``book``: told each try's outcome (``tried(call_id, answered)``); callbacks
        cannot be dialled until an AMI link is installed and up."""
        self.live = live
        self.book = book
        self.ami: Any = None
        self._placed: dict[str, _Placed] = {}       # agent channel's Uniqueid -> the callback
        self._tasks: set[asyncio.Task[None]] = set()
        #: seconds before callbacks resume after an Originate got no answer on a live link
        self.retry_after = 5.0
        self._dialing = True
        #: only the active daemon places callbacks (a standby holds the lease's other side)
        self.active = True
        #: asked right before each Originate with two daemons (``LeaderLease.holds``): a
        #: daemon that lost the lease since its last renewal never rings a citizen
        self.fence: Callable[[], Awaitable[bool]] | None = None
        #: answer notes to delete from AstDB once the link is back
        self._to_forget: set[str] = set()
        self._set_dialing(False)

    def install(self, ami: Any) -> None:
        self.ami = ami
        ami.on_event("OriginateResponse", self.on_originate_response)
        ami.on_event("Hangup", self.on_hangup)
        ami.on_event("DialEnd", self.on_dial_end)
        if hasattr(ami, "on_connect"):
            ami.on_connect(self._on_connect)
            ami.on_disconnect(lambda _reason: self._set_dialing(False))
        self._set_dialing(bool(getattr(ami, "connected", True)))

    def _on_connect(self, _client: Any) -> None:
        self._set_dialing(True)
        if self._to_forget:
            self._spawn(self._forget_left())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` as a task this dialer keeps until it is done."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def set_active(self, active: bool) -> None:
        """The leader lease changed hands: a standby daemon never originates a callback,
        so no citizen is called twice by two daemons."""
        self.active = active
        self._set_dialing(self.ami is not None and bool(getattr(self.ami, "connected", False)))

    def _set_dialing(self, possible: bool) -> None:
        possible = possible and self.active
        if possible != self._dialing:
            self._dialing = possible
            log.info("callbacks " + ("resume" if possible else "paused: no AMI link or standby"))
            self.live.feed(e.CallbackDialing(self.live.now(), possible))

    def place(self, offer: d.OfferCall) -> None:
        """Start ringing the agent for a callback (returns at once; the outcome comes back
        from AMI as OfferAnswered / OfferFailed)."""
        self._spawn(self._originate(offer))

    async def _originate(self, offer: d.OfferCall) -> None:
        agent = self.live.config.agents[offer.agent_id]
        channel_id = f"acd-cb-{uuid.uuid4().hex[:16]}"
        self._placed[channel_id] = _Placed(offer.call_id, offer.agent_id)
        try:
            if self.ami is None or not getattr(self.ami, "connected", True):
                raise ConnectionError("no AMI link")
            if self.fence is not None and not await self.fence():
                self._placed.pop(channel_id, None)
                log.error("callback not placed: the leader lease is no longer ours",
                          extra={"call_id": offer.call_id, "agent_id": offer.agent_id})
                self.set_active(False)
                self.live.feed(e.OfferWithdrawn(self.live.now(), offer.call_id, offer.agent_id, "failed", leave=False))
                return
            if await self.answered_before(offer.call_id):
                self._placed.pop(channel_id, None)
                log.warning("callback not placed: AstDB says an earlier try was answered",
                            extra={"call_id": offer.call_id, "agent_id": offer.agent_id})
                self.live.feed(e.OfferWithdrawn(self.live.now(), offer.call_id, offer.agent_id,
                                                d.CALLBACK_MADE_BEFORE, leave=True))
                if self.book is not None:
                    self.book.tried(offer.call_id, answered=True)
                return
            response = await self.ami.action(
                "Originate", Channel=f"PJSIP/{agent.endpoint}", Context=CALLBACK_CONTEXT, Exten=offer.callback or "",
                Priority="1", Timeout=str(int(offer.ring_timeout * 1000)), Async="true", ChannelId=channel_id,
                CallerID=f"Callback <{offer.callback}>",
                Variable=[f"{c.CALLID}={offer.call_id}", f"{c.QUEUE}={offer.queue}", f"{c.AGENT}={offer.agent_id}"])
            if response.get("Response") != "Success":
                raise AMIError(str(response.get("Message", "Originate refused")))
        except (ConnectionError, asyncio.TimeoutError, AMIError) as error:
            # nothing rang: not the agent's miss. No link: pause callbacks; refused: the
            # callback itself is at fault (a number the dialplan cannot take), a failed try
            log.error("callback not placed", extra={"call_id": offer.call_id, "agent_id": offer.agent_id,
                                                   "reason": str(error)})
            if self._placed.pop(channel_id, None) is None:
                return
            linked = self.ami is not None and getattr(self.ami, "connected", True)
            link_trouble = not linked or isinstance(error, (ConnectionError, asyncio.TimeoutError))
            if link_trouble:
                self._set_dialing(False)
                if linked:      # no answer on a link that looks up: the keepalive decides; retry later
                    asyncio.get_running_loop().call_later(self.retry_after, self._resume_if_linked)
            # refused: this callback leaves the line (the book puts it back after its delay)
            self.live.feed(e.OfferWithdrawn(self.live.now(), offer.call_id, offer.agent_id, "failed",
                                            leave=not link_trouble))
            if not link_trouble and self.book is not None:
                self.book.tried(offer.call_id, answered=False)

    async def answered_before(self, call_id: str) -> bool:
        """Whether AstDB holds the dialplan's note that the citizen answered a try of
        this callback. Raises ConnectionError / TimeoutError like the Originate would (the
        link's trouble); any other refusal is logged and counts as no note: a callback
        made at least once beats one never made."""
        try:
            found = await self.ami.action_list("DBGet", Family=c.CALLBACK_DB, Key=call_id)
        except AMIActionError as error:
            if NOT_FOUND not in error.message:
                log.error("AstDB not asked whether the callback was answered; placing it",
                          extra={"call_id": call_id, "reason": repr(error)})
            return False
        return any(str(item.get("Val", "")) == c.CALLBACK_ANSWERED for item in found)

    async def forget_answer(self, call_id: str) -> None:
        """The callback's final outcome is written: its answer note, if any, goes from
        AstDB (``DBDel``; an Error answer is a key never written). No link: at its return."""
        if self.ami is None or not getattr(self.ami, "connected", True):
            self._to_forget.add(call_id)
            return
        try:
            await self.ami.action("DBDel", Family=c.CALLBACK_DB, Key=call_id)
            self._to_forget.discard(call_id)
        except (ConnectionError, asyncio.TimeoutError, AMIError) as error:
            log.info("callback answer note not deleted yet", extra={"call_id": call_id, "reason": repr(error)})
            self._to_forget.add(call_id)

    async def _forget_left(self) -> None:
        for call_id in sorted(self._to_forget):
            await self.forget_answer(call_id)

    def _resume_if_linked(self) -> None:
        if self.ami is not None and getattr(self.ami, "connected", False):
            self._set_dialing(True)

    def on_originate_response(self, message: Any) -> None:
        placed = self._placed.get(str(message.get("Uniqueid", "")))
        if placed is None:
            return
        if message.get("Response") == "Success":
            placed.answered = True
            self.live.feed(e.OfferAnswered(self.live.now(), placed.call_id, placed.agent_id))
        else:
            del self._placed[str(message.get("Uniqueid"))]
            reason = ORIGINATE_FAILURES.get(str(message.get("Reason", "")), "failed")
            self.live.feed(e.OfferFailed(self.live.now(), placed.call_id, placed.agent_id, reason))

    def on_dial_end(self, message: Any) -> None:
        placed = self._placed.get(str(message.get("Uniqueid", "")))
        if placed is not None and placed.answered:
            placed.citizen = str(message.get("DialStatus", ""))

    def on_hangup(self, message: Any) -> None:
        placed = self._placed.pop(str(message.get("Uniqueid", "")), None)
        if placed is not None and placed.answered:
            self.live.feed(e.AgentHungUp(self.live.now(), placed.call_id))
            if self.book is not None:
                self.book.tried(placed.call_id, answered=placed.citizen == "ANSWER")
        elif placed is not None:
            # hung up before OriginateResponse said anything: the ring attempt failed
            self.live.feed(e.OfferFailed(self.live.now(), placed.call_id, placed.agent_id, "failed"))
