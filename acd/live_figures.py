"""Live queue figures from the engine's decisions, by the definitions in acd.metrics.

A decision subscriber: it turns each finished call into an ``acd.metrics.CallOutcome``
(offered when queued, answered when connected, ended when the conversation or the
wait ended) so the live reports compute service level, ASA and abandon rate with the
very functions the simulator uses. A call's handle time is its talk plus its queue's
wrap-up from the config in force when it ends, as the records' report and the
simulator count it (``acd.metrics.average_handle_time``); a reload's new wrap-up
counts from then on (``reconfigure``).

Reads cost the same at 23:59 as at 00:01: each figure asked for (a queue, or all, with
its threshold and grace, from a moment on) is a ``RunningFigures`` built once from the
day's calls and then updated as each call finishes, so a wallboard's read is a few
divisions, not a pass over the day. The day's calls are still kept (one day, see
``forget_before``) so that a figure asked for the first time, or with a threshold a
reloaded config changed, starts right.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from acd.config.model import Config
from acd.engine import decisions as d
from acd.metrics import CallOutcome, QueueFigures, RunningFigures, ServiceLevelMode, queue_figures


@dataclass
class _Open:
    queue: str
    offered_at: float
    answered_at: float | None = None


#: (queue or None for all, threshold, short-abandon grace, since, service level mode)
_Key = tuple[str | None, float, float, float | None, str]
#: more distinct figures asked for than this (thresholds changing all day?): start afresh
_MAX_RUNNING = 256


class LiveFigures:
    def __init__(self, config: Config) -> None:
        self.reconfigure(config)
        self.outcomes: list[CallOutcome] = []
        self._open: dict[str, _Open] = {}
        self._running: dict[_Key, RunningFigures] = {}
        self._kept_from: float | None = None

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
                        self.add(CallOutcome(decision.call_id, call.queue, call.offered_at,
                                             call.answered_at, max(decision.at, call.answered_at),
                                             handle_time=decision.talk_time + self._wrapup.get(call.queue, 0.0)))
                case d.CallAbandoned():
                    call = self._open.pop(decision.call_id, None)
                    if call is not None:
                        self.add(CallOutcome(decision.call_id, call.queue, call.offered_at, None,
                                                   max(decision.at, call.offered_at), abandoned=True))
                case d.ExitCall():
                    call = self._open.pop(decision.call_id, None)
                    if call is not None:
                        self.add(CallOutcome(decision.call_id, call.queue, call.offered_at, None,
                                                   max(decision.at, call.offered_at), exited=True))

    def reconfigure(self, config: Config) -> None:
        """Follow a reloaded config: the queues' wrap-up that AHT adds to the talk."""
        self._wrapup = {name: queue.wrapup for name, queue in config.queues.items()}

    def add(self, outcome: CallOutcome) -> None:
        """One finished call, into the day kept and every running figure it belongs to."""
        if self._kept_from is not None and outcome.offered_at < self._kept_from:
            return          # offered before the day kept (a call that ran past midnight): yesterday's
        self.outcomes.append(outcome)
        for (queue, _threshold, _grace, since, _mode), running in self._running.items():
            if (queue is None or queue == outcome.queue) and (since is None or outcome.offered_at >= since):
                running.add(outcome)

    def figures(self, threshold_s: float = 20.0, queue: str | None = None, *, short_abandon_s: float = 5.0,
                since: float | None = None, mode: ServiceLevelMode = "answered_plus_abandoned") -> QueueFigures:
        """The report over the finished calls (of ``queue``, or all queues) offered from
        ``since`` on (every one kept, when None), the service level divided as ``mode`` says."""
        key = (queue, threshold_s, short_abandon_s, since, mode)
        running = self._running.get(key)
        if running is None:
            if len(self._running) >= _MAX_RUNNING:
                self._running.clear()
            running = RunningFigures(threshold_s, short_abandon_s=short_abandon_s, mode=mode)
            for outcome in self.outcomes:
                if (queue is None or outcome.queue == queue) and (since is None or outcome.offered_at >= since):
                    running.add(outcome)
            self._running[key] = running
        return running.figures()

    def batch_figures(self, threshold_s: float = 20.0, queue: str | None = None, *, short_abandon_s: float = 5.0,
                      since: float | None = None, mode: ServiceLevelMode = "answered_plus_abandoned") -> QueueFigures:
        """`figures` computed afresh over every call kept (what the running figures must
        equal; for tests and checks, not for a wallboard)."""
        chosen = [c for c in self.outcomes if queue is None or c.queue == queue]
        return queue_figures(chosen, threshold_s, short_abandon_s=short_abandon_s, mode=mode, start=since,
                             end=None if since is None else float("inf"))

    def forget_before(self, moment: float) -> None:
        """Drop the calls offered before ``moment``: a daemon that runs for months keeps
        one day of calls (the wallboard's "today"), not every call since it started.
        Called on every read with the last midnight, so it does nothing until the day
        turns."""
        if self._kept_from is not None and moment <= self._kept_from:
            return
        self._kept_from = moment
        self.outcomes = [c for c in self.outcomes if c.offered_at >= moment]
        self._running = {key: running for key, running in self._running.items()
                         if key[3] is not None and key[3] >= moment}
