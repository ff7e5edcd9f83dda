"""Agents escalating a call to the back office: who may, which call, which unit.

One rule for the phone's feature code and the web panel: an agent escalates only a call
it took (so a typo in a call id, or a curious colleague, cannot open tickets in someone
else's name), and from the phone, which cannot type a call id, the call meant is the one
the agent is on, or in wrap-up the one it just ended: the moment agents write up what
the back office must do.

The engine forgets a call soon after it ends, so ``Escalations`` keeps its own short
memory of who took what, as a decision subscriber (like the queue_log). It is bounded
and lives in the daemon.

Calls connected by an earlier daemon (a restart) are not in that memory, but they live
on the caller's channel like everything else the contract keeps (``ACD_CALLID``,
``ACD_QUEUE``): at resync the AMI bridge finds each agent on a call this daemon does not
know, reads those variables from the channel it is bridged to and reports the call here
(``found_on_call``), then reports when the phone is free again (``phone_freed``). The
engine has no state for such an agent (it only keeps it out of routing), so the phone's
rule for these calls is written once, in ``_found_call_of``: the call counts as the one
the agent is on while its phone is busy with it, and as the one it just ended for as
long as the engine's wrap-up of that queue would have lasted (``wrapup`` seconds from
the moment the phone was free), until the engine connects the agent's next call. A call
the bridge could not identify (Getvar failed, the channel carried no ``ACD_CALLID``)
still cannot be escalated from here (the refusal says so) and goes to the back office by
its usual channels.

Such a call may already have been escalated under the earlier daemon, whose memory is
gone: the ticket is in the call records. Each call found is looked up there
(``escalated_as``, attached once the records are up, which may be after the resync), so
the agent's second ``*15`` is refused as ``already`` with the ticket it has, not a
second ticket. Until the answer comes (one indexed query) the memory cannot tell.
"""
from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from acd.agent_desk import EscalationRefused
from acd.config.back_office import back_office_of
from acd.config.model import Config
from acd.engine import AgentState, Engine
from acd.engine import decisions as d
from acd.records.ticket import Ticket, UnknownUnit, new_ticket

log = logging.getLogger(__name__)


class Live(Protocol):
    """What escalation needs of the live engine (acd.daemon.live_engine.LiveEngine)."""

    config: Config
    engine: Engine
    now: Callable[[], float]


@dataclass(slots=True)
class TakenCall:
    call_id: str
    queue: str
    agent_id: str
    callback: str | None = None
    ticket: str | None = None
    #: the caller's number read from the channel (a call found at resync), when known
    caller: str | None = None


@dataclass(slots=True)
class FoundCall:
    """A call an earlier daemon connected, found on the agent's phone at resync."""

    call_id: str
    #: when the phone was free again (None: still on the call)
    freed_at: float | None = None


