"""The live state in Redis: who waits, who talks, every agent's state, and an event stream.

Wallboards, the agents' web panel and a second daemon read it; a restarted daemon reads
the waiting calls back (with their original enqueue times) to rebuild its lines when
Asterisk's channel variables are not enough. Like the records, the daemon calls it
synchronously and a background task writes, so Redis being slow or down never delays
routing. redis-py's asyncio pool raises once ``max_connections`` are in use; we use its
``BlockingConnectionPool``, which waits for a free connection instead.

Keys (prefix ``acd:`` by default):

- ``acd:call:<call_id>``: hash of a call in the queue or on an agent (removed when it ends);
- ``acd:calls``: sorted set of live call ids by enqueue time;
- ``acd:agents``: hash agent id -> JSON {state, previous, reason, at};
- ``acd:phones``: hash agent id -> JSON of the agent's phone registration as AMI reported
  it (``PhoneRegistration.as_dict``: registered, reachable, uri, user_agent, status,
  contacts, since); the AMI bridge tells it, not the engine, so it is not in the stream;
- ``acd:events``: stream of every decision as JSON (capped at ``stream_length``).
"""
from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any, cast

import redis.asyncio as aioredis

from acd.batch_writer import BatchWriter
from acd.engine import decisions as d
from acd.engine.serialize import decision_dict
from acd.registrations import PhoneRegistration

log = logging.getLogger(__name__)

_ENDS = (d.CallEnded, d.CallAbandoned, d.ExitCall, d.CallbackCancelled)


