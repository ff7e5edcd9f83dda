"""AMI events -> engine events and waiting-room facts; resync after every (re)connect.

What the daemon learns from AMI, and why from AMI:

- ``DialEnd`` with ``DialStatus: ANSWER`` (main/manager_channels.c): the moment the
  agent answered. The caller's Dial only returns when the conversation is over, so this
  is the one timely source of ``OfferAnswered`` (CONNECT in the queue_log).
- ``HangupRequest`` / ``SoftHangupRequest`` / ``Hangup``: a caller's channel is going.
  Measured on Asterisk 16: a caller who hangs up while its channel sits idle in FastAGI
  produces ``HangupRequest`` at once, but ``Hangup`` only after the AGI session closes
  (res_agi.c keeps a dead channel in ``run_agi`` until the script hangs up), so the
  request events are what wake an idle waiting caller; the FastAGI ``HANGUP`` notice says
  the same on the session. All are idempotent.
- ``DeviceStateChange`` for ``PJSIP/<endpoint>``: an agent's phone became unreachable
  (``UNAVAILABLE``: not registered, qualify failed) or came back. Busy states (INUSE,
  RINGING) do not make an agent unreachable: the engine knows its own calls, and waiting
  for a device state before offering the next call would add AMI's latency to routing.

- ``ContactStatus`` (main/stasis_endpoints.c ``contactstatus_to_ami``, Asterisk 16.28:
  ``URI``, ``ContactStatus``, ``AOR``, ``EndpointName``, ``RoundtripUsec``; published by
  res/res_pjsip/pjsip_options.c for every endpoint using the contact's AOR): an agent's
  phone registered (``NonQualified``), un-registered or expired (``Removed``), or its
  qualify changed (``Reachable`` / ``Unreachable``). Kept per agent in
  ``acd.daemon.registrations`` (URI, user agent, status, since when). The event has no
  user agent: for a contact new to us, ``PJSIPShowEndpoint`` (one endpoint) is asked
  once, its ``ContactStatusDetail`` events carry ``UserAgent``
  (res/res_pjsip/pjsip_options.c ``ast_sip_format_contact_ami``).

Reachability has one rule, ``_judge``: a phone is reachable unless its device is
UNAVAILABLE or INVALID, or Asterisk holds no contact it can ring for it (not registered,
or qualify says unreachable), or it is on a call this daemon does not know of. The
engine hears the outcome as ``AgentReachability`` whenever it differs from what the
engine believes (which a failed Dial can also change), so a phone that registers again
brings its agent back however it was lost.

After every login (first connect and each reconnect) ``resync`` asks for the full
picture, because events were lost while the link was down: ``DeviceStateList``
(res_manager_devicestate.c) for every agent phone, ``CoreShowChannels`` to find
waiting callers whose channel no longer exists, and agents already on a call this
daemon does not know of (a restarted daemon, whose predecessor connected them): those
are kept out of routing until their phone reports ``NOT_INUSE``; then each agent's
endpoint with ``PJSIPShowEndpoint``. (16.28 also has ``PJSIPShowContacts``, but it lists
only the registrar's stored contacts, ``ast_sorcery_retrieve_by_fields(..., "contact",
...)`` in pjsip_options.c ``get_all_contacts``, not the static ``contact=`` of an AOR,
and it answers an Error when there are none; ``PJSIPShowEndpoint`` lists both kinds
through ``ast_sip_for_each_contact``, with the user agent, and tells an endpoint
Asterisk does not have, "Unable to retrieve endpoint", from one without contacts.)
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable, Mapping
from typing import Any, Protocol

from acd.daemon.live_engine import LiveEngine
from acd.daemon.registrations import Contact, Registrations
from acd.daemon.waiting_room import WaitingRoom
from acd.engine import events as e

log = logging.getLogger(__name__)

#: device states (main/devicestate.c ast_devstate_str) in which a phone cannot ring
UNREACHABLE_STATES = frozenset({"UNAVAILABLE", "INVALID"})
#: PJSIPShowEndpoint's answer for an endpoint Asterisk does not have
#: (res/res_pjsip/pjsip_configuration.c ami_show_endpoint)
NO_SUCH_ENDPOINT = "Unable to retrieve endpoint"
#: PJSIPShowEndpoint lookups in flight at once during a resync (185 agents on the 1555 line)
RESYNC_CONCURRENCY = 8


class Message(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...


class AMI(Protocol):
    """What the bridge uses of ``acd.protocol.AMIClient``."""

    def on_event(self, name: str, callback: Any) -> None: ...
    def on_connect(self, callback: Any) -> None: ...
    async def action_list(self, name: str, **fields: str) -> list[Any]: ...


class AMIBridge:
    def __init__(self, live: LiveEngine, room: WaitingRoom) -> None:
        self.live = live
        self.room = room
        #: what AMI says of each agent's phone registration (the API and live state read it)
        self.registrations = Registrations()
        #: agent id -> False while its device state is UNAVAILABLE/INVALID
        self._device_ok: dict[str, bool] = {}
        self._busy_elsewhere: set[str] = set()
        #: agent id -> ContactStatus events seen, so a resync answer older than an event is dropped
        self._contact_events: dict[str, int] = {}

    def install(self, ami: AMI) -> None:
        self.ami = ami
        for name in ("HangupRequest", "SoftHangupRequest", "Hangup"):
            ami.on_event(name, self.on_hangup)
        ami.on_event("DialEnd", self.on_dial_end)
        ami.on_event("DeviceStateChange", self.on_device_state)
        ami.on_event("ContactStatus", self.on_contact_status)
        ami.on_connect(self.resync)

    def _agents_by_device(self) -> Mapping[str, str]:
        return {f"PJSIP/{agent.endpoint}": agent.id for agent in self.live.config.agents.values()}

    def _agents_by_endpoint(self) -> Mapping[str, str]:
        return {agent.endpoint: agent.id for agent in self.live.config.agents.values()}

    # ------------------------------------------------------------ the one rule
    def _judge(self, agent_id: str) -> None:
        """Reachable unless the device is UNAVAILABLE/INVALID, Asterisk holds no contact it
        can ring (``usable`` False; None, nothing known, is no objection), or the phone is
        on a call this daemon does not know of. Compared with the engine's own belief, not
        with what we last said: a failed Dial (CHANUNAVAIL) takes an agent out inside the
        engine, and the next word from Asterisk that the phone is fine brings it back."""
        agent = self.live.engine.agents.get(agent_id)
        if agent is None:
            return
        reachable = (self._device_ok.get(agent_id, True)
                     and self.registrations.get(agent_id).usable is not False
                     and agent_id not in self._busy_elsewhere)
        if agent.reachable != reachable:
            self.live.feed(e.AgentReachability(self.live.now(), agent_id, reachable))

    # ----------------------------------------------------------------- events
    def on_hangup(self, message: Message) -> None:
        uniqueid = message.get("Uniqueid")
        if uniqueid:
            self.room.channel_hung_up(str(uniqueid))

    def on_dial_end(self, message: Message) -> None:
        if message.get("DialStatus") == "ANSWER":
            self.room.dial_answered(str(message.get("Uniqueid", "")), str(message.get("DestUniqueid", "")),
                                    self.live.now())

    def on_device_state(self, message: Message) -> None:
        self.device_state(str(message.get("Device", "")), str(message.get("State", "")))

    def device_state(self, device: str, state: str) -> None:
        agent_id = self._agents_by_device().get(device)
        if agent_id is None:
            return
        self._device_ok[agent_id] = state.upper() not in UNREACHABLE_STATES
        if agent_id in self._busy_elsewhere and state.upper() == "NOT_INUSE":
            self._busy_elsewhere.discard(agent_id)
        self._judge(agent_id)

    def on_contact_status(self, message: Message) -> Awaitable[None] | None:
        """A contact of an agent's phone came, went or changed status. Applied at once (a
        phone that un-registered must not be rung by the next offer); when the contact is
        new, the returned coroutine asks for its user agent, and the AMI client runs it
        as a task (``AMIClient._run_callback``)."""
        endpoint = str(message.get("EndpointName", "") or "")
        agent_id = self._agents_by_endpoint().get(endpoint)
        uri, status = message.get("URI"), message.get("ContactStatus")
        if agent_id is None or not uri or not status:
            return None
        self._contact_events[agent_id] = self._contact_events.get(agent_id, 0) + 1
        new = self.registrations.contact_status(agent_id, str(uri), str(status), self.live.now())
        log.info("agent phone contact", extra={"agent_id": agent_id, "uri": uri, "status": status})
        self._judge(agent_id)
        return self._learn_user_agent(agent_id, endpoint) if new else None

    async def _learn_user_agent(self, agent_id: str, endpoint: str) -> None:
        try:
            details = await self.ami.action_list("PJSIPShowEndpoint", Endpoint=endpoint)
        except Exception as error:  # only a detail for the API: never worth more than a log line
            log.info("user agent of a new contact not learnt", extra={"agent_id": agent_id, "reason": repr(error)})
            return
        self.registrations.learn_user_agents(
            agent_id, {contact.uri: contact.user_agent or "" for contact in contacts_of(details)})

    # ----------------------------------------------------------------- resync
    async def resync(self, *_: Any) -> None:
        """Rebuild what AMI told us before the link dropped."""
        try:
            states = await self.ami.action_list("DeviceStateList")
            self.apply_device_states(states)
            channels = await self.ami.action_list("CoreShowChannels")
            self.apply_channels(channels)
        except Exception:  # the next reconnect tries again; routing goes on meanwhile
            log.exception("AMI resync failed")
        await self.resync_registrations()

    async def resync_registrations(self) -> None:
        """Every agent's endpoint, a few at a time; one that fails keeps what we knew."""
        gate = asyncio.Semaphore(RESYNC_CONCURRENCY)

        async def one(endpoint: str, agent_id: str) -> None:
            async with gate:
                await self.resync_registration(agent_id, endpoint)

        await asyncio.gather(*(one(endpoint, agent_id) for endpoint, agent_id in self._agents_by_endpoint().items()))

    async def resync_registration(self, agent_id: str, endpoint: str) -> None:
        seen = self._contact_events.get(agent_id, 0)
        try:
            details = await self.ami.action_list("PJSIPShowEndpoint", Endpoint=endpoint)
        except Exception as error:
            if NO_SUCH_ENDPOINT in str(getattr(error, "message", "")):
                # a config out of step with Asterisk: no opinion; a Dial says CHANUNAVAIL
                if self.registrations.forget(agent_id, self.live.now()):
                    self._judge(agent_id)
                return
            log.warning("agent phone registration not resynced", extra={"agent_id": agent_id,
                                                                        "reason": repr(error)})
            return
        if self._contact_events.get(agent_id, 0) != seen:
            return      # a ContactStatus came in meanwhile: newer than this answer
        if self.registrations.replace_contacts(agent_id, contacts_of(details), self.live.now()):
            self._judge(agent_id)

    def apply_device_states(self, states: Iterable[Message]) -> None:
        for message in states:
            if message.get("Device"):
                self.device_state(str(message.get("Device")), str(message.get("State", "")))

    def apply_channels(self, channels: Iterable[Message]) -> None:
        channels = list(channels)
        alive = {str(m.get("Uniqueid")) for m in channels if m.get("Uniqueid")}
        agents = self._agents_by_device()
        engine = self.live.engine
        for message in channels:
            device = str(message.get("Channel", "")).rsplit("-", 1)[0]
            agent_id = agents.get(device)
            if not agent_id:
                continue
            agent = engine.agents.get(agent_id)
            if agent is not None and agent.call_id is None and agent_id not in self._busy_elsewhere:
                log.info("agent on a call unknown to this daemon; out of routing until it ends",
                         extra={"agent_id": agent_id, "channel": message.get("Channel")})
                self._busy_elsewhere.add(agent_id)
                self._judge(agent_id)
        for caller in list(self.room.callers.values()):
            if caller.channel_uniqueid not in alive:
                log.info("waiting caller's channel is gone", extra={"call_id": caller.call_id})
                self.room.channel_hung_up(caller.channel_uniqueid)


def contacts_of(details: Iterable[Message]) -> list[Contact]:
    """The contacts in a ``PJSIPShowEndpoint`` answer: its ``ContactStatusDetail`` events
    (``URI``, ``Status``, ``UserAgent``; res/res_pjsip/pjsip_options.c
    ``ast_sip_format_contact_ami``), static and registered contacts alike."""
    contacts = []
    for message in details:
        if str(message.get("Event", "")).lower() != "contactstatusdetail" or not message.get("URI"):
            continue
        contacts.append(Contact(str(message.get("URI")), str(message.get("Status") or "Unknown"),
                                str(message.get("UserAgent") or "") or None))
    return contacts
