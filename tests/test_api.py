"""The REST/WebSocket API over a real LiveEngine, through a real HTTP server on loopback."""
from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient, TestServer

from acd.api import make_app
from acd.api.access import AUTH
from acd.config import load_config_text
from acd.daemon.escalation import Escalations
from acd.daemon.live_engine import LiveEngine
from acd.engine import events as e
from acd.pin_guard import PinGuard
from tests.auth_helpers import PLAIN_HTTP, log_in, people
from tests.engine_helpers import make_config

QUEUE = "q:\n  title: {el: 'Συντάξεις', en: Pensions}\n  requires: {topic:a: 1}\n"
AGENTS = "'11': {pin: '1234', skills: {topic:a: 3}}\n'12': {pin: '9999', skills: {topic:b: 3}}\n"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
async def api(tmp_path):
    """The API with agent 11 logged in to its panel."""
    clock = Clock()
    live = LiveEngine(make_config(QUEUE, AGENTS), now=clock)
    guard = PinGuard(max_failures=2, window=60, lockout=60, now=clock)
    client = TestClient(TestServer(make_app(live, guard, auth=await people(tmp_path), settings=PLAIN_HTTP)))
    await client.start_server()
    await log_in(client, "a11")
    yield client, live, clock
    await client.close()


async def test_agent_logs_in_from_the_web_panel_and_takes_a_call(api):
    client, live, clock = api
    r = await client.post("/api/agents/11/login", json={"pin": "1234"})
    assert r.status == 200 and (await r.json())["state"] == "available"
    live.feed(e.CallArrived(clock(), "c1", "q"))
    agents = {a["id"]: a for a in (await (await client.get("/api/agents")).json())["agents"]}
    assert agents["11"]["state"] == "ringing" and agents["11"]["call"] == "c1"
    r = await client.post("/api/agents/11/pause", json={"pin": "1234", "reason": "nap"})
    assert r.status == 409 and "unknown pause reason" in (await r.json())["reason"]


async def test_the_panel_finds_a_pause_reason_by_the_phone_s_rule(api):
    """One rule for both ways in (acd.agent_desk.pause_reason): a reason's 1-based number
    as a phone types it, and none given is the config's first (it was "break" here, a
    name the config need not have)."""
    client, live, _ = api
    reasons = list(live.engine.config.routing.pause_reasons)
    await client.post("/api/agents/11/login", json={"pin": "1234"})
    r = await client.post("/api/agents/11/pause", json={"pin": "1234", "reason": "2"})
    assert r.status == 200 and live.engine.agents["11"].reason == reasons[1]
    await client.post("/api/agents/11/unpause", json={"pin": "1234"})
    r = await client.post("/api/agents/11/pause", json={"pin": "1234"})
    assert r.status == 200 and live.engine.agents["11"].reason == reasons[0]


async def test_wrong_pins_are_refused_then_locked(api):
    client, _, clock = api
    for _ in range(2):
        assert (await client.post("/api/agents/11/login", json={"pin": "0000"})).status == 403
    r = await client.post("/api/agents/11/login", json={"pin": "1234"})
    assert r.status == 429                      # locked even with the right PIN
    clock.t += 61
    assert (await client.post("/api/agents/11/login", json={"pin": "1234"})).status == 200


async def test_bad_requests_get_clear_errors(api):
    client, _, _ = api
    r = await client.post("/api/agents/11/login", data=b"\xff\xfe garbage")
    assert r.status == 400 and "JSON object" in await r.text()
    assert (await client.post("/api/agents/11/dance", json={"pin": "1234"})).status == 404
    assert (await client.post("/api/agents/77/login", json={"pin": "1234"})).status == 403
    await log_in(client, "sup")                   # a supervisor may act on any agent, but not on none
    assert (await client.post("/api/agents/77/login", json={})).status == 404


