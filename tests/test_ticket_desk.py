"""The back office's side of tickets: the state machine, the desk on SQLite and on a real
PostgreSQL, the API and page over a real HTTP server, and a daemon upgraded on a
database written by the version before the desk."""
from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from acd.api import make_app
from acd.config import load_config_text
from acd.config.back_office import back_office_of
from acd.pin_guard import PinGuard
from acd.daemon.app import Daemon
from acd.daemon.escalation import Escalations
from acd.daemon.live_engine import LiveEngine
from acd.engine import events as e
from acd.records import CallRecords, TicketDesk, TicketRefused, metadata, tickets
from acd.records.schema import SchemaMismatch, create_or_upgrade
from acd.records.ticket import MAX_NOTE, TRANSITIONS, move, new_ticket
from tests.auth_helpers import PLAIN_HTTP, log_in, people, program_token
from tests.databases import drop_everything
from tests.engine_helpers import make_config

DESK = """\
service: {name: test, languages: [el]}
skills: {topic:a: A, topic:b: B}
queues:
  q: {requires: {topic:a: 1}, wrapup: 60}
  r: {requires: {topic:b: 1}, wrapup: 60}
agents:
  '11': {pin: '1234', skills: {topic:a: 3, topic:b: 3}}
back_office:
  units:
    a-desk: {title: A desk, primary: team:bo-a, alternate: person:bo-a-head, queues: [q]}
    b-desk: {primary: team:bo-b, alternate: person:bo-b-head, queues: [r]}
"""

#: the ``tickets`` table as the release before the ticket desk created it
OLD_TICKETS = """\
CREATE TABLE tickets (
    id VARCHAR(32) NOT NULL, call_id VARCHAR(64) NOT NULL, created_at FLOAT NOT NULL,
    queue VARCHAR(64) NOT NULL, unit VARCHAR(64), primary_owner VARCHAR(128), alternate_owner VARCHAR(128),
    source VARCHAR(16) NOT NULL, agent_id VARCHAR(16), caller VARCHAR(64), note TEXT,
    status VARCHAR(16) NOT NULL, PRIMARY KEY (id))"""
OLD_ROW = """\
INSERT INTO tickets (id, call_id, created_at, queue, unit, primary_owner, alternate_owner, source, agent_id,
                     caller, note, status)
VALUES ('old1', 'c-old', 100.0, 'q', 'a-desk', 'team:bo-a', 'person:bo-a-head', 'agent', '11',
        '2101234567', 'written before the upgrade', 'open')"""


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


# -- the state machine ---------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "action", "after"), [
    ("open", "claim", "claimed"), ("open", "resolve", "resolved"), ("claimed", "resolve", "resolved"),
    ("claimed", "release", "open"), ("resolved", "reopen", "open"),
])
def test_allowed_moves(status, action, after):
    changes = move("t1", status, action, who="person:e.markou", note="called the citizen back", at=5.0)
    assert changes["status"] == after and changes["updated_at"] == 5.0


@pytest.mark.parametrize(("status", "action"), [
    ("claimed", "claim"), ("resolved", "claim"), ("resolved", "resolve"), ("open", "reopen"),
    ("claimed", "reopen"), ("open", "release"), ("resolved", "release"),
])
def test_moves_the_status_does_not_allow_are_refused_and_say_from_where(status, action):
    with pytest.raises(TicketRefused) as refused:
        move("t1", status, action, who="person:e.markou", note="x", at=5.0)
    assert refused.value.kind == "not_allowed"
    assert f"ticket t1 is {status}; {action} is allowed from" in refused.value.reason


def test_every_status_a_move_leads_to_is_one_a_move_starts_from():
    """No dead end: whatever the back office does, some move leads on from it."""
    starts = set().union(*(t.allowed_from for t in TRANSITIONS.values()))
    assert {t.to for t in TRANSITIONS.values()} <= starts


def test_claim_release_resolve_reopen_keep_claimed_by_and_resolution_current():
    assert move("t", "open", "claim", who="person:a", note=None, at=1)["claimed_by"] == "person:a"
    assert move("t", "claimed", "release", who="person:a", note=None, at=1)["claimed_by"] is None
    resolved = move("t", "claimed", "resolve", who="person:b", note=" paid on 3 May ", at=1)
    assert resolved["resolution"] == "paid on 3 May" and "claimed_by" not in resolved   # who claimed it stays
    reopened = move("t", "resolved", "reopen", who="person:b", note=None, at=1)
    assert (reopened["claimed_by"], reopened["resolution"]) == (None, None)


