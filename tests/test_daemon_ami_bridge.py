"""AMI events reach the engine and the waiting room as the right facts."""
from __future__ import annotations

import asyncio

import pytest

from acd.agent_desk import EscalationRefused
from acd.daemon.ami_bridge import AMIBridge
from acd.daemon.escalation import Escalations
from acd.engine import AgentState
from acd.engine import decisions as d
from acd.engine import events as e
from acd.protocol.errors import AMIActionError
from tests.daemon_fakes import Room, ringing, settle


class FakeAMI:
    """Registers callbacks and answers event-list actions from canned lists, by action
    name, or by ``(name, field value)`` for actions about one thing (``PJSIPShowEndpoint``
    of one endpoint). An endpoint not listed is one Asterisk does not have: the Error
    res_pjsip's ami_show_endpoint answers."""

    def __init__(self, lists: dict, variables: dict[str, dict[str, str]] | None = None) -> None:
        self.lists = lists
        #: channel name -> its variables, for ``Getvar``; a channel not here does not exist
        self.variables = variables if variables is not None else {}
        self.handlers: dict[str, object] = {}
        self.connected: list[object] = []
        self.asked: list[tuple[str, ...]] = []
        #: raised by the next Getvars instead of answering (a timeout, a lost link)
        self.getvar_error: Exception | None = None

    def on_event(self, name, callback) -> None:
        self.handlers[name] = callback

    def on_connect(self, callback) -> None:
        self.connected.append(callback)

    async def action(self, name: str, *, timeout: float | None = None, **fields: str) -> dict:
        """``Getvar`` as main/manager.c ``action_getvar`` answers it: Success with
        ``Variable`` and ``Value`` (empty when unset), or Error ``No such channel``."""
        if name == "Hangup":
            self.asked.append((name, fields["Channel"]))
            return {"Response": "Success", "Message": "Channel Hungup"}
        assert name == "Getvar", name
        self.asked.append((name, fields["Channel"], fields["Variable"]))
        await asyncio.sleep(0)
        if self.getvar_error is not None:
            raise self.getvar_error
        if fields["Channel"] not in self.variables:
            return {"Response": "Error", "Message": "No such channel"}
        return {"Response": "Success", "Variable": fields["Variable"],
                "Value": self.variables[fields["Channel"]].get(fields["Variable"], "")}

    async def action_list(self, name: str, **fields: str) -> list[dict]:
        key = (name, *fields.values())
        self.asked.append(key)
        if key in self.lists:
            return self.lists[key]
        if name == "PJSIPShowEndpoint":
            raise AMIActionError(name, f"Unable to retrieve endpoint {fields['Endpoint']}\n")
        return self.lists[name]


def bridge_for(room: Room, lists: dict[str, list[dict]] | None = None, *, escalations: Escalations | None = None,
               variables: dict[str, dict[str, str]] | None = None) -> tuple[AMIBridge, FakeAMI]:
    bridge = AMIBridge(room.live, room.room, escalations)
    ami = FakeAMI(lists or {}, variables)
    bridge.install(ami)
    return bridge, ami


async def test_unreachable_phone_takes_the_agent_out_of_routing_until_it_is_back(tmp_path):
    r = Room(tmp_path)
    r.login("11")
    bridge, ami = bridge_for(r)
    ami.handlers["DeviceStateChange"]({"Device": "PJSIP/agent-11", "State": "UNAVAILABLE"})
    session = await r.arrive("1.1")
    assert session.dials.empty()
    ami.handlers["DeviceStateChange"]({"Device": "PJSIP/agent-11", "State": "NOT_INUSE"})
    target, _ = await ringing(session)
    assert target.startswith("PJSIP/agent-11,")


async def test_busy_device_states_do_not_change_reachability(tmp_path):
    r = Room(tmp_path)
    r.login("11")
    bridge, ami = bridge_for(r)
    for state in ("INUSE", "RINGING", "NOT_INUSE", "INUSE"):
        ami.handlers["DeviceStateChange"]({"Device": "PJSIP/agent-11", "State": state})
    assert r.live.engine.agents["11"].reachable


async def answered_after(tmp_path, ring: float) -> tuple[Room, FakeAMI, object, asyncio.Future]:
    """Caller 1.1 on agent 11's phone, answered (AMI DialEnd) after ``ring`` seconds: the
    room, the AMI, the caller's session and its Dial's outcome (still running)."""
    r = Room(tmp_path)
    r.login("11")
    bridge, ami = bridge_for(r)
    session = await r.arrive("1.1")
    _, outcome = await ringing(session)
    r.clock.now += ring
    await ami.handlers["DialEnd"]({"Uniqueid": "1.1", "DestUniqueid": "7.7", "DialStatus": "ANSWER"})
    return r, ami, session, outcome


async def test_dial_end_answer_connects_the_call_at_that_moment(tmp_path):
    r, ami, session, outcome = await answered_after(tmp_path, 4)
    assert r.live.engine.agents["11"].state is AgentState.ON_CALL
    assert [c.ring_time for c in r.of(d.CallConnected)] == [4]
    assert "|7.7|" in r.queue_log.path.read_text()


