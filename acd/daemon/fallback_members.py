"""The degraded path's app_queue queues ring only agents who are logged in and not paused.

The generated ``queues_generated.conf`` lists every agent's phone as a static member of
each degraded-path queue (``acd-fallback``, and the app_queue queues named as the
config's queues), so the queues work when no daemon has ever run. But once the ACD
knows who works, a caller sent to the fallback (no daemon for a while) must not ring
the phone of an agent who never logged in or is on a break.

So the daemon sets one Custom device per agent (``dialplan.generate.fallback_device``):
``BUSY`` while the agent is logged out or paused in the ACD, ``INVALID`` otherwise. Each
member's state is the agent's hint, the phone and that device together, so a BUSY
device makes the member busy in every degraded-path queue at once and app_queue
(``ringinuse=no``) does not ring it; INVALID leaves the phone's own state. It is sent as
AMI ``Setvar`` of ``DEVICE_STATE(Custom:...)`` without a channel (``action_setvar`` in
main/manager.c calls the function's write, ``devstate_write`` in funcs/func_devstate.c;
class ``call``, which the daemon's AMI user may write).

Why not app_queue's pause flag (AMI ``QueuePause``), as before: ``set_queue_member_pause``
in apps/app_queue.c (Asterisk 16) writes a PAUSE/UNPAUSE line into the queue_log for
the queue at every call, and one without ``Queue`` a PAUSEALL line more. The degraded
path's queues now carry the config's names, so those lines would stand beside the
daemon's own PAUSE lines for the same queue and every report would count the pause
twice (and a log-out as a pause). A device state writes no queue_log line.

The state survives the daemon (which is the point: the fallback then rings the agents
who were working), ``module reload app_queue`` and an Asterisk restart (func_devstate
keeps it in astdb). Paused: logged out or paused in the ACD; every other state
(available, ringing, on a call, wrap-up) is not, and ``ringinuse=no`` already keeps
app_queue from ringing a phone that is busy with the ACD's call.

Sent when an agent's paused-ness changes, and for every agent after each AMI login
(changes made while the link was down are lost), a few at a time.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from acd.config.model import Config
from acd.engine import decisions as d
from dialplan.generate import fallback_device

log = logging.getLogger(__name__)

#: the engine's agent states in which the fallback queues must not ring the agent
PAUSED_STATES = frozenset({"logged_out", "paused"})
#: Setvar actions in flight at once when all agents are synced
SYNC_CONCURRENCY = 8
#: the Custom device's state for an agent who must not be rung, and for one who may
#: (INVALID ranks below every phone state in a hint's aggregate: the phone decides)
BUSY, FREE = "BUSY", "INVALID"


class FallbackMembers:
    """A decision subscriber that keeps the degraded path's agent states in step with the ACD."""

    def __init__(self, config: Config, agents: Callable[[], Mapping[str, Any]]) -> None:
        """``agents``: the engine's agents now (id -> object with ``state``), read at sync."""
        self.config = config
        self.agents = agents
        self.ami: Any = None
        self._sent: dict[str, bool] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        #: False on a standby daemon, whose engine knows no logins: the active one owns the states
        self.enabled = True

    def install(self, ami: Any) -> None:
        self.ami = ami
        ami.on_connect(self.sync)

    def reconfigure(self, config: Config) -> None:
        self.config = config

    def __call__(self, decisions: Sequence[d.Decision]) -> None:
        if not self.enabled or self.ami is None or not self.ami.connected:
            return          # nothing to send to: the sync after the next AMI login sends all
        for decision in decisions:
            if isinstance(decision, d.AgentStatus):
                paused = decision.state in PAUSED_STATES
                if self._sent.get(decision.agent_id) != paused:
                    self._spawn(self._send_state(decision.agent_id, paused))

    async def sync(self, *_: Any) -> None:
        """Every agent's state, as the engine holds it now (after an AMI login)."""
        if not self.enabled:
            return
        self._sent.clear()
        gate = asyncio.Semaphore(SYNC_CONCURRENCY)

        async def one(agent_id: str, paused: bool) -> None:
            async with gate:
                await self._send_state(agent_id, paused)

        await asyncio.gather(*(one(agent_id, _state(agent) in PAUSED_STATES)
                               for agent_id, agent in list(self.agents().items())))

    async def _send_state(self, agent_id: str, paused: bool) -> None:
        """Set the agent's Custom device (``fallback_device``, half of its hint): BUSY
        while logged out or paused, so app_queue rings no such agent on the degraded path."""
        agent = self.config.agents.get(agent_id)
        if agent is None or self.ami is None or not self.ami.connected:
            return
        self._sent[agent_id] = paused
        device = fallback_device(agent)
        try:
            response = await self.ami.action("Setvar", timeout=5.0, Variable=f"DEVICE_STATE({device})",
                                             Value=BUSY if paused else FREE)
        except Exception as error:   # the next AMI login syncs every agent again
            self._sent.pop(agent_id, None)
            log.warning("fallback agent state not sent", extra={"agent_id": agent_id, "reason": repr(error)})
            return
        if str(response.get("Response", "")).lower() != "success":
            log.info("fallback agent state refused", extra={"agent_id": agent_id, "device": device,
                                                            "reason": response.get("Message")})

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _state(agent: Any) -> str:
    state = getattr(agent, "state", "")
    return str(getattr(state, "value", state))
