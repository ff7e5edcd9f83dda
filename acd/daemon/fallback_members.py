"""The degraded path's app_queue queues ring only agents who are logged in and not paused.

The generated ``queues_generated.conf`` lists every agent's phone as a static member of
``acd-fallback`` (and of each 24/7 line's queue), so the queues work when no daemon has
ever run. But once the ACD knows who works, a caller sent to the fallback (no daemon
for a while) must not ring the phone of an agent who never logged in or is on a break.
So the daemon mirrors each agent's state into app_queue's pause flag (Asterisk 16,
apps/app_queue.c):

- AMI ``QueuePause`` with ``Interface``, ``Paused`` and ``Queue`` pauses that interface
  in that queue (``manager_pause_queue_member`` -> ``set_member_paused``); its class is
  ``agent``, which the daemon's AMI user may write. One action per fallback queue the
  agent is a static member of (``acd-fallback``, and each 24/7 line's it qualifies for),
  never one without ``Queue``: that one also writes a ``PAUSEALL``/``UNPAUSEALL`` line
  (queue ``NONE``) into the queue_log the daemon shares with Asterisk, which reporting
  tools would apply to the agent's real queues beside the daemon's own PAUSEALL. A
  per-queue pause writes only that fallback queue's ``PAUSE``/``UNPAUSE`` line. An
  interface not in the queue answers Error "Interface not found" (a config out of step
  with the generated file): logged, no harm.
- the pause survives ``module reload app_queue`` (``reload_single_member`` creates the
  static member again with ``cur->paused``), and Asterisk keeps it when the daemon dies,
  which is the point: the fallback then rings the agents who were working.
- paused: logged out or paused in the ACD. Every other state (available, ringing, on a
  call, wrap-up) is unpaused; ``ringinuse=no`` already keeps app_queue from ringing a
  phone that is busy with the ACD's call.

Dynamic members (``QueueAdd``/``QueueRemove``) were the other way, but with them a
queue is empty until a daemon has run, and the fallback is for when none does.

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
from dialplan.generate import FALLBACK_QUEUE, GenerateError, emergency_lines

log = logging.getLogger(__name__)

#: the engine's agent states in which the fallback queues must not ring the agent
PAUSED_STATES = frozenset({"logged_out", "paused"})
#: QueuePause actions in flight at once when all agents are synced
SYNC_CONCURRENCY = 8


def fallback_queues(config: Config) -> dict[str, list[str]]:
    """Agent id -> the generated app_queue queues it is a static member of."""
    result = {agent_id: [FALLBACK_QUEUE] for agent_id in config.agents}
    try:
        lines = emergency_lines(config)
    except GenerateError:       # no dialplan can be generated from it: only acd-fallback is sure
        return result
    for line in lines:
        for agent in line.members:
            result[agent.id].append(line.name)
    return result


class FallbackMembers:
    """A decision subscriber that keeps app_queue's pause flags in step with the ACD."""

    def __init__(self, config: Config, agents: Callable[[], Mapping[str, Any]]) -> None:
        """``agents``: the engine's agents now (id -> object with ``state``), read at sync."""
        self.config = config
        self._queues = fallback_queues(config)
        self.agents = agents
        self.ami: Any = None
        self._sent: dict[str, bool] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        #: False on a standby daemon, whose engine knows no logins: the active one owns the flags
        self.enabled = True

    def install(self, ami: Any) -> None:
        self.ami = ami
        ami.on_connect(self.sync)

    def reconfigure(self, config: Config) -> None:
        self.config = config
        self._queues = fallback_queues(config)

    def __call__(self, decisions: Sequence[d.Decision]) -> None:
        if not self.enabled:
            return
        for decision in decisions:
            if isinstance(decision, d.AgentStatus):
                paused = decision.state in PAUSED_STATES
                if self._sent.get(decision.agent_id) != paused:
                    self._spawn(self._pause(decision.agent_id, paused))

    async def sync(self, *_: Any) -> None:
        """Every agent's flag, as the engine holds it now (after an AMI login)."""
        if not self.enabled:
            return
        self._sent.clear()
        gate = asyncio.Semaphore(SYNC_CONCURRENCY)

        async def one(agent_id: str, paused: bool) -> None:
            async with gate:
                await self._pause(agent_id, paused)

        await asyncio.gather(*(one(agent_id, _state(agent) in PAUSED_STATES)
                               for agent_id, agent in list(self.agents().items())))

    async def _pause(self, agent_id: str, paused: bool) -> None:
        agent = self.config.agents.get(agent_id)
        if agent is None or self.ami is None or not self.ami.connected:
            return
        self._sent[agent_id] = paused
        for queue in self._queues.get(agent_id, [FALLBACK_QUEUE]):
            try:
                response = await self.ami.action("QueuePause", timeout=5.0, Queue=queue,
                                                 Interface=f"PJSIP/{agent.endpoint}",
                                                 Paused="true" if paused else "false", Reason="acd")
            except Exception as error:   # the next AMI login syncs every agent again
                self._sent.pop(agent_id, None)
                log.warning("fallback queue pause not sent", extra={"agent_id": agent_id, "reason": repr(error)})
                return
            if str(response.get("Response", "")).lower() != "success":
                log.info("fallback queue pause refused", extra={"agent_id": agent_id, "queue": queue,
                                                                "reason": response.get("Message")})

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _state(agent: Any) -> str:
    state = getattr(agent, "state", "")
    return str(getattr(state, "value", state))
