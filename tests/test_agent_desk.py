"""The agent panel's caller: the card on the agent's own feed (number, IVR choices, wait),
the number's earlier calls and open tickets for the caller the agent talks to only,
audited; the units an escalation may go to. A real HTTP server, the records on SQLite."""
from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from acd.api import make_app
from acd.config import load_config_text
from acd.config.back_office import back_office_of
from acd.pin_guard import PinGuard
from acd.daemon.escalation import Escalations
from acd.daemon.live_engine import LiveEngine
from acd.engine import events as e
from acd.records import CallRecords, TicketDesk
from acd.records.ticket import new_ticket
from tests.auth_helpers import PLAIN_HTTP, log_in, people

CONFIG = """\
service: {name: test, languages: [el, en]}
skills: {topic:a: A, topic:b: B}
queues:
  q: {title: {el: Συντάξεις, en: Pensions}, requires: {topic:a: 1}, wrapup: 60}
  r: {requires: {topic:b: 1}, wrapup: 60}
agents:
  '11': {pin: '1234', skills: {topic:a: 3}}
  '12': {pin: '9999', skills: {topic:b: 3}}
back_office:
  units:
    a-desk: {title: Pensions desk, primary: team:bo-a, alternate: person:bo-a-head, queues: [q]}
    b-desk: {primary: team:bo-b, alternate: person:bo-b-head, queues: [r]}
"""
CITIZEN, OTHER = "2101234567", "2109999999"


class Clock:
    def __init__(self) -> None:
        self.t = 10_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
async def desk(tmp_path):
    """Two earlier calls from CITIZEN (one answered by 12, one abandoned), one from
    OTHER, an open ticket of CITIZEN's; then CITIZEN calls again and rings agent 11."""
    clock = Clock()
    config = load_config_text(CONFIG, "<desk>")
    live = LiveEngine(config, now=clock)
    numbers = {"old-1": CITIZEN, "old-2": CITIZEN, "old-3": OTHER, "now": CITIZEN}
    records = CallRecords(f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}", interval=0.05,
                          back_office=back_office_of(config), caller_number=numbers.get)
    await records.start()
    live.subscribe(records)
    escalations = Escalations(live, records.open_ticket, numbers.get)
    live.subscribe(escalations)
    for event in (e.AgentLoggedIn(clock(), "12"), e.CallArrived(clock(), "old-1", "r"),
                  e.OfferAnswered(clock() + 5, "old-1", "12"), e.CallerHungUp(clock() + 65, "old-1"),
                  e.CallArrived(clock() + 100, "old-2", "q", language="el"), e.CallerHungUp(clock() + 130, "old-2"),
                  e.CallArrived(clock() + 200, "old-3", "q"), e.CallerHungUp(clock() + 210, "old-3")):
        clock.t = event.at
        live.feed(event)
    office = back_office_of(config)
    records.open_ticket(new_ticket(office, call_id="old-1", queue="r", at=clock(), source="agent", agent_id="12",
                                   caller=CITIZEN, note="η σύνταξη του Μαΐου δεν ήρθε"))
    await records.flush()
    clock.t += 1000
    live.feed(e.AgentLoggedIn(clock(), "11"))
    live.feed(e.CallArrived(clock(), "now", "q", language="en", caller_type="employer"))
    app = make_app(live, PinGuard(now=clock), escalations, desk=TicketDesk(records.db, now=clock),
                   auth=await people(tmp_path, now=clock), settings=PLAIN_HTTP, caller_numbers=numbers.get)
    client = TestClient(TestServer(app))
    await client.start_server()
    yield client, live, clock
    await client.close()
    await records.close()
    live.clock.cancel()


