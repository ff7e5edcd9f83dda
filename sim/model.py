"""A simulated day at the call centre, driven by the real routing engine.

The story, as SimPy processes: callers dial in from the arrival profile; a caller who
finds every trunk line taken gets busy; the others go through the IVR, pick a topic and
a language and join the engine's queue; they hold on until an agent answers or their
patience runs out; they talk; 85 % are helped at once and the rest become back-office
tickets; some of those who got busy or gave up dial again. Agents log in and out at
interval boundaries from the roster.

Every routing question (who is offered which call, when a caller widens, times out or
is announced) is answered by ``acd.engine.Engine``: the model only turns its story into
engine events and carries out the engine's decisions (ring the agent, let the caller
go). The engine's deadlines are honoured by waking it at ``next_deadline()``.

The install compiles this module with the engine (mypyc, setup.py): the model is about
half of a simulated day's time, and compiled in the engine's group it calls the engine
natively. The same source runs as plain Python where nothing was compiled; what mypyc
needs of it (no attribute narrowed across a call that changes it, ``mypyc_attr`` on the
class the replay subclasses) is said where it applies.
"""
from __future__ import annotations

import gc
import random
from contextlib import contextmanager
from datetime import date
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

import simpy
from mypy_extensions import mypyc_attr
from simpy.events import NORMAL

from acd.call_contract import CITIZEN, EMPLOYER, caller_skills
from acd.config.model import Config
from acd.config.sim import SimSettings
from acd.engine import AgentState, Engine
from acd.engine import decisions as d
from acd.engine import events as e
from acd.metrics import time_kind
from sim.load import DAY, arrival_times, chooser, sampler
from sim.opening import is_open_at, open_minutes, serving
from sim.roster import on_duty

#: What became of one dialled call.
OUTCOMES: tuple[str, ...] = ("blocked", "closed", "answered", "abandoned", "exited", "unfinished")
#: agent state -> how its time counts: 0 not staffed, 1 staffed and idle, 2 busy with a call
_TIME_MODE: dict[str, int] = {state.value: time_kind(state.value) for state in AgentState}


@dataclass(slots=True)
class CallAttempt:
    """One dialled call (a redial is a new attempt with ``attempt`` > 1)."""

    id: str
    arrived: float
    queue: str
    language: str
    employer: bool
    attempt: int = 1
    outcome: str = "unfinished"
    enqueued: float | None = None
    #: seconds from joining the queue to being connected, hanging up or exiting
    wait: float | None = None
    talk: float = 0.0
    agent: str | None = None
    #: the IVR, talk and patience this caller brings, drawn when they dial (common random
    #: numbers: the same caller needs the same talk whatever the staffing; sim.plan)
    ivr: float = 0.0
    talk_needed: float = 0.0
    patience: float | None = None
    exit_action: str | None = None
    escalated: bool = False

    @property
    def caller_type(self) -> str:
        """The caller type the IVR would have set (``ACD_CALLER_TYPE``)."""
        return EMPLOYER if self.employer else CITIZEN


@dataclass(slots=True)
class DayResult:
    """Everything a report needs: the calls, and the agents' time per interval."""

    settings: SimSettings
    lines: int
    attempts: list[CallAttempt]
    #: seconds agents were logged in and not paused, per interval
    staffed_seconds: list[float]
    #: seconds agents spent ringing, talking or in wrap-up, per interval
    busy_seconds: list[float]
    #: agents on duty per interval (from the roster)
    staffed_agents: list[int]
    #: queue -> its wrap-up seconds (AHT = talk + wrap-up)
    wrapup: dict[str, float]
    #: engine decisions the model did not expect (should stay 0; a non-zero count is a bug)
    ignored: int = 0


class _Wake:
    """What ``env.timeout(d).callbacks.append(f)`` schedules, for a tenth of the cost:
    ``Environment.step`` needs of an event only its ``callbacks`` and ``_ok`` (simpy
    4.1, core.py), and the model's own wake-ups carry no value, never fail and are
    never waited on by a process. Used for the handful of per-caller steps, the bulk of
    the day's SimPy events (bench.sim)."""

    __slots__ = ("callbacks",)
    #: read, never written, by SimPy: one class attribute instead of a store per wake-up
    _ok = True

    def __init__(self, callback: Callable[[object], None]) -> None:
        self.callbacks: list[Callable[[object], None]] | None = [callback]


