"""The ``agent`` FastAGI handler: log in, log out, pause with a reason, unpause and
escalate a call to the back office from the agent's own phone with feature codes and
the agent's PIN.

The dialplan calls ``AGI(agi://host:port/agent,<action>[,<reason>])`` from the agents'
context (``acd-agents``); ``action`` is ``login``, ``logout``, ``pause``, ``unpause`` or
``escalate`` (also accepted as ``?action=...&reason=...`` in the URL). ``escalate``
opens a ticket for the call the agent is on, or in wrap-up the call it just ended
(``acd.daemon.escalation``); its ``reason`` is an optional unit, by name or by its
1-based number in the config's ``back_office.units``, else the call's queue decides. The agent is the one whose
PJSIP endpoint placed the call; a phone that belongs to no agent is asked for the
agent number (hot desking). Every action asks for the PIN: a phone on a desk is not an
identity.

The PIN check and the action's event are the desk's (``acd.agent_desk``), shared with
the web panel. A wrong PIN is refused and counted by ``acd.pin_guard``: the agent's own
phone has a budget of its own that web failures never touch, any other phone counts as
a source like a web address; a locked attempt is refused without even checking, so a
PIN cannot be walked from a phone. The outcome is left in ``ACD_AGENT_RESULT`` (``ok``, ``bad_pin``, ``locked``, ``unknown_agent``,
``refused``) for the dialplan and for tests; an escalation also leaves the ticket's id
in ``ACD_TICKET``.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from acd import call_contract as c
from acd.agent_desk import ActionRefused, EscalationRefused, Escalator, action_event, pin_checked
from acd.config.back_office import back_office_of
from acd.config.model import AgentConfig, Config
from acd.daemon.live_engine import LiveEngine
from acd.engine import decisions as d
from acd.pin_guard import Attempt, PinGuard

log = logging.getLogger(__name__)

#: what the feature codes ask (``*11`` to ``*15``): the desk's actions but ``ready``, and escalate
ACTIONS = ("login", "logout", "pause", "unpause", "escalate")

#: Asterisk's own sound files (core sounds, en) for each step
SOUNDS: Mapping[str, str] = {
    "agent_number": "agent-user", "pin": "agent-pass", "bad_pin": "agent-incorrect",
    "locked": "please-try-call-later", "logged_in": "agent-loginok", "logged_out": "agent-loggedoff",
    "done": "auth-thankyou", "refused": "beeperr",
}


def endpoint_of(channel: str) -> str:
    """``PJSIP/agent-2001-0000002a`` -> ``agent-2001`` (a channel name ends in a sequence)."""
    match = re.match(r"^[A-Za-z]+/(.+)-[0-9a-fA-F]+$", channel)
    return match.group(1) if match else ""


def unit_choice(config: Config, given: str) -> str | None:
    """A back-office unit typed on a phone: its name, or its 1-based number in the config.
    Empty (the call's queue decides) and anything unknown give None; ``_escalate`` refuses
    the unknown rather than guess."""
    office = back_office_of(config)
    units = list(office.units) if office is not None else []
    if given in units:
        return given
    if given.isdigit() and 1 <= int(given) <= len(units):
        return units[int(given) - 1]
    return None


class AgentPhone:
    """The handler, holding the PIN guard across calls."""

    def __init__(self, live: LiveEngine, guard: PinGuard | None = None,
                 escalations: Escalator | None = None) -> None:
        """``escalations``: where ``escalate`` opens tickets (None: the code is refused)."""
        self.live = live
        if guard is None:   # a given guard keeps its own limits (tests, a shared one)
            guard = PinGuard()
            guard.configure(live.config.daemon)
        self.guard = guard
        self.escalations = escalations

    @property
    def config(self) -> Config:
        return self.live.config

    def agent_for_endpoint(self, endpoint: str) -> AgentConfig | None:
        for agent in self.config.agents.values():
            if agent.endpoint == endpoint:
                return agent
        return None

    async def handle(self, session: Any) -> None:
        action, reason_text = _request(session)
        result = await self._run(session, action, reason_text)
        await session.set_variable(c.AGENT_RESULT, result)

    async def _run(self, session: Any, action: str, reason_text: str) -> str:
        if action not in ACTIONS:
            log.warning("unknown agent action", extra={"action": action})
            await session.stream_file(SOUNDS["refused"])
            return "refused"
        await session.answer()
        phone = endpoint_of(str(session.env.get("agi_channel", "")))
        agent = self.agent_for_endpoint(phone)
        if agent is None:
            typed = await session.get_data(SOUNDS["agent_number"], 5000, 8)
            agent = self.config.agents.get((typed or "").strip())
        attempt = Attempt(agent.id if agent else None, f"phone:{phone}",
                          own_phone=agent is not None and bool(phone) and agent.endpoint == phone)
        if self.guard.locked(attempt):
            log.warning("agent PIN locked", extra={"phone": phone, "agent_id": agent.id if agent else None})
            await session.stream_file(SOUNDS["locked"])
            return "locked"
        if agent is None:
            self.guard.failed(attempt)
            await session.stream_file(SOUNDS["bad_pin"])
            return "unknown_agent"
        typed_pin = (await session.get_data(SOUNDS["pin"], 5000, 8) or "").strip()
        matched = await pin_checked(self.guard, attempt, agent, typed_pin)
        if matched is None:
            await session.stream_file(SOUNDS["locked"])
            return "locked"
        if not matched:
            log.warning("wrong agent PIN", extra={"phone": phone, "agent_id": agent.id})
            await session.stream_file(SOUNDS["bad_pin"])
            return "bad_pin"
        if action == "escalate":
            return await self._escalate(session, agent.id, reason_text)
        try:
            event = action_event(self.config, action, self.live.now(), agent.id, reason_text)
        except ActionRefused as why:
            log.info("agent request refused", extra={"agent_id": agent.id, "reason": str(why)})
            await session.stream_file(SOUNDS["refused"])
            return "refused"
        decisions = self.live.feed(event)
        refused = [x.reason for x in decisions if isinstance(x, d.Ignored)]
        if refused:
            log.info("agent request not applied", extra={"agent_id": agent.id, "action": action, "reasons": refused})
            await session.stream_file(SOUNDS["refused"])
            return "refused"
        sound = {"login": "logged_in", "logout": "logged_out"}.get(action, "done")
        await session.stream_file(SOUNDS[sound])
        return "ok"

    async def _escalate(self, session: Any, agent_id: str, unit_text: str) -> str:
        unit = unit_choice(self.config, unit_text)
        try:
            if self.escalations is None:
                raise EscalationRefused("unavailable", "escalation is not set up in this daemon")
            if unit_text and unit is None:
                raise EscalationRefused("unknown_unit", f"no back-office unit {unit_text!r}")
            ticket = self.escalations.escalate(agent_id, unit=unit)
        except EscalationRefused as refused:
            log.info("escalation refused", extra={"agent_id": agent_id, "kind": refused.kind,
                                                  "reason": refused.reason})
            await session.stream_file(SOUNDS["refused"])
            return "refused"
        await session.set_variable(c.TICKET, ticket.id)
        await session.stream_file(SOUNDS["done"])
        return "ok"



def _request(session: Any) -> tuple[str, str]:
    env = session.env
    query = getattr(env, "query", None) or {}
    args = list(getattr(env, "args", None) or ())

    def first(value: Any) -> str:
        return str(value[0] if isinstance(value, list) else value)

    action = first(query["action"]) if query.get("action") else (args[0] if args else "")
    reason = first(query["reason"]) if query.get("reason") else (args[1] if len(args) > 1 else "")
    return action.strip().lower(), reason.strip()
