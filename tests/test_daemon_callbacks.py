"""Callbacks: the agent's phone is rung over AMI Originate, its fate comes back as events."""
from __future__ import annotations

import asyncio

from acd.daemon.callbacks import CALLBACK_CONTEXT, CallbackDialer
from acd.engine import AgentState
from acd.engine import decisions as d
from acd.engine import events as e
from acd.protocol.errors import AMIActionError
from tests.daemon_fakes import Room, ringing, settle


class FakeAMI:
    """The AMIClient surface the dialer uses: a link the test brings up and down."""

    def __init__(self, answer: str = "Success", connected: bool = True) -> None:
        self.answer = answer
        self.connected = connected
        self.actions: list[tuple[str, dict]] = []
        self.handlers: dict[str, object] = {}
        self.ups: list = []
        self.downs: list = []
        #: AstDB: (family, key) -> value, and the keys DBGet asked for
        self.astdb: dict[tuple[str, str], str] = {}
        self.asked: list[str] = []

    def on_event(self, name, callback) -> None:
        self.handlers[name] = callback

    def on_connect(self, callback) -> None:
        self.ups.append(callback)

    def on_disconnect(self, callback) -> None:
        self.downs.append(callback)

    def up(self) -> None:
        self.connected = True
        for callback in self.ups:
            callback(self)

    def down(self) -> None:
        self.connected = False
        for callback in self.downs:
            callback("cut")

    async def action(self, name: str, **fields) -> dict:
        self.actions.append((name, fields))
        if name == "DBDel":      # main/db.c manager_dbdel
            found = self.astdb.pop((fields["Family"], fields["Key"]), None) is not None
            return {"Response": "Success" if found else "Error"}
        return {"Response": self.answer, "Message": "Originate successfully queued"}

    async def action_list(self, name: str, **fields) -> list[dict]:
        """DBGet as main/db.c manager_dbget answers it: Error when the key is absent, else
        one DBGetResponse event."""
        assert name == "DBGet"
        self.asked.append(fields["Key"])
        value = self.astdb.get((fields["Family"], fields["Key"]))
        if value is None:
            raise AMIActionError("DBGet", "Database entry not found")
        return [{"Event": "DBGetResponse", "Family": fields["Family"], "Key": fields["Key"], "Val": value}]

    @property
    def originated(self) -> list[dict]:
        return [fields for name, fields in self.actions if name == "Originate"]


class Book:
    """The callback book's surface the dialer and the room use, in memory."""

    def __init__(self) -> None:
        self.tries: list[tuple[str, bool]] = []
        self.pending: dict[str, str] = {}

    async def promise(self, call_id: str, queue: str, number: str, **attributes) -> None:
        self.pending[call_id] = number

    def tried(self, call_id: str, answered: bool) -> None:
        self.tries.append((call_id, answered))


async def callback_waiting(tmp_path, answer: str = "Success", connected: bool = True, routing: str = "",
                           astdb: dict | None = None):
    r = Room(tmp_path, routing=routing)
    r.book = Book()
    dialer = CallbackDialer(r.live, r.book)
    ami = FakeAMI(answer, connected)
    ami.astdb.update(astdb or {})
    dialer.install(ami)
    r.room.callbacks = dialer
    session = await r.arrive("1.1", ACD_CALLBACK="2101234567")
    session.hang_up()                                 # the caller leaves; the place stays
    await asyncio.wait_for(r.tasks[0], 1)
    assert "1.1" in r.live.engine.calls
    r.login("11")
    await settle()
    return r, ami


async def test_callback_rings_the_agent_first_into_the_callback_context(tmp_path):
    r, ami = await callback_waiting(tmp_path)
    [fields] = ami.originated
    assert ami.asked == ["1.1"] and fields["Channel"] == "PJSIP/agent-11"
    assert (fields["Context"], fields["Exten"], fields["Async"]) == (CALLBACK_CONTEXT, "2101234567", "true")
    assert fields["Timeout"] == "15000" and "ACD_CALLID=1.1" in fields["Variable"]


async def test_answered_callback_connects_and_the_agent_hang_up_ends_it(tmp_path):
    r, ami = await callback_waiting(tmp_path)
    channel = ami.actions[0][1]["ChannelId"]
    ami.handlers["OriginateResponse"]({"Response": "Success", "Uniqueid": channel, "Reason": "4"})
    assert r.live.engine.agents["11"].state is AgentState.ON_CALL
    ami.handlers["Hangup"]({"Uniqueid": channel})
    assert [x.by for x in r.of(d.CallEnded)] == ["agent"]


