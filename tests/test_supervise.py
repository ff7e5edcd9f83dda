"""The supervisor's view and actions over a real LiveEngine and HTTP server on loopback:
each queue's own agents and wait alarms, the line's totals, the service's clock; pause and
log out from the view; listen, whisper and barge through AMI Originate of ChanSpy, by role,
audited. The AMI here is a recorder; tests/test_live_supervise.py rings a real phone."""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given, settings, strategies as st

from acd.api import make_app
from acd.api.floor import QueueStaff, agents_by_queue, queue_members, queues_body, wait_alarm
from acd.api.supervise import AMI_LINK, SPY_OPTIONS, originate_fields
from acd.config import load_config
from acd.pin_guard import PinGuard
from acd.daemon.live_engine import LiveEngine
from acd.live_figures import LiveFigures
from acd.registrations import Registrations
from acd.engine import AgentState, Engine
from acd.engine import events as e
from acd.metrics import CallOutcome, is_short_abandon, pooled_figures, queue_figures
from tests.auth_helpers import PLAIN_HTTP, log_in, people
from tests.engine_helpers import make_config

QUEUES = """\
q:
  title: {el: 'Συντάξεις', en: Pensions}
  requires: {topic:a: 2}
  service_level: {threshold: 20, target: 0.8}
  max_wait: 600
v:
  title: {el: 'Βία', en: Violence}
  requires: {topic:b: 3}
  service_level: {threshold: 10, target: 0.9}
both:
  requires: {topic:a: 1, topic:b: 1}
  service_level: {threshold: 30}
  max_wait: 45
"""
AGENTS = """\
'11': {name: Eleni, pin: '1111', skills: {topic:a: 3}}
'12': {name: Nikos, pin: '1212', skills: {topic:a: 1, topic:b: 1}}
'13': {name: Maria, pin: '1313', skills: {topic:b: 5}}
'14': {name: Kostas, pin: '1414', skills: {topic:a: 2, topic:b: 3}}
"""


class Clock:
    def __init__(self) -> None:
        self.t = 1_796_108_400.0            # 2026-12-01 09:00 in Athens

    def __call__(self) -> float:
        return self.t


class FakeAMI:
    """Records the actions sent; answers Originate as Asterisk does when it takes it."""

    def __init__(self, connected: bool = True, answer: str = "Success") -> None:
        self.connected = connected
        self.answer = answer
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def action(self, name: str, *, timeout: float | None = None, **fields: Any) -> dict[str, str]:
        self.sent.append((name, fields))
        if self.answer == "Success":
            return {"Response": "Success", "Message": "Originate successfully queued"}
        return {"Response": "Error", "Message": "Extension does not exist."}


@pytest.fixture
async def floor(tmp_path):
    clock = Clock()
    live = LiveEngine(make_config(QUEUES, AGENTS), now=clock)
    auth = await people(tmp_path, now=clock)
    settings_ = replace(PLAIN_HTTP, supervisor_phones={"sup": "PJSIP/sup-1"})
    app = make_app(live, PinGuard(now=clock), auth=auth, settings=settings_)
    app[AMI_LINK] = FakeAMI()
    client = TestClient(TestServer(app))
    await client.start_server()
    yield client, live, clock, app
    await client.close()
    live.clock.cancel()


def test_a_queues_agents_are_those_whose_skills_meet_its_own_requirements():
    config = make_config(QUEUES, AGENTS)
    assert queue_members(config) == {"q": ("11", "14"), "v": ("13", "14"), "both": ("12", "14")}
    assert queue_members(config) is queue_members(config)          # built once per config


def test_wait_alarms_come_from_each_queues_own_threshold_and_max_wait():
    config = make_config(QUEUES, AGENTS)
    assert wait_alarm(config.queues["q"]) == {"warn": 20, "alarm": 60}
    assert wait_alarm(config.queues["v"]) == {"warn": 10, "alarm": 30}       # the violence line: 10 s
    assert wait_alarm(config.queues["both"]) == {"warn": 30, "alarm": 45}    # max wait comes before 3 x 30


def test_the_1555_lines_violence_queue_turns_amber_at_ten_seconds():
    config = load_config("examples/1555.yaml")
    assert wait_alarm(config.queues["violence"])["warn"] == 10
    assert wait_alarm(config.queues["pensions"])["warn"] == 20
    members = queue_members(config)
    assert set(members["violence"]) == {str(i) for i in range(2901, 2911)}
    assert "2201" in members["labour"] and "2001" not in members["labour"]


