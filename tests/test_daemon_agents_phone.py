"""Agents' feature codes (the ``agent`` FastAGI handler) against the real engine, escalation
to the back office included."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from acd.config import load_config_text
from acd.agent_desk import pause_reason
from acd.daemon.agents_phone import AgentPhone, endpoint_of, unit_choice
from acd.pin_guard import PinGuard
from acd.daemon.escalation import Escalations
from acd.daemon.live_engine import LiveEngine
from acd.engine import AgentState
from acd.engine import events as e
from acd.records.ticket import Ticket
from tests.engine_helpers import make_config

QUEUES = "q:\n  requires: {topic:a: 1}\n  announcements: {first_after: 0, every: 0}\n"
AGENTS = "'11': {pin: '1234', skills: {topic:a: 3}}\n'12': {pin: '9876', skills: {topic:a: 3}}\n"


class Env(dict):
    args: list[str]


@dataclass
class PhoneCall:
    """One call from an agent's phone: the digits it will type, and what it heard."""

    channel: str
    args: list[str]
    typed: list[str]
    heard: list[str] = field(default_factory=list)
    vars: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.env = Env(agi_channel=self.channel)
        self.env.args = self.args

    async def answer(self) -> None:
        pass

    async def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> str:
        self.heard.append(prompt)
        return self.typed.pop(0)

    async def stream_file(self, name: str, escape_digits: str = "") -> None:
        self.heard.append(name)

    async def set_variable(self, name: str, value: str) -> None:
        self.vars[name] = value


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def phone():
    clock = Clock()
    live = LiveEngine(make_config(QUEUES, AGENTS), now=clock)
    handler = AgentPhone(live, PinGuard(max_failures=3, window=60, lockout=300, now=clock))
    handler.clock = clock
    return handler


async def dial(handler: AgentPhone, *args: str, typed: list[str], channel: str = "PJSIP/agent-11-0000001a") -> PhoneCall:
    call = PhoneCall(channel, list(args), typed)
    await handler.handle(call)
    return call


async def test_agent_logs_in_from_the_phone_with_the_pin(phone):
    call = await dial(phone, "login", typed=["1234"])
    assert call.vars["ACD_AGENT_RESULT"] == "ok"
    assert phone.live.engine.agents["11"].state is AgentState.AVAILABLE
    assert call.heard == ["agent-pass", "agent-loginok"]


async def test_wrong_pin_is_refused_and_the_agent_stays_logged_out(phone):
    call = await dial(phone, "login", typed=["1111"])
    assert call.vars["ACD_AGENT_RESULT"] == "bad_pin"
    assert phone.live.engine.agents["11"].state is AgentState.LOGGED_OUT


async def test_three_wrong_pins_lock_the_agent_even_for_the_right_pin_until_the_lockout_ends(phone):
    for _ in range(3):
        await dial(phone, "login", typed=["0000"])
    locked = await dial(phone, "login", typed=["1234"])
    assert locked.vars["ACD_AGENT_RESULT"] == "locked"
    assert "agent-pass" not in locked.heard              # not even asked: nothing to guess against
    # a hot desk is another source with budgets of its own (acd.pin_guard)
    for _ in range(3):
        await dial(phone, "login", typed=["11", "0000"], channel="PJSIP/desk-7-00000001")
    from_another_phone = await dial(phone, "login", typed=["11", "1234"], channel="PJSIP/desk-7-00000001")
    assert from_another_phone.vars["ACD_AGENT_RESULT"] == "locked"
    phone.clock.now += 301
    assert (await dial(phone, "login", typed=["1234"])).vars["ACD_AGENT_RESULT"] == "ok"


async def test_failures_outside_the_window_do_not_add_up(phone):
    for _ in range(2):
        await dial(phone, "login", typed=["0000"])
    phone.clock.now += 61
    await dial(phone, "login", typed=["0000"])
    assert (await dial(phone, "login", typed=["1234"])).vars["ACD_AGENT_RESULT"] == "ok"


async def test_pause_with_reason_number_then_unpause(phone):
    await dial(phone, "login", typed=["1234"])
    call = await dial(phone, "pause", "2", typed=["1234"])
    agent = phone.live.engine.agents["11"]
    assert call.vars["ACD_AGENT_RESULT"] == "ok"
    assert (agent.state, agent.reason) == (AgentState.PAUSED, "backoffice")
    await dial(phone, "unpause", typed=["1234"])
    assert agent.state is AgentState.AVAILABLE


async def test_pause_with_an_unknown_reason_or_when_logged_out_is_refused(phone):
    assert (await dial(phone, "pause", "9", typed=["1234"])).vars["ACD_AGENT_RESULT"] == "refused"
    assert (await dial(phone, "logout", typed=["1234"])).vars["ACD_AGENT_RESULT"] == "refused"


async def test_phone_of_no_agent_asks_for_the_agent_number(phone):
    call = await dial(phone, "login", typed=["12", "9876"], channel="PJSIP/desk-7-00000001")
    assert call.heard[:2] == ["agent-user", "agent-pass"]
    assert phone.live.engine.agents["12"].state is AgentState.AVAILABLE


async def test_unknown_action_is_refused(phone):
    assert (await dial(phone, "dance", typed=[])).vars["ACD_AGENT_RESULT"] == "refused"


