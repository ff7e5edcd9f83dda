"""The engine's invariants, checked after every event of random event streams.

The checks below are written from the rules, not from the engine's code: requirements
are recomputed here from the config and the call's wait, so an engine bug cannot hide
behind a shared helper.
"""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acd.config.model import Config
from acd.engine import AgentState, CallState, Engine
from acd.engine import decisions as d
from acd.engine import events as e
from acd.engine import strategies
from tests.engine_helpers import make_config

SKILLS = ("topic:a", "topic:b", "lang:el", "lang:en")


def requirements_now(config: Config, call, now: float) -> dict[str, int]:
    """The call's requirements at ``now``: every widening step whose time has come applies."""
    reqs = dict(call.requirements)
    for step in call.queue.widening:
        # the engine fires a step at enqueued_at + after; (that sum) - enqueued_at can come
        # out a hair below ``after`` in floating point, hence the tolerance
        if now - call.enqueued_at >= step.after - 1e-9:
            reqs = {s: lvl for s, lvl in reqs.items() if s not in step.drop}
            if step.min_level is not None:
                reqs = {s: min(lvl, step.min_level) for s, lvl in reqs.items()}
    return reqs


def has(agent_skills, reqs) -> bool:
    return all(agent_skills.get(s, 0) >= lvl for s, lvl in reqs.items())


@st.composite
def configs(draw) -> Config:
    queue_count = draw(st.integers(1, 3))
    queues = ""
    for q in range(queue_count):
        topic = draw(st.sampled_from(("topic:a", "topic:b")))
        level = draw(st.integers(1, 5))
        queues += f"q{q}:\n  requires: {{{topic}: {level}}}\n"
        queues += f"  priority: {draw(st.integers(0, 2))}\n  weight: {draw(st.sampled_from((1, 2)))}\n"
        queues += f"  wrapup: {draw(st.sampled_from((0, 5)))}\n"
        queues += f"  strategy: {draw(st.sampled_from(strategies.NAMES))}\n"
        queues += f"  prefer_best_match: {str(draw(st.booleans())).lower()}\n"
        queues += "  announcements: {first_after: 10, every: 20}\n"
        if draw(st.booleans()):
            queues += "  widening: [{after: 15, min_level: 1}, {after: 40, drop: [lang:en]}]\n"
        if draw(st.booleans()):
            queues += "  max_wait: 120\n"
    agents = ""
    for n in range(draw(st.integers(1, 6))):
        skills = draw(st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5), min_size=1))
        body = ", ".join(f"{k}: {v}" for k, v in skills.items())
        agents += f"'{10 + n}': {{pin: '1234', skills: {{{body}}}}}\n"
    share = draw(st.sampled_from((0.25, 0.5, 1.0)))
    return make_config(queues, agents, routing=f"auto_pause_after: 2\nmissed_offer_rest: 3\ncallback_share: {share}\n")


# Weighted by repetition: arrivals, logins and answers drive most of the interesting states.
ACTIONS = ("arrive",) * 5 + ("login",) * 3 + ("answer",) * 3 + ("agent_hangup",) * 2 + (
    "logout", "pause", "unpause", "miss", "busy", "caller_hangup", "ready", "callback", "unreachable",
    "reachable", "tick", "callback_arrive", "callback_arrive", "withdraw", "dialing_down", "dialing_up", "cancel")


def callbacks_held(config: Config, engine: Engine, possible: bool) -> bool:
    """The callback rule, written from the config: callbacks are held back while they
    cannot be dialled, or while the callbacks ringing already reach the share of the
    free agents (those ringing for callbacks counted as free; one may always ring)."""
    ringing = sum(1 for c in engine.calls.values() if c.state is CallState.OFFERED and c.callback is not None)
    free = sum(1 for a in engine.agents.values() if a.state is AgentState.AVAILABLE and a.reachable)
    return not possible or (ringing > 0 and ringing >= max(1, int(config.routing.callback_share * (free + ringing))))