async def test_the_wallboard_shows_todays_figures_per_queue_since_local_midnight(api):
    client, live, clock = api
    clock.t = 1_796_108_400.0             # 2026-12-01 09:00 in Athens (07:00 UTC)
    assert (await client.post("/api/agents/11/login", json={"pin": "1234"})).status == 200
    live.feed(e.CallArrived(clock(), "c1", "q"))
    clock.t += 5
    live.feed(e.OfferAnswered(clock(), "c1", "11"))
    clock.t += 60
    live.feed(e.AgentHungUp(clock(), "c1"))
    live.feed(e.CallArrived(clock(), "c2", "q"))          # the agent is in wrap-up
    clock.t += 8
    live.feed(e.CallerHungUp(clock(), "c2"))
    today = (await (await client.get("/api/queues")).json())["queues"]["q"]["today"]
    assert (today["offered"], today["answered"], today["abandoned"], today["asa"]) == (2, 1, 1, 5)
    assert today["service_level"] == 0.5 and (today["threshold"], today["target"]) == (20, 0.8)
    assert today["service_level_definition"] == "answered within 20 s / (answered + abandoned after 5 s + exited)"
    clock.t = 1_796_162_400.0             # 2026-12-02 00:00 in Athens: a new day
    today = (await (await client.get("/api/queues")).json())["queues"]["q"]["today"]
    assert (today["offered"], today["service_level"]) == (0, None)


def test_today_starts_at_midnight_in_the_services_time_zone():
    from acd.api.floor import local_midnight

    at = 1_796_108_400.0                   # 2026-12-01 09:00 in Athens, 07:00 UTC
    assert local_midnight(at, "Europe/Athens") == at - 9 * 3600
    assert local_midnight(at, "UTC") == at - 7 * 3600
    assert local_midnight(at, "Nowhere/Atlantis") == at - 7 * 3600    # an unknown zone: UTC


async def test_queue_figures_and_waiting_calls(api):
    client, live, clock = api
    await log_in(client, "sup")
    live.feed(e.CallArrived(clock(), "c1", "q"))
    clock.t += 30
    live.feed(e.CallArrived(clock(), "Κλήση", "q"))
    data = await (await client.get("/api/queues")).json()
    assert data["queues"]["q"]["waiting"] == 2 and data["queues"]["q"]["longest_wait"] == 30
    assert data["queues"]["q"]["title"]["el"] == "Συντάξεις"
    waiting = (await (await client.get("/api/calls")).json())["waiting"]
    assert [(c["id"], c["position"]) for c in waiting] == [("c1", 1), ("Κλήση", 2)]
    assert waiting[0]["estimated_wait"] is None  # nobody logged in: no honest estimate


async def _next(socket) -> dict:
    return await asyncio.wait_for(socket.receive_json(), 5)