def test_endpoint_is_the_channel_name_without_its_sequence():
    assert endpoint_of("PJSIP/agent-2001-0000002a") == "agent-2001"
    assert endpoint_of("garbage") == ""


def test_pause_reason_by_name_or_number():
    config = make_config(QUEUES, AGENTS)
    assert pause_reason(config, "break") == "break"
    assert pause_reason(config, "1") == "break"
    assert pause_reason(config, "") == "break"
    assert pause_reason(config, "7") is None


# -- escalation to the back office (*15) ----------------------------------------------------------

DESK = """\
service: {name: test, languages: [el]}
skills: {topic:a: A}
queues:
  q: {requires: {topic:a: 1}, wrapup: 60, announcements: {first_after: 0, every: 0}}
agents:
  '11': {pin: '1234', skills: {topic:a: 3}}
  '12': {pin: '9876', skills: {topic:a: 3}}
back_office:
  units:
    a-desk: {primary: team:bo-a, alternate: person:bo-a-head, queues: [q]}
    general: {primary: team:bo-general, alternate: person:duty-officer}
"""


@pytest.fixture
def desk():
    """The agents' phones with escalation wired as the daemon wires it; tickets kept in a list."""
    clock = Clock()
    live = LiveEngine(load_config_text(DESK, "<desk>"), now=clock)
    stored: list[Ticket] = []
    escalations = Escalations(live, stored.append, {"c1": "2101234567"}.get)
    live.subscribe(escalations)
    handler = AgentPhone(live, PinGuard(max_failures=3, window=60, lockout=300, now=clock), escalations)
    handler.clock = clock
    handler.tickets = stored
    return handler


def take_a_call(handler: AgentPhone, call_id: str = "c1", agent_id: str = "11") -> None:
    live, clock = handler.live, handler.clock
    live.feed(e.AgentLoggedIn(clock.now, agent_id))
    live.feed(e.CallArrived(clock.now, call_id, "q"))
    live.feed(e.OfferAnswered(clock.now + 2, call_id, agent_id))


async def test_agent_escalates_the_call_it_just_ended_during_wrap_up(desk):
    take_a_call(desk)
    desk.live.feed(e.AgentHungUp(100, "c1"))
    desk.clock.now = 110
    call = await dial(desk, "escalate", typed=["1234"])
    assert call.vars["ACD_AGENT_RESULT"] == "ok"
    assert call.heard == ["agent-pass", "auth-thankyou"]
    [ticket] = desk.tickets
    assert call.vars["ACD_TICKET"] == ticket.id
    assert (ticket.call_id, ticket.queue, ticket.source, ticket.agent_id, ticket.created_at) == ("c1", "q", "agent", "11", 110)
    assert (ticket.unit, ticket.primary_owner, ticket.alternate_owner) == ("a-desk", "team:bo-a", "person:bo-a-head")
    assert (ticket.caller, ticket.status) == ("2101234567", "open")


async def test_agent_escalates_the_call_it_is_on_to_a_unit_chosen_by_number(desk):
    take_a_call(desk)
    call = await dial(desk, "escalate", "2", typed=["1234"])     # *152: the second unit, general
    assert call.vars["ACD_AGENT_RESULT"] == "ok"
    assert [(t.call_id, t.unit, t.primary_owner) for t in desk.tickets] == [("c1", "general", "team:bo-general")]


async def test_escalation_with_a_wrong_pin_opens_no_ticket(desk):
    take_a_call(desk)
    desk.live.feed(e.AgentHungUp(100, "c1"))
    call = await dial(desk, "escalate", typed=["0000"])
    assert call.vars["ACD_AGENT_RESULT"] == "bad_pin" and desk.tickets == []
    assert "ACD_TICKET" not in call.vars


async def test_escalation_without_a_call_or_to_an_unknown_unit_is_refused(desk):
    desk.live.feed(e.AgentLoggedIn(0, "11"))
    idle = await dial(desk, "escalate", typed=["1234"])          # available: no call to escalate
    assert idle.vars["ACD_AGENT_RESULT"] == "refused" and idle.heard[-1] == "beeperr"
    take_a_call(desk, "c2", "12")
    wrong_unit = await dial(desk, "escalate", "9", typed=["9876"], channel="PJSIP/agent-12-0000001b")
    assert wrong_unit.vars["ACD_AGENT_RESULT"] == "refused"
    assert desk.tickets == []


async def test_a_call_is_escalated_once(desk):
    take_a_call(desk)
    desk.live.feed(e.AgentHungUp(100, "c1"))
    assert (await dial(desk, "escalate", typed=["1234"])).vars["ACD_AGENT_RESULT"] == "ok"
    assert (await dial(desk, "escalate", typed=["1234"])).vars["ACD_AGENT_RESULT"] == "refused"
    assert len(desk.tickets) == 1


async def test_escalation_is_refused_when_the_daemon_has_none(phone):
    await dial(phone, "login", typed=["1234"])
    assert (await dial(phone, "escalate", typed=["1234"])).vars["ACD_AGENT_RESULT"] == "refused"


def test_unit_by_name_or_number():
    config = load_config_text(DESK, "<desk>")
    assert unit_choice(config, "general") == "general"
    assert unit_choice(config, "1") == "a-desk"
    assert unit_choice(config, "") is None and unit_choice(config, "3") is None