class LiveState(BatchWriter):
    name = "live-state"

    def __init__(self, url: str, *, prefix: str = "acd:", stream_length: int = 100_000,
                 max_connections: int = 8, interval: float = 0.2) -> None:
        super().__init__(interval, max_delay=10.0)
        # decode_responses belongs to the pool: given to Redis() beside a pool it is ignored
        pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=10,
                                                        decode_responses=True)
        self.redis = aioredis.Redis(connection_pool=pool)
        self.prefix = prefix
        self.stream_length = stream_length
        self._pending: deque[d.Decision] = deque()
        #: agent id -> the phone's latest registration, not yet written (only the last counts)
        self._phones: dict[str, dict[str, Any]] = {}
        #: agent id -> its state as of now (``agents_now``), not yet written
        self._agent_states: dict[str, dict[str, Any]] = {}

    @property
    def backlog(self) -> int:
        return len(self._pending) + len(self._phones) + len(self._agent_states)

    def agents_now(self, agents: Iterable[Any], at: float) -> None:
        """Every agent's state as the engine holds it now (``state``, ``reason``), for a
        writer that subscribed after the engine changed: the agents a restarted daemon
        restored from its roster made their AgentStatus decisions before the live state
        started, and Redis would still show the last run's (or nothing)."""
        for agent in agents:
            state = getattr(agent.state, "value", str(agent.state))
            self._agent_states[agent.id] = {"state": state, "previous": state, "reason": agent.reason, "at": at}
        self._poke()

    async def _prepare(self) -> None:
        await self.redis.ping()

    async def close(self) -> None:
        await self.stop()
        await self.redis.aclose()

    def __call__(self, decisions: Sequence[d.Decision]) -> None:
        self._pending.extend(decisions)
        self._poke()

    def phone_changed(self, agent_id: str, phone: PhoneRegistration) -> None:
        """A ``Registrations`` listener: queue the phone's new registration."""
        self._phones[agent_id] = phone.as_dict()
        self._poke()

    async def _write(self) -> None:
        batch = list(self._pending)
        phones = dict(self._phones)
        agent_states = dict(self._agent_states)
        if not batch and not phones and not agent_states:
            return
        p = self.prefix
        async with self.redis.pipeline(transaction=True) as pipe:
            if agent_states:   # before the batch: a decision in it is newer
                pipe.hset(f"{p}agents", mapping={agent_id: json.dumps(state)
                                                  for agent_id, state in agent_states.items()})
            if phones:
                pipe.hset(f"{p}phones", mapping={agent_id: json.dumps(phone, ensure_ascii=False)
                                                  for agent_id, phone in phones.items()})
            for decision in batch:
                record = decision_dict(decision)
                pipe.xadd(f"{p}events", {"json": json.dumps(record, ensure_ascii=False)},
                          maxlen=self.stream_length, approximate=True)
                if isinstance(decision, d.CallQueued):
                    pipe.hset(f"{p}call:{decision.call_id}", mapping={
                        "queue": decision.queue, "enqueued_at": repr(decision.enqueued_at),
                        "priority": decision.priority, "state": "waiting",
                        "requirements": json.dumps(dict(decision.requirements)),
                    })
                    pipe.zadd(f"{p}calls", {decision.call_id: decision.enqueued_at})
                elif isinstance(decision, d.OfferCall):
                    pipe.hset(f"{p}call:{decision.call_id}", mapping={"state": "offered", "agent": decision.agent_id})
                elif isinstance(decision, (d.OfferMissed, d.OfferWithdrawn)):
                    pipe.hset(f"{p}call:{decision.call_id}", mapping={"state": "waiting", "agent": ""})
                elif isinstance(decision, d.CallConnected):
                    pipe.hset(f"{p}call:{decision.call_id}", mapping={
                        "state": "connected", "agent": decision.agent_id, "connected_at": repr(decision.at),
                        "waited": repr(decision.waited)})
                elif isinstance(decision, _ENDS):
                    pipe.delete(f"{p}call:{decision.call_id}")
                    pipe.zrem(f"{p}calls", decision.call_id)
                elif isinstance(decision, d.AgentStatus):
                    pipe.hset(f"{p}agents", decision.agent_id, json.dumps(
                        {"state": decision.state, "previous": decision.previous, "reason": decision.reason,
                         "at": decision.at}))
            await pipe.execute()
        for _ in batch:
            self._pending.popleft()
        for agent_id, phone in phones.items():
            if self._phones.get(agent_id) is phone:    # a newer one stays queued
                del self._phones[agent_id]
        for agent_id, state in agent_states.items():
            if self._agent_states.get(agent_id) is state:
                del self._agent_states[agent_id]

    async def waiting_calls(self) -> list[dict[str, Any]]:
        """Live calls in enqueue order, as stored: what a restarted daemon rebuilds from."""
        p = self.prefix
        # the client decodes responses (decode_responses=True): keys and values are str
        ids = cast(list[str], await self.redis.zrange(f"{p}calls", 0, -1))
        result: list[dict[str, Any]] = []
        for call_id in ids:
            stored = cast(dict[str, str], await self.redis.hgetall(f"{p}call:{call_id}"))
            if stored:
                result.append({**stored, "call_id": call_id, "enqueued_at": float(stored["enqueued_at"]),
                               "priority": int(stored["priority"]),
                               "requirements": json.loads(stored["requirements"])})
        return result

    async def connected_calls(self) -> list[dict[str, Any]]:
        """The calls on an agent as the last writer left them (``connected_at`` and
        ``waited`` when it wrote them): a daemon taking over closes those that ended while
        no daemon ran (``acd.daemon.app``)."""
        calls = [call for call in await self.waiting_calls() if call.get("state") == "connected"]
        for call in calls:
            for key in ("connected_at", "waited"):
                call[key] = float(call[key]) if call.get(key) else None
        return calls

    async def agents(self) -> dict[str, dict[str, Any]]:
        raw = cast(dict[str, str], await self.redis.hgetall(f"{self.prefix}agents"))
        return {agent_id: json.loads(value) for agent_id, value in raw.items()}

    async def phones(self) -> dict[str, dict[str, Any]]:
        """Every agent's phone registration, as last written."""
        raw = cast(dict[str, str], await self.redis.hgetall(f"{self.prefix}phones"))
        return {agent_id: json.loads(value) for agent_id, value in raw.items()}
