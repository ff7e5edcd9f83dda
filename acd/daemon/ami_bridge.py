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
  ``acd.registrations`` (URI, user agent, status, since when). The event has no
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
are kept out of routing until their phone reports ``NOT_INUSE``, and the call each is
on is identified for escalation (below); then each agent's endpoint with
``PJSIPShowEndpoint`` (not ``PJSIPShowContacts``, which misses static contacts). After a
restart the same channel list says which waiting callers are still on their way back
into ``wait``; the restored agents join routing once those are back in line
(``acd.daemon.returning_callers``).

Identifying a call an earlier daemon connected, so its agent can still escalate it
(``acd.daemon.escalation``): the call contract keeps a call's identity on the caller's
channel (``ACD_CALLID``, ``ACD_QUEUE``), which the reliability contract relies on
(docs/reliability.md), so the restarted daemon reads it there: the agent's ``Up``
channel from ``CoreShowChannels``, its bridge peers (same ``BridgeId``) asked with
``Getvar`` first, then the agent's own channel (a callback's agent leg carries the
variables). The Asterisk facts behind each step, with their sources:
docs/architecture.md, "Asterisk facts the daemon relies on".

A Getvar that fails (timeout, error, no link) is logged and the agent stays as before:
out of routing until its phone is free, its call not escalatable here. An agent still
unidentified is tried again at the next resync.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol

from acd import call_contract as c
from acd.config.model import Config
from acd.daemon.escalation import Escalations
from acd.daemon.live_engine import LiveEngine
from acd.daemon.queue_log import attended_transfer_from_ami
from acd.daemon.waiting_room import WaitingRoom, epoch_seconds
from acd.engine import events as e
from acd.engine.decisions import Ignored
from acd.protocol.errors import AMIActionError
from acd.registrations import Contact, Registrations

log = logging.getLogger(__name__)
#: The AMI event classes the daemon reads (its Login's ``Events`` mask): ``call`` for
#: Newchannel, Hangup, HangupRequest, SoftHangupRequest, DialBegin, DialEnd,
#: OriginateResponse and DeviceStateChange (main/devicestate.c: ``EVENT_FLAG_CALL``),
#: ``system`` for ContactStatus. Left out, though manager.conf lets it read them:
#: ``dialplan`` (Newexten and VarSet on every priority and Set of every call), ``agi``
#: (AGIExecStart and AGIExecEnd around every AGI command), ``dtmf``, ``agent``, ``user`` and
#: ``reporting`` (RTCP reports): most of the stream at a few hundred calls, which Asterisk
#: wrote and the daemon parsed only to drop. A handler for an event of another class
#: needs its class here.
AMI_EVENT_CLASSES = "call,system"

#: device states (main/devicestate.c ast_devstate_str) in which a phone cannot ring
UNREACHABLE_STATES = frozenset({"UNAVAILABLE", "INVALID"})
#: PJSIPShowEndpoint's answer for an endpoint Asterisk does not have
#: (res/res_pjsip/pjsip_configuration.c ami_show_endpoint)
NO_SUCH_ENDPOINT = "Unable to retrieve endpoint"
#: PJSIPShowEndpoint lookups in flight at once during a resync (185 agents on the 1555 line)
RESYNC_CONCURRENCY = 8
#: how long one Getvar may take during a resync (seconds)
GETVAR_TIMEOUT = 2.0
#: no caller id, as ast_manager_build_channel_state_string_prefix writes it
NO_CALLER_ID = ("", "<unknown>")
#: seconds a restarted daemon keeps restored agents out of routing waiting for AMI's
#: resync; past it they are released unchecked (``release_unconfirmed``) so callers are
#: not held for an AMI that never comes
RESYNC_GRACE = 30.0