def test_bad_requests_are_value_errors_before_the_status_is_looked_at():
    with pytest.raises(ValueError, match="needs a note"):
        move("t", "open", "resolve", who="person:a", note="   ", at=1)
    with pytest.raises(ValueError, match="owner id"):
        move("t", "open", "claim", who="Eleni Markou", note=None, at=1)
    with pytest.raises(ValueError, match="at most"):
        move("t", "open", "claim", who="person:a", note="x" * (MAX_NOTE + 1), at=1)
    with pytest.raises(ValueError, match="unknown action"):
        move("t", "open", "escalate", who="person:a", note=None, at=1)


# -- the desk on a real database ------------------------------------------------------------------

async def check_desk(url: str) -> None:
    """Tickets written by the call records are listed newest first by unit and status,
    moved through the state machine with a history, and refused clearly otherwise."""
    config = load_config_text(DESK, "<desk>")
    office = back_office_of(config)
    records = CallRecords(url, interval=0.05, back_office=office)
    async with records.db.begin() as conn:
        await conn.run_sync(drop_everything)
    await records.start()
    first = new_ticket(office, call_id="c1", queue="q", at=10, source="agent", agent_id="11", note="needs 2019 records")
    second = new_ticket(office, call_id="c2", queue="q", at=20, source="max_wait", caller="2101234567")
    other = new_ticket(office, call_id="c3", queue="r", at=30, source="agent", agent_id="11")
    for ticket in (first, second, other):
        records.open_ticket(ticket)
    await records.flush()
    clock = Clock(100.0)
    desk = TicketDesk(records.db, now=clock)
    try:
        listed = await desk.tickets(unit="a-desk", statuses=["open"])
        assert [t["id"] for t in listed] == [second.id, first.id]                 # newest first
        assert (listed[1]["note"], listed[0]["caller"], listed[0]["claimed_by"]) == (
            "needs 2019 records", "2101234567", None)
        assert [t["id"] for t in await desk.tickets(limit=1)] == [other.id]

        claimed = await desk.act(first.id, "claim", who="person:e.markou")
        assert (claimed["status"], claimed["claimed_by"], claimed["updated_at"]) == ("claimed", "person:e.markou", 100)
        with pytest.raises(TicketRefused) as refused:
            await desk.act(first.id, "claim", who="person:k.papas")
        assert refused.value.kind == "not_allowed"
        assert [t["id"] for t in await desk.tickets(unit="a-desk", statuses=["open"])] == [second.id]
        clock.t = 160.0
        with pytest.raises(ValueError, match="needs a note"):
            await desk.act(first.id, "resolve", who="person:e.markou")
        resolved = await desk.act(first.id, "resolve", who="person:e.markou", note="Recalculated; paid on 3 May")
        assert (resolved["status"], resolved["resolution"]) == ("resolved", "Recalculated; paid on 3 May")
        clock.t = 200.0
        reopened = await desk.act(first.id, "reopen", who="person:bo-a-head", note="the citizen called again")
        assert (reopened["status"], reopened["claimed_by"], reopened["resolution"]) == ("open", None, None)
        assert [(h["at"], h["action"], h["from_status"], h["to_status"], h["who"], h["note"])
                for h in reopened["history"]] == [
            (100, "claim", "open", "claimed", "person:e.markou", None),
            (160, "resolve", "claimed", "resolved", "person:e.markou", "Recalculated; paid on 3 May"),
            (200, "reopen", "resolved", "open", "person:bo-a-head", "the citizen called again"),
        ]

        with pytest.raises(TicketRefused) as refused:
            await desk.act("nope", "claim", who="person:e.markou")
        assert refused.value.kind == "unknown_ticket"
        with pytest.raises(TicketRefused):
            await desk.ticket("nope")
        with pytest.raises(ValueError, match="unknown status"):
            await desk.tickets(statuses=["closed"])

        # two people claim at once: one gets it, the other is told, nobody is overwritten
        outcomes = await asyncio.gather(desk.act(second.id, "claim", who="person:a"),
                                        desk.act(second.id, "claim", who="person:b"), return_exceptions=True)
        won = [o for o in outcomes if isinstance(o, dict)]
        lost = [o for o in outcomes if isinstance(o, TicketRefused)]
        assert len(won) == 1 and len(lost) == 1 and lost[0].kind in ("not_allowed", "changed")
        final = await desk.ticket(second.id)
        assert final["claimed_by"] == won[0]["claimed_by"] and len(final["history"]) == 1
    finally:
        await records.close()


