"""Live queue figures from the engine's decisions, by the definitions in acd.metrics.

A decision subscriber: it turns each finished call into an ``acd.metrics.CallOutcome``
(offered when queued, answered when connected, ended when the conversation or the
wait ended) so the live reports compute service level, ASA and abandon rate with the
very functions the simulator uses.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from acd.engine import decisions as d
from acd.metrics import CallOutcome, QueueFigures, queue_figures


@dataclass
class _Open:
    queue: str
    offered_at: float
    answered_at: float | None = None


class LiveFigures:
    def __init__(self) -> None:
        self.outcomes: list[CallOutcome] = []
        self._open: dict[str, _Open] = {}

    def __call__(self, decisions: Sequence[d.Decision]) -> None:
        for decision in decisions:
            match decision:
                case d.CallQueued():
                    self._open.setdefault(decision.call_id, _Open(decision.queue, decision.enqueued_at))
                case d.CallConnected():
                    call = self._open.get(decision.call_id)
                    if call is not None:
                        call.answered_at = decision.at
                case d.CallEnded():
                    call = self._open.pop(decision.call_id, None)
                    if call is not None and call.answered_at is not None:
                        self.outcomes.append(CallOutcome(decision.call_id, call.queue, call.offered_at,
                                                         call.answered_at, max(decision.at, call.answered_at),
                                                         handle_time=decision.talk_time))
                case d.CallAbandoned():
                    call = self._open.pop(decision.call_id, None)
                    if call is not None:
                        self.outcomes.append(CallOutcome(decision.call_id, call.queue, call.offered_at, None,
                                                         max(decision.at, call.offered_at), abandoned=True))
                case d.ExitCall():
                    call = self._open.pop(decision.call_id, None)
                    if call is not None:
                        self.outcomes.append(CallOutcome(decision.call_id, call.queue, call.offered_at, None,
                                                         max(decision.at, call.offered_at), exited=True))

    def figures(self, threshold_s: float = 20.0, queue: str | None = None, *, short_abandon_s: float = 5.0,
                since: float | None = None) -> QueueFigures:
        """The report over the finished calls (of ``queue``, or all queues) offered from
        ``since`` on (every one kept, when None)."""
        chosen = [c for c in self.outcomes if queue is None or c.queue == queue]
        return queue_figures(chosen, threshold_s, short_abandon_s=short_abandon_s, start=since,
                             end=None if since is None else float("inf"))

    def forget_before(self, moment: float) -> None:
        """Drop the calls offered before ``moment``: a daemon that runs for months keeps
        one day of calls (the wallboard's "today"), not every call since it started."""
        self.outcomes = [c for c in self.outcomes if c.offered_at >= moment]
