"""The agent rule tables of acd/engine/states.py agree with the transition table: every
action a rule can pick is a legal move from every state the rule is applied in."""
from __future__ import annotations

import itertools

import pytest

from acd.engine.states import (AFTER_CALL, AGENT_TRANSITIONS, BUSY_STATES, DEFERRED, MISSED, TAKES_BACK,
                               AgentAction, AgentState, InvalidTransition, agent_next)

PENDING = (None, AgentAction.PAUSE, AgentAction.LOGOUT)


def test_every_pending_request_and_every_ask_has_a_rule():
    assert set(DEFERRED) == set(itertools.product(PENDING, (AgentAction.PAUSE, AgentAction.LOGOUT)))
    assert set(AFTER_CALL) == set(PENDING)
    assert set(MISSED) == set(itertools.product((True, False), PENDING))


def test_a_pending_logout_is_never_downgraded():
    assert all(DEFERRED[(AgentAction.LOGOUT, asked)] is AgentAction.LOGOUT for asked in (AgentAction.PAUSE,
                                                                                          AgentAction.LOGOUT))


@pytest.mark.parametrize("state", [AgentState.WRAP_UP, AgentState.RESTING])
def test_what_follows_wrap_up_or_rest_is_a_legal_move(state):
    for action in AFTER_CALL.values():
        assert (state, action) in AGENT_TRANSITIONS


def test_a_missed_offer_is_a_legal_move_of_a_ringing_agent():
    for action in MISSED.values():
        assert (AgentState.RINGING, action) in AGENT_TRANSITIONS


def test_what_a_busy_agent_defers_it_can_do_once_free():
    for pending in DEFERRED.values():
        assert all((state, pending) in AGENT_TRANSITIONS for state in (AgentState.WRAP_UP, AgentState.RESTING))
        assert all((state, pending) not in AGENT_TRANSITIONS for state in BUSY_STATES)


def test_taking_back_names_a_request_that_can_be_pending():
    assert set(TAKES_BACK.values()) <= {p for p in PENDING if p is not None}


def test_a_move_outside_the_table_is_refused_by_name():
    with pytest.raises(InvalidTransition, match="agent in state on_call cannot pause"):
        agent_next(AgentState.ON_CALL, AgentAction.PAUSE)
