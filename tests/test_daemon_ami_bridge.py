"""AMI events reach the engine and the waiting room as the right facts."""
from __future__ import annotations

import asyncio

from acd.daemon.ami_bridge import AMIBridge
from acd.protocol.errors import AMIActionError
from acd.engine import AgentState
from acd.engine import decisions as d
from acd.engine import events as e
from tests.daemon_fakes import Room, ringing, settle


class FakeAMI:
    """Registers callbacks and answers event-list actions from canned lists, by action
    name, or by ``(name, field value)`` for actions about one thing (``PJSIPShowEndpoint``
    of one endpoint). An endpoint not listed is one Asterisk does not have: the Error
    res_pjsip's ami_show_endpoint answers."""

    def __init__(self, lists: dict) -> None:
        self.lists = lists
        self.handlers: dict[str, object] = {}
        self.connected: list[object] = []
        self.asked: list[tuple[str, ...]] = []

    def on_event(self, name, callback) -> None:
        self.handlers[name] = callback

    def on_connect(self, callback) -> None:
        self.connected.append(callback)

    async def action_list(self, name: str, **fields: str) -> list[dict]:
        key = (name, *fields.values())
        self.asked.append(key)
        if key in self.lists:
            return self.lists[key]
        if name == "PJSIPShowEndpoint":
            raise AMIActionError(name, f"Unable to retrieve endpoint {fields['Endpoint']}\n")
        return self.lists[name]


def bridge_for(room: Room, lists: dict[str, list[dict]] | None = None) -> tuple[AMIBridge, FakeAMI]:
    bridge = AMIBridge(room.live, room.room)
    ami = FakeAMI(lists or {})
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


async def test_dial_end_answer_connects_the_call_at_that_moment(tmp_path):
    r = Room(tmp_path)
    r.login("11")
    bridge, ami = bridge_for(r)
    session = await r.arrive("1.1")
    await ringing(session)
    r.clock.now += 4
    ami.handlers["DialEnd"]({"Uniqueid": "1.1", "DestUniqueid": "7.7", "DialStatus": "ANSWER"})
    assert r.live.engine.agents["11"].state is AgentState.ON_CALL
    assert [c.ring_time for c in r.of(d.CallConnected)] == [4]
    assert "|7.7|" in r.queue_log.path.read_text()


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
