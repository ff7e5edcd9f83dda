"""Escalation's own rules (whose call, which one from the phone, a callback number as the
caller's), the callers' numbers learnt from AMI, and the daemon's wiring of both."""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from acd.agent_desk import EscalationRefused
from acd.config import load_config_text
from acd.daemon.app import Daemon
from acd.daemon.caller_numbers import CallerNumbers
from acd.daemon.escalation import Escalations
from acd.daemon.live_engine import LiveEngine
from acd.engine import events as e
from acd.config.back_office import back_office_of
from acd.records import CallRecords, TicketDesk
from acd.records.ticket import Ticket, new_ticket

CONFIG = """\
service: {name: test, languages: [el]}
skills: {topic:a: A}
queues:
  q: {requires: {topic:a: 1}, wrapup: 60}
agents:
  '11': {pin: '1234', skills: {topic:a: 3}}
  '12': {pin: '9876', skills: {topic:a: 3}}
back_office:
  units:
    a-desk: {primary: team:bo-a, alternate: person:bo-a-head, queues: [q]}
"""


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def desk():
    clock = Clock()
    live = LiveEngine(load_config_text(CONFIG, "<t>"), now=clock)
    stored: list[Ticket] = []
    escalations = Escalations(live, stored.append, memory=3)
    live.subscribe(escalations)
    return live, escalations, stored


def take(live: LiveEngine, call_id: str, agent_id: str, callback: str | None = None) -> None:
    live.feed(e.AgentLoggedIn(live.now(), agent_id))
    live.feed(e.CallArrived(live.now(), call_id, "q", callback=callback))
    live.feed(e.OfferAnswered(live.now(), call_id, agent_id))


async def test_the_phone_means_the_current_call_then_the_one_just_ended(desk):
    live, escalations, stored = desk
    take(live, "c1", "11")
    assert escalations.escalate("11").call_id == "c1"         # on the call
    live.feed(e.AgentHungUp(live.now(), "c1"))
    with pytest.raises(EscalationRefused) as refused:           # the same call, now in wrap-up
        escalations.escalate("11")
    assert refused.value.kind == "already"
    assert [t.call_id for t in stored] == ["c1"]


async def test_only_the_agent_who_took_the_call_escalates_it(desk):
    live, escalations, stored = desk
    take(live, "c1", "11")
    with pytest.raises(EscalationRefused) as refused:
        escalations.escalate("12", "c1")
    assert refused.value.kind == "not_your_call" and "agent 12 did not take call c1" in refused.value.reason
    with pytest.raises(EscalationRefused) as idle:
        escalations.escalate("12")                              # logged out, no call
    assert idle.value.kind == "no_call"
    assert stored == []


async def test_a_callback_number_is_the_callers_number_when_nothing_better_is_known(desk):
    live, escalations, _ = desk
    take(live, "cb", "11", callback="6912345678")
    assert escalations.escalate("11", "cb").caller == "6912345678"


async def test_the_memory_of_taken_calls_is_bounded(desk):
    live, escalations, _ = desk
    for n in range(5):
        take(live, f"c{n}", "11")
        live.feed(e.AgentHungUp(live.now(), f"c{n}"))
        live.feed(e.Tick(live.now() + 61 * (n + 1)))
        live.clock.cancel()
    with pytest.raises(EscalationRefused) as refused:
        escalations.escalate("11", "c0")
    assert refused.value.kind == "unknown_call"
    assert escalations.escalate("11", "c4").call_id == "c4"


# -- calls an earlier daemon connected (found at resync by the AMI bridge) ------------------

async def test_a_call_found_after_a_restart_is_the_phones_call_while_the_phone_is_on_it(desk):
    live, escalations, stored = desk
    live.feed(e.AgentLoggedIn(live.now(), "11"))             # the roster's restore: available, no call
    escalations.found_on_call("11", "old", "q", "2101234567")
    live.now.now += 600                                        # however long the call lasts
    ticket = escalations.escalate("11", note="pension not paid")
    assert (ticket.call_id, ticket.queue, ticket.agent_id, ticket.caller, ticket.unit) == (
        "old", "q", "11", "2101234567", "a-desk")
    assert escalations.taken("old").ticket == ticket.id
    with pytest.raises(EscalationRefused) as twice:
        escalations.escalate("11", "old")                     # by its id, as the API does
    assert twice.value.kind == "already"
    with pytest.raises(EscalationRefused) as other:
        escalations.escalate("12", "old")
    assert other.value.kind == "not_your_call"


async def test_a_found_call_stays_escalatable_for_its_queues_wrapup_after_the_phone_is_free(desk):
    """The one rule for a call the engine never saw: once the phone is free, the call just
    ended for as long as the engine's wrap-up of its queue (60 s here) would last."""
    live, escalations, stored = desk
    escalations.found_on_call("11", "old-11", "q")
    escalations.found_on_call("12", "old-12", "q")
    live.now.now += 100                                        # on the call for a while
    escalations.phone_freed("11")
    escalations.phone_freed("12")
    live.now.now += 59
    assert escalations.escalate("11").call_id == "old-11"
    live.now.now += 1
    with pytest.raises(EscalationRefused) as late:
        escalations.escalate("12")
    assert late.value.kind == "no_call"
    assert [t.call_id for t in stored] == ["old-11"]