async def test_agent_who_does_not_answer_a_callback_is_skipped_and_the_callback_stays(tmp_path):
    r, ami = await callback_waiting(tmp_path)
    channel = ami.actions[0][1]["ChannelId"]
    ami.handlers["OriginateResponse"]({"Response": "Failure", "Uniqueid": channel, "Reason": "3"})
    assert [x.reason for x in r.of(d.OfferMissed)] == ["no_answer"]
    assert "1.1" in r.live.engine.calls
    ami.handlers["Hangup"]({"Uniqueid": channel})     # the failed leg's hang-up changes nothing
    assert r.of(d.CallEnded) == []


async def test_originate_refused_by_asterisk_is_no_miss_of_the_agent_but_a_try_of_the_callback(tmp_path):
    r, ami = await callback_waiting(tmp_path, answer="Error")
    await settle()
    assert r.of(d.OfferMissed) == [] and "RINGNOANSWER" not in r.queue_log_events()
    assert [x.call_id for x in r.of(d.OfferWithdrawn)] == ["1.1"]
    assert r.live.engine.agents["11"].misses == 0 and r.book.tries == [("1.1", False)]
    assert "1.1" not in r.live.engine.calls          # out of line until the book's retry delay


async def test_no_originate_while_ami_is_down_and_the_callback_keeps_its_place(tmp_path):
    """Issue 9 item 8: AMI down with a callback at the head burned free agents (failed
    originations counted as RINGNOANSWER, each resting the agent)."""
    r, ami = await callback_waiting(tmp_path, connected=False, routing="missed_offer_rest: 5\n")
    assert ami.actions == [] and r.of(d.OfferCall) == []
    later = await r.arrive("1.2")                    # a caller behind the callback is served
    [(dialled, _)] = [await ringing(later)]
    assert dialled.startswith("PJSIP/agent-11")
    assert r.of(d.OfferMissed) == [] and r.live.engine.agents["11"].misses == 0
    r.login("12")
    ami.up()
    await settle()
    [(name, fields)] = ami.actions
    assert name == "Originate" and fields["Channel"] == "PJSIP/agent-12"


async def test_a_link_lost_while_placing_pauses_callbacks_without_blaming_the_agent(tmp_path):
    r, ami = await callback_waiting(tmp_path, connected=False)
    ami.connected = True                             # the dialer has not heard of it yet
    ami.up()
    ami.answer = "lost"

    async def lost(name: str, **fields) -> dict:
        ami.connected = False
        raise ConnectionError("AMI link lost")
    ami.action = lost
    r.login("12")
    await settle()
    assert r.of(d.OfferMissed) == [] and len(r.of(d.OfferWithdrawn)) >= 1
    assert r.live.engine.agents["11"].state is AgentState.AVAILABLE
    assert r.book.tries == [] and "1.1" in r.live.engine.calls


async def test_the_citizens_answer_is_the_tries_outcome(tmp_path):
    r, ami = await callback_waiting(tmp_path)
    channel = ami.actions[0][1]["ChannelId"]
    ami.handlers["OriginateResponse"]({"Response": "Success", "Uniqueid": channel, "Reason": "4"})
    ami.handlers["DialEnd"]({"Uniqueid": channel, "DialStatus": "NOANSWER"})
    ami.handlers["Hangup"]({"Uniqueid": channel})
    assert r.book.tries == [("1.1", False)]


async def test_callback_left_after_the_max_wait_is_kept_and_placed(tmp_path):
    """Issue 9 item 1: the max wait ends in the callback exit; the caller leaves a number
    and re-enters the waiting room with the same call id and the original enqueue time
    (what the generated dialplan's ``acd-exit,callback`` keeps). That must be a callback
    waiting at its place, not a second max-wait exit."""
    r = Room(tmp_path)
    dialer = CallbackDialer(r.live)
    ami = FakeAMI()
    dialer.install(ami)
    r.room.callbacks = dialer
    first = await r.arrive("1.1")
    r.clock.now += 301
    r.live.feed(e.Tick(r.clock.now))
    await asyncio.wait_for(r.tasks[0], 1)
    assert (first.vars["ACD_WAIT_RESULT"], first.vars["ACD_EXIT"]) == ("exit", "callback")
    kept = {name: first.vars[name] for name in ("ACD_CALLID", "ACD_QUEUE", "ACD_ENQUEUED_AT")}
    r.clock.now += 20                                # the IVR asks for the number
    again = await r.arrive("1.1", ACD_CALLBACK="2101234567", **kept)
    again.hang_up()
    await asyncio.wait_for(r.tasks[1], 1)
    assert len(r.of(d.ExitCall)) == 1
    call = r.live.engine.calls["1.1"]
    assert call.callback == "2101234567" and call.enqueued_at == float(kept["ACD_ENQUEUED_AT"])
    r.clock.now += 3600
    r.live.feed(e.Tick(r.clock.now))                 # no max wait for a callback: its window rules
    assert "1.1" in r.live.engine.calls
    r.login("11")
    await settle()
    [(name, fields)] = ami.actions
    assert name == "Originate" and fields["Exten"] == "2101234567"


