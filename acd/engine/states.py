"""The agent and call state machines: every legal transition lives in these two tables.

Like h11's ``_state.py``: the rest of the engine asks ``agent_next``/``call_next`` for
the new state and never assigns a state by hand, so a transition that is not in the
table cannot happen, and the table is the documentation.
"""
from __future__ import annotations

from enum import Enum


class AgentState(str, Enum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"        # reserved for one call, phone ringing
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    RESTING = "resting"        # short rest after a missed offer, so calls don't ping-pong
    PAUSED = "paused"


class CallState(str, Enum):
    WAITING = "waiting"
    OFFERED = "offered"
    CONNECTED = "connected"
    ENDED = "ended"            # connected, then hung up by either side
    ABANDONED = "abandoned"    # caller left before being connected
    EXITED = "exited"          # left by the queue's max-wait exit


class InvalidTransition(Exception):
    def __init__(self, kind: str, state: Enum, action: str) -> None:
        super().__init__(f"{kind} in state {state.value} cannot {action}")
        self.state = state
        self.action = action


A = AgentState
AGENT_TRANSITIONS: dict[tuple[AgentState, str], AgentState] = {
    (A.LOGGED_OUT, "login"): A.AVAILABLE,
    (A.AVAILABLE, "offer"): A.RINGING,
    (A.AVAILABLE, "pause"): A.PAUSED,
    (A.AVAILABLE, "logout"): A.LOGGED_OUT,
    (A.AVAILABLE, "resume"): A.ON_CALL,     # a call an earlier daemon connected (CallResumed)
    (A.RINGING, "answer"): A.ON_CALL,
    (A.RINGING, "miss"): A.RESTING,
    (A.RINGING, "auto_pause"): A.PAUSED,
    (A.RINGING, "caller_gone"): A.AVAILABLE,
    (A.RINGING, "withdrawn"): A.AVAILABLE,     # the ring never started (callback not placed)
    (A.ON_CALL, "end"): A.WRAP_UP,
    (A.WRAP_UP, "ready"): A.AVAILABLE,
    (A.WRAP_UP, "pause"): A.PAUSED,
    (A.WRAP_UP, "logout"): A.LOGGED_OUT,
    (A.RESTING, "ready"): A.AVAILABLE,
    (A.RESTING, "pause"): A.PAUSED,
    (A.RESTING, "logout"): A.LOGGED_OUT,
    (A.PAUSED, "unpause"): A.AVAILABLE,
    (A.PAUSED, "pause"): A.PAUSED,      # a new reason code
    (A.PAUSED, "logout"): A.LOGGED_OUT,
}

C = CallState
CALL_TRANSITIONS: dict[tuple[CallState, str], CallState] = {
    (C.WAITING, "offer"): C.OFFERED,
    (C.WAITING, "hangup"): C.ABANDONED,
    (C.WAITING, "timeout"): C.EXITED,
    (C.WAITING, "cancel"): C.EXITED,          # a callback given up (its window passed)
    (C.WAITING, "resume"): C.CONNECTED,
    (C.OFFERED, "answer"): C.CONNECTED,
    (C.OFFERED, "miss"): C.WAITING,
    (C.OFFERED, "withdrawn"): C.WAITING,
    (C.OFFERED, "hangup"): C.ABANDONED,
    (C.CONNECTED, "hangup"): C.ENDED,
}

#: Agent states in which a call or request to pause/logout must wait for the call's end.
BUSY_STATES = frozenset({A.RINGING, A.ON_CALL})


def agent_next(state: AgentState, action: str) -> AgentState:
    try:
        return AGENT_TRANSITIONS[(state, action)]
    except KeyError:
        raise InvalidTransition("agent", state, action) from None


def call_next(state: CallState, action: str) -> CallState:
    try:
        return CALL_TRANSITIONS[(state, action)]
    except KeyError:
        raise InvalidTransition("call", state, action) from None