class Message(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...


class AMI(Protocol):
    """What the bridge uses of ``acd.protocol.AMIClient``."""

    def on_event(self, name: str, callback: Any) -> None: ...
    def on_connect(self, callback: Any) -> None: ...
    async def action(self, name: str, *, timeout: float | None = None, **fields: str) -> Any: ...
    async def action_list(self, name: str, **fields: str) -> list[Any]: ...


class AMIBridge:
    def __init__(self, live: LiveEngine, room: WaitingRoom, escalations: Escalations | None = None) -> None:
        """``escalations`` hears of the calls an earlier daemon connected, found at resync
        (None: they are only kept out of routing)."""
        self.live = live
        self.room = room
        self.escalations = escalations
        #: what AMI says of each agent's phone registration (the API and live state read it)
        self.registrations = Registrations()
        #: agent id -> False while its device state is UNAVAILABLE/INVALID
        self._device_ok: dict[str, bool] = {}
        self._busy_elsewhere: set[str] = set()
        #: busy-elsewhere agent id -> the call found on its phone (``ACD_CALLID``)
        self._found_calls: dict[str, str] = {}
        #: agent id -> ContactStatus events seen, so a resync answer older than an event is dropped
        self._contact_events: dict[str, int] = {}
        #: a caller channel's Uniqueid -> the agent's channel its Dial is ringing (DialBegin)
        self._dialling: dict[str, str] = {}
        #: channel uniqueid -> (a call an earlier daemon connected, resumed here; whose leg:
        #: "caller" or "agent"), so the first leg to hang up says who ended it
        self._resumed: dict[str, tuple[str, str]] = {}
        #: agents restored from the saved roster whose phones no resync has seen yet
        self._unconfirmed: set[str] = set()
        #: calls an earlier daemon connected that this one resumed (ended or not)
        self.resumed_calls: set[str] = set()
        #: called after each resync has applied the channels and identified the calls
        self.resynced: list[Callable[[], Awaitable[None]]] = []
        #: (the config they were built from, device -> agent id, endpoint -> agent id)
        self._lookups: tuple[Config | None, Mapping[str, str], Mapping[str, str]] = (None, {}, {})

    def install(self, ami: AMI) -> None:
        self.ami = ami
        for name in ("HangupRequest", "SoftHangupRequest", "Hangup"):
            ami.on_event(name, self.on_hangup)
        ami.on_event("DialEnd", self.on_dial_end)
        ami.on_event("DialBegin", self.on_dial_begin)
        self.room.hangup_dial = self.hangup_dial
        ami.on_event("DeviceStateChange", self.on_device_state)
        ami.on_event("ContactStatus", self.on_contact_status)
        ami.on_event("AttendedTransfer", self.on_attended_transfer)
        ami.on_connect(self.resync)

    def _agents_by_device(self) -> Mapping[str, str]:
        """Device -> agent id, built once per config: every DeviceStateChange (each phone
        and trunk channel, several per call) looks its device up here."""
        return self._by_config()[0]

    def _agents_by_endpoint(self) -> Mapping[str, str]:
        return self._by_config()[1]

    def _by_config(self) -> tuple[Mapping[str, str], Mapping[str, str]]:
        config = self.live.config
        if self._lookups[0] is not config:      # a reload replaced it
            agents = config.agents.values()
            self._lookups = (config, {f"PJSIP/{agent.endpoint}": agent.id for agent in agents},
                             {agent.endpoint: agent.id for agent in agents})
        return self._lookups[1], self._lookups[2]

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
                     and agent_id not in self._busy_elsewhere
                     and agent_id not in self._unconfirmed)
        if agent.reachable != reachable:
            self.live.feed(e.AgentReachability(self.live.now(), agent_id, reachable))

    # ----------------------------------------------------------------- events
    def on_hangup(self, message: Message) -> None:
        uniqueid = message.get("Uniqueid")
        if uniqueid:
            self._dialling.pop(str(uniqueid), None)
            self.room.channel_hung_up(str(uniqueid))
            resumed = self._resumed.pop(str(uniqueid), None)
            if resumed is not None and resumed[0] in self.live.engine.calls:
                call_id, side = resumed
                self.live.feed(e.CallerHungUp(self.live.now(), call_id) if side == "caller"
                               else e.AgentHungUp(self.live.now(), call_id))

    def on_attended_transfer(self, message: Message) -> None:
        """``AttendedTransfer`` naming a caller this room connected: the call ends now, as
        that transfer (``queue_log.attended_transfer_from_ami``,
        ``WaitingRoom.attended_transfer``). Blind transfers are read from the caller's
        channel (``WaitingRoom._note_blind_transfer``)."""
        transfer = attended_transfer_from_ami(message)
        if transfer is None:
            return
        uniqueids, event, fields = transfer
        for uniqueid in uniqueids:       # the transferee, else the target: the first the room connected
            if self.room.attended_transfer(uniqueid, event, fields):
                return

    def on_dial_begin(self, message: Message) -> None:
        """DialBegin (Asterisk 16 AMI events): ``Uniqueid`` is the caller's channel,
        ``DestChannel`` the agent's being rung; kept until DialEnd, so a Dial the engine
        withdrew at its ring deadline can be hung up (``hangup_dial``)."""
        caller, dest = str(message.get("Uniqueid", "") or ""), str(message.get("DestChannel", "") or "")
        if caller and dest:
            self._dialling[caller] = dest

    async def hangup_dial(self, caller_uniqueid: str) -> None:
        """Hang up the agent's channel a caller's Dial is ringing (AMI ``Hangup``), if
        there is one; the caller's own channel stays. Raises when Asterisk refuses."""
        channel = self._dialling.pop(caller_uniqueid, None)
        if channel is None:
            return
        response = await self.ami.action("Hangup", timeout=2.0, Channel=channel)
        if response.get("Response") == "Error":
            raise AMIActionError("Hangup", str(response.get("Message", "")))

    def on_dial_end(self, message: Message) -> Awaitable[None] | None:
        """The agent answered: the engine hears it now, and the moment goes onto the
        caller's channel (``ACD_CONNECTED_AT``, AMI ``Setvar``) for a daemon that may
        have to resume the call after a restart (``resume``); the AMI client runs the
        returned coroutine as a task."""
        self._dialling.pop(str(message.get("Uniqueid", "")), None)
        if message.get("DialStatus") != "ANSWER":
            return None
        at = self.live.now()
        if not self.room.dial_answered(str(message.get("Uniqueid", "")), str(message.get("DestUniqueid", "")), at):
            return None
        return self._stamp(str(message.get("Channel", "")), c.CONNECTED_AT, f"{at:.3f}")

    async def _stamp(self, channel: str, variable: str, value: str) -> None:
        try:
            await self.ami.action("Setvar", timeout=GETVAR_TIMEOUT, Channel=channel, Variable=variable, Value=value)
        except Exception as error:  # only the accuracy of a resumed call's talk time
            log.info("channel variable not set", extra={"channel": channel, "variable": variable,
                                                        "reason": repr(error)})

    def on_device_state(self, message: Message) -> None:
        self.device_state(str(message.get("Device", "")), str(message.get("State", "")))

    def device_state(self, device: str, state: str) -> None:
        agent_id = self._agents_by_device().get(device)
        if agent_id is None:
            return
        self._device_ok[agent_id] = state.upper() not in UNREACHABLE_STATES
        if agent_id in self._busy_elsewhere and state.upper() == "NOT_INUSE":
            self._end_resumed(agent_id)
            self._busy_elsewhere.discard(agent_id)
            if self._found_calls.pop(agent_id, None) is not None and self.escalations is not None:
                self.escalations.phone_freed(agent_id)
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

    # ----------------------------------------------------------------- restored agents
    def hold_until_resync(self, agent_ids: Iterable[str]) -> None:
        """Agents restored from the saved roster (a restarted daemon) are out of routing
        until a resync has placed them: one may still be talking to a caller the last
        daemon connected, which only AMI (``CoreShowChannels``) tells. Call before
        their logins are fed, so no offer can slip in between. From now on the waiting
        room notes the callers coming back, so the resync knows whom to wait for
        (``acd.daemon.returning_callers``)."""
        self.room.returning.begin()
        for agent_id in agent_ids:
            if agent_id in self.live.engine.agents:
                self._unconfirmed.add(agent_id)
                self.live.feed(e.AgentReachability(self.live.now(), agent_id, False))

    @property
    def busy_elsewhere(self) -> frozenset[str]:
        """Agents whose phone is on a call this daemon did not place."""
        return frozenset(self._busy_elsewhere)

    @property
    def unconfirmed(self) -> frozenset[str]:
        """Restored agents still waiting for the first resync."""
        return frozenset(self._unconfirmed)

    def release_unconfirmed(self, reason: str) -> None:
        """Put the restored agents into routing without a resync: the degraded case,
        when AMI has not come for ``RESYNC_GRACE`` seconds. Logged loudly: an agent still
        talking may be rung (its phone answers busy or rings; the engine rests it)."""
        self.room.returning.expect(())      # no channel list to wait on
        if not self._unconfirmed:
            return
        held, self._unconfirmed = sorted(self._unconfirmed), set()
        log.error("restored agents released without the AMI state check", extra={"reason": reason,
                                                                                 "agents": len(held)})
        for agent_id in held:
            self._judge(agent_id)

    def _confirm_restored(self) -> None:
        """The resync has placed the restored agents; they join routing once the waiting
        callers it found are back in line at their places (``returning_callers``), so
        the agents go to the longest waiting, not to the quickest back."""
        if self._unconfirmed and self.room.returning.when_back(self._confirm_restored):
            return
        held, self._unconfirmed = sorted(self._unconfirmed), set()
        if held:
            log.info("restored agents placed by the AMI resync", extra={"agents": len(held)})
        for agent_id in held:
            self._judge(agent_id)

    # ----------------------------------------------------------------- resync
    async def resync(self, *_: Any) -> None:
        """Rebuild what AMI told us before the link dropped. Restored agents join
        routing only once the device states and channels are applied."""
        try:
            states = await self.ami.action_list("DeviceStateList")
            self.apply_device_states(states)
            channels = await self.ami.action_list("CoreShowChannels")
            self.apply_channels(channels)
            # the first resync since a restart: whom the held agents wait for (none held: nobody)
            self.room.returning.expect(channels if self._unconfirmed else (), self.room.channels())
            self._confirm_restored()
            await self.identify_calls(channels)
            for listener in list(self.resynced):
                await listener()
        except Exception:  # the next reconnect tries again; routing goes on meanwhile
            log.exception("AMI resync failed")
        await self.resync_registrations()

    async def resync_registrations(self) -> None:
        """Every agent's endpoint, a few at a time; one that fails keeps what we knew."""
        await _few_at_a_time(self.resync_registration(agent_id, endpoint)
                             for endpoint, agent_id in self._agents_by_endpoint().items())

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

    async def identify_calls(self, channels: Iterable[Message]) -> None:
        """For each busy-elsewhere agent not identified yet, the call its phone is on, read
        from the channels' ``ACD_CALLID`` / ``ACD_QUEUE`` and told to ``escalations``; a
        few agents at a time, like the registrations."""
        await _few_at_a_time(
            self.identify_call(agent_id, candidates)
            for agent_id, candidates in calls_to_identify(channels, self._agents_by_device()).items()
            if agent_id in self._busy_elsewhere and agent_id not in self._found_calls)

    async def identify_call(self, agent_id: str, candidates: Iterable[Message]) -> None:
        """The first of ``candidates`` (channels, as CoreShowChannel items) carrying an
        ``ACD_CALLID`` is the call the agent took: the engine resumes it (``resume``),
        and the agent may escalate it. Any Getvar failure is logged and leaves the agent
        as it was (still out of routing, the call not escalatable)."""
        candidates = list(candidates)
        for message in candidates:
            channel = str(message.get("Channel", ""))
            try:
                call_id = await self._getvar(channel, c.CALLID)
                queue = await self._getvar(channel, c.QUEUE) if call_id else ""
                times = [await self._getvar(channel, name) for name in (c.ENQUEUED_AT, c.CONNECTED_AT)
                         ] if queue else ["", ""]
            except Exception as error:
                log.warning("call on an agent's phone not identified", extra={
                    "agent_id": agent_id, "channel": channel, "reason": repr(error)})
                return
            if not call_id:
                continue
            if not queue:
                log.warning("call on an agent's phone has no ACD_QUEUE; not identified",
                            extra={"agent_id": agent_id, "channel": channel, "call_id": call_id})
                return
            agent = self.live.engine.agents.get(agent_id)
            if agent is not None and agent.call_id is not None:
                return      # the engine gave the agent a call meanwhile: that one is current
            number = str(message.get("CallerIDNum") or "").strip()
            self._found_calls[agent_id] = call_id
            escalations = self.escalations
            caller = None if number.lower() in NO_CALLER_ID else number
            if agent_id not in self._busy_elsewhere:    # its phone became free during the Getvars
                del self._found_calls[agent_id]
                if escalations is not None:
                    escalations.found_on_call(agent_id, call_id, queue, caller)
                    escalations.phone_freed(agent_id)
                return
            enqueued_text, connected_text = times
            own = self._own_channel(agent_id, candidates)
            self.resume(agent_id, call_id, queue, str(message.get("Uniqueid") or ""), enqueued_text, connected_text,
                        talking_for=_duration(own), agent_uniqueid=str(own.get("Uniqueid") or "") if own else "")
            book = self.room.callbacks.book if self.room.callbacks is not None else None
            if book is not None and call_id in self.resumed_calls:
                # a callback's try under way: the citizen answered if the leg is bridged
                # (Dial bridges only an answered callee; CoreShowChannel's BridgeId)
                book.resumed(call_id, answered=bool(message.get("BridgeId")))
            if escalations is not None:     # after the resume, whose CallConnected it hears too
                escalations.found_on_call(agent_id, call_id, queue, caller)
            return
        log.info("no ACD call found on an agent's busy phone", extra={"agent_id": agent_id})

    def resume(self, agent_id: str, call_id: str, queue: str, caller_uniqueid: str, enqueued_text: str,
               connected_text: str, talking_for: float | None = None, agent_uniqueid: str = "") -> None:
        """Make a call an earlier daemon connected this engine's conversation
        (``CallResumed``): the agent shows on call, and the call's end writes its COMPLETE
        line and record. When it connected: ``ACD_CONNECTED_AT``, which the daemon sets
        on the caller's channel at the answer (``on_dial_end``); else the agent's channel's
        age (``Duration``, counted from the ring, so a few seconds early); else now.
        Its end: the caller's or the agent's channel hanging up, the first of them
        saying who ended it (``on_hangup``), the agent's phone
        becoming free (``device_state``), or the caller coming back into ``wait``
        answered (the waiting room)."""
        now = self.live.now()
        connected_at = epoch_seconds(connected_text)
        if connected_at is None:
            connected_at = now - talking_for if talking_for is not None else now
        enqueued_at = epoch_seconds(enqueued_text)
        formatter = self.room.queue_log
        if formatter is not None:
            formatter.note_resumed(call_id)
        decisions = self.live.feed(e.CallResumed(now, call_id, agent_id, queue,
                                                 connected_at if enqueued_at is None else enqueued_at, connected_at))
        if call_id in self.live.engine.calls and self.live.engine.calls[call_id].agent_id == agent_id:
            self.resumed_calls.add(call_id)
            if caller_uniqueid:
                self._resumed[caller_uniqueid] = (call_id, "caller")
            if agent_uniqueid and agent_uniqueid != caller_uniqueid:    # (a callback's agent leg is both)
                self._resumed[agent_uniqueid] = (call_id, "agent")
            log.info("call an earlier daemon connected resumed", extra={"call_id": call_id, "agent_id": agent_id})
        else:
            reasons = [x.reason for x in decisions if isinstance(x, Ignored)]
            log.info("call an earlier daemon connected not resumed", extra={"call_id": call_id, "reasons": reasons})

    def _end_resumed(self, agent_id: str) -> None:
        """The phone of an agent on a resumed call is free: the call is over."""
        agent = self.live.engine.agents.get(agent_id)
        call_id = agent.call_id if agent is not None else None
        if call_id is not None and any(resumed == call_id for resumed, _ in self._resumed.values()):
            self.live.feed(e.AgentHungUp(self.live.now(), call_id))

    def _own_channel(self, agent_id: str, channels: Iterable[Message]) -> Message | None:
        agents = self._agents_by_device()
        return next((m for m in channels if agents.get(str(m.get("Channel", "")).rsplit("-", 1)[0]) == agent_id),
                    None)

    async def _getvar(self, channel: str, variable: str) -> str:
        """One channel variable over AMI; raises on an Error answer (``No such channel``)."""
        response = await self.ami.action("Getvar", timeout=GETVAR_TIMEOUT, Channel=channel, Variable=variable)
        if str(response.get("Response", "")).lower() != "success":
            raise AMIActionError("Getvar", str(response.get("Message", "") or ""))
        return str(response.get("Value") or "")