async def test_attended_transfer_ends_the_call_and_frees_the_agent_at_the_transfer_not_when_the_dial_returns(tmp_path):
    # measured on Asterisk 16 (tests/test_queue_log_parity.py): the caller's Dial returns only
    # when its talk with the colleague ends; app_queue writes ATTENDEDTRANSFER at the transfer
    r, ami, session, outcome = await answered_after(tmp_path, 4)
    r.clock.now += 20
    # a transfer of a channel the room does not hold changes nothing
    ami.handlers["AttendedTransfer"]({"Event": "AttendedTransfer", "Result": "Success", "DestType": "App",
                                      "TransfereeUniqueid": "9.9", "DestApp": "Queue"})
    assert r.live.engine.agents["11"].state is AgentState.ON_CALL
    # main/stasis_bridges.c attended_transfer_to_ami: the agent (transferer) joins the caller to a bridge
    ami.handlers["AttendedTransfer"]({"Event": "AttendedTransfer", "Result": "Success", "DestType": "Bridge",
                                      "TransfereeUniqueid": "1.1", "DestBridgeUniqueid": "b-9"})
    assert r.live.engine.agents["11"].state is not AgentState.ON_CALL
    last = r.queue_log.path.read_text().splitlines()[-1].split("|")
    assert last[4:] == ["ATTENDEDTRANSFER", "BRIDGE", "b-9", "4", "20", "1"]   # held 4 s, talked 20 s
    # the caller talks on with the colleague; its Dial returns when that call ends: nothing more
    r.clock.now += 90
    written = r.queue_log.path.read_text()
    outcome.set_result(("ANSWER", 0))
    await asyncio.wait_for(r.tasks[0], 1)
    assert r.queue_log.path.read_text() == written
    assert len(r.of(d.CallEnded)) == 1
    assert session.vars["ACD_WAIT_RESULT"] == "answered"


async def test_attended_transfer_from_the_consultation_leg_names_the_caller_as_its_target(tmp_path):
    # a phone that sends the REFER on its consultation dialog (Replaces = the caller's):
    # main/bridge.c ast_bridge_transfer_attended then has the colleague as transferee and
    # the caller as target (app_queue's handle_attended_transfer matches either bridge)
    r, ami, session, outcome = await answered_after(tmp_path, 1)
    ami.handlers["AttendedTransfer"]({"Event": "AttendedTransfer", "Result": "Success", "DestType": "Bridge",
                                      "TransfereeUniqueid": "8.8", "TransferTargetUniqueid": "1.1",
                                      "DestBridgeUniqueid": "b-9"})
    assert r.queue_log_events()[-1] == "ATTENDEDTRANSFER"
    assert r.live.engine.agents["11"].state is not AgentState.ON_CALL


async def test_hangup_request_of_an_idle_waiting_caller_is_an_abandon_and_the_later_hangup_changes_nothing(tmp_path):
    r = Room(tmp_path)
    bridge, ami = bridge_for(r)
    await r.arrive("1.1")
    ami.handlers["HangupRequest"]({"Uniqueid": "1.1", "Channel": "PJSIP/citizens-0001"})
    await asyncio.wait_for(r.tasks[0], 1)
    ami.handlers["Hangup"]({"Uniqueid": "1.1", "Channel": "PJSIP/citizens-0001"})
    assert len(r.of(d.CallAbandoned)) == 1


async def test_resync_after_reconnect_drops_callers_whose_channel_vanished_and_reads_device_states(tmp_path):
    r = Room(tmp_path)
    r.login("11")
    r.live.feed(e.AgentPaused(r.clock.now, "11", "break"))     # nobody takes the callers
    lists = {"DeviceStateList": [{"Device": "PJSIP/agent-12", "State": "UNAVAILABLE"},
                                 {"Device": "PJSIP/agent-11", "State": "NOT_INUSE"}],
             "CoreShowChannels": [{"Uniqueid": "1.2", "Channel": "PJSIP/citizens-2"}]}
    bridge, ami = bridge_for(r, lists)
    await r.arrive("1.1")
    await r.arrive("1.2")
    await ami.connected[0]()
    await asyncio.wait_for(r.tasks[0], 1)
    assert [a.call_id for a in r.of(d.CallAbandoned)] == ["1.1"]
    assert "1.2" in r.room.callers
    assert not r.live.engine.agents["12"].reachable


async def test_agent_found_on_a_call_at_resync_is_kept_out_of_routing_until_the_phone_is_free(tmp_path):
    r = Room(tmp_path)
    r.login("11")
    lists = {"DeviceStateList": [{"Device": "PJSIP/agent-11", "State": "INUSE"}],
             "CoreShowChannels": [{"Uniqueid": "8.8", "Channel": "PJSIP/agent-11-0000002a"}]}
    bridge, ami = bridge_for(r, lists)
    await ami.connected[0]()
    session = await r.arrive("1.1")
    assert session.dials.empty()                     # not offered while still talking
    ami.handlers["DeviceStateChange"]({"Device": "PJSIP/agent-11", "State": "RINGING"})
    assert session.dials.empty()
    ami.handlers["DeviceStateChange"]({"Device": "PJSIP/agent-11", "State": "NOT_INUSE"})
    target, _ = await ringing(session)
    assert target.startswith("PJSIP/agent-11,")


# -- calls an earlier daemon connected: identified from the caller's channel -------------------

