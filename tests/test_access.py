"""Who may use which route: every route of the router refuses the anonymous and the roles
that must not use it; agents act only on themselves, the back office only on its units'
tickets, the wallboard sees figures without personal data; sessions, CSRF, tokens and
the audit log. Over a real HTTP server on loopback, with the records on SQLite."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from acd.api import make_app
from acd.config import load_config_text
from acd.config.access import AccessSettings
from acd.config.back_office import back_office_of
from acd.pin_guard import PinGuard
from acd.daemon.escalation import Escalations
from acd.daemon.live_engine import LiveEngine
from acd.engine import events as e
from acd.records import CallRecords, TicketDesk
from acd.records.ticket import new_ticket
from tests.auth_helpers import PASSWORD, PEOPLE, PLAIN_HTTP, log_in, people

CONFIG = """\
service: {name: test, languages: [el]}
skills: {topic:a: A, topic:b: B}
queues:
  q: {requires: {topic:a: 1}, wrapup: 60}
  r: {requires: {topic:b: 1}, wrapup: 60}
agents:
  '11': {pin: '1234', skills: {topic:a: 3}}
  '12': {pin: '9999', skills: {topic:b: 3}}
back_office:
  units:
    a-desk: {primary: team:bo-a, alternate: person:bo-a-head, queues: [q]}
    b-desk: {primary: team:bo-b, alternate: person:bo-b-head, queues: [r]}
