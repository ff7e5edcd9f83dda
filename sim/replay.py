"""The digital twin checked on a real day: the day's real callers (when each entered
which queue, with which requirements, how long the answered ones talked, how long the
ones who hung up held on) and the agents as they were really logged in and paused,
run through the simulator with the config's routing; its figures set beside the day's.

What is the real day's and what the model's:

- arrivals, queues, requirements and priorities are the day's; nobody redials (the
  day's redials are already among its arrivals) and no trunk turns anyone away (the
  records hold only callers who reached a queue);
- an answered caller talks as long as they really did; one who was not answered talks,
  if the replay answers them, the mean talk of the day's answered calls in that queue;
- patience: a caller who hung up holds on exactly as long as they really did. How long
  one who was answered (or sent to the exit) would have held on is not known, only that
  it was longer than their wait; they draw it from the sim settings' patience,
  conditioned on being longer than their real wait (drawing again until it is, at most
  100 times, then the wait plus a fresh draw). Unlimited patience instead biases the
  replay once it diverges from the day: callers who would have hung up keep waiting
  and lengthen everyone's wait (measured on a simulated day 20 % short of agents, 17 %
  abandons: ASA +3.8 % with unlimited patience, -0.2 % with the conditioned draw).
  Settings without patience: they never hang up;
- agents log in, log out, pause and resume when the records (or the queue_log) say,
  and answer an offer after the day's ring time (`ring_time`; the sim settings'
  ``answer_delay`` when the day does not tell); the rest (who is offered which call,
  wrap-up, widening, max wait) is the engine's, as live. On a day without queueing
  the ASA *is* the ring time, so a model's guess there would be all of the difference.

The replay is deterministic: one run, no confidence interval. The day's simulated
seconds start at its local midnight; on the day clocks go back, the last hour is past
the simulator's 24 hours and is left out (said in a warning).
"""
from __future__ import annotations

import math
from bisect import bisect_right
from itertools import accumulate
import random
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, replace
from statistics import fmean, median

import simpy

from acd.config.model import Config
from acd.config.sim import SimSettings
from acd.engine import events as e
from acd.engine.lines import qualifies
from acd.reports.real_day import AgentChange, RealCall, RealDay
from sim.load import DAY, sampler
from sim.model import CallAttempt, CallCentreDay, DayResult

#: lines enough that the replay never turns a caller away (the real day's did get in)
_OPEN_TRUNK = 1_000_000


@dataclass(frozen=True, slots=True)
class Presence:
    """An agent's log-in state from a moment on."""

    at: float
    agent_id: str
    logged_in: bool
    paused: bool


def presence(changes: Sequence[AgentChange], start: float) -> list[Presence]:
    """The changes of log-in and pause among the agents' state changes, in simulated
    seconds from ``start`` (a call's ringing, talk and wrap-up are the replay's own)."""
    now: dict[str, tuple[bool, bool]] = {}
    moves: list[Presence] = []
    for change in sorted(changes, key=lambda c: c.at):
        state = (change.state != "logged_out", change.state == "paused")
        if now.get(change.agent_id, (False, False)) != state:
            now[change.agent_id] = state
            moves.append(Presence(max(change.at - start, 0.0), change.agent_id, *state))
    return moves


