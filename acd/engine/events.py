"""What can happen, as the engine hears it.

Events are small immutable facts with the time they happened (``at``, seconds on the
driver's clock: epoch seconds live, simulated seconds in ``sim/``). The engine never
reads a clock of its own, so the live daemon and the simulator drive the same code.

They are facts and nobody changes one once made, but the classes are not ``frozen``:
a frozen dataclass sets each field through ``object.__setattr__``, which made building
events and decisions a sixth of a simulated day's cost (``bench.sim``).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field



@dataclass(slots=True)
class Event:
    at: float


# -- agents --------------------------------------------------------------------------------

@dataclass(slots=True)
class AgentLoggedIn(Event):
    agent_id: str


@dataclass(slots=True)
class AgentLoggedOut(Event):
    """Takes effect at once when idle; after the current call (and wrap-up) otherwise."""

    agent_id: str


@dataclass(slots=True)
class AgentPaused(Event):
    """Pause with a reason code from the config; deferred to the end of a call like logout."""

    agent_id: str
    reason: str = "break"


@dataclass(slots=True)
class AgentUnpaused(Event):
    agent_id: str


@dataclass(slots=True)
class AgentReady(Event):
    """The agent ends wrap-up (or a rest after a missed offer) early."""

    agent_id: str


@dataclass(slots=True)
class AgentReachability(Event):
    """The agent's phone registered/unregistered or its device became (un)reachable."""

    agent_id: str
    reachable: bool


# -- calls -----------------------------------------------------------------------------------

@dataclass(slots=True)
class CallArrived(Event):
    """A caller joins a queue.

    ``requirements`` adds to the queue's own (the IVR's language and caller type);
    ``enqueued_at`` is set when a restarted daemon rebuilds its line from the channel
    variables, so the caller keeps the original place; ``callback`` is the number to
    call back when the caller chose not to hold.
    """

    call_id: str
    queue: str
    requirements: Mapping[str, int] = field(default_factory=dict)
    priority: int | None = None
    enqueued_at: float | None = None
    language: str | None = None
    caller_type: str | None = None
    callback: str | None = None


@dataclass(slots=True)
class CallResumed(Event):
    """A call an earlier daemon connected, found still up on ``agent_id``'s phone by a
    restarted daemon: it becomes this engine's conversation (the agent on call, the call
    connected since ``answered_at``), so its end is a CallEnded with the real wait and
    talk time, and the agent's wrap-up follows as after any call. Its CallQueued and
    CallConnected are decided again for subscribers that build a call's record from
    them (the queue_log does not write them twice: ``note_resumed``)."""

    call_id: str
    agent_id: str
    queue: str
    enqueued_at: float
    answered_at: float


@dataclass(slots=True)
class OfferAnswered(Event):
    call_id: str
    agent_id: str


#: Why an offer failed: ``no_answer`` counts towards auto-pause; ``busy``, ``failed`` and
#: ``ring_deadline`` (the engine withdrew an offer nobody reported on) rest the agent
#: briefly; ``unreachable`` takes the agent out until its phone is back.
OFFER_FAILURES: tuple[str, ...] = ("no_answer", "busy", "unreachable", "failed", "ring_deadline")


@dataclass(slots=True)
class OfferFailed(Event):
    call_id: str
    agent_id: str
    reason: str = "no_answer"


@dataclass(slots=True)
class CallerHungUp(Event):
    call_id: str


@dataclass(slots=True)
class AgentHungUp(Event):
    call_id: str


@dataclass(slots=True)
class CallbackRequested(Event):
    """The caller leaves but keeps the place in line; an agent calls ``number`` back."""

    call_id: str
    number: str


@dataclass(slots=True)
class OfferWithdrawn(Event):
    """The offer never reached the agent's phone: a callback's Originate failed before
    anything rang (no AMI link, Asterisk refused the action). Not the agent's miss: the
    agent is free at once, with no rest and no count towards auto-pause, and the call
    goes back to its place."""

    call_id: str
    agent_id: str
    reason: str = "failed"
    #: the callback leaves the line instead (the fault was its own, e.g. a number the
    #: dialplan refuses: the daemon's callback book puts it back after the retry delay)
    leave: bool = False


@dataclass(slots=True)
class CallbackDialing(Event):
    """Whether callbacks can be placed now (the daemon's AMI link is up). While they
    cannot, callback calls keep their place and are offered to nobody, so free agents
    take the callers on the line instead of failing originations."""

    possible: bool


@dataclass(slots=True)
class CallbackCancelled(Event):
    """A waiting callback is given up (``expired``: its window passed); the call leaves
    the line. Ignored unless the call is a waiting callback."""

    call_id: str
    reason: str = "expired"


@dataclass(slots=True)
class Tick(Event):
    """Time passes: due timers (wrap-up ends, widening, announcements, max wait) fire."""
