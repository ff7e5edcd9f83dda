"""The agent's desk: what the agent panel shows of the caller on the line, and where an
escalation may go.

- The caller's card (``CallerCards``): from the moment the agent's phone rings for a
  call until the agent leaves that call's wrap-up, the call's number, what the caller
  chose in the IVR (language, topic = the queue, caller type), how long they waited and
  the back-office unit an escalation goes to by default. It rides the agent's own live
  feed (``acd.api.feed``, key ``caller``), never the floor's or the wallboard's: only
  the agent taking the call sees the number. The engine forgets a call when it ends, so
  the card is kept here, one per agent, as a decision subscriber.
- ``GET /api/agents/{agent_id}/caller``: the card with that number's earlier calls and
  unresolved tickets (``acd.records.caller_history``). An agent reads it for its own
  caller only, once connected (on the call or in its wrap-up), never for a number it
  types, and every read of a number's history is kept in the audit log.
- ``GET /api/escalation-units``: the back office's units by name and title (no owners),
  what the panel offers to escalate to.

Registered from ``acd.api.app.make_app`` with ``register``; its routes are declared
in ``ROUTES`` below with their access rules, like the app's own table.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.api.access import audited, needs, route
from acd.auth.roles import AGENT_SELF, AGENTS_ACT
from acd.config.back_office import back_office_of
from acd.engine import AgentState, Engine
from acd.engine import decisions as d
from acd.records.caller_history import caller_history

Numbers = Callable[[str], "str | None"]

#: agent states in which the agent is connected to its card's caller
CONNECTED = frozenset({AgentState.ON_CALL, AgentState.WRAP_UP})
#: agent states in which an agent has a caller at all (ringing: the phone rings for it)
WITH_CALLER = CONNECTED | {AgentState.RINGING}


class _Live(Protocol):
    engine: Engine

    def now(self) -> float: ...


class CallerCards:
    """The caller card of each agent that has one (see the module's docstring).
    ``numbers``: the citizen's number of a call id (``acd.daemon.caller_numbers``)."""

    def __init__(self, live: _Live, numbers: Numbers | None = None) -> None:
        self.live = live
        self.numbers = numbers
        self._cards: dict[str, dict[str, Any]] = {}
        self._seed()

    def _seed(self) -> None:
        """The cards of calls already ringing or talking when the API starts after the
        engine (the daemon starts its API last)."""
        engine = self.live.engine
        for agent in engine.agents.values():
            call = engine.calls.get(agent.call_id) if agent.call_id is not None else None
            if call is None or agent.state not in WITH_CALLER:
                continue
            card = self._open(agent.id, call.id, call.offered_at or self.live.now(), call.callback)
            if card is not None and call.answered_at is not None:
                card["answered_at"] = call.answered_at
                card["waited"] = call.answered_at - call.enqueued_at

    def __call__(self, decisions: Sequence[d.Decision]) -> None:
        for decision in decisions:
            if isinstance(decision, d.OfferCall):
                self._open(decision.agent_id, decision.call_id, decision.at, decision.callback)
            elif isinstance(decision, d.CallConnected):
                card = self._cards.get(decision.agent_id)
                if card is None or card["call"] != decision.call_id:    # a call resumed after a restart
                    card = self._open(decision.agent_id, decision.call_id, decision.at - decision.ring_time, None)
                if card is not None:
                    card["answered_at"] = decision.at
                    card["waited"] = decision.waited
            elif isinstance(decision, d.CallEnded):
                card = self._cards.get(decision.agent_id)
                if card is not None and card["call"] == decision.call_id:
                    card["ended_at"] = decision.at
            elif isinstance(decision, (d.OfferMissed, d.OfferWithdrawn, d.CancelOffer)):
                card = self._cards.get(decision.agent_id)
                if card is not None and card["call"] == decision.call_id and card["answered_at"] is None:
                    del self._cards[decision.agent_id]
            elif isinstance(decision, d.AgentStatus) and decision.state not in WITH_CALLER:
                self._cards.pop(decision.agent_id, None)

    def _open(self, agent_id: str, call_id: str, offered_at: float, callback: str | None) -> dict[str, Any] | None:
        call = self.live.engine.calls.get(call_id)
        if call is None:
            return None
        office = back_office_of(self.live.engine.config)
        unit = office.unit_for(call.queue.name) if office is not None else None
        card: dict[str, Any] = {
            "call": call_id, "number": callback, "callback": callback is not None,
            "queue": call.queue.name, "topic": dict(call.queue.title), "language": call.language,
            "caller_type": call.caller_type, "priority": call.priority, "enqueued_at": call.enqueued_at,
            "offered_at": offered_at, "answered_at": None, "ended_at": None, "waited": None,
            "unit": unit.name if unit is not None else None,
        }
        self._cards[agent_id] = card
        return card

    def card(self, agent_id: str) -> dict[str, Any] | None:
        """The agent's caller as the panel shows it (None: no caller); ``waited`` grows
        while the phone rings and stops at the answer."""
        found = self._cards.get(agent_id)
        if found is None:
            return None
        card = dict(found)
        if card["number"] is None and self.numbers is not None:
            card["number"] = found["number"] = self.numbers(card["call"])
        if card["waited"] is None:
            card["waited"] = self.live.now() - card["enqueued_at"]
        return card


CARDS: web.AppKey[CallerCards] = web.AppKey("caller_cards", CallerCards)
RECORDS: web.AppKey[AsyncEngine | None] = web.AppKey("caller_records", object)  # type: ignore[arg-type]


async def caller(request: web.Request) -> web.Response:
    """The caller the agent is connected to, that number's earlier calls (newest first)
    and unresolved tickets; the read of a number's history is audited. 404 without a
    caller, 409 while the phone still rings (not connected yet); ``history`` is null
    when the number is unknown or there are no call records."""
    agent_id = request.match_info["agent_id"]
    live = request.app[CARDS].live
    agent = live.engine.agents.get(agent_id)
    card = request.app[CARDS].card(agent_id)
    if agent is None or card is None:
        return web.json_response({"ok": False, "error": "no_caller",
                                  "reason": f"agent {agent_id} has no caller now"}, status=404)
    if agent.state not in CONNECTED:
        return web.json_response({"ok": False, "error": "not_connected",
                                  "reason": "the caller's history is shown once the call is answered"}, status=409)
    db = request.app[RECORDS]
    if db is None or not card["number"]:
        return web.json_response({"ok": True, "caller": card, "history": None})
    try:
        history = await caller_history(db, card["number"], leave_out=card["call"])
    except (SQLAlchemyError, OSError):
        raise web.HTTPServiceUnavailable(text="the records database is not answering; try again shortly") from None
    queues = live.engine.config.queues
    for row in history["calls"] + history["tickets"]:      # titles as the panel shows topics
        row["topic"] = dict(queues[row["queue"]].title) if row["queue"] in queues else None
    await audited(request, "caller.history", card["call"], detail=f"agent {agent_id}: {len(history['calls'])} "
                                                                  f"earlier calls, {len(history['tickets'])} open tickets")
    return web.json_response({"ok": True, "caller": card, "history": history})


async def escalation_units(request: web.Request) -> web.Response:
    """The back office's units an agent may escalate to, by name and title (the owners
    stay with the back office's own pages); ``default``: the unit of queues no unit lists."""
    office = back_office_of(request.app[CARDS].live.engine.config)
    units = [{"name": u.name, "title": u.title} for u in (office.units.values() if office is not None else ())]
    return web.json_response({"units": units, "default": office.default if office is not None else None})


#: this module's routes and who may use them (an agent: its own caller only)
ROUTES = (
    ("GET", "/api/agents/{agent_id}/caller", caller, needs(AGENT_SELF, AGENTS_ACT, self_param="agent_id")),
    ("GET", "/api/escalation-units", escalation_units, needs(AGENT_SELF, AGENTS_ACT)),
)


def register(app: web.Application, live: Any, numbers: Numbers | None, records: AsyncEngine | None) -> CallerCards:
    """Add the desk's routes and caller cards to ``app``; the cards, for the live feed.
    ``records``: the call records' database (None: the history is not available)."""
    app[CARDS] = cards = CallerCards(live, numbers)
    app[RECORDS] = records
    live.subscribe(cards)
    for method, path, handler, rule in ROUTES:
        route(app, method, path, handler, rule)
    return cards