class ReplayDay(CallCentreDay):
    """``CallCentreDay`` fed a real day instead of drawn callers and a roster."""

    def __init__(self, config: Config, settings: SimSettings, day: RealDay,
                 warn: Callable[[str], None] = lambda _: None) -> None:
        start = day.start
        known = [c for c in day.calls if c.queue in config.queues]
        for queue in sorted({c.queue for c in day.calls} - set(config.queues)):
            warn(f"queue {queue!r} of the day is not in the config: its calls are left out")
        late = [c for c in known if c.enqueued_at - start >= DAY]
        if late:
            warn(f"{len(late)} calls after the simulator's 24 hours (the day clocks go back) are left out")
        self._callers = [c for c in known if c.enqueued_at - start < DAY]
        self._moves = [m for m in presence(day.changes, start) if m.agent_id in config.agents]
        for agent in sorted({c.agent_id for c in day.changes} - set(config.agents)):
            warn(f"agent {agent!r} of the day is not in the config: left out")
        talks: dict[str, list[float]] = {}
        for call in self._callers:
            if call.outcome == "answered" and call.talk_time is not None:
                talks.setdefault(call.queue, []).append(call.talk_time)
        every = [t for ts in talks.values() for t in ts]
        fallback = fmean(every) if every else settings.talk_time.mean
        self._mean_talk = {queue: fmean(ts) for queue, ts in talks.items()}
        self._fallback_talk = fallback
        no_redials = replace(settings, redial=replace(settings.redial, probability=0.0))
        super().__init__(config, no_redials, seed=0, lines=_OPEN_TRUNK,
                         arrivals=[c.enqueued_at - start for c in self._callers])
        self.roster = self._on_duty()
        self._real: dict[str, RealCall] = {}
        rng = random.Random(f"{settings.seed}/replay-patience")
        self._draw_patience = sampler(settings.patience, rng) if settings.patience is not None else None

    def _on_duty(self) -> list[frozenset[str]]:
        """Agents logged in and not paused at each interval's start (the report's
        "agents staffed" of a simulated day)."""
        length = self.settings.interval_seconds
        state: dict[str, bool] = {}
        on_duty: list[frozenset[str]] = []
        moves = iter(self._moves)
        pending = next(moves, None)
        for index in range(self.settings.intervals):
            while pending is not None and pending.at <= index * length:
                state[pending.agent_id] = pending.logged_in and not pending.paused
                pending = next(moves, None)
            on_duty.append(frozenset(a for a, staffed in state.items() if staffed))
        return on_duty

    def _dialling(self) -> None:
        """The day's callers, at their real enqueue times, straight into their queue."""
        for caller, at in zip(self._callers, self.arrivals):
            self.env.schedule(_Arrive(self, caller), delay=max(at, 0.0))  # type: ignore[arg-type]

    def _arrive(self, caller: RealCall) -> None:
        self._serial += 1
        call = CallAttempt(caller.call_id, self.env.now, caller.queue, "", False)
        if caller.outcome == "answered" and caller.talk_time is not None:
            call.talk_needed = caller.talk_time
        else:
            call.talk_needed = self._mean_talk.get(caller.queue, self._fallback_talk)
        waited = caller.ended_at - caller.enqueued_at if caller.answered_at is None \
            else caller.answered_at - caller.enqueued_at
        call.patience = waited if caller.outcome == "abandoned" else self._patience_beyond(waited)
        self._real[call.id] = caller
        self.attempts.append(call)
        self._lines_busy += 1
        self._join_queue(call)

    def _patience_beyond(self, waited: float) -> float | None:
        """A patience longer than ``waited`` from the settings' distribution (see the
        module's docstring); None when the settings' callers never hang up."""
        if self._draw_patience is None:
            return None
        for _ in range(100):
            patience = self._draw_patience()
            if patience > waited:
                return patience
        return waited + self._draw_patience()

    def _requirements(self, call: CallAttempt) -> dict[str, int]:
        return dict(self._real[call.id].requirements)

    def _join_queue(self, call: CallAttempt) -> None:
        real = self._real[call.id]
        now = self.env.now
        call.enqueued = now
        self._live[call.id] = call
        self._ringing_at_once = None
        self._feed(e.CallArrived(now, call.id, call.queue, self._requirements(call), priority=real.priority))
        if call.patience is not None and call.outcome == "unfinished":
            self._after(call.patience, self._give_up, call)

    def _shifts(self) -> Generator[simpy.Event, None, None]:
        """Agents log in, out, pause and resume when the real day says."""
        env = self.env
        was: dict[str, tuple[bool, bool]] = {}
        for move in self._moves:
            if move.at > env.now:
                yield env.timeout(move.at - env.now)
            logged_in, paused = was.get(move.agent_id, (False, False))
            at, agent = env.now, move.agent_id
            if move.logged_in and not logged_in:
                self._feed(e.AgentLoggedIn(at, agent))
                paused = False
            if not move.logged_in and logged_in:
                self._feed(e.AgentLoggedOut(at, agent))
            elif move.paused and not paused:
                self._feed(e.AgentPaused(at, agent))
            elif not move.paused and paused and move.logged_in:
                self._feed(e.AgentUnpaused(at, agent))
            was[agent] = (move.logged_in, move.paused)

    def _maybe_redial(self, call: CallAttempt) -> None:
        return None