def core_show_channel(channel: str, uniqueid: str, *, bridge: str = "", state: str = "6", number: str = "<unknown>",
                      linkedid: str | None = None, context: str = "acd-inbound", application: str | None = None,
                      data: str = "") -> dict:
    """A ``CoreShowChannel`` item as Asterisk 16.28 writes it (main/manager.c
    action_coreshowchannels over ast_manager_build_channel_state_string_prefix)."""
    descriptions = {"6": "Up", "5": "Ringing", "4": "Ring"}
    if application is None:
        application = "AppDial" if bridge else "Dial"
    return {"Event": "CoreShowChannel", "Channel": channel, "ChannelState": state,
            "ChannelStateDesc": descriptions.get(state, "Down"), "CallerIDNum": number, "CallerIDName": "<unknown>",
            "Context": context, "Uniqueid": uniqueid, "Linkedid": linkedid or uniqueid,
            "Application": application, "ApplicationData": data, "BridgeId": bridge}


def waiting(uniqueid: str, application: str = "Wait", data: str = "1", bridge: str = "") -> dict:
    """A caller's channel in the generated dialplan's waiting room (``acd-waiting``): in
    its retry loop by default (``Wait(1)`` between FastAGI tries)."""
    return core_show_channel(f"PJSIP/citizens-{uniqueid}", uniqueid, context="acd-waiting", application=application,
                             data=data, bridge=bridge)


#: agent 11 talking with a caller the previous daemon connected (the caller's channel in Dial)
CALLER = "PJSIP/citizens-00000007"
AGENT_LEG = "PJSIP/agent-11-0000002a"
CONNECTED_BEFORE = [core_show_channel(CALLER, "1700000000.7", bridge="b-7", number="2101234567"),
                    core_show_channel(AGENT_LEG, "1700000000.8", bridge="b-7", linkedid="1700000000.7")]
ITS_VARIABLES = {CALLER: {"ACD_CALLID": "1700000000.7", "ACD_QUEUE": "q"}, AGENT_LEG: {}}


def escalations_for(r: Room) -> tuple[Escalations, list]:
    stored: list = []
    escalations = Escalations(r.live, stored.append)
    r.live.subscribe(escalations)
    return escalations, stored


async def test_agent_found_on_a_call_at_resync_escalates_it_with_its_queue_and_callers_number(tmp_path):
    r = Room(tmp_path)
    r.login("11")
    escalations, stored = escalations_for(r)
    lists = {"DeviceStateList": [{"Device": "PJSIP/agent-11", "State": "INUSE"}], "CoreShowChannels": CONNECTED_BEFORE}
    bridge, ami = bridge_for(r, lists, escalations=escalations, variables=ITS_VARIABLES)
    await ami.connected[0]()
    assert not r.live.engine.agents["11"].reachable             # still out of routing
    assert [a for a in ami.asked if a[0] == "Getvar"] == [
        ("Getvar", CALLER, "ACD_CALLID"), ("Getvar", CALLER, "ACD_QUEUE"),      # the caller's channel first
        ("Getvar", CALLER, "ACD_ENQUEUED_AT"), ("Getvar", CALLER, "ACD_CONNECTED_AT")]
    ticket = escalations.escalate("11")
    assert (ticket.call_id, ticket.queue, ticket.agent_id, ticket.caller) == ("1700000000.7", "q", "11", "2101234567")
    assert stored == [ticket]


async def test_a_found_call_stays_escalatable_for_the_queues_wrapup_once_the_phone_is_free(tmp_path):
    r = Room(tmp_path)                                           # queue q: wrapup 5
    r.login("11", "12")
    escalations, stored = escalations_for(r)
    other_caller, other_leg = "PJSIP/citizens-00000009", "PJSIP/agent-12-0000002b"
    lists = {"DeviceStateList": [], "CoreShowChannels": [
        *CONNECTED_BEFORE, core_show_channel(other_caller, "1700000000.9", bridge="b-9"),
        core_show_channel(other_leg, "1700000000.10", bridge="b-9")]}
    bridge, ami = bridge_for(r, lists, escalations=escalations, variables={
        **ITS_VARIABLES, other_caller: {"ACD_CALLID": "1700000000.9", "ACD_QUEUE": "q"}})
    await ami.connected[0]()
    r.clock.now += 120
    for agent in ("11", "12"):                                   # both calls end
        ami.handlers["DeviceStateChange"]({"Device": f"PJSIP/agent-{agent}", "State": "NOT_INUSE"})
    assert r.live.engine.agents["11"].reachable and r.live.engine.agents["12"].reachable
    r.clock.now += 4                                             # within the window: the call just ended
    r.live.feed(e.Tick(r.clock.now))
    assert escalations.escalate("11").call_id == "1700000000.7"
    r.clock.now += 1
    r.live.feed(e.Tick(r.clock.now))                             # the resumed calls' wrap-up ends
    with pytest.raises(EscalationRefused) as late:
        escalations.escalate("12")
    assert late.value.kind == "no_call"
    assert [t.call_id for t in stored] == ["1700000000.7"]


