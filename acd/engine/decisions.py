"""What the engine decides, and the facts it reports.

Commands (``OfferCall``, ``CancelOffer``, ``Announce``, ``ExitCall``) ask the driver to
act on a call; notices (the rest) report what happened, so the queue_log, the records,
the live state and the simulator's statistics are all written from one stream.
Like events, decisions are never changed once made (not ``frozen`` only for speed:
see ``acd.engine.events``).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: ``CallbackCancelled.reason`` (from ``events.OfferWithdrawn``) of a callback an earlier
#: daemon made: the daemon's dialer learnt it from AstDB (``acd.daemon.callbacks``)
CALLBACK_MADE_BEFORE = "answered"

from acd.config.model import ExitAction


@dataclass(slots=True)
class Decision:
    at: float


# -- commands ----------------------------------------------------------------------------------

@dataclass(slots=True)
class OfferCall(Decision):
    """Ring ``agent_id`` for ``call_id``; the driver reports OfferAnswered or OfferFailed."""

    call_id: str
    agent_id: str
    queue: str
    ring_timeout: float
    callback: str | None = None
    record: bool = False


@dataclass(slots=True)
class CancelOffer(Decision):
    """Stop ringing the agent: the caller left while the phone rang (``caller_gone``), or
    the offer outlived its ring timeout plus ``routing.ring_margin`` (``ring_deadline``;
    an ``OfferMissed`` follows and the call is back at its place)."""

    call_id: str
    agent_id: str
    reason: str = "caller_gone"


@dataclass(slots=True)
class Announce(Decision):
    """Tell a waiting caller its position and estimated wait (None: no estimate possible)."""

    call_id: str
    position: int
    estimated_wait: float | None
    periodic_prompt: str | None = None


@dataclass(slots=True)
class ExitCall(Decision):
    """The caller waited the queue's max_wait: take the configured exit."""

    call_id: str
    queue: str
    action: ExitAction
    waited: float
    position: int


# -- notices -----------------------------------------------------------------------------------

@dataclass(slots=True)
class CallQueued(Decision):
    call_id: str
    queue: str
    position: int
    requirements: Mapping[str, int]
    priority: int
    enqueued_at: float


@dataclass(slots=True)
class CallWidened(Decision):
    call_id: str
    queue: str
    stage: int
    requirements: Mapping[str, int]


@dataclass(slots=True)
class CallConnected(Decision):
    call_id: str
    agent_id: str
    queue: str
    waited: float
    ring_time: float


@dataclass(slots=True)
class CallEnded(Decision):
    """A connected call ended; ``by`` is ``caller`` or ``agent`` (COMPLETECALLER/COMPLETEAGENT)."""

    call_id: str
    agent_id: str
    queue: str
    by: str
    waited: float
    talk_time: float


@dataclass(slots=True)
class CallAbandoned(Decision):
    call_id: str
    queue: str
    position: int
    original_position: int
    waited: float


@dataclass(slots=True)
class OfferMissed(Decision):
    """An offer failed (RINGNOANSWER in queue_log); the call is back at its place."""

    call_id: str
    agent_id: str
    queue: str
    reason: str
    ring_time: float


@dataclass(slots=True)
class OfferWithdrawn(Decision):
    """A callback's offer never reached the agent's phone (``events.OfferWithdrawn``):
    no RINGNOANSWER, the agent is free again and the call is back at its place."""

    call_id: str
    agent_id: str
    queue: str
    reason: str


@dataclass(slots=True)
class CallbackCancelled(Decision):
    """A waiting callback left the line without being made here (``reason``: expired;
    ``answered``: an earlier daemon's try of it was answered, ``made_before``)."""

    call_id: str
    queue: str
    reason: str
    waited: float

    @property
    def made_before(self) -> bool:
        """The callback was made, by an earlier daemon whose queue_log and records have
        the call: this daemon writes no exit for it, only takes it out of line."""
        return self.reason == CALLBACK_MADE_BEFORE


@dataclass(slots=True)
class AgentStatus(Decision):
    """An agent's state changed (login, logout, pause with reason, unpause, ...)."""

    agent_id: str
    state: str
    previous: str
    reason: str | None = None


@dataclass(slots=True)
class Ignored(Decision):
    """An event that did not fit the current state (a race between hang-up and answer,
    a duplicate, an unknown id). Reported, never raised: the driver logs it."""

    event: object
    reason: str