async def test_the_agent_sees_its_callers_history_once_connected_and_the_read_is_audited(desk):
    client, live, clock = desk
    await log_in(client, "a11")
    r = await client.get("/api/agents/11/caller")
    assert r.status == 409 and (await r.json())["error"] == "not_connected"     # still ringing
    clock.t += 7
    live.feed(e.OfferAnswered(clock(), "now", "11"))
    r = await client.get("/api/agents/11/caller")
    assert r.status == 200, await r.text()
    body = await r.json()
    card = body["caller"]
    assert (card["call"], card["number"], card["queue"], card["language"], card["caller_type"]) == \
        ("now", CITIZEN, "q", "en", "employer")
    assert card["topic"] == {"el": "Συντάξεις", "en": "Pensions"} and card["waited"] == 7 and card["unit"] == "a-desk"
    calls = body["history"]["calls"]
    assert [(c["call_id"], c["outcome"], c["agent_id"]) for c in calls] == [("old-2", "abandoned", None),
                                                                            ("old-1", "answered", "12")]
    assert [(t["call_id"], t["status"], t["unit"]) for t in body["history"]["tickets"]] == [("old-1", "open", "b-desk")]
    await log_in(client, "sup")
    entries = (await (await client.get("/api/audit?limit=5")).json())["entries"]
    read = [x for x in entries if x["action"] == "caller.history"]
    assert [(x["who"], x["target"]) for x in read] == [("person:a11", "now")]


async def test_an_agent_reads_no_one_elses_caller_and_nobody_reads_without_a_call(desk):
    client, live, clock = desk
    live.feed(e.OfferAnswered(clock(), "now", "11"))
    await log_in(client, "a12")
    assert (await client.get("/api/agents/11/caller")).status == 403
    r = await client.get("/api/agents/12/caller")
    assert r.status == 404 and (await r.json())["error"] == "no_caller"
    await log_in(client, "kiosk")
    assert (await client.get("/api/agents/11/caller")).status == 403


async def test_the_card_rides_the_agents_own_feed_only_and_lasts_until_wrap_up_ends(desk):
    client, live, clock = desk
    sockets = {}
    for name in ("a11", "sup", "kiosk"):
        reader = TestClient(client.server)
        await log_in(reader, name)
        sockets[name] = (reader, await reader.ws_connect("/api/events"))
    own, floor, board = [await sockets[n][1].receive_json(timeout=5) for n in ("a11", "sup", "kiosk")]
    assert own["caller"]["call"] == "now" and own["caller"]["number"] == CITIZEN and own["caller"]["answered_at"] is None
    assert "caller" not in floor and "caller" not in board and CITIZEN not in str(floor) + str(board)
    live.feed(e.OfferAnswered(clock(), "now", "11"))
    own = await sockets["a11"][1].receive_json(timeout=5)
    assert own["agent"]["state"] == "on_call" and own["caller"]["answered_at"] == clock()
    live.feed(e.CallerHungUp(clock() + 30, "now"))
    own = await sockets["a11"][1].receive_json(timeout=5)
    assert own["agent"]["state"] == "wrap_up" and own["caller"]["ended_at"] == clock() + 30
    live.feed(e.AgentReady(clock() + 40, "11"))
    own = await sockets["a11"][1].receive_json(timeout=5)
    assert own["agent"]["state"] == "available" and own["caller"] is None
    for reader, socket in sockets.values():
        await socket.close()
        await reader.session.close()


async def test_a_missed_offer_takes_the_card_away(desk):
    client, live, clock = desk
    live.feed(e.OfferFailed(clock() + 3, "now", "11", "no_answer"))
    await log_in(client, "a11")
    assert (await client.get("/api/agents/11/caller")).status == 404


async def test_the_panel_offers_the_units_by_name_and_title_without_their_owners(desk):
    client, _, _ = desk
    await log_in(client, "a11")
    r = await client.get("/api/escalation-units")
    assert r.status == 200
    assert await r.json() == {"units": [{"name": "a-desk", "title": "Pensions desk"}, {"name": "b-desk", "title": ""}],
                              "default": None}