async def test_a_callbacks_agent_leg_carries_the_call_itself(tmp_path):
    """A callback's agent leg was Originated with ACD_CALLID/ACD_QUEUE (acd.daemon.callbacks)
    and the citizen's number as caller id; the citizen's leg it bridges to has neither."""
    r = Room(tmp_path)
    escalations, _ = escalations_for(r)
    agent_leg, citizen_leg = "PJSIP/agent-11-00000031", "PJSIP/citizens-00000032"
    lists = {"DeviceStateList": [], "CoreShowChannels": [
        core_show_channel(agent_leg, "acd-cb-1", bridge="b-9", number="6912345678"),
        core_show_channel(citizen_leg, "1700000000.32", bridge="b-9", number="6912345678")]}
    bridge, ami = bridge_for(r, lists, escalations=escalations, variables={
        agent_leg: {"ACD_CALLID": "cb-call", "ACD_QUEUE": "q"}, citizen_leg: {}})
    await ami.connected[0]()
    ticket = escalations.escalate("11")
    assert (ticket.call_id, ticket.queue, ticket.caller) == ("cb-call", "q", "6912345678")


async def test_a_phone_only_ringing_or_on_a_call_without_acd_variables_took_no_call(tmp_path):
    r = Room(tmp_path)
    escalations, _ = escalations_for(r)
    outside = "PJSIP/agent-12-00000040"
    lists = {"DeviceStateList": [], "CoreShowChannels": [
        core_show_channel("PJSIP/citizens-00000007", "7", bridge=""),
        core_show_channel("PJSIP/agent-11-0000002a", "8", state="5"),              # still ringing
        core_show_channel(outside, "9", bridge="b-1"), core_show_channel("Local/x-0001;1", "10", bridge="b-1")]}
    bridge, ami = bridge_for(r, lists, escalations=escalations, variables={outside: {}, "Local/x-0001;1": {}})
    await ami.connected[0]()
    assert [a[1] for a in ami.asked if a[0] == "Getvar"] == ["Local/x-0001;1", outside]
    for agent in ("11", "12"):
        with pytest.raises(EscalationRefused) as refused:
            escalations.escalate(agent)
        assert refused.value.kind == "no_call"
    assert not r.live.engine.agents["11"].reachable and not r.live.engine.agents["12"].reachable


async def test_a_getvar_that_fails_is_logged_and_the_next_resync_identifies_the_call(tmp_path, caplog):
    r = Room(tmp_path)
    r.login("11")
    escalations, _ = escalations_for(r)
    lists = {"DeviceStateList": [], "CoreShowChannels": CONNECTED_BEFORE}
    bridge, ami = bridge_for(r, lists, escalations=escalations, variables=ITS_VARIABLES)
    ami.getvar_error = asyncio.TimeoutError("AMI action Getvar got no response within 2.0s")
    await ami.connected[0]()
    assert any("not identified" in rec.getMessage() for rec in caplog.records)
    assert not r.live.engine.agents["11"].reachable             # as before: out until the phone is free
    with pytest.raises(EscalationRefused) as refused:
        escalations.escalate("11")
    assert refused.value.kind == "no_call"
    ami.variables = {AGENT_LEG: {}}                              # the caller's channel: No such channel
    ami.getvar_error = None
    await ami.connected[0]()
    with pytest.raises(EscalationRefused):
        escalations.escalate("11")
    ami.variables = ITS_VARIABLES
    await ami.connected[0]()                                     # a reconnect's resync tries again
    assert escalations.escalate("11").call_id == "1700000000.7"
    getvars = len([a for a in ami.asked if a[0] == "Getvar"])
    await ami.connected[0]()                                     # identified: not asked again
    assert len([a for a in ami.asked if a[0] == "Getvar"]) == getvars


async def test_a_call_found_at_resync_is_resumed_and_its_end_is_recorded(tmp_path):
    """Issue 9, item 6: agent 11 talks to a caller the crashed daemon connected. The
    restarted daemon shows 11 on call (the wallboard), and when the call ends writes its
    COMPLETE line with the wait and talk time read from the caller's channel, without a
    second ENTERQUEUE or CONNECT."""
    r = Room(tmp_path)
    r.login("11")
    variables = {CALLER: {"ACD_CALLID": "1700000000.7", "ACD_QUEUE": "q",
                          "ACD_ENQUEUED_AT": f"{r.clock.now - 100:.3f}", "ACD_CONNECTED_AT": f"{r.clock.now - 60:.3f}"},
                 AGENT_LEG: {}}
    bridge, ami = bridge_for(r, {"DeviceStateList": [], "CoreShowChannels": CONNECTED_BEFORE}, variables=variables)
    await ami.connected[0]()
    agent = r.live.engine.agents["11"]
    assert (agent.state, agent.call_id) == (AgentState.ON_CALL, "1700000000.7")
    r.clock.now += 30
    ami.handlers["Hangup"]({"Uniqueid": "1700000000.7"})          # the citizen hangs up
    assert [(x.by, x.waited, x.talk_time) for x in r.of(d.CallEnded)] == [("caller", 40, 90)]
    assert agent.state is AgentState.WRAP_UP
    assert [x for x in r.queue_log_events() if x not in ("QUEUESTART", "ADDMEMBER")] == ["COMPLETECALLER"]