def check_invariants(config: Config, engine: Engine, out: list[d.Decision], possible: bool = True,
                     event: e.Event | None = None, possible_before: bool = True) -> None:
    """``possible``: callbacks can be dialled after the event (``possible_before``: when
    the timers due before the event fired)."""
    now = engine.now
    holders: dict[str, str] = {}
    for call in engine.calls.values():
        if call.state in (CallState.OFFERED, CallState.CONNECTED):
            assert call.agent_id not in holders, f"agent {call.agent_id} holds two calls"
            holders[call.agent_id] = call.id
            assert engine.agents[call.agent_id].call_id == call.id
    offered: dict[str, set[str]] = {}
    for call in engine.calls.values():
        if call.state is CallState.OFFERED:
            offered.setdefault(call.queue.name, set()).add(call.id)
    assert {q: ids for q, ids in engine._offered_in.items() if ids} == offered, "the offered-calls index drifted"
    for agent in engine.agents.values():
        if agent.state in (AgentState.RINGING, AgentState.ON_CALL):
            assert holders.get(agent.id) == agent.call_id
        else:
            assert agent.id not in holders
    # a call whose offer failed during this same event was ringing, not waiting, when
    # later offers were made: it does not count against their FIFO order
    bounced = {x.call_id for x in out if isinstance(x, (d.OfferMissed, d.OfferWithdrawn))}
    # a callback restored at its old place during this event was not there when a timer
    # due at the start of the event made an offer
    bounced |= {x.call_id for x in out if isinstance(x, d.CallQueued) and x.enqueued_at < x.at}
    for offer in (x for x in out if isinstance(x, d.OfferCall)):
        call = engine.calls.get(offer.call_id)
        if call is None or call.agent_id != offer.agent_id:
            # offered when a timer fired at the start of this event, then ended by the
            # event itself (the caller hung up while it rang): nothing left to check
            continue
        reqs = requirements_now(config, call, offer.at)
        assert has(engine.agents[offer.agent_id].skills, reqs), "offered to an agent without the skills"
        # FIFO: no caller of the same line waits who came earlier
        for other in engine.calls.values():
            if (other.state is CallState.WAITING and other.id not in bounced and other.queue is call.queue
                    and other.requirements == call.requirements and other.priority == call.priority
                    and (other.callback is None) == (call.callback is None)):
                assert (other.enqueued_at, other.seq) > (call.enqueued_at, call.seq), "FIFO broken"
    margin = config.routing.ring_margin
    for call in engine.calls.values():
        if call.state is CallState.OFFERED:
            assert call.offered_at is not None
            rung = now - call.offered_at
            assert rung < call.queue.ring_timeout + margin + 1e-9, f"{call} rang {rung} s, past the deadline"
    idle = [a for a in engine.agents.values() if a.state is AgentState.AVAILABLE and a.reachable]
    callback_offers = [x for x in out if isinstance(x, d.OfferCall) and x.callback is not None]
    assert possible or possible_before or not callback_offers, "a callback offered while callbacks cannot be dialled"
    if callback_offers:
        # no storm: each callback offer was made while fewer than the share of the free
        # agents rang for callbacks; the pool then was at most the free and callback-ringing
        # agents now plus those that left the free set during this event
        ringing = sum(1 for c in engine.calls.values() if c.state is CallState.OFFERED and c.callback is not None)
        left = sum(1 for x in out if isinstance(x, d.AgentStatus) and x.previous == AgentState.AVAILABLE.value)
        left += isinstance(event, e.AgentReachability) and not event.reachable
        pool = len(idle) + ringing + left
        assert ringing <= max(1, int(config.routing.callback_share * pool)), "callback storm"
    for line in engine._lines.values():   # what scarce_last ranks by
        assert line.free_count == sum(1 for a in idle if a.id in line.eligible), f"{line} free count"
    held = callbacks_held(config, engine, possible)
    for call in engine.calls.values():
        if call.state is CallState.WAITING and not (call.callback is not None and held):
            reqs = requirements_now(config, call, now)
            for agent in idle:
                assert not has(agent.skills, reqs), f"{agent} idle while {call} waits"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=configs(), script=st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(0, 50),
                                                    st.floats(0, 6)), min_size=5, max_size=150))