class Escalations:
    def __init__(self, live: Live, store: Callable[[Ticket], None],
                 caller_number: Callable[[str], str | None] | None = None, memory: int = 50_000) -> None:
        """``store`` keeps the ticket (the call records); ``caller_number`` finds the
        citizen's number of a call id when the daemon knows it."""
        self.live = live
        self.store = store
        self.caller_number = caller_number
        self.memory = memory
        self._taken: OrderedDict[str, TakenCall] = OrderedDict()
        self._callbacks: dict[str, str] = {}     # call id -> callback number, until connected
        self._current: dict[str, str] = {}       # agent -> call it is on
        self._last: dict[str, str] = {}          # agent -> call it ended last
        self._found: dict[str, FoundCall] = {}   # agent -> call an earlier daemon connected
        #: the ticket an agent opened for a call, from the call records (``escalated_as``)
        self._escalated_as: Callable[[str], Awaitable[str | None]] | None = None
        self._lookups: set[asyncio.Task[None]] = set()

    def look_up_tickets_with(self, escalated_as: Callable[[str], Awaitable[str | None]]) -> None:
        """Ask ``escalated_as`` (``TicketDesk.escalated_as``) whether a call found at
        resync already has a ticket: from now on, and for the calls found before."""
        self._escalated_as = escalated_as
        for found in self._found.values():
            self._look_up(found.call_id)

    def _look_up(self, call_id: str) -> None:
        if self._escalated_as is None:
            return
        task = asyncio.get_running_loop().create_task(self._recall_ticket(self._escalated_as, call_id))
        self._lookups.add(task)
        task.add_done_callback(self._lookups.discard)

    async def _recall_ticket(self, escalated_as: Callable[[str], Awaitable[str | None]], call_id: str) -> None:
        try:
            ticket = await escalated_as(call_id)
        except Exception as error:      # the records are down: this memory is all there is
            log.warning("earlier ticket of a found call not looked up", extra={"call_id": call_id,
                                                                               "reason": repr(error)})
            return
        taken = self._taken.get(call_id)
        if ticket is not None and taken is not None and taken.ticket is None:
            taken.ticket = ticket
            log.info("call found at resync was escalated before", extra={"call_id": call_id, "ticket": ticket})

    # -- the subscriber ------------------------------------------------------------------
    def __call__(self, decisions: Sequence[d.Decision]) -> None:
        for decision in decisions:
            if isinstance(decision, d.OfferCall) and decision.callback:
                self._callbacks[decision.call_id] = decision.callback
            elif isinstance(decision, d.CallConnected):
                self._remember(TakenCall(decision.call_id, decision.queue, decision.agent_id,
                                         self._callbacks.pop(decision.call_id, None)))
                self._current[decision.agent_id] = decision.call_id
                self._found.pop(decision.agent_id, None)    # the engine's own call from now on
            elif isinstance(decision, d.CallEnded):
                if self._current.get(decision.agent_id) == decision.call_id:
                    del self._current[decision.agent_id]
                self._last[decision.agent_id] = decision.call_id
            elif isinstance(decision, (d.CallAbandoned, d.ExitCall)):
                self._callbacks.pop(decision.call_id, None)

    def _remember(self, taken: TakenCall) -> None:
        self._taken[taken.call_id] = taken
        while len(self._taken) > self.memory:
            self._taken.popitem(last=False)

    # -- calls an earlier daemon connected ------------------------------------------------------
    def found_on_call(self, agent_id: str, call_id: str, queue: str, caller: str | None = None) -> None:
        """The AMI bridge found ``agent_id`` bridged to call ``call_id`` of ``queue`` (read
        from the channel's ``ACD_CALLID`` / ``ACD_QUEUE``), which an earlier daemon
        connected: the agent took it, so it may escalate it (``caller``: the number on
        the citizen's channel). A call this memory already holds keeps its ticket."""
        taken = self._taken.get(call_id)
        if taken is None or taken.agent_id != agent_id:
            taken = TakenCall(call_id, queue, agent_id, caller=caller)
            self._remember(taken)
        elif caller and not taken.caller:
            taken.caller = caller
        self._found[agent_id] = FoundCall(call_id)
        self._current[agent_id] = call_id       # the call the engine resumes (CallResumed) for it
        if taken.ticket is None:
            self._look_up(call_id)
        log.info("call an earlier daemon connected found on an agent's phone",
                 extra={"call_id": call_id, "agent_id": agent_id, "queue": queue})

    def phone_freed(self, agent_id: str) -> None:
        """The agent's phone is free again after a call found by ``found_on_call``: from
        now on it is the call the agent just ended (see ``_found_call_of``)."""
        found = self._found.get(agent_id)
        if found is not None and found.freed_at is None:
            found.freed_at = self.live.now()

    def taken(self, call_id: str) -> TakenCall | None:
        """What this memory holds of ``call_id`` (who took it, its queue, its ticket)."""
        return self._taken.get(call_id)

    def _found_call_of(self, agent_id: str) -> str | None:
        """The phone's rule for a call an earlier daemon connected, which the engine never
        saw and so never put the agent in ON_CALL or WRAP_UP for: the call the agent is
        on while its phone is busy with it; once the phone is free, the call it just
        ended for the queue's ``wrapup`` seconds, the time the engine's own wrap-up
        would have given it (none when the queue has no wrap-up, or is gone after a
        reload). The engine connecting the agent's next call ends it at once
        (``__call__``)."""
        found = self._found.get(agent_id)
        if found is None:
            return None
        if found.freed_at is not None:
            taken = self._taken.get(found.call_id)
            queue = self.live.config.queues.get(taken.queue) if taken is not None else None
            window = queue.wrapup if queue is not None else 0.0
            if self.live.now() - found.freed_at >= window:
                del self._found[agent_id]
                return None
        return found.call_id

    # -- escalating ------------------------------------------------------------------------
    def escalate(self, agent_id: str, call_id: str | None = None, *, note: str | None = None,
                 unit: str | None = None) -> Ticket:
        """Open a ticket for a call ``agent_id`` took; ``call_id`` None means the phone's
        rule (the current call, or in wrap-up the last one). Raises EscalationRefused."""
        taken = self._call_of(agent_id) if call_id is None else self._taken.get(call_id)
        if taken is None:
            raise EscalationRefused("unknown_call", f"no call {call_id!r} taken by an agent is known here "
                                                    "(unknown id, or taken before the daemon started and "
                                                    "not found on the channels)")
        if taken.agent_id != agent_id:
            raise EscalationRefused("not_your_call", f"agent {agent_id} did not take call {taken.call_id}; "
                                                     "only the agent who took a call escalates it")
        if taken.ticket is not None:
            raise EscalationRefused("already", f"call {taken.call_id} is already escalated as ticket {taken.ticket}")
        caller = ((self.caller_number(taken.call_id) if self.caller_number else None) or taken.caller
                  or taken.callback)
        try:
            ticket = new_ticket(back_office_of(self.live.config), call_id=taken.call_id, queue=taken.queue,
                                at=self.live.now(), source="agent", agent_id=agent_id, caller=caller, note=note,
                                unit=unit)
        except UnknownUnit as error:
            raise EscalationRefused("unknown_unit", str(error)) from None
        self.store(ticket)
        taken.ticket = ticket.id
        log.info("call escalated", extra={"call_id": taken.call_id, "agent_id": agent_id, "ticket": ticket.id,
                                          "unit": ticket.unit})
        return ticket

    def _call_of(self, agent_id: str) -> TakenCall:
        """The phone's rule: the call the agent is on, else in wrap-up the one it ended;
        outside both, a call an earlier daemon connected (``_found_call_of``)."""
        agent = self.live.engine.agents.get(agent_id)
        state = agent.state if agent is not None else AgentState.LOGGED_OUT
        if state is AgentState.ON_CALL:
            call_id = self._current.get(agent_id)
        elif state is AgentState.WRAP_UP:
            call_id = self._last.get(agent_id)
        else:
            call_id = self._found_call_of(agent_id)
            if call_id is None:
                raise EscalationRefused("no_call", f"agent {agent_id} is {state.value}: escalate during a call "
                                                   "or its wrap-up")
        taken = self._taken.get(call_id) if call_id is not None else None
        if taken is None:
            raise EscalationRefused("no_call", f"agent {agent_id}'s call is not known here")
        return taken