async def test_the_feed_sends_a_snapshot_then_deltas_cut_to_each_role(api):
    """A supervisor gets the floor, an agent only its own row, a wallboard the queues'
    figures and no agent's row: on connect a snapshot, then one delta per batch."""
    client, live, clock = api
    sockets = {}
    for name in ("sup", "a11", "kiosk"):
        reader = TestClient(client.server)         # its own cookies, the same server
        await log_in(reader, name)
        sockets[name] = (reader, await reader.ws_connect("/api/events"))
    floor, own, board = [await _next(sockets[n][1]) for n in ("sup", "a11", "kiosk")]
    assert (floor["type"], floor["view"], own["view"], board["view"]) == ("snapshot", "floor", "agent", "wallboard")
    assert {a["id"] for a in floor["agents"]} == {"11", "12"} and floor["queues"]["queues"]["q"]["waiting"] == 0
    assert own["agent"]["id"] == "11" and own["agent"]["state"] == "logged_out" and "agents" not in own
    assert "agents" not in board and "agent" not in board and board["queues"]["agents"] == {"logged_out": 2}
    live.feed(e.AgentLoggedIn(clock(), "12"))                  # not agent 11's business
    live.feed(e.AgentLoggedIn(clock(), "11"))
    live.feed(e.CallArrived(clock(), "c1", "q"))
    floor, own, board = [await _next(sockets[n][1]) for n in ("sup", "a11", "kiosk")]
    assert floor["type"] == "delta" and {a["id"]: a["state"] for a in floor["agents"]} == {"11": "ringing",
                                                                                           "12": "available"}
    assert own == {"type": "delta", "at": clock(), "agent": own["agent"], "caller": own["caller"]}
    assert (own["caller"]["call"], own["caller"]["queue"], own["caller"]["answered_at"]) == ("c1", "q", None)
    assert (own["agent"]["state"], own["agent"]["call"], own["agent"]["queue"]) == ("ringing", "c1", "q")
    assert board["queues"]["queues"]["q"]["talking"] == 1 and "agents" not in board
    live.feed(e.AgentLoggedIn(clock(), "12"))                  # ignored: nothing changed for anyone
    live.feed(e.AgentPaused(clock(), "12", "break"))
    floor = await _next(sockets["sup"][1])
    assert [a["id"] for a in floor["agents"]] == ["12"]
    with pytest.raises(asyncio.TimeoutError):                   # agent 11 hears nothing of agent 12
        await asyncio.wait_for(sockets["a11"][1].receive_json(), 0.3)
    for reader, socket in sockets.values():
        await socket.close()
        await reader.session.close()


async def test_prometheus_scrapes_the_floor_with_a_scoped_token(api, tmp_path):
    client, live, clock = api
    auth = client.app[AUTH]
    token = await auth.issue_token("eng", ["metrics:scrape"])
    bearer = {"Authorization": f"Bearer {token}"}
    await client.post("/api/agents/11/login", json={"pin": "1234"})
    live.feed(e.AgentLoggedIn(clock(), "12"))
    live.feed(e.CallArrived(clock(), "c1", "q"))               # rings agent 11
    live.feed(e.CallArrived(clock(), "c2", "q"))               # waits: agent 12 lacks topic:a
    clock.t += 12
    live.feed(e.CallerHungUp(clock(), "c2"))
    live.feed(e.CallArrived(clock(), "c3", "q"))
    clock.t += 4
    client.session.cookie_jar.clear()
    text = await (await client.get("/metrics", headers=bearer)).text()
    assert 'acd_queue_waiting{queue="q"} 1.0' in text
    assert 'acd_queue_longest_wait_seconds{queue="q"} 4.0' in text
    assert 'acd_queue_calls_today{outcome="abandoned",queue="q"} 1.0' in text
    assert 'acd_queue_service_level{queue="q"} 0.0' in text
    assert 'acd_agents{state="ringing"} 1.0' in text and 'acd_agents{state="available"} 1.0' in text
    assert "acd_routing_seconds_count" in text and "acd_routing_seconds_count 0.0" not in text
    assert "c1" not in text and "'11'" not in text                # figures, nobody's data
    figures_only = await auth.issue_token("kiosk", ["figures"])
    r = await client.get("/metrics", headers={"Authorization": f"Bearer {figures_only}"})
    assert r.status == 403


async def test_wallboard_page_is_served(api):
    client, _, _ = api
    r = await client.get("/")
    assert r.status == 200 and "/api/events" in await r.text()     # pushed, not polled


async def test_agent_panel_page_and_the_pause_reasons_it_offers(api):
    client, live, _ = api
    r = await client.get("/agent")
    page = await r.text()
    assert r.status == 200 and "/api/pause-reasons" in page and 'data-action="escalate"' in page
    reasons = await (await client.get("/api/pause-reasons")).json()
    assert reasons["reasons"] == list(live.engine.config.routing.pause_reasons)
    assert set(reasons["productive"]) == {r for r, p in live.engine.config.routing.pause_reasons.items() if p}


# -- escalation to the back office ------------------------------------------------------------------

