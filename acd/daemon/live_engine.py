"""The engine, run live: one place where events go in and decisions fan out.

Everything that reaches the engine in the daemon (AGI sessions, AMI events, agents'
feature codes, the clock) goes through ``LiveEngine.feed``; the decisions that come out
are routed once: commands to the waiting room (the coroutine of the caller concerned),
every decision to the subscribers (queue_log now; the live state, records and API later
subscribe the same way, so they never reach into the daemon). The engine is not
re-entrant, and nothing here awaits, so asyncio's single thread is its lock.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from acd.config.model import Config
from acd.daemon.clock import EngineClock, WallClock
from acd.engine import Engine
from acd.engine import decisions as d
from acd.engine import events as e

log = logging.getLogger(__name__)

Subscriber = Callable[[Sequence[d.Decision]], None]


@runtime_checkable
class FollowsConfig(Protocol):
    """A subscriber that keeps per-config tables (queue names, agents' devices, schema
    limits): told of a reload before the decisions it brings."""

    def reconfigure(self, config: Config) -> None: ...


class CommandSink(Protocol):
    """Who carries out the engine's commands on calls (the waiting room)."""

    def offer(self, command: d.OfferCall) -> None: ...
    def announce(self, command: d.Announce) -> None: ...
    def exit(self, command: d.ExitCall) -> None: ...
    def cancel_offer(self, command: d.CancelOffer) -> None: ...


class LiveEngine:
    def __init__(self, config: Config, *, now: WallClock = time.time) -> None:
        self.config = config
        self.now = now
        self.engine = Engine(config, start=now())
        self.clock = EngineClock(self._tick, now=now)
        self.subscribers: list[Subscriber] = []
        #: called with the seconds each event took the engine (the /metrics histogram)
        self.timings: list[Callable[[float], None]] = []
        self.commands: CommandSink | None = None

    def feed(self, event: e.Event) -> list[d.Decision]:
        started = time.perf_counter()
        decisions = self.engine.handle(event)
        for timing in self.timings:
            timing(time.perf_counter() - started)
        self._publish(decisions)
        return decisions

    def reconfigure(self, config: Config) -> list[d.Decision]:
        """Switch to a new (already validated) config without dropping a call; subscribers
        that keep per-config tables (``reconfigure(config)``) follow it."""
        self.config = config
        decisions = self.engine.reconfigure(config)
        for subscriber in self.subscribers:
            if isinstance(subscriber, FollowsConfig):
                subscriber.reconfigure(config)
        self._publish(decisions)
        return decisions

    def publish(self, decisions: list[d.Decision]) -> None:
        """Tell the subscribers facts the engine did not decide: the end of a call an
        earlier daemon connected that ended while no daemon ran (its record and COMPLETE
        line). They go to the subscribers only, never to the waiting room."""
        for subscriber in self.subscribers:
            try:
                subscriber(decisions)
            except Exception:
                log.exception("decision subscriber failed", extra={"subscriber": repr(subscriber)})

    def subscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.append(subscriber)

    def _tick(self, now: float) -> None:
        self.feed(e.Tick(now))

    def _publish(self, decisions: list[d.Decision]) -> None:
        sink = self.commands
        for decision in decisions:
            if isinstance(decision, d.Ignored):
                log.info("engine ignored event", extra={"event": repr(decision.event), "reason": decision.reason})
            elif sink is None:
                continue
            elif isinstance(decision, d.OfferCall):
                sink.offer(decision)
            elif isinstance(decision, d.Announce):
                sink.announce(decision)
            elif isinstance(decision, d.ExitCall):
                sink.exit(decision)
            elif isinstance(decision, d.CancelOffer):
                sink.cancel_offer(decision)
        for subscriber in self.subscribers:
            try:
                subscriber(decisions)
            except Exception:  # a broken report must never stop routing
                log.exception("decision subscriber failed", extra={"subscriber": repr(subscriber)})
        self.clock.rearm(self.engine.next_deadline())