async def test_desk_in_sqlite(tmp_path):
    await check_desk(f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}")


@pytest.mark.postgres
async def test_desk_in_postgresql(postgres_url):
    await check_desk(postgres_url)


async def check_upgrade(url: str) -> None:
    """A database whose ``tickets`` table predates the desk: the call records add the new
    columns and table at start, the old ticket is listed and can be worked, and a second
    start changes nothing."""
    db = create_async_engine(url)
    async with db.begin() as conn:
        await conn.run_sync(drop_everything)
        await conn.execute(text(OLD_TICKETS))
        await conn.execute(text(OLD_ROW))
    await db.dispose()
    for start, moved_at in enumerate((None, 500.0)):
        records = CallRecords(url, interval=0.05)
        await records.start()
        desk = TicketDesk(records.db, now=Clock(500.0 + start))
        try:
            (old,) = await desk.tickets(unit="a-desk", statuses=["open", "claimed"])
            assert (old["id"], old["note"], old["claimed_by"], old["updated_at"]) == (
                "old1", "written before the upgrade", None, moved_at)
            await desk.act("old1", "claim", who="person:e.markou")
            await desk.act("old1", "release", who="person:e.markou")
        finally:
            await records.close()
    db = create_async_engine(url)
    async with db.connect() as conn:
        added = await conn.run_sync(create_or_upgrade)
        row = (await conn.execute(select(tickets))).one()
    await db.dispose()
    assert added == [] and row.status == "open"


async def test_a_sqlite_file_from_before_the_desk_is_upgraded_in_place(tmp_path):
    await check_upgrade(f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}")


@pytest.mark.postgres
async def test_a_postgresql_database_from_before_the_desk_is_upgraded_in_place(postgres_url):
    await check_upgrade(postgres_url)


async def test_a_missing_column_that_cannot_be_added_is_refused_not_guessed(tmp_path):
    db = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}")
    async with db.begin() as conn:
        await conn.execute(text("CREATE TABLE tickets (id VARCHAR(32) NOT NULL PRIMARY KEY, note TEXT)"))
    with pytest.raises(SchemaMismatch, match="'tickets' has no column 'call_id'"):
        async with db.begin() as conn:
            await conn.run_sync(create_or_upgrade)
    await db.dispose()


async def test_a_ticket_moved_by_someone_else_between_read_and_write_is_refused_as_changed(tmp_path):
    """The desk reads the status, then writes on condition it is still the same: another
    desk's claim landing in between makes this one ``changed``, not a silent overwrite."""
    import sqlite3

    database = tmp_path / "acd.sqlite3"
    records = CallRecords(f"sqlite+aiosqlite:///{database}")
    await records.start()
    records.open_ticket(new_ticket(None, call_id="c1", queue="q", at=1, source="max_wait"))
    await records.flush()
    (row,) = await TicketDesk(records.db).tickets()

    def someone_else_claims_first() -> float:        # the desk asks the time between read and write
        with sqlite3.connect(database) as other:
            other.execute("UPDATE tickets SET status = 'claimed', claimed_by = 'person:b' WHERE id = ?", (row["id"],))
        return 5.0

    try:
        with pytest.raises(TicketRefused) as refused:
            await TicketDesk(records.db, now=someone_else_claims_first).act(row["id"], "claim", who="person:a")
        assert refused.value.kind == "changed"
        after = await TicketDesk(records.db).ticket(row["id"])
        assert (after["claimed_by"], after["history"]) == ("person:b", [])
    finally:
        await records.close()


# -- the API and the page --------------------------------------------------------------------------

