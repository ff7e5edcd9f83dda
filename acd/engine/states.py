"""The agent and call state machines: every legal transition, and every rule that picks
an agent's next action, lives in the tables of this file.

Like h11's ``_state.py``: the rest of the engine asks ``agent_next``/``call_next`` for
the new state and never assigns a state by hand, so a transition that is not in the
table cannot happen, and the tables are the documentation. Actions are enums, so a
misspelt one fails at import, not on the day it is first taken.
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


class AgentAction(str, Enum):
    LOGIN = "login"
    LOGOUT = "logout"
    PAUSE = "pause"
    UNPAUSE = "unpause"
    OFFER = "offer"
    ANSWER = "answer"
    MISS = "miss"                  # rang unanswered, busy or unreachable: rest
    AUTO_PAUSE = "auto_pause"      # the auto_pause_after-th no-answer in a row
    CALLER_GONE = "caller_gone"    # the caller hung up while the agent rang
    WITHDRAWN = "withdrawn"        # the ring never started (callback not placed)
    END = "end"                    # the call ended: wrap-up
    READY = "ready"                # wrap-up or rest over
    RESUME = "resume"              # a call an earlier daemon connected (CallResumed)


class CallAction(str, Enum):
    OFFER = "offer"
    ANSWER = "answer"
    MISS = "miss"
    WITHDRAWN = "withdrawn"
    HANGUP = "hangup"
    TIMEOUT = "timeout"            # the queue's max wait
    CANCEL = "cancel"              # a callback given up (its window passed)
    RESUME = "resume"


class InvalidTransition(Exception):
    def __init__(self, kind: str, state: Enum, action: Enum) -> None:
        super().__init__(f"{kind} in state {state.value} cannot {action.value}")
        self.state = state
        self.action = action


A, X = AgentState, AgentAction
AGENT_TRANSITIONS: dict[tuple[AgentState, AgentAction], AgentState] = {
    (A.LOGGED_OUT, X.LOGIN): A.AVAILABLE,
    (A.AVAILABLE, X.OFFER): A.RINGING,
    (A.AVAILABLE, X.PAUSE): A.PAUSED,
    (A.AVAILABLE, X.LOGOUT): A.LOGGED_OUT,
    (A.AVAILABLE, X.RESUME): A.ON_CALL,
    (A.RINGING, X.ANSWER): A.ON_CALL,
    (A.RINGING, X.MISS): A.RESTING,
    (A.RINGING, X.AUTO_PAUSE): A.PAUSED,
    (A.RINGING, X.CALLER_GONE): A.AVAILABLE,
    (A.RINGING, X.WITHDRAWN): A.AVAILABLE,
    (A.ON_CALL, X.END): A.WRAP_UP,
    (A.WRAP_UP, X.READY): A.AVAILABLE,
    (A.WRAP_UP, X.PAUSE): A.PAUSED,
    (A.WRAP_UP, X.LOGOUT): A.LOGGED_OUT,
    (A.RESTING, X.READY): A.AVAILABLE,
    (A.RESTING, X.PAUSE): A.PAUSED,
    (A.RESTING, X.LOGOUT): A.LOGGED_OUT,
    (A.PAUSED, X.UNPAUSE): A.AVAILABLE,
    (A.PAUSED, X.PAUSE): A.PAUSED,      # a new reason code
    (A.PAUSED, X.LOGOUT): A.LOGGED_OUT,
}

C, Y = CallState, CallAction
CALL_TRANSITIONS: dict[tuple[CallState, CallAction], CallState] = {
    (C.WAITING, Y.OFFER): C.OFFERED,
    (C.WAITING, Y.HANGUP): C.ABANDONED,
    (C.WAITING, Y.TIMEOUT): C.EXITED,
    (C.WAITING, Y.CANCEL): C.EXITED,
    (C.WAITING, Y.RESUME): C.CONNECTED,
    (C.OFFERED, Y.ANSWER): C.CONNECTED,
    (C.OFFERED, Y.MISS): C.WAITING,
    (C.OFFERED, Y.WITHDRAWN): C.WAITING,
    (C.OFFERED, Y.HANGUP): C.ABANDONED,
    (C.CONNECTED, Y.HANGUP): C.ENDED,
}

#: Agent states in which a call or request to pause/logout must wait for the call's end.
BUSY_STATES = frozenset({A.RINGING, A.ON_CALL})

#: A pause or logout asked in a BUSY_STATE waits for the call's end: (what is pending,
#: what is asked) -> what is pending now. A logout is never downgraded to a pause; a
#: second pause brings its own reason.
DEFERRED: dict[tuple[AgentAction | None, AgentAction], AgentAction] = {
    (None, X.PAUSE): X.PAUSE, (None, X.LOGOUT): X.LOGOUT,
    (X.PAUSE, X.PAUSE): X.PAUSE, (X.PAUSE, X.LOGOUT): X.LOGOUT,
    (X.LOGOUT, X.PAUSE): X.LOGOUT, (X.LOGOUT, X.LOGOUT): X.LOGOUT,
}

#: Asked while the opposite is pending, an action takes it back instead of acting: an
#: unpause cancels a pending pause, a login (the agent is still logged in) a pending logout.
TAKES_BACK: dict[AgentAction, AgentAction] = {X.UNPAUSE: X.PAUSE, X.LOGIN: X.LOGOUT}

#: Wrap-up or rest over (its timer, or the agent's ready): the pending request, if any,
#: is the agent's next action, else it is ready for calls.
AFTER_CALL: dict[AgentAction | None, AgentAction] = {None: X.READY, X.PAUSE: X.PAUSE, X.LOGOUT: X.LOGOUT}

#: A missed offer: (the auto_pause_after-th no-answer in a row, what is pending) -> the
#: agent's action. Auto-pause drops a pending pause (its reason says why) but never a
#: pending logout; a MISS rests the agent for routing.missed_offer_rest seconds, or goes
#: straight to AFTER_CALL when a request is pending or there is no rest.
MISSED: dict[tuple[bool, AgentAction | None], AgentAction] = {
    (True, None): X.AUTO_PAUSE, (True, X.PAUSE): X.AUTO_PAUSE, (True, X.LOGOUT): X.MISS,
    (False, None): X.MISS, (False, X.PAUSE): X.MISS, (False, X.LOGOUT): X.MISS,
}


def agent_next(state: AgentState, action: AgentAction) -> AgentState:
    try:
        return AGENT_TRANSITIONS[(state, action)]
    except KeyError:
        raise InvalidTransition("agent", state, action) from None


def call_next(state: CallState, action: CallAction) -> CallState:
    try:
        return CALL_TRANSITIONS[(state, action)]
    except KeyError:
        raise InvalidTransition("call", state, action) from None