RESTART_CONFIG = """\
service: {{name: test, languages: [el, en]}}
skills: {{topic:a: A}}
queues:
  q: {{requires: {{topic:a: 1}}, max_wait: 60, on_max_wait: callback}}
agents:
  '11': {{pin: '1234', skills: {{topic:a: 3}}}}
routing: {{callback_attempts: 2, callback_retry_delay: 0}}
daemon: {{queue_log: {var}/queue_log, database_url: 'sqlite+aiosqlite:///{var}/acd.sqlite3', agi_port: {agi},
         ami_port: {ami}}}
"""


async def test_a_promised_callback_survives_a_daemon_restart_and_is_made(tmp_path):
    """Issue 9 item 3: a restart forgot everyone waiting to be called back. The promise
    is in the records database before it is confirmed; a new daemon puts it back at its
    place and places it; the outcome is stored."""
    from sqlalchemy import create_engine, text

    from acd.daemon.app import Daemon
    from rig.ports import free_port
    from tests.waiting import eventually

    (tmp_path / "var").mkdir()
    config = tmp_path / "acd.yaml"
    config.write_text(RESTART_CONFIG.format(var=tmp_path / "var", agi=free_port(15873), ami=free_port(15874)))
    first = Daemon(config, extras=False, book=True)
    await first.start()
    await eventually(lambda: first.book._sweeper is not None)
    route = type("Route", (), {"queue": "q", "callback": "2101234567", "requirements": {}, "priority": None,
                               "language": "el", "caller_type": "citizen"})()
    place = await first.promise_callback("cb-1", route, 1_700_000_000.0)
    assert place == 1_700_000_000.0 and first.live.engine.calls["cb-1"].callback == "2101234567"
    await first.stop()

    second = Daemon(config, extras=False, book=True)
    await second.start()
    try:
        await eventually(lambda: "cb-1" in second.live.engine.calls)
        call = second.live.engine.calls["cb-1"]
        assert (call.callback, call.enqueued_at) == ("2101234567", 1_700_000_000.0)
        ami = FakeAMI()
        second.callbacks.install(ami)
        second.live.feed(e.AgentLoggedIn(second.live.now(), "11"))
        await settle()
        [(name, fields)] = ami.actions
        assert name == "Originate" and fields["Exten"] == "2101234567"
        channel = fields["ChannelId"]
        ami.handlers["OriginateResponse"]({"Response": "Success", "Uniqueid": channel})
        ami.handlers["DialEnd"]({"Uniqueid": channel, "DialStatus": "ANSWER"})
        ami.handlers["Hangup"]({"Uniqueid": channel})
        await eventually(lambda: not second.book._writes and "cb-1" not in second.book.pending)
    finally:
        await second.stop()
    db = create_engine(f"sqlite:///{tmp_path / 'var' / 'acd.sqlite3'}")
    with db.connect() as conn:
        row = conn.execute(text("SELECT status, attempts FROM callbacks WHERE call_id = 'cb-1'")).one()
    assert tuple(row) == ("answered", 1)


async def test_a_callback_caller_still_on_the_line_is_answered_there_and_the_promise_is_kept(tmp_path):
    r = Room(tmp_path)
    r.book = Book()
    dialer = CallbackDialer(r.live, r.book)
    ami = FakeAMI()
    dialer.install(ami)
    r.room.callbacks = dialer
    session = await r.arrive("1.1", ACD_CALLBACK="2101234567")
    r.login("11")
    _, outcome = await ringing(session)               # rung from the caller's own session
    r.room.dial_answered("1.1", "agent-chan", r.clock.now)
    outcome.set_result(("ANSWER", 0))
    await asyncio.wait_for(r.tasks[0], 1)
    assert ami.actions == [] and r.book.tries == [("1.1", True)]