DESK = """\
service: {name: test, languages: [el]}
skills: {topic:a: A}
queues:
  q: {requires: {topic:a: 1}, wrapup: 60}
agents:
  '11': {pin: '1234', skills: {topic:a: 3}}
  '12': {pin: '9999', skills: {topic:a: 3}}
back_office:
  units:
    a-desk: {primary: team:bo-a, alternate: person:bo-a-head, queues: [q]}
    general: {primary: team:bo-general, alternate: person:duty-officer}
"""


@pytest.fixture
async def desk(tmp_path):
    """The API with escalation wired as the daemon wires it; agent 11 took c1, 12 took c2;
    agent 11 is logged in to its panel."""
    clock = Clock()
    live = LiveEngine(load_config_text(DESK, "<desk>"), now=clock)
    stored: list = []
    escalations = Escalations(live, stored.append)
    live.subscribe(escalations)
    for agent_id, call_id in (("11", "c1"), ("12", "c2")):
        live.feed(e.AgentLoggedIn(clock(), agent_id))
        live.feed(e.CallArrived(clock(), call_id, "q"))
        live.feed(e.OfferAnswered(clock(), call_id, agent_id))
    guard = PinGuard(max_failures=2, window=60, lockout=60, now=clock)
    client = TestClient(TestServer(make_app(live, guard, escalations, auth=await people(tmp_path),
                                           settings=PLAIN_HTTP)))
    await client.start_server()
    await log_in(client, "a11")
    yield client, live, stored
    await client.close()


async def test_agent_escalates_a_call_it_took_with_a_note(desk):
    client, live, stored = desk
    live.feed(e.AgentHungUp(live.now(), "c1"))
    r = await client.post("/api/calls/c1/escalate",
                          json={"agent_id": "11", "pin": "1234", "note": "Η σύνταξη δεν έχει καταβληθεί"})
    assert r.status == 201
    ticket = (await r.json())["ticket"]
    assert (ticket["call_id"], ticket["agent_id"], ticket["source"], ticket["status"]) == ("c1", "11", "agent", "open")
    assert (ticket["unit"], ticket["primary_owner"], ticket["alternate_owner"]) == ("a-desk", "team:bo-a", "person:bo-a-head")
    assert ticket["note"] == "Η σύνταξη δεν έχει καταβληθεί"
    assert [t.id for t in stored] == [ticket["id"]]


async def test_the_panel_escalates_the_call_the_agent_just_ended_without_its_id(desk):
    client, live, stored = desk
    live.feed(e.AgentHungUp(live.now(), "c1"))                     # agent 11 is in wrap-up
    r = await client.post("/api/agents/11/escalate", json={"pin": "0000"})
    assert r.status == 403 and stored == []
    r = await client.post("/api/agents/11/escalate", json={"pin": "1234", "note": "δεύτερη κλήση"})
    assert r.status == 201
    ticket = (await r.json())["ticket"]
    assert (ticket["call_id"], ticket["note"]) == ("c1", "δεύτερη κλήση")
    r = await client.post("/api/agents/11/logout", json={"pin": "1234"})    # the generic route still works
    assert r.status == 200


async def test_agent_names_another_unit(desk):
    client, _, stored = desk
    await log_in(client, "a12")
    r = await client.post("/api/calls/c2/escalate", json={"agent_id": "12", "pin": "9999", "unit": "general"})
    assert r.status == 201 and (await r.json())["ticket"]["unit"] == "general"
    await log_in(client, "a11")
    r = await client.post("/api/calls/c1/escalate", json={"agent_id": "11", "pin": "1234", "unit": "nowhere"})
    assert r.status == 400 and "unknown back-office unit 'nowhere'" in (await r.json())["reason"]
    assert len(stored) == 1


async def test_escalating_a_call_the_agent_did_not_take_is_refused(desk):
    client, _, stored = desk
    r = await client.post("/api/calls/c2/escalate", json={"agent_id": "11", "pin": "1234"})
    assert r.status == 403
    body = await r.json()
    assert body["error"] == "not_your_call" and "agent 11 did not take call c2" in body["reason"]
    r = await client.post("/api/calls/nope/escalate", json={"agent_id": "11", "pin": "1234"})
    assert r.status == 404 and (await r.json())["error"] == "unknown_call"
    assert stored == []