def test_invariants_hold_after_every_event(config, script):
    engine = Engine(config)
    agent_ids = list(config.agents)
    queue_names = list(config.queues)
    now = 0.0
    next_call = 0
    possible = True
    for action, pick, dt in script:
        now += dt
        possible_before = possible
        calls = list(engine.calls.values())
        agent = engine.agents[agent_ids[pick % len(agent_ids)]]
        event: e.Event
        if action == "arrive":
            next_call += 1
            lang = ("lang:el", "lang:en")[pick % 2]
            event = e.CallArrived(now, f"c{next_call}", queue_names[pick % len(queue_names)], {lang: 1 + pick % 3})
        elif action == "callback_arrive":
            next_call += 1
            event = e.CallArrived(now, f"c{next_call}", queue_names[pick % len(queue_names)], {"lang:el": 1},
                                  enqueued_at=now - pick, callback="2100000000")
        elif action == "withdraw":
            offered = [c for c in calls if c.state is CallState.OFFERED and c.callback is not None]
            if not offered:
                continue
            call = offered[pick % len(offered)]
            event = e.OfferWithdrawn(now, call.id, call.agent_id)
        elif action in ("dialing_down", "dialing_up"):
            possible = action == "dialing_up"
            event = e.CallbackDialing(now, possible)
        elif action == "cancel":
            if not calls:
                continue
            event = e.CallbackCancelled(now, calls[pick % len(calls)].id)
        elif action in ("answer", "miss", "busy"):
            offered = [c for c in calls if c.state is CallState.OFFERED]
            if not offered:
                continue
            call = offered[pick % len(offered)]
            if action == "answer":
                event = e.OfferAnswered(now, call.id, call.agent_id)
            else:
                event = e.OfferFailed(now, call.id, call.agent_id, "no_answer" if action == "miss" else "busy")
        elif action in ("caller_hangup", "agent_hangup", "callback"):
            if not calls:
                continue
            call = calls[pick % len(calls)]
            event = {"caller_hangup": e.CallerHungUp(now, call.id), "agent_hangup": e.AgentHungUp(now, call.id),
                     "callback": e.CallbackRequested(now, call.id, "123")}[action]
        elif action == "login":
            event = e.AgentLoggedIn(now, agent.id)
        elif action == "logout":
            event = e.AgentLoggedOut(now, agent.id)
        elif action == "pause":
            event = e.AgentPaused(now, agent.id, "break")
        elif action == "unpause":
            event = e.AgentUnpaused(now, agent.id)
        elif action == "ready":
            event = e.AgentReady(now, agent.id)
        elif action in ("unreachable", "reachable"):
            event = e.AgentReachability(now, agent.id, action == "reachable")
        else:
            event = e.Tick(now)
        out = engine.handle(event)
        check_invariants(config, engine, out, possible, event, possible_before)


@settings(max_examples=80, deadline=None)
@given(config=configs(), arrivals=st.lists(st.tuples(st.integers(0, 50), st.floats(0, 20)), min_size=1, max_size=30))
def test_a_waiting_call_is_eventually_offered(config, arrivals):
    """Every caller some agent can take (at its most widened) is offered once agents work."""
    engine = Engine(config)
    queue_names = list(config.queues)
    now = 0.0
    offered: set[str] = set()
    gone: set[str] = set()
    servable: set[str] = set()
    pending: list[d.OfferCall] = []

    def note(out: list[d.Decision]) -> None:
        for decision in out:
            if isinstance(decision, d.OfferCall):
                offered.add(decision.call_id)
                pending.append(decision)
            elif isinstance(decision, (d.ExitCall, d.CallAbandoned)):
                gone.add(decision.call_id)

    for n, (pick, dt) in enumerate(arrivals):
        now += dt
        note(engine.handle(e.CallArrived(now, f"c{n}", queue_names[pick % len(queue_names)], {"lang:el": 1})))
        call = engine.calls[f"c{n}"]
        final = requirements_now(config, call, float("inf"))
        if any(has(a.skills, final) for a in engine.agents.values()):
            servable.add(call.id)
    for agent_id in config.agents:
        note(engine.handle(e.AgentLoggedIn(now, agent_id)))
    # agents answer every offer at once and finish each call after 10 s, for as long as it
    # takes (answering one offer after another's call ended let the later offers pass
    # their ring deadline and come back for ever: the test never ended)
    for _ in range(10 * len(arrivals) + 20):
        note(engine.advance(now))
        while pending:
            ringing, pending[:] = list(pending), []
            for offer in ringing:
                note(engine.handle(e.OfferAnswered(now, offer.call_id, offer.agent_id)))
            now += 10
            for offer in ringing:
                note(engine.handle(e.AgentHungUp(now, offer.call_id)))
        now += 5
    assert servable <= offered | gone
    if all(q.max_wait is None for q in config.queues.values()):
        assert servable <= offered