class _Step(_Wake):
    """A wake-up that runs one step of a caller's story."""

    __slots__ = ("step", "call")

    def __init__(self, step: Callable[["CallAttempt"], None], call: "CallAttempt") -> None:
        self.callbacks = [_run_step]   # one module function: no bound method per wake-up
        self.step = step
        self.call = call


def _run_step(wake: object) -> None:
    """The callback of every ``_Step``: SimPy hands it the event it fired, the step itself."""
    step: _Step = wake  # type: ignore[assignment]
    step.step(step.call)


class _Answer(_Wake):
    """The wake-up of a ringing phone: the agent answers the offer (simulated agents
    always do, ``answer_delay`` after it was made)."""

    __slots__ = ("offer", "model")

    def __init__(self, model: "CallCentreDay", offer: d.OfferCall) -> None:
        self.callbacks = [_run_answer]
        self.model = model
        self.offer = offer


def _run_answer(wake: object) -> None:
    """The callback of every ``_Answer`` (see ``_run_step``)."""
    answer: _Answer = wake  # type: ignore[assignment]
    answer.model._answer(answer.offer)


def _stream(seed: int, purpose: str) -> random.Random:
    """The random stream of one purpose of one replication (a str seed is hashed with
    SHA-512 by ``random.seed``: reproducible across runs and platforms)."""
    return random.Random(f"{seed}/{purpose}")


class _Draws:
    """Draws a caller's IVR, talk and patience from the given streams."""

    __slots__ = ("_ivr", "_talk", "_patience")

    def __init__(self, settings: SimSettings, ivr: random.Random, talk: random.Random,
                 patience: random.Random) -> None:
        self._ivr = sampler(settings.ivr_time, ivr)
        self._talk = sampler(settings.talk_time, talk)
        self._patience = sampler(settings.patience, patience) if settings.patience is not None else None

    def give(self, call: CallAttempt) -> None:
        call.ivr, call.talk_needed = self._ivr(), self._talk()
        call.patience = self._patience() if self._patience is not None else None