async def test_a_resumed_call_ends_when_the_agents_phone_is_free(tmp_path):
    r = Room(tmp_path)
    r.login("11")
    bridge, ami = bridge_for(r, {"DeviceStateList": [], "CoreShowChannels": CONNECTED_BEFORE},
                             variables=ITS_VARIABLES)      # no ACD_CONNECTED_AT: since the resync
    await ami.connected[0]()
    r.clock.now += 20
    ami.handlers["DeviceStateChange"]({"Device": "PJSIP/agent-11", "State": "NOT_INUSE"})
    assert [(x.by, x.talk_time) for x in r.of(d.CallEnded)] == [("agent", 20)]


# -- agents' phone registrations (ContactStatus, PJSIPShowEndpoint) ----------------------------

def contact_status(endpoint: str, uri: str, status: str) -> dict:
    """A ``ContactStatus`` event as Asterisk 16.28 writes it (main/stasis_endpoints.c)."""
    return {"Event": "ContactStatus", "URI": uri, "ContactStatus": status, "AOR": endpoint,
            "EndpointName": endpoint, "RoundtripUsec": "0"}


def endpoint_detail(endpoint: str, *contacts: tuple[str, str, str]) -> list[dict]:
    """A ``PJSIPShowEndpoint`` answer: EndpointDetail, AorDetail, then one
    ContactStatusDetail per (uri, status, user agent) (res_pjsip's ast_sip_format_contact_ami)."""
    return ([{"Event": "EndpointDetail", "ObjectName": endpoint, "DeviceState": "Not in use"},
             {"Event": "AorDetail", "ObjectName": endpoint}]
            + [{"Event": "ContactStatusDetail", "AOR": endpoint, "URI": uri, "UserAgent": agent, "Status": status,
                "EndpointName": endpoint, "ID": f"{endpoint};@0a1b"} for uri, status, agent in contacts])


PHONE_11 = "sip:agent-11@10.0.0.11:5060"


async def test_phone_that_unregisters_is_not_offered_calls_until_it_registers_again(tmp_path):
    r = Room(tmp_path)
    r.login("11")
    bridge, ami = bridge_for(r, {("PJSIPShowEndpoint", "agent-11"): endpoint_detail(
        "agent-11", (PHONE_11, "NonQualified", "Zoiper rv2.10"))})
    await ami.handlers["ContactStatus"](contact_status("agent-11", PHONE_11, "NonQualified"))
    phone = bridge.registrations.get("11")
    assert (phone.registered, phone.contact.uri, phone.contact.user_agent) == (True, PHONE_11, "Zoiper rv2.10")
    r.clock.now += 60
    assert ami.handlers["ContactStatus"](contact_status("agent-11", PHONE_11, "Removed")) is None
    phone = bridge.registrations.get("11")
    assert (phone.registered, phone.contact, phone.since) == (False, None, r.clock.now)
    assert not r.live.engine.agents["11"].reachable
    session = await r.arrive("1.1")
    assert session.dials.empty()
    await ami.handlers["ContactStatus"](contact_status("agent-11", PHONE_11, "NonQualified"))
    target, _ = await ringing(session)
    assert target.startswith("PJSIP/agent-11,")


async def test_contact_that_fails_its_qualify_takes_the_agent_out_while_it_stays_registered(tmp_path):
    r = Room(tmp_path)
    r.login("11")
    bridge, ami = bridge_for(r, {("PJSIPShowEndpoint", "agent-11"): []})
    await ami.handlers["ContactStatus"](contact_status("agent-11", PHONE_11, "Reachable"))
    ami.handlers["ContactStatus"](contact_status("agent-11", PHONE_11, "Unreachable"))
    phone = bridge.registrations.get("11")
    assert (phone.registered, phone.usable, phone.contact.status) == (True, False, "Unreachable")
    assert not r.live.engine.agents["11"].reachable
    ami.handlers["ContactStatus"](contact_status("agent-11", PHONE_11, "Reachable"))
    assert r.live.engine.agents["11"].reachable


async def test_registration_and_device_state_both_have_to_allow_the_phone(tmp_path):
    """One rule: an UNAVAILABLE device keeps the agent out even with a fresh contact, and
    a lost contact keeps it out even while the device state still says NOT_INUSE."""
    r = Room(tmp_path)
    r.login("11")
    bridge, ami = bridge_for(r, {("PJSIPShowEndpoint", "agent-11"): []})
    ami.handlers["DeviceStateChange"]({"Device": "PJSIP/agent-11", "State": "UNAVAILABLE"})
    await ami.handlers["ContactStatus"](contact_status("agent-11", PHONE_11, "NonQualified"))
    assert not r.live.engine.agents["11"].reachable
    ami.handlers["DeviceStateChange"]({"Device": "PJSIP/agent-11", "State": "NOT_INUSE"})
    assert r.live.engine.agents["11"].reachable
    ami.handlers["ContactStatus"](contact_status("agent-11", PHONE_11, "Removed"))
    ami.handlers["DeviceStateChange"]({"Device": "PJSIP/agent-11", "State": "NOT_INUSE"})
    assert not r.live.engine.agents["11"].reachable