async def test_each_queue_counts_its_own_agents_by_state(floor):
    _, live, clock, _ = floor
    for agent in ("11", "12", "13", "14"):
        live.feed(e.AgentLoggedIn(clock(), agent))
    live.feed(e.AgentPaused(clock(), "13", "break"))
    live.feed(e.CallArrived(clock(), "c1", "q"))
    live.feed(e.OfferAnswered(clock(), "c1", live.engine.calls["c1"].agent_id))
    talking = live.engine.calls["c1"].agent_id
    counts = agents_by_queue(live.engine)
    assert counts["v"]["paused"] == 1 and counts["v"]["logged_in"] == 2
    assert counts["q"]["on_call"] == 1 and counts["q"]["logged_in"] == 2
    assert counts["q"]["available"] == 1
    assert talking in ("11", "14")
    live.feed(e.AgentLoggedOut(clock(), "12"))
    assert agents_by_queue(live.engine)["both"]["logged_in"] == 1


async def test_the_body_has_the_line_totals_and_the_services_clock(floor):
    client, live, clock, _ = floor
    await log_in(client, "kiosk")
    live.feed(e.AgentLoggedIn(clock(), "13"))
    for call, queue in (("c1", "v"), ("c2", "v"), ("c3", "q")):
        live.feed(e.CallArrived(clock(), call, queue))
    clock.t += 4
    live.feed(e.OfferAnswered(clock(), "c1", "13"))
    clock.t += 12
    body = await (await client.get("/api/queues")).json()
    assert body["clock"] == {"now": clock(), "timezone": "Europe/Athens", "service": "test"}
    assert body["line"]["waiting"] == 2 and body["line"]["talking"] == 1
    assert body["line"]["longest_wait"] == pytest.approx(16)
    assert body["queues"]["v"]["wait_alarm"] == {"warn": 10, "alarm": 30}
    assert body["queues"]["v"]["agents"]["on_call"] == 1
    live.feed(e.CallerHungUp(clock(), "c2"))
    live.feed(e.AgentHungUp(clock(), "c1"))
    clock.t += 1
    body = await (await client.get("/api/queues")).json()
    today = body["line"]["today"]
    assert (today["offered"], today["answered"], today["abandoned"]) == (2, 1, 1)
    assert today["service_level"] == pytest.approx(0.5) and today["asa"] == pytest.approx(4)


outcomes = st.lists(st.tuples(st.sampled_from(["a", "b"]), st.floats(0, 120), st.sampled_from(["ans", "ab", "ex"])),
                    max_size=40)


@settings(max_examples=60, deadline=None)
@given(outcomes)
def test_the_line_pools_each_call_by_its_own_queues_threshold(calls):
    thresholds = {"a": 20.0, "b": 10.0}
    made = [CallOutcome(f"c{i}", q, 0.0, wait if fate == "ans" else None, wait + 1,
                        abandoned=fate == "ab", exited=fate == "ex")
            for i, (q, wait, fate) in enumerate(calls)]
    rows = [queue_figures([c for c in made if c.queue == q], t) for q, t in thresholds.items()]
    line = pooled_figures(rows)
    within = sum(1 for c in made if c.answered_at is not None and c.answered_at <= thresholds[c.queue])
    counted = sum(1 for c in made if c.answered_at is not None or c.exited or (c.abandoned and not is_short_abandon(c)))
    assert line.offered == len(made)
    assert line.service_level == (pytest.approx(within / counted) if counted else None)
    answered = [c.answered_at for c in made if c.answered_at is not None]
    assert line.asa == (pytest.approx(sum(answered) / len(answered)) if answered else None)
    assert math.isnan(line.threshold_s)


def test_the_queues_body_is_built_with_no_calls_and_no_config_queue_missing():
    live = LiveEngine(make_config(QUEUES, AGENTS), now=Clock())
    body = queues_body(live, LiveFigures(live.engine.config), Registrations())
    assert set(body["queues"]) == {"q", "v", "both"}
    assert body["line"]["today"]["service_level"] is None and body["line"]["waiting"] == 0
    live.clock.cancel()


# -- the supervisor's actions ----------------------------------------------------------------------

async def test_supervisor_page_is_served_to_readers_of_the_floor_only(floor):
    client, _, _, _ = floor
    await log_in(client, "sup")
    r = await client.get("/supervisor")
    assert r.status == 200 and "/api/events" in await r.text()
    await log_in(client, "kiosk")
    assert (await client.get("/supervisor", allow_redirects=False)).status == 403
    assert (await client.get("/")).status == 200          # the wallboard's own page stays


