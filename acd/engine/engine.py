"""The routing engine: events in, decisions out, no I/O and no clock of its own.

Everything that decides who talks to whom lives here (and in the small modules it
imports: the state tables, lines, agent selection, estimates). The live daemon and the
simulator only translate between their world and ``Engine.handle``.

Guarantees, checked by property tests after every event:

- no agent holds two calls;
- a call is only offered to an agent who has its requirements at the call's current
  widening stage;
- no free agent stays idle while a waiting call it could take waits, except a callback
  held back (callbacks cannot be dialled now, or ``routing.callback_share`` of the free
  agents already ring for callbacks);
- callers with the same queue, requirements and priority are served first in, first out,
  and a caller whose offer failed goes back to its own place;
- a waiting call that some logged-in agent can take is eventually offered;
- no agent rings longer than the queue's ring timeout plus ``routing.ring_margin``: the
  engine withdraws an offer nobody reported on by then (``_ring_expired``), so a driver
  that loses the outcome (a FastAGI session that never lets its Dial finish) cannot
  hold an agent.
"""
from __future__ import annotations

from bisect import bisect_left
from heapq import heapify, heappop, heappush
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from typing import Any

from acd.config.model import Config, QueueConfig
from acd.engine import decisions as d
from acd.engine import events as e
from acd.engine.estimates import HandleTimes, estimated_wait
from acd.engine.lines import Line, LineKey
from acd.engine.runtime import Agent, Call
from acd.engine.selection import AgentChooser
from acd.engine.strategies import strategy_of
from acd.engine.states import (AFTER_CALL, BUSY_STATES, DEFERRED, MISSED, TAKES_BACK, AgentAction, AgentState,
                               CallAction, CallState, InvalidTransition, agent_next, call_next)
from acd.engine.timers import Timer, Timers

_NO_STAGE = 1 << 30
_EMPTY: frozenset[str] = frozenset()
AUTO_PAUSE_REASON = "auto:no-answer"
#: why an offer ended when the engine's own ring deadline withdrew it
RING_DEADLINE = "ring_deadline"
_UNSTAFFED = frozenset({AgentState.LOGGED_OUT, AgentState.PAUSED})


def _static_strategy(queue: QueueConfig) -> bool:
    return strategy_of(queue.strategy).static