async def test_a_number_too_long_for_its_column_is_left_out_and_the_call_is_still_recorded(tmp_path):
    from sqlalchemy import select

    from acd.records.schema import calls

    live = LiveEngine(load_config_text(CONFIG, "<desk>"), now=Clock())
    records = CallRecords(f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}", interval=0.05,
                          caller_number={"long": "9" * 65, "fine": CITIZEN}.get)
    await records.start()
    live.subscribe(records)
    for call_id in ("long", "fine"):
        live.feed(e.CallArrived(live.now(), call_id, "q"))
        live.feed(e.CallerHungUp(live.now() + 5, call_id))
    await records.flush()
    async with records.db.connect() as conn:
        found = {r.call_id: r.caller for r in (await conn.execute(select(calls))).all()}
    assert found == {"long": None, "fine": CITIZEN}
    await records.close()
    live.clock.cancel()


# -- the card follows the agent, whatever happens ---------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from acd.api.agent_desk import CallerCards  # noqa: E402
from acd.engine import AgentState, Engine  # noqa: E402

_AGENTS, _CALLS = ("11", "12"), ("c1", "c2", "c3")
_AGENT = st.sampled_from(_AGENTS)
#: moves on an agent act on the call it has, if any (random call ids would rarely meet one)
_EVENT = st.one_of(
    st.tuples(st.just("answer"), _AGENT),
    st.tuples(st.sampled_from(("in", "out", "pause", "unpause", "ready", "agent_gone")), _AGENT),
    st.tuples(st.just("fail"), _AGENT, st.sampled_from(("no_answer", "busy", "unreachable"))),
    st.tuples(st.just("arrive"), st.sampled_from(_CALLS), st.sampled_from(("q", "r"))),
    st.tuples(st.just("caller_gone"), st.sampled_from(_CALLS)),
    st.tuples(st.just("wait"), st.sampled_from((1.0, 5.0, 30.0, 70.0))),     # 70: past the wrap-up
)


class _Live:
    def __init__(self, engine: Engine) -> None:
        self.engine, self.t = engine, 0.0

    def now(self) -> float:
        return self.t


def _event(move: tuple, live: _Live) -> e.Event:
    kind, *args = move
    at = live.t
    if kind in ("answer", "agent_gone", "fail"):
        call_id = live.engine.agents[args[0]].call_id or "none"
        if kind == "answer":
            return e.OfferAnswered(at, call_id, args[0])
        return e.AgentHungUp(at, call_id) if kind == "agent_gone" else e.OfferFailed(at, call_id, args[0], args[1])
    made = {"in": lambda a: e.AgentLoggedIn(at, a), "out": lambda a: e.AgentLoggedOut(at, a),
            "pause": lambda a: e.AgentPaused(at, a, "break"), "unpause": lambda a: e.AgentUnpaused(at, a),
            "ready": lambda a: e.AgentReady(at, a), "arrive": lambda c, q: e.CallArrived(at, c, q),
            "caller_gone": lambda c: e.CallerHungUp(at, c), "wait": lambda s: e.Tick(at)}
    return made[kind](*args)


@settings(max_examples=300, deadline=None)
@given(st.lists(_EVENT, max_size=40))
def test_an_agent_has_a_card_exactly_while_it_has_a_caller_and_it_is_that_callers(moves):
    """Ringing or on a call: the card is of the call the agent has; in wrap-up: of the
    call it just ended; in any other state: no card, so no number lingers on a panel."""
    live = _Live(Engine(load_config_text(CONFIG, "<desk>")))
    cards = CallerCards(live, {"c1": CITIZEN}.get)
    for move in [("in", "11"), ("in", "12"), *moves]:
        live.t += move[1] if move[0] == "wait" else 0.5
        cards(live.engine.handle(_event(move, live)))
        for agent in live.engine.agents.values():
            card = cards.card(agent.id)
            if agent.state in (AgentState.RINGING, AgentState.ON_CALL):
                assert card is not None and card["call"] == agent.call_id, (agent.id, agent.state)
                assert (card["answered_at"] is not None) == (agent.state is AgentState.ON_CALL)
                assert card["number"] == (CITIZEN if card["call"] == "c1" else None)
            elif agent.state is AgentState.WRAP_UP:
                assert card is not None and card["ended_at"] is not None, agent.id
            else:
                assert card is None, (agent.id, agent.state)