async def test_a_phone_registering_brings_back_an_agent_a_failed_dial_took_out(tmp_path):
    r = Room(tmp_path)
    r.login("11")
    bridge, ami = bridge_for(r, {("PJSIPShowEndpoint", "agent-11"): []})
    r.live.feed(e.AgentReachability(r.clock.now, "11", False))      # what CHANUNAVAIL does inside the engine
    await ami.handlers["ContactStatus"](contact_status("agent-11", PHONE_11, "NonQualified"))
    assert r.live.engine.agents["11"].reachable


async def test_contact_statuses_of_endpoints_that_are_no_agents_phone_change_nothing(tmp_path):
    r = Room(tmp_path)
    r.login("11")
    bridge, ami = bridge_for(r)
    assert ami.handlers["ContactStatus"](contact_status("citizens", "sip:sbc@10.0.0.1", "Removed")) is None
    assert ami.handlers["ContactStatus"]({"Event": "ContactStatus", "EndpointName": "agent-11"}) is None
    assert bridge.registrations.all() == {} and r.live.engine.agents["11"].reachable


async def test_resync_reads_every_agents_contacts_and_leaves_endpoints_asterisk_lacks_alone(tmp_path):
    r = Room(tmp_path)
    r.login("11", "12")
    lists = {"DeviceStateList": [], "CoreShowChannels": [],
             ("PJSIPShowEndpoint", "agent-11"): endpoint_detail("agent-11", (PHONE_11, "Reachable", "Linphone/5.2")),
             ("PJSIPShowEndpoint", "agent-12"): endpoint_detail("agent-12")}     # no contact: not registered
    bridge, ami = bridge_for(r, lists)
    await ami.connected[0]()
    phones = {agent: bridge.registrations.get(agent).as_dict() for agent in ("11", "12")}
    assert phones["11"] | {"since": None} == {"registered": True, "reachable": True, "uri": PHONE_11,
                                              "user_agent": "Linphone/5.2", "status": "Reachable", "contacts": 1,
                                              "since": None}
    assert (phones["12"]["registered"], phones["12"]["uri"]) == (False, None)
    assert r.live.engine.agents["11"].reachable and not r.live.engine.agents["12"].reachable
    # after a reconnect Asterisk no longer has agent-12's endpoint (config out of step):
    # no opinion, so the agent is tried again and a Dial's CHANUNAVAIL decides
    del lists[("PJSIPShowEndpoint", "agent-12")]
    await ami.connected[0]()
    assert bridge.registrations.get("12").registered is None
    assert r.live.engine.agents["12"].reachable


async def test_resync_finds_the_unregister_that_was_lost_with_the_link(tmp_path):
    r = Room(tmp_path)
    r.login("11")
    lists = {"DeviceStateList": [], "CoreShowChannels": [], ("PJSIPShowEndpoint", "agent-11"): []}
    bridge, ami = bridge_for(r, lists)
    await ami.handlers["ContactStatus"](contact_status("agent-11", PHONE_11, "NonQualified"))
    lists[("PJSIPShowEndpoint", "agent-11")] = endpoint_detail("agent-11")
    await ami.connected[0]()
    assert bridge.registrations.get("11").registered is False
    assert not r.live.engine.agents["11"].reachable


async def test_resync_answer_older_than_a_contact_event_is_dropped(tmp_path):
    r = Room(tmp_path)
    r.login("11")
    bridge, ami = bridge_for(r, {"DeviceStateList": [], "CoreShowChannels": []})
    answer: asyncio.Future = asyncio.get_running_loop().create_future()

    async def slow_show_endpoint(name: str, **fields: str) -> list[dict]:
        if name == "PJSIPShowEndpoint":
            return await answer
        return []

    ami.action_list = slow_show_endpoint
    resync = asyncio.ensure_future(ami.connected[0]())
    await settle()
    learn = ami.handlers["ContactStatus"](contact_status("agent-11", PHONE_11, "NonQualified"))  # registers meanwhile
    answer.set_result(endpoint_detail("agent-11"))        # asked before: no contact yet
    await resync
    await learn
    assert bridge.registrations.get("11").registered is True


async def test_registration_changes_reach_the_listeners_and_a_broken_one_changes_nothing(tmp_path):
    r = Room(tmp_path)
    bridge, ami = bridge_for(r, {("PJSIPShowEndpoint", "agent-11"): endpoint_detail(
        "agent-11", (PHONE_11, "NonQualified", "Zoiper"))})
    heard: list[tuple[str, bool | None, str | None]] = []

    def broken(agent_id, phone) -> None:
        raise RuntimeError("redis is down")

    bridge.registrations.subscribe(broken)
    bridge.registrations.subscribe(lambda agent_id, phone: heard.append(
        (agent_id, phone.registered, phone.contact.user_agent if phone.contact else None)))
    await ami.handlers["ContactStatus"](contact_status("agent-11", PHONE_11, "NonQualified"))
    ami.handlers["ContactStatus"](contact_status("agent-11", PHONE_11, "Removed"))
    assert heard == [("11", True, None), ("11", True, "Zoiper"), ("11", False, None)]