async def _few_at_a_time(lookups: Iterable[Awaitable[None]]) -> None:
    """Run a resync's per-agent AMI lookups, ``RESYNC_CONCURRENCY`` at once: all 185 agents
    at once would queue that many actions on the one AMI link ahead of live traffic."""
    gate = asyncio.Semaphore(RESYNC_CONCURRENCY)

    async def one(lookup: Awaitable[None]) -> None:
        async with gate:
            await lookup

    await asyncio.gather(*(one(lookup) for lookup in lookups))


def calls_to_identify(channels: Iterable[Message], agents_by_device: Mapping[str, str]) -> dict[str, list[Message]]:
    """Agent id -> the channels that may carry its call's ``ACD_CALLID``, in the order to
    ask: the other channels in the bridges of its ``Up`` channels (the caller), then those
    channels themselves (a callback's agent leg). An agent whose phone is only ringing
    took no call and is left out; one dialling a feature code as well has its call's
    bridge asked first."""
    channels = list(channels)
    by_bridge: dict[str, list[Message]] = {}
    for message in channels:
        bridge = str(message.get("BridgeId") or "")
        if bridge:
            by_bridge.setdefault(bridge, []).append(message)
    peers: dict[str, list[Message]] = {}
    own: dict[str, list[Message]] = {}
    for message in channels:
        name = str(message.get("Channel", ""))
        agent_id = agents_by_device.get(name.rsplit("-", 1)[0])
        if agent_id is None or not _is_up(message):
            continue
        own.setdefault(agent_id, []).append(message)
        bridge = str(message.get("BridgeId") or "")
        peers.setdefault(agent_id, []).extend(
            m for m in by_bridge.get(bridge, []) if str(m.get("Channel", "")) != name)
    return {agent_id: [*peers[agent_id], *mine] for agent_id, mine in own.items()}


def _duration(message: Message | None) -> float | None:
    """A CoreShowChannel's ``Duration`` (``HH:MM:SS``, main/manager.c) in seconds."""
    if message is None:
        return None
    try:
        hours, minutes, seconds = (int(part) for part in str(message.get("Duration", "")).split(":"))
    except ValueError:
        return None
    return float(hours * 3600 + minutes * 60 + seconds)


def _is_up(message: Message) -> bool:
    """``AST_STATE_UP`` (include/asterisk/channelstate.h: 6, ``ast_state2str``: "Up")."""
    return str(message.get("ChannelState", "")) == "6" or str(message.get("ChannelStateDesc", "")) == "Up"


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
