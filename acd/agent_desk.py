"""The agent's desk: what an agent may do to its own state, and the PIN check that
guards it, for both ways in: the phone's feature codes (``acd.daemon.agents_phone``)
and the web panel (``acd.api.app``).

Both ask the same questions in the same words: is this attempt locked, does the PIN
match (``pin_checked``, under ``acd.pin_guard``'s limits), and which engine event does
the action make (``action_event``). A pause reason is found by one rule whichever side
typed it: the config's reason by name, or by its 1-based number (what a phone can
type); none given, the config's first; anything else is refused naming the reason, the
same words the engine uses.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from typing import Protocol

from acd.config.model import AgentConfig, Config
from acd.config.pins import pin_verifies
from acd.engine import events as e
from acd.pin_guard import Attempt, PinGuard
from acd.records.ticket import Ticket

__all__ = ["ACTIONS", "ActionRefused", "EscalationRefused", "Escalator", "action_event", "pause_reason",
           "pin_checked", "pin_matches"]


class ActionRefused(ValueError):
    """The action cannot be asked of the engine (the message says why)."""


class EscalationRefused(Exception):
    """Why a ticket was not opened; ``kind`` lets the API and the phone answer precisely:
    ``no_call``, ``unknown_call``, ``not_your_call``, ``unknown_unit``, ``already``,
    ``unavailable``."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class Escalator(Protocol):
    """Who opens a back-office ticket for a call an agent took (the daemon's
    ``acd.daemon.escalation.Escalations``, which remembers who took what)."""

    def escalate(self, agent_id: str, call_id: str | None = None, *, note: str | None = None,
                 unit: str | None = None) -> Ticket: ...


#: action -> the engine event it makes, given (at, agent id, pause reason)
ACTIONS: Mapping[str, Callable[[float, str, str], e.Event]] = {
    "login": lambda at, agent_id, reason: e.AgentLoggedIn(at, agent_id),
    "logout": lambda at, agent_id, reason: e.AgentLoggedOut(at, agent_id),
    "pause": lambda at, agent_id, reason: e.AgentPaused(at, agent_id, reason),
    "unpause": lambda at, agent_id, reason: e.AgentUnpaused(at, agent_id),
    "ready": lambda at, agent_id, reason: e.AgentReady(at, agent_id),
}


def pause_reason(config: Config, given: str) -> str | None:
    """A reason code by name, or by its 1-based number in the config; empty: the first."""
    reasons = list(config.routing.pause_reasons)
    if given in config.routing.pause_reasons:
        return given
    if given.isdigit() and 1 <= int(given) <= len(reasons):
        return reasons[int(given) - 1]
    if not given and reasons:
        return reasons[0]
    return None


def action_event(config: Config, action: str, at: float, agent_id: str, reason: str = "") -> e.Event:
    """The engine event for ``action`` (``reason``: the pause reason as typed)."""
    make = ACTIONS.get(action)
    if make is None:
        raise ActionRefused(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    code = ""
    if action == "pause":
        found = pause_reason(config, reason)
        if found is None:
            raise ActionRefused(f"unknown pause reason {reason!r}")
        code = found
    return make(at, agent_id, code)


def pin_matches(agent: AgentConfig | None, typed: str) -> bool:
    """The agent's PIN (argon2 hash, or clear digits from an old config); an unknown agent
    costs the same hash check, so the time to refuse says nothing either way."""
    return pin_verifies(agent.pin if agent is not None else "", typed)


#: PIN hashes run here, two at a time: a flood of requests queues behind these threads
#: (19 MiB each) instead of taking the daemon's memory or its default executor
_PIN_CHECKS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pin-check")


async def pin_checked(guard: PinGuard, attempt: Attempt, agent: AgentConfig | None, typed: str) -> bool | None:
    """One attempt under the guard: None when locked (nothing is checked), else whether
    the PIN matched, counted as a failure or a success. The hash runs in a worker thread."""
    if guard.locked(attempt):
        return None
    guard.started(attempt)
    try:
        matched = await asyncio.get_running_loop().run_in_executor(_PIN_CHECKS, pin_matches, agent, typed)
    finally:
        guard.ended(attempt)
    if not matched:
        guard.failed(attempt)
        return False
    guard.succeeded(attempt)
    return True