@pytest.fixture
async def office(tmp_path):
    """The API as the daemon wires it, on SQLite: agent 11 took c1 and c2 and hung up."""
    clock = Clock()
    config = load_config_text(DESK, "<desk>")
    live = LiveEngine(config, now=clock)
    records = CallRecords(f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}", interval=0.05,
                          back_office=back_office_of(config))
    await records.start()
    escalations = Escalations(live, records.open_ticket)
    live.subscribe(escalations)
    live.feed(e.AgentLoggedIn(clock(), "11"))
    for call_id in ("c1", "c2"):
        live.feed(e.CallArrived(clock(), call_id, "q"))
        live.feed(e.OfferAnswered(clock(), call_id, "11"))
        live.feed(e.AgentHungUp(clock(), call_id))
        live.feed(e.AgentReady(clock(), "11"))
    desk = TicketDesk(records.db, now=clock)
    client = TestClient(TestServer(make_app(live, PinGuard(now=clock), escalations, desk=desk,
                                            auth=await people(tmp_path), settings=PLAIN_HTTP)))
    await client.start_server()
    await log_in(client, "a11")
    yield client, records, clock
    await client.close()
    await records.close()


async def escalate(client: TestClient, records: CallRecords, call_id: str, note: str, then: str = "bo-a") -> str:
    """Agent 11 escalates ``call_id``; then ``then`` (the a-desk back office) is logged in."""
    await log_in(client, "a11")
    r = await client.post(f"/api/calls/{call_id}/escalate", json={"agent_id": "11", "pin": "1234", "note": note})
    assert r.status == 201
    await records.flush()
    await log_in(client, then)
    return (await r.json())["ticket"]["id"]


async def test_the_back_office_lists_claims_and_resolves_an_escalated_call(office):
    client, records, clock = office
    ticket = await escalate(client, records, "c1", "Η σύνταξη δεν έχει καταβληθεί")
    clock.t += 90
    r = await client.get("/api/tickets", params={"unit": "a-desk", "status": "open,claimed"})
    data = await r.json()
    assert r.status == 200 and data["now"] == clock.t
    (listed,) = data["tickets"]
    assert (listed["id"], listed["queue"], listed["note"], listed["status"]) == (
        ticket, "q", "Η σύνταξη δεν έχει καταβληθεί", "open")
    assert data["now"] - listed["created_at"] == 90
    assert (await client.get("/api/tickets", params={"unit": "b-desk"})).status == 403     # not bo-a's unit

    r = await client.post(f"/api/tickets/{ticket}/claim", json={})
    assert r.status == 200 and (await r.json())["ticket"]["claimed_by"] == "person:bo-a"
    r = await client.post(f"/api/tickets/{ticket}/resolve", json={"note": "Πληρώθηκε"})
    body = await r.json()
    assert r.status == 200 and (body["ticket"]["status"], body["ticket"]["resolution"]) == ("resolved", "Πληρώθηκε")
    r = await client.get(f"/api/tickets/{ticket}")
    history = (await r.json())["ticket"]["history"]
    assert [(h["action"], h["who"]) for h in history] == [("claim", "person:bo-a"), ("resolve", "person:bo-a")]
    await log_in(client, "sup")
    r = await client.post(f"/api/tickets/{ticket}/reopen", json={})
    assert r.status == 200 and (await r.json())["ticket"]["status"] == "open"
    r = await client.get(f"/api/tickets/{ticket}")
    assert [h["who"] for h in (await r.json())["ticket"]["history"]][-1] == "person:sup"


async def test_ticket_refusals_get_clear_errors(office):
    client, records, _ = office
    ticket = await escalate(client, records, "c2", "x")
    r = await client.post("/api/tickets/nope/claim", json={})
    assert r.status == 404 and (await r.json())["error"] == "unknown_ticket"
    assert (await client.get("/api/tickets/nope")).status == 404
    assert (await client.post(f"/api/tickets/{ticket}/escalate", json={})).status == 404
    r = await client.post(f"/api/tickets/{ticket}/reopen", json={})
    body = await r.json()
    assert r.status == 409 and body["error"] == "not_allowed" and "reopen is allowed from resolved" in body["reason"]
    r = await client.post(f"/api/tickets/{ticket}/resolve", json={})
    assert r.status == 400 and "needs a note" in await r.text()
    r = await client.post(f"/api/tickets/{ticket}/resolve", json={"note": "x" * 5000})
    assert r.status == 400 and "at most" in await r.text()
    r = await client.post(f"/api/tickets/{ticket}/claim", json={"who": "person:someone-else"})
    assert r.status == 400 and "signed by the person logged in" in await r.text()        # no free-text who
    r = await client.post(f"/api/tickets/{ticket}/claim", json={"note": 5})
    assert r.status == 400 and "note" in await r.text()
    r = await client.post(f"/api/tickets/{ticket}/claim", data=b"[1]")
    assert r.status == 400 and "JSON object" in await r.text()
    assert (await client.get("/api/tickets", params={"status": "closed"})).status == 400
    assert (await client.get("/api/tickets", params={"limit": "lots"})).status == 400
    assert (await client.get("/api/tickets", params={"limit": "0"})).status == 400
    assert (await (await client.get(f"/api/tickets/{ticket}")).json())["ticket"]["status"] == "open"