@st.composite
def callback_configs(draw) -> Config:
    """Every agent can take every call, so callbacks and callers compete for the same
    free agents: where a storm would show."""
    agents = "".join(f"'{10 + n}': {{pin: '1234', skills: {{topic:a: 1, lang:el: 1}}}}\n"
                     for n in range(draw(st.integers(1, 12))))
    share = draw(st.sampled_from((0.1, 0.25, 0.5, 1.0)))
    return make_config("q0:\n  requires: {topic:a: 1}\n  announcements: {first_after: 0, every: 0}\n", agents,
                       routing=f"missed_offer_rest: 3\ncallback_share: {share}\n")


CALLBACK_ACTIONS = ("login",) * 3 + ("callback_arrive",) * 4 + ("arrive", "answer", "answer", "agent_hangup",
                    "withdraw", "withdraw", "dialing_down", "dialing_up", "cancel", "miss", "pause", "unpause")


@settings(max_examples=300, deadline=None)
@given(config=callback_configs(), script=st.lists(st.tuples(st.sampled_from(CALLBACK_ACTIONS), st.integers(0, 50),
                                                             st.floats(0, 3)), min_size=5, max_size=120))
def test_callbacks_take_at_most_their_share_and_never_wait_for_nothing(config, script):
    engine = Engine(config)
    agent_ids = list(config.agents)
    now, next_call, possible = 0.0, 0, True
    for action, pick, dt in script:
        now += dt
        possible_before = possible
        calls = list(engine.calls.values())
        agent = engine.agents[agent_ids[pick % len(agent_ids)]]
        offered = [c for c in calls if c.state is CallState.OFFERED]
        event: e.Event
        if action in ("arrive", "callback_arrive"):
            next_call += 1
            event = e.CallArrived(now, f"c{next_call}", "q0", {"lang:el": 1}, enqueued_at=now - pick,
                                  callback="2100000000" if action == "callback_arrive" else None)
        elif action in ("answer", "miss", "withdraw"):
            if action == "withdraw":
                offered = [c for c in offered if c.callback is not None]
            if not offered:
                continue
            call = offered[pick % len(offered)]
            event = {"answer": e.OfferAnswered(now, call.id, call.agent_id),
                     "miss": e.OfferFailed(now, call.id, call.agent_id, "no_answer"),
                     "withdraw": e.OfferWithdrawn(now, call.id, call.agent_id)}[action]
        elif action in ("agent_hangup", "cancel"):
            if not calls:
                continue
            call = calls[pick % len(calls)]
            event = e.AgentHungUp(now, call.id) if action == "agent_hangup" else e.CallbackCancelled(now, call.id)
        elif action in ("dialing_down", "dialing_up"):
            possible = action == "dialing_up"
            event = e.CallbackDialing(now, possible)
        elif action == "login":
            event = e.AgentLoggedIn(now, agent.id)
        elif action == "pause":
            event = e.AgentPaused(now, agent.id, "break")
        else:
            event = e.AgentUnpaused(now, agent.id)
        out = engine.handle(event)
        check_invariants(config, engine, out, possible, event, possible_before)
