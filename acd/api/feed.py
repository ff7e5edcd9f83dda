"""``/api/events``: the live floor pushed to each reader, a snapshot on connect and
deltas after, cut to what the reader's role may see.

Three views, chosen from the identity (``view_for``):

- ``floor`` (``agents:read``: supervisors, engineers, planners): every queue's figures
  (the ``GET /api/queues`` body) and every agent's row (the ``GET /api/agents`` row);
- ``agent`` (an agent's own login): its own row, and the caller it has now
  (``caller``: number, IVR choices, wait; ``acd.api.agent_desk``), which no other view
  carries;
- ``wallboard`` (``figures`` only: a kiosk): the queues' figures, which hold no
  personal data (agents only as counts by state).

Deltas are batched: the first decision after a send arms a flush ``FLUSH`` seconds later,
which sends each socket one message with what changed in between (the queues' figures
when anything changed, the rows of the agents whose state changed). Each message is
built once per view (once per agent for agent views) and the same text goes to every
socket of that view, so a thousand readers cost a thousand socket writes, not a
thousand rebuilds; a send is scheduled, never awaited, so a slow reader cannot hold
routing up. Message shapes are documented in docs/api.md.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from aiohttp import web

from acd.api.floor import QueuesView
from acd.auth import Identity
from acd.auth.roles import AGENT_SELF, AGENTS_READ, FIGURES
from acd.engine import Engine
from acd.engine import decisions as d
from acd.registrations import Registrations

log = logging.getLogger(__name__)

#: seconds between the first decision of a batch and its delta being sent
FLUSH = 0.05
#: sockets sent to per turn of the event loop
CHUNK = 25

View = Literal["floor", "agent", "wallboard"]


class _Live(Protocol):
    engine: Engine

    def now(self) -> float: ...


def view_for(identity: Identity) -> View | None:
    """The view an identity gets (None: it may not use the feed)."""
    if identity.may(AGENTS_READ):
        return "floor"
    if identity.may(AGENT_SELF) and identity.agent_id is not None:
        return "agent"
    if identity.may(FIGURES):
        return "wallboard"
    return None


def agent_row(live: _Live, phones: Registrations, agent_id: str) -> dict[str, Any]:
    """One agent as the API shows it: name, team, state, reason, since, phone, and the call
    it is on (queue and how long that caller waited)."""
    engine = live.engine
    agent = engine.agents[agent_id]
    call = engine.calls.get(agent.call_id) if agent.call_id is not None else None
    return {"id": agent.id, "name": agent.config.name, "team": agent.config.team, "state": agent.state.value,
            "reason": agent.reason,
            "since": agent.state_since, "reachable": agent.reachable, "call": agent.call_id,
            "queue": call.queue.name if call is not None else None,
            "waited": (call.answered_at or live.now()) - call.enqueued_at if call is not None else None,
            "phone": phones.get(agent.id).as_dict()}


@dataclass(eq=False)
class Reader:
    socket: web.WebSocketResponse
    view: View
    agent_id: str | None = None


@dataclass
class Feed:
    """The sockets of ``/api/events`` and the batch of changes not yet sent."""

    live: _Live
    phones: Registrations
    queues: QueuesView
    readers: set[Reader] = field(default_factory=set)
    #: an agent's caller card (``acd.api.agent_desk.CallerCards.card``), for its own view
    cards: Callable[[str], dict[str, Any] | None] | None = None
    _agents: set[str] = field(default_factory=set)
    _first_at: float | None = None
    _armed: asyncio.TimerHandle | None = None

    def __call__(self, decisions: Sequence[d.Decision]) -> None:
        if not self.readers or not decisions:
            return
        for decision in decisions:
            agent_id = getattr(decision, "agent_id", None)
            if isinstance(agent_id, str):
                self._agents.add(agent_id)
        if self._first_at is None:
            self._first_at = decisions[0].at
        if self._armed is None:
            try:
                self._armed = asyncio.get_running_loop().call_later(FLUSH, self.flush)
            except RuntimeError:        # fed outside the loop (tests, start-up): the next batch sends
                pass

    def snapshot(self, reader: Reader) -> str:
        message: dict[str, Any] = {"type": "snapshot", "view": reader.view, "at": self.live.now()}
        if reader.view != "agent":
            message["queues"] = json.loads(self.queues.body())
        if reader.view == "floor":
            message["agents"] = [agent_row(self.live, self.phones, a) for a in self.live.engine.agents]
        elif reader.view == "agent" and reader.agent_id in self.live.engine.agents:
            message["agent"] = agent_row(self.live, self.phones, reader.agent_id)
            message["caller"] = self.cards(reader.agent_id) if self.cards is not None else None
        return json.dumps(message, ensure_ascii=False)

    def flush(self) -> None:
        """Send each reader what changed since the last flush."""
        self._armed = None
        at, changed = self._first_at, self._agents
        self._first_at, self._agents = None, set()
        if at is None:
            return
        engine = self.live.engine
        rows = {a: agent_row(self.live, self.phones, a) for a in changed if a in engine.agents}
        queues = self.queues.body().decode()
        head = f'{{"type": "delta", "at": {json.dumps(at)}, '
        texts: dict[str, str] = {
            "wallboard": f'{head}"queues": {queues}}}',
            "floor": f'{head}"queues": {queues}, "agents": {json.dumps(list(rows.values()), ensure_ascii=False)}}}',
        }
        for agent_id, row in rows.items():
            caller = self.cards(agent_id) if self.cards is not None else None
            texts[f"agent:{agent_id}"] = (f'{head}"agent": {json.dumps(row, ensure_ascii=False)}, '
                                          f'"caller": {json.dumps(caller, ensure_ascii=False)}}}')
        asyncio.get_running_loop().create_task(self._send_all(texts))

    async def _send_all(self, texts: dict[str, str]) -> None:
        """Sends go out ``CHUNK`` sockets per turn of the event loop: a routing event
        due meanwhile waits for a few sends, not for a thousand."""
        for count, reader in enumerate(list(self.readers), 1):
            if reader.socket.closed:
                self.readers.discard(reader)
                continue
            text = texts.get(reader.view if reader.view != "agent" else f"agent:{reader.agent_id}")
            if text is not None:
                send(reader.socket, text)
            if count % CHUNK == 0:
                await asyncio.sleep(0)


def send(socket: web.WebSocketResponse, text: str) -> None:
    """Scheduled, not awaited: a slow reader must never hold routing up."""
    task = asyncio.get_running_loop().create_task(socket.send_str(text))
    task.add_done_callback(_log_send_failure)


def _log_send_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.info("websocket send failed: %r", task.exception())

