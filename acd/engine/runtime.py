"""The engine's live objects: one ``Agent`` per configured agent, one ``Call`` per caller.

Plain slotted classes, not dataclasses: they change on every event and sit on the hot
path. Only the engine mutates them; drivers read them through ``Engine.agents`` and
``Engine.calls``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from acd.config.model import AgentConfig, QueueConfig
from acd.engine.states import AgentAction, AgentState, CallState

if TYPE_CHECKING:
    from acd.engine.lines import Line


class Agent:
    __slots__ = (
        "id", "config", "order", "skills", "state", "reason", "reachable", "idle_since",
        "last_end", "calls_taken", "misses", "call_id", "token", "pending", "pending_reason",
        "state_since",
    )

    def __init__(self, config: AgentConfig, order: int) -> None:
        self.id = config.id
        self.config = config
        self.order = order                      # position in the config: linear / rrmemory
        self.skills = dict(config.skills)
        self.state = AgentState.LOGGED_OUT
        self.reason: str | None = None          # pause reason code
        self.reachable = True
        self.idle_since = 0.0                   # longest_idle
        self.last_end: dict[str, float] = {}    # queue -> end of last call (leastrecent)
        self.calls_taken: dict[str, int] = {}   # queue -> calls (fewestcalls)
        self.misses = 0                         # consecutive missed offers
        self.call_id: str | None = None
        self.token = 0                          # invalidates this agent's timers
        self.pending: AgentAction | None = None  # PAUSE or LOGOUT after the call (states.DEFERRED)
        self.pending_reason: str | None = None
        self.state_since = 0.0

    @property
    def idle(self) -> bool:
        """Free to be offered a call right now."""
        return self.state is AgentState.AVAILABLE and self.reachable

    def __repr__(self) -> str:
        return f"<Agent {self.id} {self.state.value}{'' if self.reachable else ' unreachable'}>"


class Call:
    #: set by the engine right after creation (the line depends on the engine's lines)
    line: Line
    __slots__ = (
        "id", "queue", "line", "requirements", "priority", "enqueued_at", "seq", "state",
        "stage", "agent_id", "offered_at", "answered_at", "callback", "language",
        "caller_type", "token", "original_position",
    )

    def __init__(self, call_id: str, queue: QueueConfig, requirements: dict[str, int], priority: int,
                 enqueued_at: float, seq: int) -> None:
        self.id = call_id
        self.queue = queue
        self.requirements = requirements        # base requirements (queue's + the IVR's)
        self.priority = priority
        self.enqueued_at = enqueued_at
        self.seq = seq                          # tie-break among equal enqueue times
        self.state = CallState.WAITING
        self.stage = 0                          # widening stage reached
        self.agent_id: str | None = None
        self.offered_at: float | None = None
        self.answered_at: float | None = None
        self.callback: str | None = None
        self.language: str | None = None
        self.caller_type: str | None = None
        self.token = 0
        self.original_position = 0

    def __repr__(self) -> str:
        return f"<Call {self.id} {self.queue.name} {self.state.value} stage={self.stage}>"