async def test_the_engines_next_call_replaces_a_found_call_and_a_found_call_keeps_its_ticket(desk):
    live, escalations, stored = desk
    escalations.found_on_call("11", "old", "q")
    escalations.escalate("11", "old")
    escalations.phone_freed("11")
    take(live, "new", "11")                                    # the engine connects the next call
    live.feed(e.AgentHungUp(live.now(), "new"))
    live.feed(e.Tick(live.now() + 61))                         # its wrap-up is over too
    live.clock.cancel()
    with pytest.raises(EscalationRefused) as refused:
        escalations.escalate("11")
    assert refused.value.kind == "no_call"
    escalations.found_on_call("11", "old", "q", "2101234567")  # a later resync finds it again
    with pytest.raises(EscalationRefused) as again:
        escalations.escalate("11")
    assert again.value.kind == "already"


def test_caller_numbers_come_from_newchannel_in_the_citizens_context():
    numbers = CallerNumbers(memory=2)
    numbers.on_newchannel({"Context": "acd-inbound", "Uniqueid": "1.1", "CallerIDNum": "2101234567"})
    numbers.on_newchannel({"Context": "acd-agents", "Uniqueid": "1.2", "CallerIDNum": "2001"})
    numbers.on_newchannel({"Context": "acd-inbound", "Uniqueid": "1.3", "CallerIDNum": "<unknown>"})
    assert numbers.number("1.1") == "2101234567"
    assert numbers.number("1.2") is None and numbers.number("1.3") is None
    numbers.note("1.4", "1")
    numbers.note("1.5", "2")
    assert numbers.number("1.1") is None                       # the oldest is forgotten


async def test_the_daemon_wires_escalation_to_the_phone_and_logs_a_ticket_it_cannot_store(tmp_path: Path, caplog):
    path = tmp_path / "acd.yaml"
    path.write_text(CONFIG + f"daemon: {{queue_log: {tmp_path / 'queue_log'}}}\n")
    daemon = Daemon(path, extras=False)
    assert daemon.phone.escalations is daemon.escalations
    daemon.caller_numbers.note("c1", "2101234567")
    live = daemon.live
    take(live, "c1", "11")
    with caplog.at_level(logging.WARNING):
        ticket = daemon.escalations.escalate("11")
    assert ticket.caller == "2101234567" and ticket.unit == "a-desk"
    logged = [r for r in caplog.records if "ticket not stored" in r.getMessage()]
    assert logged and logged[0].call_id == "c1" and logged[0].primary_owner == "team:bo-a"
    live.clock.cancel()
    daemon.queue_log.close()


async def _records_with_an_earlier_ticket(tmp_path: Path) -> tuple[CallRecords, TicketDesk, Ticket]:
    """The call records as the last daemon left them: call "old", connected by it, was
    escalated by agent 11 (ticket stored); the daemon then died."""
    config = load_config_text(CONFIG, "<t>")
    records = CallRecords(f"sqlite+aiosqlite:///{tmp_path / 'records.db'}", interval=0.05,
                          back_office=back_office_of(config))
    await records.start()
    earlier = new_ticket(back_office_of(config), call_id="old", queue="q", at=10, source="agent", agent_id="11")
    records.open_ticket(earlier)
    await records.flush()
    return records, TicketDesk(records.db), earlier


async def _settled() -> None:
    for _ in range(20):        # the lookup's task and its query on aiosqlite's thread
        await asyncio.sleep(0.01)


async def test_a_call_escalated_under_the_last_daemon_is_not_escalated_twice(desk, tmp_path):
    live, escalations, stored = desk
    records, tickets, earlier = await _records_with_an_earlier_ticket(tmp_path)
    try:
        escalations.look_up_tickets_with(tickets.escalated_as)
        escalations.found_on_call("11", "old", "q", "2101234567")     # the resync finds the call
        escalations.found_on_call("12", "other", "q")                 # never escalated
        await _settled()
        with pytest.raises(EscalationRefused) as refused:
            escalations.escalate("11")
        assert refused.value.kind == "already" and earlier.id in str(refused.value)
        assert escalations.escalate("12").call_id == "other"
        assert [t.call_id for t in stored] == ["other"]
    finally:
        await records.close()
        live.clock.cancel()


async def test_calls_found_before_the_records_were_up_are_looked_up_when_they_are(desk, tmp_path):
    live, escalations, stored = desk
    escalations.found_on_call("11", "old", "q")      # the AMI resync came first
    records, tickets, earlier = await _records_with_an_earlier_ticket(tmp_path)
    try:
        escalations.look_up_tickets_with(tickets.escalated_as)
        await _settled()
        assert escalations.taken("old").ticket == earlier.id
    finally:
        await records.close()
        live.clock.cancel()


async def test_records_that_cannot_answer_leave_the_call_escalatable(desk, caplog):
    live, escalations, stored = desk

    async def down(call_id: str) -> str | None:
        raise ConnectionError("database unreachable")

    escalations.look_up_tickets_with(down)
    with caplog.at_level(logging.WARNING):
        escalations.found_on_call("11", "old", "q")
        await _settled()
    assert any("not looked up" in r.getMessage() for r in caplog.records)
    assert escalations.escalate("11").call_id == "old" and len(stored) == 1
    live.clock.cancel()