class Engine:
    def __init__(self, config: Config, *, start: float = 0.0, announcements: bool = True) -> None:
        """``announcements=False`` skips position/wait announcements: they change no routing,
        and a simulator, which has no callers to tell, saves their cost."""
        self.config = config
        self._announcements = announcements
        self.now = start
        self.agents: dict[str, Agent] = {}
        self.calls: dict[str, Call] = {}
        self._lines: dict[LineKey, Line] = {}
        self._queue_lines: dict[str, list[Line]] = {name: [] for name in config.queues}
        self._score_classes: dict[tuple[float, float], list] = {}
        self._agent_lines: dict[str, list[Line]] = {}
        self._free: set[str] = set()
        self._free_by_skill: dict[str, set[str]] = {}
        self._timers = Timers()
        self._seq = 0
        #: callbacks can be placed now (``CallbackDialing``); the simulator never says otherwise
        self._callbacks_possible = True
        #: callback calls offered now (their agents ring): the callback share counts them
        self._callback_offers: set[str] = set()
        #: per queue, the calls offered now (their agents ring): app_queue still counts
        #: them in the queue, so positions do (``queue_position``), without a walk of
        #: every agent for each arrival
        self._offered_in: dict[str, set[str]] = {}
        self._out: list[d.Decision] = []
        self._dirty_agents: list[str] = []
        self._dirty_calls: list[str] = []
        self._handle_times = HandleTimes(config.routing.handle_time_window, config.routing.default_handle_time)
        self._chooser = AgentChooser(config.routing.seed, len(config.agents))
        #: some queue ranks free agents at each call (random, rrmemory): keep them by skill
        self._ranked = any(not _static_strategy(q) for q in config.queues.values())
        self._skill_holders: dict[str, list[str]] = {}
        for order, agent_config in enumerate(config.agents.values()):
            agent = Agent(agent_config, order)
            self.agents[agent.id] = agent
        self._index_agents()
        self._handlers: dict[type, Callable[[Any], None]] = {
            e.AgentLoggedIn: self._on_login,
            e.AgentLoggedOut: self._on_logout,
            e.AgentPaused: self._on_pause,
            e.AgentUnpaused: self._on_unpause,
            e.AgentReady: self._on_ready,
            e.AgentReachability: self._on_reachability,
            e.CallArrived: self._on_call_arrived,
            e.OfferAnswered: self._on_offer_answered,
            e.CallResumed: self._on_call_resumed,
            e.OfferFailed: self._on_offer_failed,
            e.CallerHungUp: self._on_caller_hung_up,
            e.AgentHungUp: self._on_agent_hung_up,
            e.CallbackRequested: self._on_callback_requested,
            e.OfferWithdrawn: self._on_offer_withdrawn,
            e.CallbackDialing: self._on_callback_dialing,
            e.CallbackCancelled: self._on_callback_cancelled,
            e.Tick: lambda event: None,
        }

    # ===================================================================== driving API
    def handle(self, event: e.Event) -> list[d.Decision]:
        """Apply one event at its time (never before the engine's present) and decide."""
        out = self._out = []
        self._run_timers(event.at)
        if event.at > self.now:
            self.now = event.at
        handler = self._handlers.get(type(event))
        if handler is None:
            self._ignore(event, f"unknown event type {type(event).__name__}")
        else:
            handler(event)
        self._dispatch()
        return out

    def advance(self, now: float) -> list[d.Decision]:
        """Let time pass up to ``now``: the same as handling ``Tick(now)``."""
        return self.handle(e.Tick(now))

    def next_deadline(self) -> float | None:
        """When the engine next needs ``advance`` (the driver sleeps until then).

        Timers made stale since they were set (a call answered, an agent who ended
        wrap-up early) are dropped here, so a driver never wakes for nothing."""
        timers = self._timers
        while (timer := timers.peek()) is not None:
            if self._timer_is_live(timer):
                return timer[0]
            timers.drop()
        return None

    def _timer_is_live(self, timer: Timer) -> bool:
        _due, _seq, kind, target, token = timer
        if kind == "wrapup" or kind == "rest" or kind == "ring":
            agent = self.agents.get(target)
            return agent is not None and agent.token == token
        call = self.calls.get(target)
        return call is not None and call.token == token

    # ===================================================================== reading API
    def waiting_calls(self) -> list[Call]:
        """Waiting calls, oldest first (for snapshots and reports)."""
        calls = [c for line in self._lines.values() for c in line.waiting()]
        calls.sort(key=lambda c: (c.enqueued_at, c.seq))
        return calls

    def position(self, call: Call) -> int:
        """1 + the waiting callers who would be served before ``call`` by an agent who can
        take both: callers of lines sharing an agent with this line whose score is higher.
        This is what announcements and wait estimates use.

        Counted per score class (all lines with the same weight and priority boost, whose
        callers sort by arrival), minus the lines that share no agent with this one: a
        handful of bisects instead of a walk over every line."""
        line = call.line
        now = self.now
        my_score = line.weight * (now - call.enqueued_at + line.boost)
        position = 1
        for (weight, boost), waiting in self._score_classes.items():
            if waiting:
                if waiting is line.score_class:
                    position += bisect_left(waiting, (call.enqueued_at, call.seq))
                else:
                    position += bisect_left(waiting, (now + boost - my_score / weight,))
        return position - self._count_ahead(call, line.apart) + 1

    def queue_position(self, call: Call) -> int:
        """1 + the callers of the same queue served before ``call``: app_queue's meaning of
        position, which the queue_log (ENTERQUEUE, ABANDON, EXITWITHTIMEOUT) reports.
        app_queue keeps a caller whose agent rings in its queue until the bridge, so the
        same queue's offered callers who came before (by score) count too."""
        line = call.line
        mine = (line.weight * (self.now - call.enqueued_at + line.boost), -call.seq)
        ringing = 0
        for other_id in self._offered_in.get(call.queue.name, ()):
            other = self.calls[other_id]
            if other is not call and (other.line.weight * (self.now - other.enqueued_at + other.line.boost),
                                      -other.seq) > mine:
                ringing += 1
        return self._count_ahead(call, self._queue_lines[call.queue.name]) + ringing

    def _move_call(self, call: Call, action: CallAction) -> None:
        """The one way a call changes state (``call_next``), keeping ``_offered_in``."""
        before = call.state
        call.state = call_next(before, action)
        if before is CallState.OFFERED and call.state is not CallState.OFFERED:
            self._offered_in[call.queue.name].discard(call.id)
        elif call.state is CallState.OFFERED and before is not CallState.OFFERED:
            self._offered_in.setdefault(call.queue.name, set()).add(call.id)

    def _count_ahead(self, call: Call, lines: list[Line]) -> int:
        line = call.line
        now = self.now
        my_score = line.weight * (now - call.enqueued_at + line.boost)
        position = 1
        for other in lines:
            waiting = other._queue
            if waiting:
                if other is line:
                    position += bisect_left(waiting, (call.enqueued_at, call.seq))
                else:
                    # score(c) > my_score  <=>  enqueued_at < now + boost - my_score / weight
                    position += bisect_left(waiting, (now + other.boost - my_score / other.weight,))
        return position

    def estimated_wait(self, call: Call) -> float | None:
        staffed = sum(call.line.staffed[: call.stage + 1])
        return estimated_wait(self.position(call), staffed, self._handle_times.mean(call.queue.name))

    # ===================================================================== reload
    def reconfigure(self, config: Config) -> list[d.Decision]:
        """Take a new config while calls are up (a reload must never drop a call).

        Waiting callers keep their place (enqueue time) and the requirements they entered
        with; their queue's new widening, max wait and announcements apply from now on
        (a caller of a queue that disappeared keeps the old queue's rules until it
        leaves). Agents keep their state; new skills count at once; a removed agent is
        logged out, after its current call if it has one.
        """
        out = self._out = []
        self.config = config
        for order, agent_config in enumerate(config.agents.values()):
            agent = self.agents.get(agent_config.id)
            if agent is None:
                self.agents[agent_config.id] = Agent(agent_config, order)
            else:
                agent.config, agent.order, agent.skills = agent_config, order, dict(agent_config.skills)
        for agent in self.agents.values():
            if agent.id not in config.agents:
                agent.skills = {}
                if agent.state is not AgentState.LOGGED_OUT:
                    self._request(e.AgentLoggedOut(self.now, agent.id), agent, AgentAction.LOGOUT, None)
        self._handle_times = HandleTimes(config.routing.handle_time_window, config.routing.default_handle_time)
        self._chooser = AgentChooser(config.routing.seed, len(self.agents))
        self._ranked = any(not _static_strategy(q) for q in config.queues.values())
        self._lines.clear()
        self._score_classes.clear()
        self._queue_lines = {name: [] for name in config.queues}
        self._free.clear()
        self._free_by_skill.clear()
        self._index_agents()
        for call in sorted(self.calls.values(), key=lambda c: (c.enqueued_at, c.seq)):
            call.queue = config.queues.get(call.queue.name, call.queue)
            call.line = self._line_for(call.queue, call.requirements, call.priority, call.callback is not None)
            call.token += 1
            if call.state is CallState.WAITING:
                waited = self.now - call.enqueued_at
                call.stage = sum(1 for step in call.queue.widening if step.after <= waited)
                call.line.push(call)
                self._dirty_calls.append(call.id)
            if call.state in (CallState.WAITING, CallState.OFFERED):
                self._schedule_call_timers(call)
        for agent in self.agents.values():
            self._refresh_free(agent)
        self._dispatch()
        return out

    def _index_agents(self) -> None:
        self._skill_holders.clear()
        self._agent_lines = {agent_id: [] for agent_id in self.agents}
        for agent in self.agents.values():
            for skill in agent.skills:
                self._skill_holders.setdefault(skill, []).append(agent.id)
        self._chooser.picking.agent_lines = self._agent_lines

    # ===================================================================== agents
    def _agent(self, event: e.Event, agent_id: str) -> Agent | None:
        agent = self.agents.get(agent_id)
        if agent is None:
            self._ignore(event, f"unknown agent {agent_id!r}")
        return agent

    def _transition(self, agent: Agent, action: AgentAction, reason: str | None = None) -> None:
        previous = agent.state
        agent.state = agent_next(previous, action)
        agent.token += 1
        agent.state_since = self.now
        if agent.state is AgentState.AVAILABLE and previous is not AgentState.RINGING:
            agent.idle_since = self.now
        agent.reason = reason if agent.state is AgentState.PAUSED else None
        self._refresh_free(agent)
        is_staffed = agent.state not in _UNSTAFFED
        if (previous not in _UNSTAFFED) != is_staffed:
            change = 1 if is_staffed else -1
            for line in self._agent_lines[agent.id]:
                line.staffed[line.eligible[agent.id]] += change
        if agent.state is not previous or action is AgentAction.PAUSE:
            # _value_ is the plain attribute behind the slow .value property: this is a hot path
            self._out.append(d.AgentStatus(self.now, agent.id, agent.state._value_, previous._value_, reason))

    def _refresh_free(self, agent: Agent) -> None:
        """Keep the free set (and, for ranked strategies, free agents by skill) current."""
        free = self._free
        if agent.state is AgentState.AVAILABLE and agent.reachable:
            if agent.id not in free:
                free.add(agent.id)
                for line in self._agent_lines[agent.id]:
                    line.free_count += 1
                if self._ranked:
                    for skill in agent.skills:
                        self._free_by_skill.setdefault(skill, set()).add(agent.id)
            self._dirty_agents.append(agent.id)
        elif agent.id in free:
            free.discard(agent.id)
            for line in self._agent_lines[agent.id]:
                line.free_count -= 1
            if self._ranked:
                for skill in agent.skills:
                    self._free_by_skill[skill].discard(agent.id)

    def _on_login(self, event: e.AgentLoggedIn) -> None:
        agent = self._agent(event, event.agent_id)
        if agent is None:
            return
        if agent.state is not AgentState.LOGGED_OUT:
            if agent.pending is TAKES_BACK[AgentAction.LOGIN]:
                agent.pending = None
            self._ignore(event, "agent is already logged in")
            return
        agent.misses = 0
        self._transition(agent, AgentAction.LOGIN)

    def _on_logout(self, event: e.AgentLoggedOut) -> None:
        agent = self._agent(event, event.agent_id)
        if agent is None:
            return
        self._request(event, agent, AgentAction.LOGOUT, None)

    def _on_pause(self, event: e.AgentPaused) -> None:
        agent = self._agent(event, event.agent_id)
        if agent is None:
            return
        if event.reason not in self.config.routing.pause_reasons and event.reason != AUTO_PAUSE_REASON:
            self._ignore(event, f"unknown pause reason {event.reason!r}")
            return
        self._request(event, agent, AgentAction.PAUSE, event.reason)

    def _request(self, event: e.Event, agent: Agent, action: AgentAction, reason: str | None) -> None:
        """Pause or log out now, or after the call when the agent is ringing or talking."""
        if agent.state is AgentState.LOGGED_OUT:
            self._ignore(event, "agent is logged out")
        elif agent.state in BUSY_STATES:
            pending = DEFERRED[(agent.pending, action)]
            if pending is action:
                agent.pending, agent.pending_reason = pending, reason
        else:
            self._transition(agent, action, reason)

    def _on_unpause(self, event: e.AgentUnpaused) -> None:
        agent = self._agent(event, event.agent_id)
        if agent is None:
            return
        if agent.pending is TAKES_BACK[AgentAction.UNPAUSE]:
            agent.pending = agent.pending_reason = None
        elif agent.state is AgentState.PAUSED:
            agent.misses = 0
            self._transition(agent, AgentAction.UNPAUSE)
        else:
            self._ignore(event, f"agent is {agent.state.value}, not paused")

    def _on_ready(self, event: e.AgentReady) -> None:
        agent = self._agent(event, event.agent_id)
        if agent is None:
            return
        if agent.state in (AgentState.WRAP_UP, AgentState.RESTING):
            self._after_call(agent)
        else:
            self._ignore(event, f"agent is {agent.state.value}, not in wrap-up")

    def _on_reachability(self, event: e.AgentReachability) -> None:
        agent = self._agent(event, event.agent_id)
        if agent is None or agent.reachable == event.reachable:
            return
        agent.reachable = event.reachable
        self._refresh_free(agent)

    def _after_call(self, agent: Agent) -> None:
        """Wrap-up or rest is over: apply a pending logout or pause, else become available."""
        action, reason = AFTER_CALL[agent.pending], agent.pending_reason
        agent.pending = agent.pending_reason = None
        self._transition(agent, action, reason)

    # ===================================================================== calls
    def _call(self, event: e.Event, call_id: str) -> Call | None:
        call = self.calls.get(call_id)
        if call is None:
            self._ignore(event, f"unknown call {call_id!r}")
        return call

    def _line_for(self, queue: QueueConfig, requirements: dict[str, int], priority: int,
                  callback: bool = False) -> Line:
        key: LineKey = (queue.name, frozenset(requirements.items()), priority, callback)
        line = self._lines.get(key)
        if line is None:
            boost = priority * self.config.routing.priority_seconds
            score_class = self._score_classes.setdefault((queue.weight, boost), [])
            line = Line(key, queue, requirements, priority, self.config.routing.priority_seconds, score_class)
            for agent in self._agents_with(line.stages[-1]):
                if line.admit_agent(agent):
                    self._agent_lines[agent.id].append(line)
                    if agent.state is not AgentState.LOGGED_OUT and agent.state is not AgentState.PAUSED:
                        line.staffed[line.eligible[agent.id]] += 1
            self._queue_lines.setdefault(queue.name, []).append(line)
            line.free_count = sum(1 for agent_id in self._free if agent_id in line.eligible)
            if line.static:
                for agent_id in self._free:
                    stage = line.eligible.get(agent_id)
                    if stage is not None:
                        agent = self.agents[agent_id]
                        line.free[stage].append((self._chooser.rank(line, agent), agent_id, agent.token))
                for heap in line.free:
                    heapify(heap)
            members = set(line.eligible)
            for other in self._lines.values():
                if members.intersection(other.eligible):
                    other.overlaps.append(line)
                    line.overlaps.append(other)
                else:
                    other.apart.append(line)
                    line.apart.append(other)
            self._lines[key] = line
        return line

    def _agents_with(self, requirements: dict[str, int]) -> Iterable[Agent]:
        """Agents holding every skill of ``requirements`` (at any level): a superset of those
        who qualify, found through the rarest skill instead of a scan of all agents."""
        if not requirements:
            return self.agents.values()
        rarest = min((self._skill_holders.get(skill, ()) for skill in requirements), key=len)
        return [self.agents[agent_id] for agent_id in rarest]

    def _on_call_arrived(self, event: e.CallArrived) -> None:
        if event.call_id in self.calls:
            self._ignore(event, "call is already queued")
            return
        queue = self.config.queues.get(event.queue)
        if queue is None:
            self._ignore(event, f"unknown queue {event.queue!r}")
            return
        requirements = dict(queue.requirements)
        for skill, level in event.requirements.items():
            requirements[skill] = max(level, requirements.get(skill, 0))
        priority = queue.priority if event.priority is None else event.priority
        enqueued_at = self.now if event.enqueued_at is None else min(event.enqueued_at, self.now)
        self._seq += 1
        call = Call(event.call_id, queue, requirements, priority, enqueued_at, self._seq)
        call.language, call.caller_type, call.callback = event.language, event.caller_type, event.callback
        call.line = line = self._line_for(queue, requirements, priority, call.callback is not None)
        waited = self.now - enqueued_at
        while call.stage < len(queue.widening) and queue.widening[call.stage].after <= waited:
            call.stage += 1
        self.calls[call.id] = call
        line.arrivals += 1
        line.push(call)
        call.original_position = self.queue_position(call)
        self._out.append(d.CallQueued(self.now, call.id, queue.name, call.original_position,
                                      line.stages[call.stage], priority, enqueued_at))
        self._schedule_call_timers(call)
        self._dirty_calls.append(call.id)

    def _on_call_resumed(self, event: e.CallResumed) -> None:
        agent = self._agent(event, event.agent_id)
        queue = self.config.queues.get(event.queue)
        if agent is None:
            return
        if queue is None:
            self._ignore(event, f"unknown queue {event.queue!r}")
            return
        if event.call_id in self.calls:
            self._ignore(event, "call is already known")
            return
        if agent.state is not AgentState.AVAILABLE or agent.call_id is not None:
            self._ignore(event, f"agent is {agent.state.value}, not available")
            return
        answered_at = min(event.answered_at, self.now)
        self._seq += 1
        call = Call(event.call_id, queue, dict(queue.requirements), queue.priority,
                    min(event.enqueued_at, answered_at), self._seq)
        call.line = self._line_for(queue, call.requirements, call.priority)
        self._move_call(call, CallAction.RESUME)
        call.agent_id, call.answered_at = agent.id, answered_at
        self.calls[call.id] = call
        agent.call_id = call.id
        # as they were when the earlier daemon decided them, for subscribers that keep a
        # call's record from its start (the queue_log writes neither again: it is told)
        self._out.append(d.CallQueued(self.now, call.id, queue.name, 1, call.requirements, call.priority,
                                      call.enqueued_at))
        self._transition(agent, AgentAction.RESUME)
        self._out.append(d.CallConnected(self.now, call.id, agent.id, queue.name,
                                         answered_at - call.enqueued_at, 0.0))

    def _schedule_call_timers(self, call: Call) -> None:
        queue = call.queue
        if call.stage < len(queue.widening):
            self._timers.add(call.enqueued_at + queue.widening[call.stage].after, "widen", call.id, call.token)
        if queue.max_wait is not None and call.callback is None:
            # a callback is no caller holding the line: its window, not the max wait, rules
            self._timers.add(call.enqueued_at + queue.max_wait, "max_wait", call.id, call.token)
        announcements = queue.announcements
        if self._announcements and (announcements.first_after > 0 or announcements.every > 0):
            first = call.enqueued_at + (announcements.first_after or announcements.every)
            self._timers.add(max(first, self.now), "announce", call.id, call.token)

    def _offered_call(self, event: e.OfferAnswered | e.OfferFailed) -> Call | None:
        """The call this ring outcome is about, if it is still ringing that agent: a late
        answer or failure (the caller hung up, the offer went elsewhere) is ignored."""
        call = self._call(event, event.call_id)
        if call is not None and (call.state is not CallState.OFFERED or call.agent_id != event.agent_id):
            self._ignore(event, f"call is {call.state.value}, not offered to agent {event.agent_id}")
            return None
        return call

    def _on_offer_answered(self, event: e.OfferAnswered) -> None:
        call = self._offered_call(event)
        if call is None:
            return
        agent = self.agents[event.agent_id]
        self._callback_offer_ended(call)
        self._move_call(call, CallAction.ANSWER)
        call.answered_at = self.now
        call.token += 1   # widening, announcements and max wait end with the wait
        agent.misses = 0
        agent.calls_taken[call.queue.name] = agent.calls_taken.get(call.queue.name, 0) + 1
        self._transition(agent, AgentAction.ANSWER)
        self._out.append(d.CallConnected(self.now, call.id, agent.id, call.queue.name,
                                         self.now - call.enqueued_at, self.now - (call.offered_at or self.now)))

    def _on_offer_failed(self, event: e.OfferFailed) -> None:
        call = self._offered_call(event)
        if call is None:
            return
        self._fail_offer(call, self.agents[event.agent_id], event.reason)

    def _ring_expired(self, agent: Agent) -> None:
        """The offer outlived its ring timeout plus the margin with no answer or failure
        reported: tell the driver to stop the ringing (``CancelOffer``) and fail the offer,
        the caller back at its place. Not a ``no_answer``: the agent may never have rung,
        so it does not count towards auto-pause."""
        call = self.calls[agent.call_id]  # type: ignore[index]
        self._out.append(d.CancelOffer(self.now, call.id, agent.id, RING_DEADLINE))
        self._fail_offer(call, agent, RING_DEADLINE)

    def _fail_offer(self, call: Call, agent: Agent, reason: str) -> None:
        self._callback_offer_ended(call)
        ring_time = self.now - (call.offered_at or self.now)
        self._move_call(call, CallAction.MISS)
        call.agent_id = None
        agent.call_id = None
        self._out.append(d.OfferMissed(self.now, call.id, agent.id, call.queue.name, reason, ring_time))
        self._miss(agent, reason)
        queue = call.queue
        if queue.max_wait is not None and call.callback is None and self.now - call.enqueued_at >= queue.max_wait:
            call.line.push(call)
            self._exit(call)
        else:
            call.line.push(call)
            self._dirty_calls.append(call.id)

    def _miss(self, agent: Agent, reason: str) -> None:
        routing = self.config.routing
        if reason == "unreachable":
            agent.reachable = False
        if reason == "no_answer":
            agent.misses += 1
        action = MISSED[(reason == "no_answer" and agent.misses >= routing.auto_pause_after, agent.pending)]
        if action is AgentAction.AUTO_PAUSE:
            agent.pending = agent.pending_reason = None
            self._transition(agent, action, AUTO_PAUSE_REASON)
            return
        self._transition(agent, action)
        if agent.pending is not None or routing.missed_offer_rest <= 0:
            self._after_call(agent)
        else:
            self._timers.add(self.now + routing.missed_offer_rest, "rest", agent.id, agent.token)

    def _on_caller_hung_up(self, event: e.CallerHungUp) -> None:
        call = self._call(event, event.call_id)
        if call is None:
            return
        if call.state is CallState.CONNECTED:
            self._end(call, "caller")
        elif call.callback is not None and call.state is CallState.WAITING:
            pass  # the caller chose to be called back; the place in line stays
        elif call.state is CallState.OFFERED:
            agent = self.agents[call.agent_id]  # type: ignore[index]
            position = 1
            self._callback_offer_ended(call)
            self._move_call(call, CallAction.HANGUP)
            agent.call_id = None
            self._out.append(d.CancelOffer(self.now, call.id, agent.id))
            self._transition(agent, AgentAction.CALLER_GONE)
            if agent.pending is not None:
                self._after_call(agent)
            self._abandon(call, position)
        else:
            position = self.queue_position(call)
            call.line.discard(call)
            self._move_call(call, CallAction.HANGUP)
            self._abandon(call, position)

    def _abandon(self, call: Call, position: int) -> None:
        self._out.append(d.CallAbandoned(self.now, call.id, call.queue.name, position, call.original_position,
                                         self.now - call.enqueued_at))
        del self.calls[call.id]

    def _on_agent_hung_up(self, event: e.AgentHungUp) -> None:
        call = self._call(event, event.call_id)
        if call is None:
            return
        if call.state is not CallState.CONNECTED:
            self._ignore(event, f"call is {call.state.value}, not connected")
            return
        self._end(call, "agent")

    def _end(self, call: Call, by: str) -> None:
        agent = self.agents[call.agent_id]  # type: ignore[index]
        self._move_call(call, CallAction.HANGUP)
        talk = self.now - (call.answered_at or self.now)
        queue = call.queue
        agent.last_end[queue.name] = self.now
        agent.call_id = None
        self._handle_times.add(queue.name, talk + queue.wrapup)
        self._out.append(d.CallEnded(self.now, call.id, agent.id, queue.name, by,
                                     (call.answered_at or self.now) - call.enqueued_at, talk))
        del self.calls[call.id]
        self._transition(agent, AgentAction.END)
        if queue.wrapup > 0:
            self._timers.add(self.now + queue.wrapup, "wrapup", agent.id, agent.token)
        else:
            self._after_call(agent)

    def _on_callback_requested(self, event: e.CallbackRequested) -> None:
        call = self._call(event, event.call_id)
        if call is None:
            return
        if call.state is not CallState.WAITING:
            self._ignore(event, f"call is {call.state.value}, too late for a callback")
            return
        if call.callback is None:       # to the callbacks' own line, at the same place
            call.line.discard(call)
            call.line = self._line_for(call.queue, call.requirements, call.priority, True)
            call.line.push(call)
            self._dirty_calls.append(call.id)
        call.callback = event.number

    # ===================================================================== callbacks
    def _on_offer_withdrawn(self, event: e.OfferWithdrawn) -> None:
        call = self._call(event, event.call_id)
        if call is not None and (call.state is not CallState.OFFERED or call.agent_id != event.agent_id):
            self._ignore(event, f"call is {call.state.value}, not offered to agent {event.agent_id}")
            return
        if call is None:
            return
        agent = self.agents[event.agent_id]
        self._callback_offer_ended(call)
        self._move_call(call, CallAction.WITHDRAWN)
        call.agent_id = None
        agent.call_id = None
        self._out.append(d.OfferWithdrawn(self.now, call.id, agent.id, call.queue.name, event.reason))
        self._transition(agent, AgentAction.WITHDRAWN)
        if agent.pending is not None:
            self._after_call(agent)
        if event.leave and call.callback is not None:
            self._move_call(call, CallAction.CANCEL)
            del self.calls[call.id]
            self._out.append(d.CallbackCancelled(self.now, call.id, call.queue.name, event.reason,
                                                 self.now - call.enqueued_at))
            return
        call.line.push(call)
        self._dirty_calls.append(call.id)

    def _on_callback_dialing(self, event: e.CallbackDialing) -> None:
        was = self._callbacks_possible
        self._callbacks_possible = event.possible
        if event.possible and not was:
            self._recheck_callbacks()

    def _on_callback_cancelled(self, event: e.CallbackCancelled) -> None:
        call = self._call(event, event.call_id)
        if call is None:
            return
        if call.callback is None or call.state is not CallState.WAITING:
            self._ignore(event, f"call is {call.state.value}{'' if call.callback else ', not a callback'}")
            return
        call.line.discard(call)
        self._move_call(call, CallAction.CANCEL)
        del self.calls[call.id]
        self._out.append(d.CallbackCancelled(self.now, call.id, call.queue.name, event.reason,
                                             self.now - call.enqueued_at))

    def _callbacks_allowed(self) -> bool:
        """Whether one more callback may be offered now: callbacks can be dialled, and
        fewer than ``callback_share`` of the free agents (counting those ringing for
        callbacks as free) ring for callbacks; one at a time always may."""
        if not self._callbacks_possible:
            return False
        ringing = len(self._callback_offers)
        if ringing == 0:
            return True
        share = self.config.routing.callback_share
        return ringing < max(1, int(share * (len(self._free) + ringing)))

    def _callback_offer_ended(self, call: Call) -> None:
        """A callback's ring ended (answered, failed, withdrawn): a held callback may go."""
        if call.id in self._callback_offers:
            self._callback_offers.discard(call.id)
            self._recheck_callbacks()

    def _recheck_callbacks(self) -> None:
        """Callbacks held back may be offered now: the free agents look again (only when
        some callback waits, so the callers' hot path pays nothing)."""
        if any(line.callback and line._queue for line in self._lines.values()):
            self._dirty_agents.extend(self._free)

    def _exit(self, call: Call) -> None:
        position = self.queue_position(call)
        call.line.discard(call)
        self._move_call(call, CallAction.TIMEOUT)
        del self.calls[call.id]
        self._out.append(d.ExitCall(self.now, call.id, call.queue.name, call.queue.on_max_wait,
                                    self.now - call.enqueued_at, position))

    # ===================================================================== time
    def _run_timers(self, until: float) -> None:
        timers = self._timers
        while (timer := timers.pop_due(until)) is not None:
            due, _seq, kind, target, _token = timer
            if due > self.now:
                self.now = due
            if not self._timer_is_live(timer):
                continue
            if kind == "wrapup" or kind == "rest":
                self._after_call(self.agents[target])
            elif kind == "ring":
                self._ring_expired(self.agents[target])
            else:
                call = self.calls[target]
                if kind == "widen":
                    self._widen(call)
                elif kind == "max_wait":
                    if call.state is CallState.WAITING and call.callback is None:
                        self._exit(call)
                elif kind == "announce":
                    self._announce(call)
            self._dispatch()

    def _widen(self, call: Call) -> None:
        queue = call.queue
        call.stage += 1
        self._out.append(d.CallWidened(self.now, call.id, queue.name, call.stage, call.line.stages[call.stage]))
        if call.stage < len(queue.widening):
            self._timers.add(call.enqueued_at + queue.widening[call.stage].after, "widen", call.id, call.token)
        if call.state is CallState.WAITING:
            self._dirty_calls.append(call.id)

    def _announce(self, call: Call) -> None:
        announcements = call.queue.announcements
        if call.state is CallState.WAITING and call.callback is None:
            self._out.append(d.Announce(
                self.now, call.id, self.position(call),
                self.estimated_wait(call) if announcements.estimated_wait else None,
                announcements.periodic_prompt,
            ))
        if announcements.every > 0 and call.state in (CallState.WAITING, CallState.OFFERED):
            self._timers.add(self.now + announcements.every, "announce", call.id, call.token)

    # ===================================================================== matching
    def _dispatch(self) -> None:
        """Match what changed: new waiting calls look for free agents, new free agents for
        calls. Before the event no free agent could take a waiting call, so only these can."""
        dirty_calls, dirty_agents = self._dirty_calls, self._dirty_agents
        calls, agents = self.calls, self.agents
        while dirty_calls or dirty_agents:
            while dirty_calls:
                call = calls.get(dirty_calls.pop())
                if call is not None and call.callback is not None and call.state is CallState.WAITING:
                    # a held-back callback may wait ahead of this one in its line: the head
                    # goes first (whoever can take this one can take the head, more widened)
                    call = call.line.head() if self._callbacks_allowed() else None
                if call is not None and call.state is CallState.WAITING:
                    agent = self._best_agent(call)
                    if agent is not None:
                        self._offer(call, agent)
            while dirty_agents:
                agent = agents[dirty_agents.pop()]
                if agent.idle:
                    call = self._best_call(agent)
                    if call is not None:
                        self._offer(call, agent)
                    else:
                        self._shelve(agent)

    def _shelve(self, agent: Agent) -> None:
        """The agent stays free: file it in the free heaps of its lines, ranked once."""
        token = agent.token
        agent_id = agent.id
        limit = 2 * len(self.agents) + 64
        for line in self._agent_lines[agent_id]:
            if line.static:
                heap = line.free[line.eligible[agent_id]]
                heappush(heap, (self._chooser.rank(line, agent), agent_id, token))
                if len(heap) > limit:
                    self._compact(heap)

    def _compact(self, heap: list[tuple[tuple, str, int]]) -> None:
        agents, free = self.agents, self._free
        heap[:] = [entry for entry in heap if entry[1] in free and agents[entry[1]].token == entry[2]]
        heapify(heap)

    def _best_agent(self, call: Call) -> Agent | None:
        line = call.line
        if line.static:
            return self._best_shelved(line, call.stage)
        return self._best_ranked(call)

    def _best_shelved(self, line: Line, stage: int) -> Agent | None:
        agents, free = self.agents, self._free
        best: tuple[tuple, str, int] | None = None
        for heap in line.free[: stage + 1]:
            while heap:
                top = heap[0]
                if top[1] in free and agents[top[1]].token == top[2]:
                    if best is None or top < best:
                        best = top
                    break
                heappop(heap)
        return None if best is None else agents[best[1]]

    def _best_ranked(self, call: Call) -> Agent | None:
        line = call.line
        requirements = line.stages[call.stage]
        free = self._free
        if not free:
            return None
        if requirements:
            by_skill = self._free_by_skill
            pool: AbstractSet[str] = min((by_skill.get(skill, _EMPTY) for skill in requirements), key=len)
            if not pool:
                return None
        else:
            pool = free
        eligible, stage, agents = line.eligible, call.stage, self.agents
        candidates = [agents[a] for a in pool if eligible.get(a, _NO_STAGE) <= stage]
        if not candidates:
            return None
        return self._chooser.choose(line, candidates)

    def _best_call(self, agent: Agent) -> Call | None:
        best: Call | None = None
        best_key: tuple[float, float, int] | None = None
        now = self.now
        agent_id = agent.id
        callbacks: bool | None = None      # asked once, and only when a callback line has callers
        for line in self._agent_lines[agent_id]:
            waiting = line._queue
            if not waiting:
                continue
            if line.callback:
                if callbacks is None:
                    callbacks = self._callbacks_allowed()
                if not callbacks:
                    continue
            head = waiting[0][2]
            if head.stage < line.eligible[agent_id]:
                continue
            key = (-line.weight * (now - head.enqueued_at + line.boost), head.enqueued_at, head.seq)
            if best_key is None or key < best_key:
                best, best_key = head, key
        return best

    def _offer(self, call: Call, agent: Agent) -> None:
        call.line.discard(call)
        self._move_call(call, CallAction.OFFER)
        call.agent_id = agent.id
        call.offered_at = self.now
        agent.call_id = call.id
        if call.callback is not None:
            self._callback_offers.add(call.id)
        self._transition(agent, AgentAction.OFFER)
        queue = call.queue
        # the agent's token changes with any outcome (answer, failure, hang-up): only an
        # offer still ringing when this comes due is withdrawn
        self._timers.add(self.now + queue.ring_timeout + self.config.routing.ring_margin, "ring",
                         agent.id, agent.token)
        self._out.append(d.OfferCall(self.now, call.id, agent.id, queue.name, queue.ring_timeout,
                                     call.callback, queue.record))

    # ===================================================================== misc
    def _ignore(self, event: object, reason: str) -> None:
        self._out.append(d.Ignored(self.now, event, reason))