class _Arrive:
    """A SimPy wake-up that brings one real caller in (see ``sim.model._Wake``)."""

    __slots__ = ("callbacks", "_ok")

    def __init__(self, model: ReplayDay, caller: RealCall) -> None:
        self.callbacks: list[Callable[[object], None]] | None = [lambda _event: model._arrive(caller)]
        self._ok = True


def ring_time(day: RealDay, config: Config) -> float | None:
    """The day's typical seconds from offer to answer: the median of the queue_log's
    ring times, unless that is 0 (app_queue writes whole seconds: 0 is "under a
    second"); else (the records keep no ring time) the median wait of the calls
    answered while an agent who could take them (``qualifies`` for the queue's and the
    call's requirements, as the engine merges them) was available and not busy with a
    call (the day's answered calls and their queues' wrap-up say when: a queue_log has no
    state for either) when they arrived: offered at once, their wait was the ring. A free
    agent of another topic, or one still talking, does not count: that caller queued. None with fewer than `MIN_RINGS` such calls."""
    rings = [c.ring_time for c in day.calls if c.ring_time is not None]
    if len(rings) >= MIN_RINGS and median(rings) > 0:
        return median(rings)
    changes = sorted(day.changes, key=lambda c: c.at)
    # when each agent was busy with a call, talk and the queue's wrap-up: a queue_log's
    # states stay "available" through both
    talks: dict[str, list[tuple[float, float]]] = {}
    for call in day.calls:
        if call.agent_id is not None and call.answered_at is not None:
            wrapup = config.queues[call.queue].wrapup if call.queue in config.queues else 0.0
            talks.setdefault(call.agent_id, []).append((call.answered_at, call.ended_at + wrapup))
    # per agent: the spans by start, and the latest end among each span and those before
    # it (spans may overlap: a call resumed after a restart), so one bisect answers
    starts: dict[str, list[float]] = {}
    latest_end: dict[str, list[float]] = {}
    for agent_id, spans in talks.items():
        spans.sort()
        starts[agent_id] = [begin for begin, _ in spans]
        latest_end[agent_id] = list(accumulate((end for _, end in spans), max))

    def busy(agent_id: str, at: float) -> bool:
        before = bisect_right(starts.get(agent_id, []), at) - 1
        return before >= 0 and latest_end[agent_id][before] > at

    available: set[str] = set()
    index = 0
    waits = []
    for call in sorted(day.calls, key=lambda c: c.enqueued_at):
        while index < len(changes) and changes[index].at <= call.enqueued_at:
            change = changes[index]
            if change.state == "available":
                available.add(change.agent_id)
            else:
                available.discard(change.agent_id)
            index += 1
        queue = config.queues.get(call.queue)
        if call.answered_at is None or queue is None:
            continue
        if any(agent_id in config.agents and not busy(agent_id, call.enqueued_at)
               and qualifies(config.agents[agent_id].skills, queue.requirements)
               and qualifies(config.agents[agent_id].skills, call.requirements) for agent_id in available):
            waits.append(call.answered_at - call.enqueued_at)
    return median(waits) if len(waits) >= MIN_RINGS else None


#: calls needed to take the day's ring time from them
MIN_RINGS = 5


def replay(config: Config, settings: SimSettings, day: RealDay,
           warn: Callable[[str], None] = lambda _: None) -> DayResult:
    """Run the real day through the simulator (see the module's docstring), agents
    answering after the day's `ring_time`."""
    ring = ring_time(day, config)
    if ring is not None:
        settings = replace(settings, answer_delay=ring)
    return ReplayDay(config, settings, day, warn).run()


#: the figures a replay is judged on: name, label, scale, unit
CLOSENESS = (("service_level", "service level", 100.0, "%"), ("asa", "ASA", 1.0, "s"),
             ("abandon_rate", "abandon rate", 100.0, "%"))


def relative_difference(actual: float, replayed: float) -> float:
    """(replayed - actual) / actual; NaN when either is undefined or the actual is 0."""
    if math.isnan(actual) or math.isnan(replayed) or actual == 0:
        return math.nan
    return (replayed - actual) / actual