async def test_the_back_office_page_and_the_units_it_offers(office):
    client, _, _ = office
    await log_in(client, "bo-a")
    r = await client.get("/backoffice")
    page = await r.text()
    assert r.status == 200 and "/api/tickets" in page and "/api/back-office" in page
    units = (await (await client.get("/api/back-office")).json())["units"]
    assert [(u["name"], u["title"], u["primary"], u["alternate"], u["queues"]) for u in units] == [
        ("a-desk", "A desk", "team:bo-a", "person:bo-a-head", ["q"]),
        ("b-desk", "", "team:bo-b", "person:bo-b-head", ["r"])]


async def test_without_call_records_the_ticket_routes_are_unavailable(tmp_path):
    live = LiveEngine(make_config("q:\n  requires: {topic:a: 1}\n", "'11': {pin: '1234', skills: {topic:a: 3}}\n"))
    client = TestClient(TestServer(make_app(live, auth=await people(tmp_path), settings=PLAIN_HTTP)))
    await client.start_server()
    await log_in(client, "sup")
    try:
        assert (await client.get("/api/tickets")).status == 503
        assert (await client.post("/api/tickets/t1/claim", json={})).status == 503
        assert (await (await client.get("/api/back-office")).json())["units"] == []
    finally:
        await client.close()
        live.clock.cancel()


async def test_a_database_that_stops_answering_is_a_503_not_a_crash(office):
    client, records, _ = office
    ticket = await escalate(client, records, "c1", "x")
    Path(str(records.db.url.database)).unlink()
    Path(str(records.db.url.database)).mkdir()          # the file is now a directory: no database there
    await records.db.dispose()
    assert (await client.get("/api/tickets")).status == 503
    assert (await client.post(f"/api/tickets/{ticket}/claim", json={})).status == 503


# -- the daemon, upgraded on its old database ------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_a_daemon_upgraded_on_its_old_sqlite_file_serves_the_old_tickets(tmp_path):
    database = tmp_path / "acd.sqlite3"
    db = create_async_engine(f"sqlite+aiosqlite:///{database}")
    async with db.begin() as conn:
        await conn.execute(text(OLD_TICKETS))
        await conn.execute(text(OLD_ROW))
    await db.dispose()
    api = free_port()
    path = tmp_path / "acd.yaml"
    path.write_text(DESK + f"daemon: {{database_url: 'sqlite+aiosqlite:///{database}', api_port: {api}, "
                           f"agi_port: {free_port()}, ami_port: {free_port()}, queue_log: {tmp_path / 'queue_log'}}}\n")
    token = await program_token(f"sqlite+aiosqlite:///{database}", scopes=("tickets:read", "tickets:act", "tickets:all-units"))
    daemon = Daemon(path)
    await daemon.start()
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{api}") as http:
            assert (await http.get("/api/tickets")).status == 401
            http.headers["Authorization"] = f"Bearer {token}"
            r = await http.get("/api/tickets", params={"unit": "a-desk"})
            assert r.status == 200
            (old,) = (await r.json())["tickets"]
            assert (old["id"], old["caller"], old["status"]) == ("old1", "2101234567", "open")
            r = await http.post("/api/tickets/old1/resolve", json={"note": "called back"})
            assert r.status == 200 and (await r.json())["ticket"]["status"] == "resolved"
            assert (await r.json())["ticket"]["claimed_by"] is None
            assert (await http.get("/backoffice", allow_redirects=False)).status == 200
    finally:
        await daemon.stop()