async def test_a_supervisor_pauses_and_logs_out_an_agent_from_the_view_and_it_is_audited(floor):
    client, live, clock, app = floor
    live.feed(e.AgentLoggedIn(clock(), "11"))
    await log_in(client, "sup")
    r = await client.post("/api/agents/11/pause", json={"reason": "break"})
    assert r.status == 200 and live.engine.agents["11"].state is AgentState.PAUSED
    r = await client.post("/api/agents/11/logout", json={})
    assert r.status == 200 and live.engine.agents["11"].state is AgentState.LOGGED_OUT
    entries = (await (await client.get("/api/audit")).json())["entries"]
    assert [(x["action"], x["target"], x["who"]) for x in entries[:2]] == [
        ("agent.logout", "11", "person:sup"), ("agent.pause", "11", "person:sup")]


@pytest.mark.parametrize("mode", ["listen", "whisper", "barge"])
async def test_listen_whisper_barge_originate_chanspy_to_the_supervisors_own_phone(floor, mode):
    client, live, clock, app = floor
    live.feed(e.AgentLoggedIn(clock(), "13"))
    live.feed(e.CallArrived(clock(), "c1", "v"))
    live.feed(e.OfferAnswered(clock(), "c1", "13"))
    await log_in(client, "sup")
    r = await client.post(f"/api/agents/13/spy/{mode}", json={"phone": "PJSIP/somebody-else"})
    assert r.status == 202, await r.text()
    answer = await r.json()
    assert (answer["call"], answer["phone"]) == ("c1", "PJSIP/sup-1")
    [(action, fields)] = app[AMI_LINK].sent
    assert action == "Originate" and fields["Channel"] == "PJSIP/sup-1"       # never the body's phone
    assert fields["Application"] == "ChanSpy"
    spec, options = fields["Data"].split(",")
    assert spec == "PJSIP/agent-13-" and options == SPY_OPTIONS[mode]
    assert {"listen": "", "whisper": "w", "barge": "B"}[mode] == options.replace("qbES", "")
    assert fields["ChannelId"] == answer["channel_id"]
    entry = (await (await client.get("/api/audit")).json())["entries"][0]
    assert (entry["action"], entry["target"], entry["who"]) == (f"agent.{mode}", "13", "person:sup")
    assert entry["after"]["call"] == "c1" and entry["after"]["phone"] == "PJSIP/sup-1"


async def test_listening_is_refused_clearly_when_it_cannot_be_done(floor):
    client, live, clock, app = floor
    live.feed(e.AgentLoggedIn(clock(), "13"))
    await log_in(client, "sup")
    r = await client.post("/api/agents/13/spy/listen", json={})
    assert r.status == 409 and "not on a call" in (await r.json())["reason"]
    assert (await client.post("/api/agents/99/spy/listen", json={})).status == 404
    assert (await client.post("/api/agents/13/spy/sing", json={})).status == 404
    live.feed(e.CallArrived(clock(), "c1", "v"))
    live.feed(e.OfferAnswered(clock(), "c1", "13"))
    app[AMI_LINK].connected = False
    assert (await client.post("/api/agents/13/spy/listen", json={})).status == 503
    app[AMI_LINK].connected, app[AMI_LINK].answer = True, "Error"
    r = await client.post("/api/agents/13/spy/barge", json={})
    assert r.status == 502 and "Extension" in (await r.json())["reason"]
    await log_in(client, "eng")                        # reads the floor, may not listen
    assert (await client.post("/api/agents/13/spy/listen", json={})).status == 403
    assert (await client.get("/api/audit")).status == 403


async def test_a_supervisor_without_a_phone_in_the_config_is_told_where_to_add_one(tmp_path):
    clock = Clock()
    live = LiveEngine(make_config(QUEUES, AGENTS), now=clock)
    app = make_app(live, auth=await people(tmp_path, now=clock), settings=PLAIN_HTTP)
    app[AMI_LINK] = FakeAMI()
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        live.feed(e.AgentLoggedIn(clock(), "13"))
        live.feed(e.CallArrived(clock(), "c1", "v"))
        live.feed(e.OfferAnswered(clock(), "c1", "13"))
        await log_in(client, "sup")
        r = await client.post("/api/agents/13/spy/listen", json={})
        assert r.status == 409 and "access.supervisor_phones" in (await r.json())["reason"]
        assert app[AMI_LINK].sent == []
    finally:
        await client.close()
        live.clock.cancel()


