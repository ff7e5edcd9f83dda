"""Placing the callbacks the engine offers: the agent's phone first, then the citizen.

A caller who asked to be called back (``ACD_CALLBACK``, set by the IVR) hangs up and
keeps the place in line inside the engine. When the engine offers that call to an
agent there is no caller channel to Dial from, so the daemon asks Asterisk over AMI to
``Originate`` the agent's endpoint; when the agent answers, the new channel runs the
dialplan at ``acd-callback`` / ``<number>``, which dials the citizen (the generated
dialplan owns how numbers leave the PBX).

Facts used (main/manager.c, Asterisk 16): ``Originate`` with ``Async: true`` answers at
once and reports the first leg's fate later in ``OriginateResponse`` (``Response:
Success`` once answered; else ``Failure`` with ``Reason``, the ``AST_CONTROL`` code:
3 ring timeout, 5 busy, 8 congestion, 1/0 hung up or unreachable); ``ChannelId`` sets the
new channel's Uniqueid, so that event and the channel's ``Hangup`` are recognised
without any lookup, and the end of the call becomes ``AgentHungUp`` (COMPLETEAGENT).
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from acd.daemon.live_engine import LiveEngine
from acd.engine import decisions as d
from acd.engine import events as e

log = logging.getLogger(__name__)

CALLBACK_CONTEXT = "acd-callback"

#: OriginateResponse Reason (AST_CONTROL_* of the agent's leg) -> OfferFailed.reason
ORIGINATE_FAILURES: Mapping[str, str] = {"3": "no_answer", "5": "busy", "8": "failed", "1": "unreachable",
                                         "0": "unreachable"}


@dataclass
class _Placed:
    call_id: str
    agent_id: str
    answered: bool = False


class CallbackDialer:
    def __init__(self, live: LiveEngine) -> None:
        self.live = live
        self.ami: Any = None
        self._placed: dict[str, _Placed] = {}       # agent channel's Uniqueid -> the callback
        self._tasks: set[asyncio.Task[None]] = set()

    def install(self, ami: Any) -> None:
        self.ami = ami
        ami.on_event("OriginateResponse", self.on_originate_response)
        ami.on_event("Hangup", self.on_hangup)

    def place(self, offer: d.OfferCall) -> None:
        """Start ringing the agent for a callback (returns at once; the outcome comes back
        from AMI as OfferAnswered / OfferFailed)."""
        task = asyncio.get_running_loop().create_task(self._originate(offer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _originate(self, offer: d.OfferCall) -> None:
        agent = self.live.config.agents[offer.agent_id]
        channel_id = f"acd-cb-{uuid.uuid4().hex[:16]}"
        self._placed[channel_id] = _Placed(offer.call_id, offer.agent_id)
        try:
            if self.ami is None:
                raise ConnectionError("no AMI link")
            response = await self.ami.action(
                "Originate", Channel=f"PJSIP/{agent.endpoint}", Context=CALLBACK_CONTEXT, Exten=offer.callback or "",
                Priority="1", Timeout=str(int(offer.ring_timeout * 1000)), Async="true", ChannelId=channel_id,
                CallerID=f"Callback <{offer.callback}>",
                Variable=[f"ACD_CALLID={offer.call_id}", f"ACD_QUEUE={offer.queue}", f"ACD_AGENT={offer.agent_id}"])
            if response.get("Response") != "Success":
                raise ConnectionError(str(response.get("Message", "Originate refused")))
        except (ConnectionError, asyncio.TimeoutError) as error:
            log.error("callback not placed", extra={"call_id": offer.call_id, "agent_id": offer.agent_id,
                                                   "reason": str(error)})
            if self._placed.pop(channel_id, None) is not None:
                self.live.feed(e.OfferFailed(self.live.now(), offer.call_id, offer.agent_id, "failed"))

    def on_originate_response(self, message: Any) -> None:
        placed = self._placed.get(str(message.get("Uniqueid", "")))
        if placed is None:
            return
        if message.get("Response") == "Success":
            placed.answered = True
            self.live.feed(e.OfferAnswered(self.live.now(), placed.call_id, placed.agent_id))
        else:
            del self._placed[str(message.get("Uniqueid"))]
            reason = ORIGINATE_FAILURES.get(str(message.get("Reason", "")), "failed")
            self.live.feed(e.OfferFailed(self.live.now(), placed.call_id, placed.agent_id, reason))

    def on_hangup(self, message: Any) -> None:
        placed = self._placed.pop(str(message.get("Uniqueid", "")), None)
        if placed is not None and placed.answered:
            self.live.feed(e.AgentHungUp(self.live.now(), placed.call_id))
        elif placed is not None:
            # hung up before OriginateResponse said anything: the ring attempt failed
            self.live.feed(e.OfferFailed(self.live.now(), placed.call_id, placed.agent_id, "failed"))