async def test_other_spellings_of_a_present_contact_count_as_registered(tmp_path):
    """Asterisk 13 named the CREATED state "Created" (pjsip_options.c status_map there);
    "Updated" is documented for ContactStatus (main/stasis_endpoints.c) and keeps the
    contact's last status."""
    r = Room(tmp_path)
    bridge, ami = bridge_for(r, {("PJSIPShowEndpoint", "agent-11"): [], ("PJSIPShowEndpoint", "agent-12"): []})
    await ami.handlers["ContactStatus"](contact_status("agent-11", PHONE_11, "Created"))
    await ami.handlers["ContactStatus"](contact_status("agent-12", "sip:agent-12@10.0.0.12", "Updated"))
    ami.handlers["ContactStatus"](contact_status("agent-11", PHONE_11, "Updated"))
    assert [(bridge.registrations.get(a).registered, bridge.registrations.get(a).contact.status)
            for a in ("11", "12")] == [(True, "Created"), (True, "Unknown")]


async def test_an_offer_past_its_ring_deadline_hangs_up_the_ringing_agent_channel(tmp_path):
    """The engine withdraws an offer whose Dial never ended; the daemon hangs up the
    agent's channel that Dial was ringing (from DialBegin), not the caller's."""
    r = Room(tmp_path, routing="ring_margin: 5\n")
    r.login("11")
    bridge, ami = bridge_for(r)
    session = await r.arrive("1.1")
    await ringing(session)
    ami.handlers["DialBegin"]({"Uniqueid": "1.1", "DestChannel": "PJSIP/agent-11-00000007", "DestUniqueid": "9.9"})
    r.clock.now += 15 + 5
    r.live.feed(e.Tick(r.clock.now))
    await settle()
    assert ("Hangup", "PJSIP/agent-11-00000007") in ami.asked
    assert r.live.engine.agents["11"].state is AgentState.RESTING
    assert [x.reason for x in r.decisions if isinstance(x, d.CancelOffer)] == ["ring_deadline"]


async def test_restored_agents_are_offered_nothing_until_the_resync_places_them(tmp_path):
    """Issue 9, item 5: a restarted daemon's roster logs 11 and 12 in; 11 is still on a
    call the crashed daemon connected. Nobody is offered before the resync, which then
    keeps 11 out and lets 12 take the caller."""
    r = Room(tmp_path)
    bridge, ami = bridge_for(r, {"DeviceStateList": [], "CoreShowChannels": [
        {"Channel": "PJSIP/agent-11-00000001", "Uniqueid": "a.1", "ChannelState": "6", "BridgeId": "b1"},
        {"Channel": "PJSIP/citizens-1.1", "Uniqueid": "1.1"}]})
    bridge.hold_until_resync(["11", "12"])
    r.login("11", "12")
    session = await r.arrive("1.1")
    assert session.dials.empty() and bridge.unconfirmed == {"11", "12"}
    r.clock.now += 2                       # past REQUEUE_SETTLE: the re-queued callers are back
    await bridge.resync()
    target, _ = await ringing(session)
    assert target.startswith("PJSIP/agent-12,") and bridge.unconfirmed == frozenset()
    assert not r.live.engine.agents["11"].reachable


async def test_restored_agents_are_released_unchecked_when_ami_never_comes(tmp_path, caplog):
    r = Room(tmp_path)
    bridge, _ = bridge_for(r)
    bridge.hold_until_resync(["11"])
    r.login("11")
    session = await r.arrive("1.1")
    assert session.dials.empty()
    bridge.release_unconfirmed("no AMI resync within 30 s")
    target, _ = await ringing(session)
    assert target.startswith("PJSIP/agent-11,")
    assert "released without the AMI state check" in caplog.text


async def takeover(r: Room, channels: list[dict]) -> tuple[AMIBridge, FakeAMI, object]:
    """A takeover as bench.failover makes one: agent 11 restored (held until the resync),
    the younger caller 2.2 back in ``wait`` first, then AMI's resync listing ``channels``
    2.2 s later (past the 1.5 s a fixed settle time gave the retry loops). Returns the
    bridge, its AMI and the younger caller's session."""
    bridge, ami = bridge_for(r, {"DeviceStateList": [], "CoreShowChannels": channels})
    bridge.hold_until_resync(["11"])
    r.login("11")
    younger = await r.arrive("2.2", ACD_CALLID="2.2", ACD_ENQUEUED_AT=f"{r.clock.now - 10:.3f}")
    r.clock.now += 2.2
    await bridge.resync()
    await settle()
    return bridge, ami, younger


async def test_after_a_takeover_a_caller_who_comes_back_late_is_still_served_first(tmp_path):
    """bench.failover on a loaded machine (out of order 351): the retry loops brought the
    callers back over 2-3 s, and the agents went to those back first. The resync saw the
    older caller's channel in the waiting room: nobody is offered before it is back."""
    r = Room(tmp_path)
    bridge, _, younger = await takeover(r, [waiting("2.2", "AGI", "agi://127.0.0.1:4573/wait"), waiting("1.1")])
    assert younger.dials.empty() and r.room.returning.awaited == {"1.1"}
    older = await r.arrive("1.1", ACD_CALLID="1.1", ACD_ENQUEUED_AT=f"{r.clock.now - 20:.3f}")
    target, _ = await ringing(older)
    assert target.startswith("PJSIP/agent-11,") and younger.dials.empty()
    assert bridge.unconfirmed == frozenset() and not r.room.returning.awaited


