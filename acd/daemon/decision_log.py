"""One structured log line for each thing a supervisor asks about afterwards: an agent's
login, logout, pause and unpause, end of wrap-up, an auto-pause, which call went to which
agent and why, a caller who gave up, a caller taken out of the queue.

A decision subscriber of the live engine (like the queue_log): it only reads the
decisions and the engine's state at that moment, and writes lines through the
``acd.decisions`` logger with their fields as ``extra`` (``acd.cli.FieldsFormatter``
prints them as ``key=value``), so each line can be grepped or shipped as it is.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence

from acd.engine import Engine
from acd.engine import decisions as d
from acd.engine.engine import AUTO_PAUSE_REASON

log = logging.getLogger("acd.decisions")

def _agent_line(status: d.AgentStatus) -> str | None:
    """What an agent's change is called; None for routing's own changes (ringing, on
    call, wrap-up), which are logged as offers, abandons and exits."""
    if status.state == "paused" and status.reason == AUTO_PAUSE_REASON:
        return "agent auto-paused"
    if status.state == "paused" and status.previous != "paused":
        return "agent paused"
    if status.previous == "paused" and status.state != "logged_out":
        return "agent unpaused"
    if status.state == "logged_out":
        return "agent logged out"
    if status.previous == "wrap_up":
        return "agent wrap-up ended"
    return "agent logged in" if status.previous == "logged_out" else None


class DecisionLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, decisions: Sequence[d.Decision]) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        for decision in decisions:
            match decision:
                case d.AgentStatus():
                    line = _agent_line(decision)
                    if line is not None:
                        log.info(line, extra={"agent": decision.agent_id, "state": decision.state,
                                              "previous": decision.previous, "reason": decision.reason})
                case d.OfferCall():
                    log.info("call routed", extra=self._why(decision))
                case d.CallAbandoned():
                    log.info("caller abandoned", extra={"call": decision.call_id, "queue": decision.queue,
                                                        "waited": round(decision.waited, 3),
                                                        "position": decision.position})
                case d.ExitCall():
                    log.info("caller taken out of the queue", extra={
                        "call": decision.call_id, "queue": decision.queue, "waited": round(decision.waited, 3),
                        "exit": decision.action.kind})

    def _why(self, offer: d.OfferCall) -> dict[str, object]:
        """Which call to which agent, and why this agent: the queue's strategy, the skills
        the call needed at its widening stage and the agent's levels in them, the match
        score that ranked it first (``acd.engine.selection``: the sum of its levels on the
        line's skills, then how many skills it has, fewer first) and which rule broke the
        tie (``why``), how long the caller had waited and how long the agent had been idle."""
        fields: dict[str, object] = {"call": offer.call_id, "agent": offer.agent_id, "queue": offer.queue}
        call = self.engine.calls.get(offer.call_id)
        agent = self.engine.agents.get(offer.agent_id)
        if call is not None:
            needed = dict(call.line.stages[call.stage])
            fields.update(strategy=call.queue.strategy, stage=call.stage, needs=needed,
                          waited=round(offer.at - call.enqueued_at, 3))
            if agent is not None:
                fields["levels"] = {skill: agent.skills.get(skill, 0) for skill in needed}
                match = call.line.match.get(agent.id)
                if call.queue.prefer_best_match and match is not None:
                    fields.update(score=-match[0], skills=match[1], why=f"best match, then {call.queue.strategy}")
                else:
                    fields["why"] = call.queue.strategy
        if agent is not None and agent.idle_since is not None:
            fields["idle"] = round(offer.at - agent.idle_since, 3)
        return fields
