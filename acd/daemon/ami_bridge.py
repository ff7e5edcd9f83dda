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

After every login (first connect and each reconnect) ``resync`` asks for the full
picture, because events were lost while the link was down: ``DeviceStateList``
(res_manager_devicestate.c) for every agent phone, and ``CoreShowChannels`` to find
waiting callers whose channel no longer exists, and agents already on a call this
daemon does not know of (a restarted daemon, whose predecessor connected them): those
are kept out of routing until their phone reports ``NOT_INUSE``.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from acd.daemon.live_engine import LiveEngine
from acd.daemon.waiting_room import WaitingRoom
from acd.engine import events as e

log = logging.getLogger(__name__)

#: device states (main/devicestate.c ast_devstate_str) in which a phone cannot ring
UNREACHABLE_STATES = frozenset({"UNAVAILABLE", "INVALID"})


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
        self._reachable: dict[str, bool] = {}
        self._busy_elsewhere: set[str] = set()

    def install(self, ami: AMI) -> None:
        self.ami = ami
        for name in ("HangupRequest", "SoftHangupRequest", "Hangup"):
            ami.on_event(name, self.on_hangup)
        ami.on_event("DialEnd", self.on_dial_end)
        ami.on_event("DeviceStateChange", self.on_device_state)
        ami.on_connect(self.resync)

    def _agents_by_device(self) -> Mapping[str, str]:
        return {f"PJSIP/{agent.endpoint}": agent.id for agent in self.live.config.agents.values()}

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
        reachable = state.upper() not in UNREACHABLE_STATES
        if agent_id in self._busy_elsewhere:
            if state.upper() != "NOT_INUSE":
                return
            self._busy_elsewhere.discard(agent_id)
        if self._reachable.get(agent_id) == reachable:
            return
        self._reachable[agent_id] = reachable
        self.live.feed(e.AgentReachability(self.live.now(), agent_id, reachable))

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
                self._reachable[agent_id] = False
                self.live.feed(e.AgentReachability(self.live.now(), agent_id, False))
        for caller in list(self.room.callers.values()):
            if caller.channel_uniqueid not in alive:
                log.info("waiting caller's channel is gone", extra={"call_id": caller.call_id})
                self.room.channel_hung_up(caller.channel_uniqueid)