@mypyc_attr(allow_interpreted_subclasses=True)   # sim.replay.ReplayDay, and tests, extend it
class CallCentreDay:
    """One replication of a day; ``run()`` returns its ``DayResult``."""

    def __init__(self, config: Config, settings: SimSettings, seed: int, *,
                 calls_per_day: float | None = None, staffing: tuple[int, ...] | None = None,
                 lines: int | None = None, arrivals: list[float] | None = None, day: date | None = None) -> None:
        self.config = config
        self.settings = settings
        self.env = simpy.Environment()
        self._schedule = self.env.schedule   # bound once: two or three wake-ups per caller
        self.engine = Engine(config, announcements=False)  # no callers to tell: saves their cost
        self.lines = config.lines if lines is None else lines
        if self.lines < 1:
            raise ValueError(f"the trunk needs at least one line, got {self.lines}")
        # One random stream per purpose (common random numbers): the first callers' arrival
        # times, IVR, talk and patience do not shift when a change of staffing changes how
        # many redials or escalations draw numbers, so two plans are compared on the same
        # callers (Law, "Simulation Modeling and Analysis", ch. 11: common random numbers).
        rng = _stream(seed, "arrivals")
        self.rng = rng
        self.calls_per_day = settings.calls_per_day if calls_per_day is None else calls_per_day
        self.arrivals = arrivals if arrivals is not None else arrival_times(self.calls_per_day, settings.profile, rng)
        #: queue -> open minute by minute on ``day`` (None: every queue always open)
        self.open = open_minutes(config, day) if day is not None else None
        open_first = serving(config, self.open, settings.interval) if self.open is not None else None
        self.roster = on_duty(config.agents, settings.interval,
                              staffing if staffing is not None else settings.staffing, open_first)
        first, again = _stream(seed, "callers"), _stream(seed, "redials")
        self._first = _Draws(settings, first, _stream(seed, "talk"), _stream(seed, "patience"))
        self._again = _Draws(settings, again, again, again)
        self._redial_delay = sampler(settings.redial.delay, again)
        self._redial_random = again.random
        self._topic = chooser(dict(settings.topics), first)
        self._language = chooser(dict(settings.languages), first)
        self._employer_random = first.random
        self._random = _stream(seed, "outcomes").random
        self._requirements_cache: dict[tuple[str, bool], dict[str, int]] = {}
        #: queue -> what its closed path ends in (the IVR's ``closed`` exit: callback, goodbye, queue)
        self._closed_exits: dict[str, str] = (
            {name: config.ivr.closed_exit(name).exit for name in config.queues} if config.ivr is not None else {})
        self._interval_length = settings.interval_seconds
        # settings read once per call or more: plain attributes, not a chain per read
        self._answer_delay = settings.answer_delay
        self._first_contact = settings.first_contact
        self._employers = settings.employers
        intervals = settings.intervals
        self.attempts: list[CallAttempt] = []
        self._live: dict[str, CallAttempt] = {}
        self._lines_busy = 0
        self._staffed = [0.0] * intervals
        self._busy = [0.0] * intervals
        self._agent_mode: dict[str, tuple[int, float]] = {}   # agent -> (0 off, 1 idle, 2 busy; since)
        self._ignored = 0
        self._serial = 0
        self._engine_touched = True
        #: the last call offered, and how many offers so far: whether a caller was offered
        #: an agent the moment it joined (read before and after feeding its arrival; a
        #: flag reset before the feed would be taken by mypy, and so by mypyc, as still
        #: None after it)
        self._last_offered = ""
        self._offers = 0
        # each handler takes its own decision type (the dict is keyed by it): no
        # isinstance per decision, 150,000 of them in a day of the 1555 line
        self._handlers: dict[type[d.Decision], Callable[[Any], None]] = {
            d.OfferCall: self._on_offer,
            d.CallConnected: self._on_connected,
            d.CallAbandoned: self._on_abandoned,
            d.ExitCall: self._on_exit,
            d.AgentStatus: self._on_agent_status,
            d.Ignored: self._on_ignored,
        }

    # ================================================================== the day
    def run(self, progress: Callable[[float], None] | None = None) -> DayResult:
        """Simulate the whole day (callers still in the system at midnight stay
        ``unfinished``). ``progress`` is told the simulated seconds at each interval end.

        The loop merges two clocks: SimPy's events (the callers' and agents' story) and
        the engine's own deadlines (wrap-up ends, widening, max wait, announcements),
        whichever comes first. Waking the engine straight from the loop, instead of
        through a SimPy timeout per deadline, saves a third of the day's SimPy events.
        """
        with _young_objects_only():
            return self._run(progress)

    def _run(self, progress: Callable[[float], None] | None) -> DayResult:
        env = self.env
        env.process(self._shifts())
        self._dialling()
        # bound once: the loop turns 100,000 times in a day of the 1555 line
        peek, step, next_deadline, feed, tick = env.peek, env.step, self.engine.next_deadline, self._feed, e.Tick
        next_report = self._interval_length
        inf = float("inf")
        deadline: float = inf
        while True:
            upcoming = peek()
            if self._engine_touched:
                # the engine's next deadline only moves when it is fed
                self._engine_touched = False
                due = next_deadline()
                deadline = inf if due is None else due
            if deadline <= upcoming and deadline < DAY:
                feed(tick(deadline))
                continue
            if upcoming >= DAY:
                break
            step()
            if progress is not None and env.now >= next_report:
                progress(min(env.now, DAY))
                next_report = (env.now // self._interval_length + 1) * self._interval_length
        if progress is not None:
            progress(DAY)
        self._close_agent_time(DAY)
        return DayResult(self.settings, self.lines, self.attempts, self._staffed, self._busy,
                         [len(ids) for ids in self.roster],
                         {name: q.wrapup for name, q in self.config.queues.items()}, self._ignored)

    def _dialling(self) -> None:
        """First calls, at the times of the arrival profile: each arrival schedules the
        next one (a chain of timeouts: less SimPy work than a generator process)."""
        arrivals, env = self.arrivals, self.env
        index = 0

        def arrive(_event: object = None) -> None:
            nonlocal index
            if index:
                self._start_call(self._new_attempt(1, None))
            if index < len(arrivals):
                at = arrivals[index]
                index += 1
                env.schedule(_Wake(arrive), NORMAL, max(at - env.now, 0.0))  # type: ignore[arg-type]

        arrive()

    def _new_attempt(self, attempt: int, previous: CallAttempt | None) -> CallAttempt:
        self._serial += 1
        if previous is None:
            queue = self._topic()
            employer = self._employer_random() < self._employers.get(queue, 0.0)
            call = CallAttempt(f"c{self._serial}", self.env.now, queue, self._language(), employer, attempt)
            self._first.give(call)
        else:
            call = CallAttempt(f"c{self._serial}", self.env.now, previous.queue, previous.language,
                               previous.employer, attempt)
            self._again.give(call)
        self.attempts.append(call)
        return call

    # A caller's story, one step per method. Each step schedules the next with a SimPy
    # timeout callback rather than a generator process: the same semantics, about half
    # the SimPy events per caller, which matters at 18,500 callers a day (bench.sim).

    def _start_call(self, call: CallAttempt) -> None:
        """The caller dials: busy when every trunk line is taken, else the IVR answers."""
        if self._lines_busy >= self.lines:
            call.outcome = "blocked"
            self._maybe_redial(call)
            return
        self._lines_busy += 1
        self._after(call.ivr, self._join_queue, call)

    def _join_queue(self, call: CallAttempt) -> None:
        """The IVR is done (topic, language, caller type chosen): the caller waits in line
        and holds on for as long as their patience lasts."""
        now = self.env.now
        if self.open is not None and not is_open_at(self.open, call.queue, now):   # None: no calendar, open
            # the closed path (hours message, then the IVR's exit for the queue: a callback
            # offer or goodbye): no agent today, no redial
            call.outcome = "closed"
            call.exit_action = self._closed_exits.get(call.queue, "goodbye")
            self._lines_busy -= 1
            return
        call.enqueued = now
        self._live[call.id] = call
        offers_before = self._offers
        self._feed(e.CallArrived(now, call.id, call.queue, self._requirements(call),
                                 language=call.language, caller_type=call.caller_type))
        if call.patience is not None and call.outcome == "unfinished":
            patience = call.patience
            # an offered caller is connected answer_delay later (simulated agents always
            # answer): patience longer than that can never run out, so it needs no event
            rung_at_once = self._offers != offers_before and self._last_offered == call.id
            if not rung_at_once or patience < self._answer_delay:
                self._after(patience, self._give_up, call)

    def _give_up(self, call: CallAttempt) -> None:
        if call.outcome == "unfinished" and call.id in self._live:
            self._feed(e.CallerHungUp(self.env.now, call.id))

    def _talk_over(self, call: CallAttempt) -> None:
        """The agent ends the call; the caller was helped, or the case goes to the back office."""
        self._feed(e.AgentHungUp(self.env.now, call.id))
        call.escalated = self._random() >= self._first_contact
        self._lines_busy -= 1

    def _left_queue(self, call: CallAttempt) -> None:
        """The caller hung up waiting or was sent to the queue's exit."""
        self._lines_busy -= 1
        if call.outcome == "abandoned":
            self._maybe_redial(call)

    def _after(self, delay: float, step: Callable[[CallAttempt], None], call: CallAttempt) -> None:
        self._schedule(_Step(step, call), NORMAL, delay)  # type: ignore[arg-type]

    def _maybe_redial(self, call: CallAttempt) -> None:
        redial = self.settings.redial
        if call.attempt < redial.max_attempts and self._redial_random() < redial.probability:
            self._after(self._redial_delay(), self._redial, call)

    def _redial(self, previous: CallAttempt) -> None:
        self._start_call(self._new_attempt(previous.attempt + 1, previous))

    def _requirements(self, call: CallAttempt) -> dict[str, int]:
        """What the IVR adds to the queue's requirements (``ACD_SKILLS``), by the
        production IVR's own rule (``caller_skills``): a simulated caller chose no
        key-level skills, only a language and a caller type."""
        key = (call.language, call.employer)
        cached = self._requirements_cache.get(key)
        if cached is None:
            cached = caller_skills({}, call.language, call.caller_type, self.config.skills)
            self._requirements_cache[key] = cached
        return cached

    def _shifts(self) -> Generator[simpy.Event, None, None]:
        """Log agents in and out at interval boundaries (the engine lets a busy agent
        finish the call before the logout takes effect)."""
        env, feed = self.env, self._feed
        previous: frozenset[str] = frozenset()
        for index, ids in enumerate(self.roster):
            at = index * self._interval_length
            if at > env.now:
                yield env.timeout(at - env.now)
            for agent_id in sorted(previous - ids):
                feed(e.AgentLoggedOut(env.now, agent_id))
            for agent_id in sorted(ids - previous):
                feed(e.AgentLoggedIn(env.now, agent_id))
            previous = ids

    # ================================================================== the engine
    def _feed(self, event: e.Event) -> None:
        self._engine_touched = True
        handlers = self._handlers
        for decision in self.engine.handle(event):
            handler = handlers.get(type(decision))
            if handler is not None:
                handler(decision)

    # ================================================================== decisions
    def _on_offer(self, offer: d.OfferCall) -> None:
        self._last_offered = offer.call_id
        self._offers += 1
        # Offers made at an engine deadline come before SimPy's clock reaches it: count
        # the ring from the decision's own time.
        delay = offer.at + self._answer_delay - self.env.now
        self._schedule(_Answer(self, offer), NORMAL, delay)  # type: ignore[arg-type]

    def _answer(self, offer: d.OfferCall) -> None:
        call = self._live.get(offer.call_id)
        if call is not None and call.outcome == "unfinished":
            self._feed(e.OfferAnswered(self.env.now, offer.call_id, offer.agent_id))

    def _on_connected(self, decision: d.CallConnected) -> None:
        call = self._live.pop(decision.call_id)
        call.outcome, call.wait, call.agent = "answered", decision.waited, decision.agent_id
        call.talk = call.talk_needed
        self._after(call.talk, self._talk_over, call)

    def _on_abandoned(self, decision: d.CallAbandoned) -> None:
        call = self._live.pop(decision.call_id)
        call.outcome, call.wait = "abandoned", decision.waited
        self._left_queue(call)

    def _on_exit(self, decision: d.ExitCall) -> None:
        call = self._live.pop(decision.call_id)
        call.outcome, call.wait, call.exit_action = "exited", decision.waited, decision.action.kind
        self._left_queue(call)

    def _on_ignored(self, decision: d.Ignored) -> None:
        self._ignored += 1

    # ================================================================== agents' time
    def _on_agent_status(self, decision: d.AgentStatus) -> None:
        mode = _TIME_MODE[decision.state]
        agent_mode = self._agent_mode
        at = decision.at
        previous = agent_mode.get(decision.agent_id)
        if previous is not None:
            was, since = previous
            if was == mode:
                return
            if was and at > since:
                # the usual span lies in one interval: added here, without a call (35,000
                # spans in a day of the 1555 line); a longer one by _spend
                length = self._interval_length
                index = int(since // length)
                if index < len(self._staffed) - 1 and at <= (index + 1) * length:
                    self._staffed[index] += at - since
                    if was == 2:
                        self._busy[index] += at - since
                else:
                    self._spend(was, since, at)
        agent_mode[decision.agent_id] = (mode, at)

    def _spend(self, mode: int, start: float, end: float) -> None:
        """Add an agent's span in ``mode`` to the intervals it covers."""
        if mode == 0 or end <= start:
            return
        length = self._interval_length
        staffed, busy = self._staffed, self._busy
        last = len(staffed) - 1
        while start < end:
            index = min(int(start // length), last)
            stop = min(end, (index + 1) * length) if index < last else end
            staffed[index] += stop - start
            if mode == 2:
                busy[index] += stop - start
            start = stop

    def _close_agent_time(self, now: float) -> None:
        for mode, since in self._agent_mode.values():
            self._spend(mode, since, now)
        self._agent_mode = {agent: (mode, now) for agent, (mode, _) in self._agent_mode.items()}


@contextmanager
def _young_objects_only() -> Iterator[None]:
    """The cyclic garbage collector paused for one simulated day (as ``timeit`` pauses it
    while timing): a day makes about a million short-lived objects, freed by reference
    counting as each call ends, and the collector's passes over them cost about 4 % of the
    day while finding nothing to free. Switched back on as it was, even on an error."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