async def test_a_daemon_that_lost_the_lease_never_rings_a_citizen_back(tmp_path):
    """Issue 9, fencing: a leader whose lease another daemon took since its last renewal
    (a paused process) asks the lease right before the Originate and places nothing; the
    callback keeps its place for the daemon that holds the lease now."""
    r = Room(tmp_path)
    r.book = Book()
    dialer = CallbackDialer(r.live, r.book)
    asked: list[bool] = []

    async def lost() -> bool:
        asked.append(False)
        return False

    dialer.fence = lost
    ami = FakeAMI()
    dialer.install(ami)
    r.room.callbacks = dialer
    session = await r.arrive("1.1", ACD_CALLBACK="2101234567")
    session.hang_up()
    await asyncio.wait_for(r.tasks[0], 1)
    r.login("11")
    await settle()
    assert asked == [False] and ami.actions == []
    assert "1.1" in r.live.engine.calls and r.of(d.OfferMissed) == []
    assert r.live.engine.agents["11"].misses == 0 and r.book.tries == []
    assert not dialer.active


async def test_a_try_answered_while_no_daemon_listened_is_never_made_again(tmp_path):
    """bench.failover: callback 1796321222.49 was made twice. The killed daemon's try was
    answered; the standby's resync could not read the gone channel, so its book still had
    the callback pending. The dialplan noted the answer in AstDB: asked right before the
    Originate, it counts as the answered try; nobody is rung and the agent is free."""
    r, ami = await callback_waiting(tmp_path, astdb={("acd-callback", "1.1"): "answered"})
    assert ami.originated == [] and r.book.tries == [("1.1", True)]
    assert "1.1" not in r.live.engine.calls and r.live.engine.agents["11"].state is AgentState.AVAILABLE
    assert r.of(d.OfferMissed) == [] and r.live.engine.agents["11"].misses == 0
    assert "EXITWITHTIMEOUT" not in r.queue_log_events()     # the earlier daemon's queue_log has the call


async def test_the_answer_note_is_deleted_once_the_outcome_is_written(tmp_path):
    r, ami = await callback_waiting(tmp_path, astdb={("acd-callback", "1.1"): "answered"})
    await r.room.callbacks.forget_answer("1.1")
    assert ami.astdb == {} and ("DBDel", {"Family": "acd-callback", "Key": "1.1"}) in ami.actions


async def test_an_answer_note_not_deleted_while_the_link_is_down_is_deleted_at_its_return(tmp_path):
    r, ami = await callback_waiting(tmp_path, astdb={("acd-callback", "1.1"): "answered"})
    ami.down()
    await r.room.callbacks.forget_answer("1.1")
    assert ami.astdb != {}
    ami.up()
    await settle()
    assert ami.astdb == {}


async def test_a_daemon_restarted_as_the_standby_offers_its_unmirrored_promises(tmp_path, redis_url):
    """bench.failover: the killed daemon came back as the standby, which opens no book, so
    the promise on its disk only waited for ever. Starting, the standby offers it."""
    import json
    import uuid

    import redis.asyncio as aioredis

    from acd.daemon.app import Daemon
    from acd.daemon.callback_book import Callback
    from rig.ports import free_port
    from tests.waiting import eventually

    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
    await redis.set(f"{prefix}leader", "the other daemon", px=60_000)      # the active one holds the lease
    (tmp_path / "var").mkdir()
    config = tmp_path / "acd.yaml"
    config.write_text(RESTART_CONFIG.format(var=tmp_path / "var", agi=free_port(15875), ami=free_port(15876))
                      .replace("daemon: {", f"daemon: {{redis_url: '{redis_url}', redis_prefix: '{prefix}', "
                                            "lease: true, "))
    standby = Daemon(config, extras=False, book=True)
    kept = Callback("cb-disk", "q", "2101234567", 1_700_000_000.0, 1_700_000_000.0, standby.live.now() + 3600)
    await standby.book.offer()                   # creates the table: the killed daemon's own database
    await standby.book._store(kept)
    await standby.start()
    try:
        await eventually(lambda: standby._offer_task.done())
        assert json.loads(await redis.hget(f"{prefix}callbacks", "cb-disk"))["status"] == "pending"
        assert standby.room.standby and "cb-disk" not in standby.live.engine.calls     # not made here
    finally:
        await standby.stop()
        await redis.delete(f"{prefix}callbacks", f"{prefix}leader")
        await redis.aclose()