"""
CALLER_A, NOTE_A = "2101234567", "η σύνταξη του Μαΐου δεν ήρθε"
CALLER_B, NOTE_B = "2109876543", "άλλη μονάδα"
#: one person of each role; the agent is agent 11
BY_ROLE = {role: name for name, (role, agent_id, _) in PEOPLE.items() if name != "a12"}


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class World:
    def __init__(self, client: TestClient, live: LiveEngine, records: CallRecords, clock: Clock, auth: Any,
                 tickets: dict[str, str]) -> None:
        self.client, self.live, self.records, self.clock, self.auth = client, live, records, clock, auth
        self.tickets = tickets

    async def as_(self, name: str | None) -> TestClient:
        """The client logged in as ``name`` (None: anonymous, no cookie, no header)."""
        self.client.session.cookie_jar.clear()
        self.client.session.headers.pop("X-CSRF-Token", None)
        if name is not None:
            await log_in(self.client, name)
        return self.client


@pytest.fixture
async def world(tmp_path):
    """Agents 11 (took c1) and 12 (took c2) on the phone; a ticket in each unit."""
    clock = Clock()
    config = load_config_text(CONFIG, "<access>")
    live = LiveEngine(config, now=clock)
    records = CallRecords(f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}", interval=0.05,
                          back_office=back_office_of(config))
    await records.start()
    escalations = Escalations(live, records.open_ticket)
    live.subscribe(escalations)
    for agent_id, call_id, queue in (("11", "c1", "q"), ("12", "c2", "r")):
        live.feed(e.AgentLoggedIn(clock(), agent_id))
        live.feed(e.CallArrived(clock(), call_id, queue))
        live.feed(e.OfferAnswered(clock(), call_id, agent_id))
    office = back_office_of(config)
    made = {"a": new_ticket(office, call_id="old-a", queue="q", at=10, source="max_wait", caller=CALLER_A, note=NOTE_A),
            "b": new_ticket(office, call_id="old-b", queue="r", at=20, source="max_wait", caller=CALLER_B, note=NOTE_B)}
    for ticket in made.values():
        records.open_ticket(ticket)
    await records.flush()
    auth = await people(tmp_path, now=clock)
    app = make_app(live, PinGuard(now=clock), escalations, desk=TicketDesk(records.db, now=clock), auth=auth,
                   settings=PLAIN_HTTP)
    client = TestClient(TestServer(app))
    await client.start_server()
    yield World(client, live, records, clock, auth, {k: t.id for k, t in made.items()})
    await client.close()
    await records.close()
    await auth.db.dispose()
    live.clock.cancel()


# -- every route refuses whom it must ------------------------------------------------------------

ALL = frozenset(BY_ROLE)
OPEN = None
#: (method, route) -> the roles that may use it with the parameters below (agent 12's
#: routes: only a supervisor, since the agent is 11; b-desk's ticket: not the a-desk back
#: office). A route missing here fails the test: declare who may use it, here and in make_app.
EXPECTED: dict[tuple[str, str], frozenset[str] | None] = {
    ("GET", "/login"): OPEN,
    ("GET", "/auth.js"): OPEN,
    ("POST", "/api/login"): OPEN,
    ("GET", "/api/health"): OPEN,
    ("POST", "/api/logout"): ALL,
    ("GET", "/api/me"): ALL,
    ("GET", "/"): ALL,
    ("GET", "/agent"): frozenset({"agent", "supervisor"}),
    ("GET", "/backoffice"): frozenset({"backoffice", "supervisor"}),
    ("GET", "/api/pause-reasons"): frozenset({"agent", "supervisor"}),
    ("GET", "/api/queues"): ALL,
    ("GET", "/api/agents"): frozenset({"agent", "supervisor", "engineer", "planner"}),
    ("GET", "/api/calls"): frozenset({"supervisor", "engineer", "planner"}),
    ("POST", "/api/agents/{agent_id}/escalate"): frozenset({"supervisor"}),
    ("POST", "/api/agents/{agent_id}/{action}"): frozenset({"supervisor"}),
    ("POST", "/api/calls/{call_id}/escalate"): frozenset({"supervisor"}),
    ("GET", "/api/back-office"): frozenset({"supervisor", "backoffice", "engineer"}),
    ("GET", "/api/tickets"): frozenset({"supervisor", "backoffice"}),
    ("GET", "/api/tickets/{ticket_id}"): frozenset({"supervisor"}),
    ("POST", "/api/tickets/{ticket_id}/{action}"): frozenset({"supervisor"}),
    ("GET", "/api/events"): ALL,          # each role its own view (acd.api.feed)
    ("GET", "/api/audit"): frozenset({"supervisor"}),
    ("GET", "/metrics"): frozenset({"supervisor", "engineer"}),     # and tokens with the metrics:scrape scope
    ("GET", "/api/agents/{agent_id}/caller"): frozenset({"supervisor"}),     # an agent: its own caller only
    ("GET", "/api/escalation-units"): frozenset({"agent", "supervisor"}),
    ("GET", "/api/openapi.json"): ALL,
    ("GET", "/supervisor"): frozenset({"supervisor", "engineer", "planner"}),
    ("POST", "/api/agents/{agent_id}/spy/{mode}"): frozenset({"supervisor"}),
}
PAGES = {"/", "/agent", "/backoffice", "/supervisor"}


def concrete(path: str, world: World) -> str:
    action = "claim" if path.startswith("/api/tickets") else "logout"
    return path.format(agent_id="12", action=action, call_id="c2", ticket_id=world.tickets["b"], mode="listen")


async def test_every_route_of_the_router_refuses_the_anonymous_and_the_roles_that_must_not_use_it(world):
    routes = [(r.method, r.resource.canonical) for r in world.client.app.router.routes() if r.resource is not None]
    declared = {(method, path) for method, path in routes if method != "HEAD"}
    assert declared == set(EXPECTED), "a route was added or removed: say here who may use it"
    body = {"agent_id": "12", "pin": "0000", "note": "x"}
    for method, path in routes:
        expected = EXPECTED[("GET" if method == "HEAD" else method, path)]
        url = concrete(path, world)
        client = await world.as_(None)
        r = await client.request(method, url, json=body, allow_redirects=False)
        if expected is OPEN:
            assert r.status not in (401, 403, 302), (method, path, r.status)
            continue
        if path in PAGES:
            assert r.status == 302 and r.headers["Location"].startswith("/login?next="), (method, path)
        else:
            assert r.status == 401, (method, path, r.status)
        for role, name in BY_ROLE.items():
            client = await world.as_(name)
            r = await client.request(method, url, json=body, allow_redirects=False)
            if role in expected:
                assert r.status not in (401, 403), (method, path, role, r.status, await r.text())
            else:
                assert r.status == 403, (method, path, role, r.status, await r.text())


async def test_a_route_added_without_a_rule_is_refused_to_everyone(world):
    app = make_app(world.live, auth=world.auth, settings=PLAIN_HTTP)

    async def forgotten(request):
        return __import__("aiohttp").web.json_response({"secret": CALLER_A})

    app.router.add_get("/api/forgotten", forgotten)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        assert (await client.get("/api/forgotten")).status == 403
        await log_in(client, "sup")
        r = await client.get("/api/forgotten")
        assert r.status == 403 and "no access rule" in await r.text()
    finally:
        await client.close()


# -- the finer rules ------------------------------------------------------------------------------

async def test_an_agent_acts_only_on_itself_and_a_supervisor_on_anyone_without_a_pin(world):
    client = await world.as_("a11")
    me = await (await client.get("/api/me")).json()
    assert (me["role"], me["agent_id"]) == ("agent", "11")
    assert [a["id"] for a in (await (await client.get("/api/agents")).json())["agents"]] == ["11"]
    assert (await client.post("/api/agents/12/pause", json={"pin": "9999"})).status == 403   # even with 12's PIN
    assert (await client.post("/api/calls/c2/escalate", json={"agent_id": "12", "pin": "9999"})).status == 403
    assert (await client.post("/api/agents/11/ready", json={"pin": "0000"})).status == 403   # its own, wrong PIN
    world.live.feed(e.AgentHungUp(world.clock(), "c1"))
    r = await client.post("/api/agents/11/ready", json={"pin": "1234"})
    assert r.status == 200 and (await r.json())["state"] == "available"

    client = await world.as_("sup")
    r = await client.post("/api/agents/12/logout", json={})
    assert r.status in (200, 409)
    world.live.feed(e.AgentHungUp(world.clock(), "c2"))
    r = await client.post("/api/agents/11/logout", json={})
    assert r.status == 200 and world.live.engine.agents["11"].state.value == "logged_out"
    entries = (await (await client.get("/api/audit", params={"who": "person:sup"})).json())["entries"]
    logout = next(x for x in entries if x["action"] == "agent.logout" and x["target"] == "11")
    assert (logout["via"], logout["remote"], logout["before"], logout["after"]["state"]) == (
        "session", "127.0.0.1", {"state": "available"}, "logged_out")
    mine = (await (await client.get("/api/audit", params={"who": "person:a11"})).json())["entries"]
    assert [x["action"] for x in mine][:2] == ["agent.ready", "login"]


async def test_the_back_office_works_only_its_units_tickets_signed_by_itself(world):
    client = await world.as_("bo-a")
    listed = (await (await client.get("/api/tickets")).json())["tickets"]
    assert [t["id"] for t in listed] == [world.tickets["a"]]            # not b-desk's
    assert (await client.get("/api/tickets", params={"unit": "b-desk"})).status == 403
    assert (await client.get(f"/api/tickets/{world.tickets['b']}")).status == 403
    assert (await client.post(f"/api/tickets/{world.tickets['b']}/claim", json={})).status == 403
    r = await client.post(f"/api/tickets/{world.tickets['a']}/claim", json={})
    assert r.status == 200 and (await r.json())["ticket"]["claimed_by"] == "person:bo-a"
    client = await world.as_("sup")
    assert len((await (await client.get("/api/tickets")).json())["tickets"]) == 2      # a supervisor: every unit
    (claim,) = [x for x in (await (await client.get("/api/audit")).json())["entries"] if x["action"] == "ticket.claim"]
    assert (claim["who"], claim["target"], claim["before"], claim["after"]) == (
        "person:bo-a", world.tickets["a"], {"status": "open", "claimed_by": None},
        {"status": "claimed", "claimed_by": "person:bo-a"})
    # the audit keeps what changed, never the citizen's data it was about
    assert CALLER_A not in json.dumps(claim) and NOTE_A not in json.dumps(claim)


async def test_the_wallboard_sees_figures_and_no_personal_data(world):
    client = await world.as_("kiosk")
    r = await client.get("/api/queues")
    text = await r.text()
    assert r.status == 200 and json.loads(text)["queues"]["q"]["talking"] == 1
    assert (await client.get("/", allow_redirects=False)).status == 200
    for personal in (CALLER_A, CALLER_B, NOTE_A, "c1", "c2"):
        assert personal not in text
    for url in ("/api/tickets", f"/api/tickets/{world.tickets['a']}", "/api/agents", "/api/calls",
                "/api/audit", "/backoffice", "/agent"):
        assert (await client.get(url, allow_redirects=False)).status == 403, url
    socket = await client.ws_connect("/api/events")          # the live feed: the same figures, nobody's data
    snapshot = await asyncio.wait_for(socket.receive_str(), 5)
    assert json.loads(snapshot)["view"] == "wallboard" and json.loads(snapshot)["queues"]["queues"]["q"]["talking"] == 1
    for personal in (CALLER_A, CALLER_B, NOTE_A, "c1", "c2", '"agent":', '"name"'):
        assert personal not in snapshot
    await socket.close()


# -- sessions, CSRF and tokens ----------------------------------------------------------------------

async def test_a_page_session_needs_its_csrf_token_for_every_change(world):
    client = await world.as_("a11")
    csrf = client.session.headers.pop("X-CSRF-Token")
    r = await client.post("/api/agents/11/pause", json={"pin": "1234"})
    assert r.status == 403 and "X-CSRF-Token" in await r.text()
    wrong = csrf[:-1] + ("y" if csrf.endswith("x") else "x")     # a token ending in x once made this pass
    r = await client.post("/api/agents/11/pause", json={"pin": "1234"}, headers={"X-CSRF-Token": wrong})
    assert r.status == 403
    assert (await client.get("/api/me")).status == 200                        # reading needs none
    assert world.live.engine.agents["11"].state.value != "paused"
    assert (await client.post("/api/logout", headers={"X-CSRF-Token": csrf})).status == 200
    assert (await client.get("/api/me")).status == 401


async def test_cookies_are_httponly_samesite_strict_and_secure_unless_turned_off(world):
    app = make_app(world.live, auth=world.auth, settings=AccessSettings())
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        r = await client.post("/api/login", json={"name": "sup", "password": PASSWORD})
        cookies = {c.key: c for c in r.cookies.values()}
        session = cookies["acd_session"]
        assert session["httponly"] and session["secure"] and session["samesite"] == "Strict"
        assert cookies["acd_csrf"]["secure"] and not cookies["acd_csrf"]["httponly"]
    finally:
        await client.close()


async def test_wrong_passwords_disabled_users_and_idle_sessions_are_refused(world):
    client = await world.as_(None)
    r = await client.post("/api/login", json={"name": "sup", "password": "not the password"})
    assert r.status == 401
    assert (await client.post("/api/login", json={"name": "nobody", "password": PASSWORD})).status == 401
    assert (await client.post("/api/login", json={"name": ["sup"], "password": PASSWORD})).status == 400
    client = await world.as_("plan")
    assert (await client.get("/api/calls")).status == 200
    await world.auth.set_disabled("plan")
    assert (await client.get("/api/calls")).status == 401                   # at once, not at the next login
    client = await world.as_("eng")
    world.clock.t += 13 * 3600                                               # idle past session_hours (12)
    assert (await client.get("/api/calls")).status == 401
    client = await world.as_("sup")
    failed = [x for x in (await (await client.get("/api/audit")).json())["entries"] if x["action"] == "login.failed"]
    assert {x["who"] for x in failed} == {"person:sup", "person:nobody"}


async def test_a_programs_token_carries_only_its_scopes_and_stops_when_revoked(world):
    token = await world.auth.issue_token("sup", ["figures", "agents:read"], label="wallboard hall B")
    client = await world.as_(None)
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/queues", headers=bearer)).status == 200
    assert (await client.get("/api/agents", headers=bearer)).status == 200
    assert (await client.get("/api/calls", headers=bearer)).status == 403    # the supervisor may; the token not
    assert (await client.post("/api/agents/11/logout", json={}, headers=bearer)).status == 403
    bad = {"Authorization": f"Bearer {token[:-2]}xx"}
    assert (await client.get("/api/queues", headers=bad)).status == 401
    assert (await client.get("/", headers=bad, allow_redirects=False)).status == 401
    await world.auth.revoke_token(token.split("_")[1])
    assert (await client.get("/api/queues", headers=bearer)).status == 401
    with pytest.raises(ValueError, match="does not hold"):
        await world.auth.issue_token("kiosk", ["tickets:read"])


async def test_the_events_websocket_needs_a_login(world):
    client = await world.as_(None)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/api/events")
    assert refused.value.status == 401
    client = await world.as_("eng")
    socket = await client.ws_connect("/api/events")
    assert (await asyncio.wait_for(socket.receive_json(), 5))["type"] == "snapshot"
    world.live.feed(e.CallArrived(world.clock(), "c3", "q"))
    message = await asyncio.wait_for(socket.receive_json(), 5)
    assert message["type"] == "delta" and message["queues"]["queues"]["q"]["waiting"] >= 1
    await socket.close()


async def test_the_audit_query_checks_its_parameters(world):
    client = await world.as_("sup")
    assert (await client.get("/api/audit", params={"since": "yesterday"})).status == 400
    assert (await client.get("/api/audit", params={"since": "nan"})).status == 400
    assert (await client.get("/api/audit", params={"limit": "0"})).status == 400
    r = await client.get("/api/audit", params={"since": str(world.clock.t), "limit": "5"})
    entries = (await r.json())["entries"]
    assert r.status == 200 and 1 <= len(entries) <= 5 and all(x["at"] >= world.clock.t for x in entries)


async def test_wrong_passwords_slow_one_address_without_locking_the_person_out(world):
    from acd.api.access import THROTTLE

    throttle = world.client.app[THROTTLE]
    throttle.now = world.clock
    client = await world.as_(None)
    for _ in range(throttle.limit):
        assert (await client.post("/api/login", json={"name": "sup", "password": "guess guess"})).status == 401
    r = await client.post("/api/login", json={"name": "sup", "password": PASSWORD})
    assert r.status == 429 and int(r.headers["Retry-After"]) > 0          # this address waits, even with the password
    throttle.failed("10.9.9.9")                                            # another address is not slowed by it
    assert throttle.retry_after("10.9.9.9") == 0
    world.clock.t += throttle.window + 1
    assert (await client.post("/api/login", json={"name": "sup", "password": PASSWORD})).status == 200


async def test_behind_a_trusted_proxy_the_forwarded_address_is_audited_and_throttled(world):
    from acd.api.access import THROTTLE

    app = make_app(world.live, auth=world.auth, settings=AccessSettings(secure_cookies=False,
                                                                        trusted_proxies=("127.0.0.1",)))
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        wrong = {"name": "sup", "password": "guess guess"}
        for _ in range(app[THROTTLE].limit):           # the client chose the first hop; the proxy added the last
            r = await client.post("/api/login", json=wrong, headers={"X-Forwarded-For": "1.2.3.4, 203.0.113.9"})
            assert r.status == 401
        right = {"name": "sup", "password": PASSWORD}
        assert (await client.post("/api/login", json=right, headers={"X-Forwarded-For": "203.0.113.9"})).status == 429
        r = await client.post("/api/login", json=right, headers={"X-Forwarded-For": "198.51.100.1"})
        assert r.status == 200                          # everyone else behind the same proxy still gets in
        entries = (await (await client.get("/api/audit")).json())["entries"]
        assert {x["remote"] for x in entries if x["action"] == "login.failed"} == {"203.0.113.9"}
        assert next(x for x in entries if x["action"] == "login")["remote"] == "198.51.100.1"
    finally:
        await client.close()
    # without a trusted proxy the header is the client's word, and ignored
    client = await world.as_(None)
    await client.post("/api/login", json={"name": "sup", "password": "guess guess"},
                      headers={"X-Forwarded-For": "203.0.113.77"})
    await world.as_("sup")
    entries = (await (await world.client.get("/api/audit")).json())["entries"]
    assert next(x for x in entries if x["action"] == "login.failed")["remote"] == "127.0.0.1"


def test_trusted_proxies_must_be_ip_addresses():
    from acd.config import ConfigError
    from acd.config.access import access_of

    good = load_config_text(CONFIG + "access: {trusted_proxies: ['127.0.0.1', '::1']}\n")
    assert access_of(good).trusted_proxies == ("127.0.0.1", "::1")
    with pytest.raises(ConfigError, match="not an IP address: 'proxy.local'"):
        load_config_text(CONFIG + "access: {trusted_proxies: [proxy.local]}\n", "acd.yaml")


def test_access_lines_are_off_unless_asked_and_logins_are_remembered_briefly():
    from acd.config import ConfigError
    from acd.config.access import access_of

    default = access_of(load_config_text(CONFIG))
    assert (default.access_log, default.remember_seconds) == (False, 2.0)
    asked = access_of(load_config_text(CONFIG + "access: {access_log: true, remember_seconds: 0}\n"))
    assert (asked.access_log, asked.remember_seconds) == (True, 0.0)
    with pytest.raises(ConfigError, match="remember_seconds"):
        load_config_text(CONFIG + "access: {remember_seconds: 3600}\n", "acd.yaml")


async def test_without_a_user_database_only_health_and_the_login_page_answer(world):
    client = TestClient(TestServer(make_app(world.live)))
    await client.start_server()
    try:
        assert (await client.get("/api/health")).status == 200
        assert (await client.get("/login")).status == 200
        assert (await client.get("/api/queues")).status == 401
        r = await client.post("/api/login", json={"name": "sup", "password": PASSWORD})
        assert r.status == 503 and "database_url" in await r.text()
    finally:
        await client.close()


async def test_an_open_event_stream_is_closed_once_its_login_ends(world, monkeypatch):
    monkeypatch.setattr("acd.api.app.RECHECK_EVERY", 0.05)
    client = await world.as_("eng")
    socket = await client.ws_connect("/api/events")
    assert (await asyncio.wait_for(socket.receive_json(), 5))["type"] == "snapshot"
    await asyncio.sleep(0.2)
    assert not socket.closed                                  # still logged in: it stays open
    await world.auth.set_disabled("eng")
    message = await asyncio.wait_for(socket.receive(), 5)
    assert message.type == aiohttp.WSMsgType.CLOSE and message.data == aiohttp.WSCloseCode.POLICY_VIOLATION