def test_the_originate_names_the_agents_endpoint_with_its_dash():
    fields = originate_fields("listen", "agent-41", "PJSIP/sup-1", "acd-spy-x", "41")
    assert fields["Data"] == "PJSIP/agent-41-,qbES"     # never PJSIP/agent-410-...
    assert fields["Async"] == "true" and fields["Channel"] == "PJSIP/sup-1"


class _Holder:
    """What QueueStaff reads: the engine (and a clock nobody asks)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def now(self) -> float:
        return 0.0


moves = st.lists(st.tuples(st.sampled_from(["login", "logout", "pause", "unpause", "call", "answer", "hangup",
                                            "ready"]),
                           st.sampled_from(["11", "12", "13", "14"]), st.sampled_from(["q", "v", "both"])),
                 max_size=60)


@settings(max_examples=80, deadline=None)
@given(moves)
def test_the_kept_per_queue_counts_equal_a_fresh_count_after_any_moves(steps):
    engine = Engine(make_config(QUEUES, AGENTS))
    staff = QueueStaff(_Holder(engine))
    t = 0.0
    for n, (move, agent, queue) in enumerate(steps):
        t += 1.0
        call = next((c for c in engine.calls.values() if c.agent_id == agent), None)
        event = {"login": lambda: e.AgentLoggedIn(t, agent), "logout": lambda: e.AgentLoggedOut(t, agent),
                 "pause": lambda: e.AgentPaused(t, agent, "break"), "unpause": lambda: e.AgentUnpaused(t, agent),
                 "call": lambda: e.CallArrived(t, f"c{n}", queue), "ready": lambda: e.AgentReady(t, agent),
                 "answer": lambda: e.OfferAnswered(t, call.id, agent) if call else e.Tick(t),
                 "hangup": lambda: e.AgentHungUp(t, call.id) if call else e.Tick(t)}[move]()
        staff(engine.handle(event))
        assert staff.counts() == agents_by_queue(engine)


async def test_todays_aht_per_queue_and_for_the_line_is_talk_plus_the_queues_wrapup():
    clock = Clock()
    config = make_config(QUEUES.replace("  max_wait: 600\n", "  max_wait: 600\n  wrapup: 30\n"), AGENTS)
    live = LiveEngine(config, now=clock)
    today = LiveFigures(config)
    live.subscribe(today)
    start = clock.t
    for at, event in ((0, e.AgentLoggedIn(start, "11")), (1, e.CallArrived(start + 1, "c1", "q")),
                      (3, e.OfferAnswered(start + 3, "c1", "11")), (63, e.AgentHungUp(start + 63, "c1"))):
        clock.t = start + at
        live.feed(event)
    body = queues_body(live, today, Registrations())
    assert body["queues"]["q"]["today"]["aht"] == 60 + 30
    assert body["line"]["today"]["aht"] == 60 + 30
    assert body["queues"]["v"]["today"]["aht"] is None        # no call handled there yet
    live.clock.cancel()


def _line_after_one_answered_and_one_abandoned(queues: str) -> dict[str, Any]:
    clock = Clock()
    config = make_config(queues, AGENTS)
    live = LiveEngine(config, now=clock)
    today = LiveFigures(config)
    live.subscribe(today)
    start = clock.t
    for at, event in ((0, e.AgentLoggedIn(start, "11")), (1, e.CallArrived(start + 1, "c1", "q")),
                      (3, e.OfferAnswered(start + 3, "c1", "11")), (4, e.CallArrived(start + 4, "c2", "q")),
                      (34, e.CallerHungUp(start + 34, "c2")), (63, e.AgentHungUp(start + 63, "c1"))):
        clock.t = start + at
        live.feed(event)
    line = queues_body(live, today, Registrations())["line"]["today"]
    live.clock.cancel()
    return line


async def test_the_line_divides_as_its_queues_do_when_they_all_agree_else_by_the_default():
    every = "  service_level: {threshold: 20, target: 0.8, counts: answered_only}\n"
    agreeing = QUEUES.replace("  service_level: {threshold: 20, target: 0.8}\n", every) \
                     .replace("  service_level: {threshold: 10, target: 0.9}\n", every) \
                     .replace("  service_level: {threshold: 30}\n", "  service_level: {threshold: 30, counts: answered_only}\n")
    line = _line_after_one_answered_and_one_abandoned(agreeing)
    assert line["service_level_counts"] == "answered_only"
    assert line["service_level"] == 1.0                   # the abandon is not in the denominator
    mixed = QUEUES.replace("  service_level: {threshold: 20, target: 0.8}\n", every)
    line = _line_after_one_answered_and_one_abandoned(mixed)
    assert line["service_level_counts"] == "answered_plus_abandoned"
    assert line["service_level"] == 0.5