async def test_escalation_wrong_pins_are_refused_then_locked(desk):
    client, _, stored = desk
    for _ in range(2):
        r = await client.post("/api/calls/c1/escalate", json={"agent_id": "11", "pin": "0000"})
        assert r.status == 403
    r = await client.post("/api/calls/c1/escalate", json={"agent_id": "11", "pin": "1234"})
    assert r.status == 429 and stored == []                  # locked even with the right PIN


async def test_a_call_is_escalated_once_and_bad_bodies_get_clear_errors(desk):
    client, _, stored = desk
    assert (await client.post("/api/calls/c1/escalate", json={"agent_id": "11", "pin": "1234"})).status == 201
    again = await client.post("/api/calls/c1/escalate", json={"agent_id": "11", "pin": "1234"})
    assert again.status == 409 and (await again.json())["error"] == "already"
    await log_in(client, "a12")
    r = await client.post("/api/calls/c2/escalate", json={"pin": "9999"})
    assert r.status == 400 and "agent_id" in await r.text()
    r = await client.post("/api/calls/c2/escalate", json={"agent_id": "12", "pin": "9999", "note": 5})
    assert r.status == 400 and "note" in await r.text()
    r = await client.post("/api/calls/c2/escalate", json={"agent_id": "12", "pin": "9999", "note": "x" * 5000})
    assert r.status == 400 and "at most" in await r.text()
    r = await client.post("/api/calls/c2/escalate", data=b"[1, 2]")
    assert r.status == 400 and "JSON object" in await r.text()
    assert len(stored) == 1


async def test_escalation_without_the_daemons_wiring_is_unavailable(api):
    client, live, clock = api
    r = await client.post("/api/calls/c1/escalate", json={"agent_id": "11", "pin": "1234"})
    assert r.status == 503


async def test_agents_show_their_phones_registration_and_the_queues_count_logged_in_agents_without_one(tmp_path):
    from acd.registrations import Registrations

    clock = Clock()
    live = LiveEngine(make_config(QUEUE, AGENTS), now=clock)
    phones = Registrations()
    client = TestClient(TestServer(make_app(live, registrations=phones, auth=await people(tmp_path),
                                            settings=PLAIN_HTTP)))
    await client.start_server()
    await log_in(client, "sup")
    try:
        live.feed(e.AgentLoggedIn(clock(), "11"))
        phones.contact_status("11", "sip:agent-11@10.0.0.11:5060", "NonQualified", clock())
        phones.learn_user_agents("11", {"sip:agent-11@10.0.0.11:5060": "Zoiper rv2.10"})
        agents = {a["id"]: a for a in (await (await client.get("/api/agents")).json())["agents"]}
        assert agents["11"]["phone"] == {"registered": True, "reachable": True, "uri": "sip:agent-11@10.0.0.11:5060",
                                         "user_agent": "Zoiper rv2.10", "status": "NonQualified", "contacts": 1,
                                         "since": 1000.0}
        assert agents["12"]["phone"]["registered"] is None           # nothing heard from Asterisk yet
        assert (await (await client.get("/api/queues")).json())["unregistered_phones"] == 0
        clock.t += 5
        phones.contact_status("11", "sip:agent-11@10.0.0.11:5060", "Removed", clock())
        phones.replace_contacts("12", [], clock())                  # 12 is logged out: not counted
        agents = {a["id"]: a for a in (await (await client.get("/api/agents")).json())["agents"]}
        assert (agents["11"]["phone"]["registered"], agents["11"]["phone"]["since"]) == (False, 1005.0)
        assert (await (await client.get("/api/queues")).json())["unregistered_phones"] == 1
        page = await (await client.get("/")).text()
        assert "unregistered_phones" in page
    finally:
        await client.close()