async def test_a_caller_who_does_not_come_back_holds_nobody_past_the_bound_or_its_hangup(tmp_path):
    """The wait for callers coming back is bounded: a channel that hangs up (its
    ``Hangup``) no longer holds anyone up, nor one that stays away past
    ``RETURN_BOUND`` (the fallback queue took it, a Dial of its own)."""
    r = Room(tmp_path)
    r.room.returning.bound = 0.05
    _, ami, younger = await takeover(r, [waiting("2.2", "AGI", "agi://127.0.0.1:4573/wait"), waiting("1.1"),
                                         waiting("3.3")])
    ami.handlers["Hangup"]({"Uniqueid": "1.1"})
    await settle()
    assert younger.dials.empty() and r.room.returning.awaited == {"3.3"}
    target, _ = await ringing(younger)                 # 3.3 never came back within the bound
    assert target.startswith("PJSIP/agent-11,")


async def test_only_callers_whose_retry_loop_brings_them_back_are_awaited(tmp_path):
    """Channels in ``acd-waiting`` that will not come back into ``wait`` are not waited
    for: one ringing an agent (``Dial``: its Dial decides), one talking (bridged), one in
    the survey (the ``survey`` FastAGI), and channels elsewhere in the dialplan."""
    r = Room(tmp_path)
    _, _, younger = await takeover(r, [
        waiting("2.2", "AGI", "agi://127.0.0.1:4573/wait"), waiting("4.1", "Dial", "PJSIP/agent-12,15,gm(default)"),
        waiting("4.2", "AppDial", bridge="b-1"), waiting("4.3", "AGI", "agi://127.0.0.1:4573/survey"),
        core_show_channel("PJSIP/citizens-4.4", "4.4", application="AGI", data="agi://127.0.0.1:4573/ivr")])
    target, _ = await ringing(younger)
    assert target.startswith("PJSIP/agent-11,") and not r.room.returning.awaited


def test_a_wait_fastagi_is_recognised_in_each_form_the_dialplan_writes():
    """``AGI(agi://host:port/wait)``, with the per-queue argument (``wait,q``) or query
    (``wait?queue=q``); the IVR's and the survey's FastAGI are not the waiting room's."""
    from acd.daemon.returning_callers import awaited_channels

    assert awaited_channels([waiting("1", "AGI", "agi://127.0.0.1:4573/wait"),
                             waiting("2", "AGI", "agi://127.0.0.1:4573/wait,q"),
                             waiting("3", "AGI", "agi://10.0.0.2/wait?queue=q"),
                             waiting("4", "AGI", "agi://127.0.0.1:4573/survey"),
                             waiting("5", "AGI", "agi://127.0.0.1:4573/ivr,callback"),
                             waiting("6", "StartMusicOnHold", "")]) == {"1", "2", "3", "6"}


@pytest.mark.parametrize("bridged, status", [(True, ("answered", 1)), (False, ("pending", 1))])
async def test_a_callback_an_earlier_daemon_placed_is_not_made_again_when_it_ends(tmp_path, bridged, status):
    """A takeover: the dead daemon placed a callback (agent leg answered, the citizen's leg
    bridged or still ringing) but never wrote its outcome. The resync finds the agent leg
    before the new daemon's book is read (as in bench.failover); that try counts: done if
    the citizen answered, else tried again after the delay, never at once a second time."""
    from sqlalchemy import create_engine, text

    from acd.daemon.callback_book import CallbackBook
    from acd.daemon.callbacks import CallbackDialer
    from tests.daemon_fakes import config_with

    routing = "routing: {callback_attempts: 2, callback_retry_delay: 300, callback_window: 3600}\n"
    url = f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}"
    dead = Room(tmp_path, config=config_with(routing))
    first = CallbackBook(dead.live, url, sweep_every=3600)
    await first.start()
    await first.promise("cb-call", "q", "6912345678", enqueued_at=dead.clock.now - 60)
    await first.close()

    r = Room(tmp_path, config=config_with(routing))
    r.clock.now = dead.clock.now + 30
    r.login("11")
    book = CallbackBook(r.live, url, sweep_every=3600)
    r.room.callbacks = CallbackDialer(r.live, book)
    agent_leg, citizen_leg = "PJSIP/agent-11-00000031", "PJSIP/citizens-00000032"
    channels = [core_show_channel(agent_leg, "acd-cb-1", bridge="b-9" if bridged else "", number="6912345678")]
    if bridged:
        channels.append(core_show_channel(citizen_leg, "1700000000.32", bridge="b-9", number="6912345678"))
    bridge, ami = bridge_for(r, {"DeviceStateList": [], "CoreShowChannels": channels}, variables={
        agent_leg: {"ACD_CALLID": "cb-call", "ACD_QUEUE": "q"}, citizen_leg: {}})
    try:
        await ami.connected[0]()
        assert r.live.engine.agents["11"].call_id == "cb-call"
        await book.start()                              # the book read after the resync
        ami.handlers["Hangup"]({"Uniqueid": "acd-cb-1"})     # the call ends
        book.sweep()
        assert "cb-call" not in r.live.engine.calls     # not made a second time at once
        while book._writes:
            await asyncio.gather(*list(book._writes))
        with create_engine(f"sqlite:///{tmp_path / 'acd.sqlite3'}").connect() as conn:
            assert tuple(conn.execute(text("SELECT status, attempts FROM callbacks")).one()) == status
    finally:
        await book.close()
