"""The ``wait`` FastAGI handler against a scripted AGI session and the real engine.

The session fake stands in for Asterisk only at the AGI command boundary (what the
channel variables hold, what Dial returns); routing is the real engine's. The same
behaviours run through a real Asterisk in tests/test_live_calls.py.
"""
from __future__ import annotations

import asyncio

import pytest

from acd.daemon.waiting_room import CallVariablesError, caller_attributes, parse_skills
from acd.engine import AgentState
from acd.engine import decisions as d
from acd.engine import events as e
from tests.daemon_fakes import AGENTS, QUEUES, Room, ringing, settle
from tests.engine_helpers import make_config

async def test_caller_is_queued_from_its_channel_variables_and_the_enqueue_time_is_stamped(tmp_path):
    r = Room(tmp_path)
    session = await r.arrive("1.1", ACD_SKILLS="lang:el=2", ACD_LANG="el")
    call = r.live.engine.calls["1.1"]
    assert call.requirements == {"topic:a": 1, "lang:el": 2} and call.language == "el"
    assert float(session.vars["ACD_ENQUEUED_AT"]) == r.clock.now
    assert session.vars["ACD_CALLID"] == "1.1"
    assert ("SET MUSIC", "ON", "default") in session.commands


async def test_a_new_caller_is_marked_answered_and_given_music_in_three_agi_commands(tmp_path):
    """Every AGI command wakes the channel's AGI thread in Asterisk (docs/demo.md, the
    call path at scale): after the one read of its variables, one MSet marks the caller,
    and an ACD_WAIT_RESULT the channel does not hold is not cleared."""
    r = Room(tmp_path)
    session = await r.arrive("1.1")
    assert [c[:2] for c in session.commands] == [("EXEC", "MSet"), ("ANSWER",), ("SET MUSIC", "ON")]
    assert session.vars.get("ACD_WAIT_RESULT", "") == ""


async def test_a_result_the_caller_came_with_is_cleared_while_it_waits(tmp_path):
    # the standby path hands a stopping daemon's "handover" on to the other daemon's wait;
    # while the caller waits the result must read empty, the dialplan's "daemon gone"
    r = Room(tmp_path)
    session = await r.arrive("1.1", ACD_WAIT_RESULT="handover")
    assert session.vars["ACD_WAIT_RESULT"] == "" and "1.1" in r.live.engine.calls


async def test_caller_is_connected_to_the_agent_the_engine_picks_and_agent_hang_up_leads_to_wrap_up(tmp_path):
    r = Room(tmp_path)
    r.login("12")
    session = await r.arrive("1.1", ACD_SKILLS="lang:el=1")
    r.login("11")                                   # only 11 speaks Greek
    await settle()
    target, outcome = await ringing(session)
    assert target == "PJSIP/agent-11,15,gm(default)"
    r.clock.now += 3
    r.room.dial_answered("1.1", "9.9", r.clock.now)
    assert r.live.engine.agents["11"].state is AgentState.ON_CALL
    r.clock.now += 60
    outcome.set_result(("ANSWER", 0))                 # the agent hung up, the caller is still there
    await asyncio.wait_for(r.tasks[0], 1)
    assert r.live.engine.agents["11"].state is AgentState.WRAP_UP
    assert session.vars["ACD_WAIT_RESULT"] == "answered"
    ended = r.of(d.CallEnded)
    assert [(x.by, x.talk_time) for x in ended] == [("agent", 60)]
    assert [x for x in r.queue_log_events() if x not in ("ADDMEMBER", "QUEUESTART")] == [
        "ENTERQUEUE", "CONNECT", "COMPLETEAGENT"]


async def answered_call(r: Room, **variables: str):
    """A caller connected to agent 11: its session and the Dial's outcome to resolve."""
    r.login("11")
    session = await r.arrive("1.1", **variables)
    _, outcome = await ringing(session)
    r.room.dial_answered("1.1", "9.9", r.clock.now)
    return session, outcome


async def test_blind_transfer_by_the_agent_is_read_from_the_callers_channel_when_its_dial_returns(tmp_path):
    # measured on Asterisk 16 (tests/test_queue_log_parity.py): the Dial's AGI answer comes
    # before AMI's BlindTransfer event; the channel already says it all (main/bridge.c
    # set_transfer_variables_all, then main/pbx.c ast_async_goto sets context and exten)
    r = Room(tmp_path)
    session, outcome = await answered_call(r)
    r.clock.now += 30
    session.vars.update(BLINDTRANSFER="PJSIP/agent-11-00000003", CONTEXT="backoffice", EXTEN="2000")
    outcome.set_result(("ANSWER", 0))
    await asyncio.wait_for(r.tasks[0], 1)
    assert r.live.engine.agents["11"].state is AgentState.WRAP_UP
    assert r.queue_log.path.read_text().splitlines()[-1].split("|")[4:] == [
        "BLINDTRANSFER", "2000", "backoffice", "0", "30", "1"]


async def test_a_caller_transferred_into_the_queue_ends_as_complete_when_its_agent_does_not_transfer(tmp_path):
    # a receptionist's blind transfer brought the caller here: BLINDTRANSFER is on its channel already
    r = Room(tmp_path)
    session, outcome = await answered_call(r, BLINDTRANSFER="PJSIP/reception-00000001")
    session.vars.update(CONTEXT="acd-inbound", EXTEN="q-q")
    outcome.set_result(("ANSWER", 0))
    await asyncio.wait_for(r.tasks[0], 1)
    assert r.queue_log_events()[-1] == "COMPLETEAGENT"


async def test_a_session_closed_before_the_transfer_is_read_still_ends_the_call_as_the_agents(tmp_path):
    r = Room(tmp_path)
    session, outcome = await answered_call(r)

    async def closed(expression: str) -> str:
        raise ConnectionError("FastAGI connection closed")

    session.get_full_variable = closed
    outcome.set_result(("ANSWER", 0))
    await asyncio.wait_for(r.tasks[0], 1)
    assert [x.by for x in r.of(d.CallEnded)] == ["agent"]


async def test_caller_keeps_place_when_agent_does_not_answer(tmp_path):
    r = Room(tmp_path, routing="missed_offer_rest: 30\n")
    first = await r.arrive("1.1")
    r.clock.now += 1
    second = await r.arrive("1.2")
    r.login("11")
    await settle()
    _, outcome = await ringing(first)
    r.clock.now += 15
    outcome.set_result(("NOANSWER", 0))
    await settle()
    assert [(x.agent_id, x.reason) for x in r.of(d.OfferMissed)] == [("11", "no_answer")]
    r.login("12")
    await settle()
    target, _ = await ringing(first)                 # first caller again, ahead of the second
    assert target.startswith("PJSIP/agent-12,")
    assert second.dials.empty()
    assert ("SET MUSIC", "ON", "default") in first.commands[-3:]
    assert "RINGNOANSWER" in r.queue_log_events()


@pytest.mark.parametrize("status, reason", [("BUSY", "busy"), ("CHANUNAVAIL", "unreachable"), ("CONGESTION", "failed")])
async def test_busy_and_unreachable_agents_go_back_to_the_engine_with_the_reason(tmp_path, status, reason):
    r = Room(tmp_path)
    r.login("11")
    session = await r.arrive("1.1")
    _, outcome = await ringing(session)
    outcome.set_result((status, 0))
    await settle()
    assert [x.reason for x in r.of(d.OfferMissed)] == [reason]
    assert "1.1" in r.live.engine.calls


async def test_caller_who_hangs_up_while_waiting_is_logged_abandon_once_and_frees_nothing_twice(tmp_path):
    r = Room(tmp_path)
    session = await r.arrive("1.1")
    session.hang_up()
    r.room.channel_hung_up("1.1")
    r.room.channel_hung_up("1.1")                    # AMI may say it twice; the HANGUP notice too
    await asyncio.wait_for(r.tasks[0], 1)
    assert len(r.of(d.CallAbandoned)) == 1
    assert r.queue_log_events().count("ABANDON") == 1
    assert r.room.callers == {} and r.live.engine.calls == {}


async def test_idle_caller_hang_up_is_seen_from_the_agi_hangup_notice_alone(tmp_path):
    r = Room(tmp_path)
    session = await r.arrive("1.1")
    session.hang_up()                                # no AMI event at all
    await asyncio.wait_for(r.tasks[0], 1)
    assert [a.call_id for a in r.of(d.CallAbandoned)] == ["1.1"]


async def test_caller_who_hangs_up_while_the_agent_rings_frees_the_agent(tmp_path):
    r = Room(tmp_path)
    r.login("11")
    session = await r.arrive("1.1")
    _, outcome = await ringing(session)
    outcome.set_result(("CANCEL", -1))
    await asyncio.wait_for(r.tasks[0], 1)
    assert r.live.engine.agents["11"].state is AgentState.AVAILABLE
    assert r.queue_log_events()[-2:] == ["RINGCANCELED", "ABANDON"]


async def test_caller_hang_up_during_the_conversation_is_completecaller(tmp_path):
    r = Room(tmp_path)
    r.login("11")
    session = await r.arrive("1.1")
    _, outcome = await ringing(session)
    r.room.dial_answered("1.1", "9.9", r.clock.now)
    r.clock.now += 20
    outcome.set_result(("ANSWER", -1))
    await asyncio.wait_for(r.tasks[0], 1)
    assert [x.by for x in r.of(d.CallEnded)] == ["caller"]
    assert r.live.engine.agents["11"].state is AgentState.WRAP_UP


async def test_restarted_daemon_requeues_a_caller_at_its_original_place(tmp_path):
    r = Room(tmp_path)
    newcomer = await r.arrive("2.2")
    old_enqueue = r.clock.now - 120                 # queued two minutes ago by the daemon that died
    veteran = await r.arrive("1.1", ACD_CALLID="1.1", ACD_ENQUEUED_AT=f"{old_enqueue:.3f}")
    assert r.live.engine.calls["1.1"].enqueued_at == old_enqueue
    assert veteran.vars["ACD_ENQUEUED_AT"] == f"{old_enqueue:.3f}"   # never re-stamped
    r.login("11")
    await settle()
    await ringing(veteran)
    assert newcomer.dials.empty()
    assert r.queue_log_events().count("ENTERQUEUE") == 1       # the veteran's was written by the last daemon


async def test_a_caller_requeued_after_a_restart_gets_no_second_enterqueue(tmp_path):
    """Issue 9, item 6: 70 ENTERQUEUE lines for 50 calls. The channel says which queue's
    ENTERQUEUE was written (ACD_QUEUED); an exit clears it, so a new wait logs anew."""
    before = Room(tmp_path)
    first = await before.arrive("1.1")
    assert first.vars["ACD_QUEUED"] == "q"
    r = Room(tmp_path)                                 # the restarted daemon, same queue_log file
    again = await r.arrive("1.1", **{k: first.vars[k] for k in ("ACD_CALLID", "ACD_ENQUEUED_AT", "ACD_QUEUED")})
    assert "1.1" in r.live.engine.calls
    assert r.queue_log_events().count("ENTERQUEUE") == 1 and again.vars["ACD_QUEUED"] == "q"
    r.clock.now += 301                                 # max wait 300: the exit
    r.live.feed(e.Tick(r.clock.now))
    await asyncio.wait_for(r.tasks[0], 1)
    assert again.vars["ACD_WAIT_RESULT"] == "exit" and again.vars["ACD_QUEUED"] == "-"
    after_exit = await Room(tmp_path).arrive("1.1", **{k: again.vars[k] for k in (
        "ACD_CALLID", "ACD_ENQUEUED_AT", "ACD_QUEUED")})          # e.g. a callback's return
    assert after_exit.vars["ACD_QUEUED"] == "q" and r.queue_log_events().count("ENTERQUEUE") == 2


async def test_a_daemon_killed_before_it_marked_the_queue_still_writes_one_enterqueue(tmp_path):
    before = Room(tmp_path)
    first = await before.arrive("1.1")
    r = Room(tmp_path)
    await r.arrive("1.1", ACD_CALLID="1.1", ACD_ENQUEUED_AT=first.vars["ACD_ENQUEUED_AT"])   # no ACD_QUEUED yet
    assert r.queue_log_events().count("ENTERQUEUE") == 1


async def test_caller_answered_while_the_daemon_was_away_is_not_queued_again(tmp_path):
    r = Room(tmp_path)
    session = await r.arrive("1.1", ACD_ENQUEUED_AT="999000.0", DIALSTATUS="ANSWER")
    await asyncio.wait_for(r.tasks[0], 1)
    assert session.vars["ACD_WAIT_RESULT"] == "answered" and r.live.engine.calls == {}


async def test_a_call_this_daemon_saw_answered_is_never_queued_again(tmp_path):
    """Issue 9, item 4: the daemon refuses to queue a call it knows was answered, even
    when the channel comes back without DIALSTATUS=ANSWER."""
    r = Room(tmp_path)
    r.login("11")
    session = await r.arrive("1.1")
    _, outcome = await ringing(session)
    r.room.dial_answered("1.1", "9.9", r.clock.now)
    session.gone = True
    outcome.set_result(("ANSWER", -1))              # the socket dropped mid-call
    await asyncio.wait_for(r.tasks[0], 1)
    again = await r.arrive("1.1", ACD_CALLID="1.1", ACD_ENQUEUED_AT=session.vars["ACD_ENQUEUED_AT"],
                           DIALSTATUS="")
    await asyncio.wait_for(r.tasks[1], 1)
    assert again.vars["ACD_WAIT_RESULT"] == "answered" and "1.1" not in r.live.engine.calls
    assert r.queue_log_events().count("ENTERQUEUE") == 1


async def test_channel_that_cannot_be_routed_leaves_with_an_error_result(tmp_path):
    r = Room(tmp_path)
    session = await r.arrive("1.1", ACD_QUEUE="nope")
    await asyncio.wait_for(r.tasks[0], 1)
    assert session.vars["ACD_WAIT_RESULT"] == "error" and r.live.engine.calls == {}


async def test_caller_who_waited_max_wait_takes_the_queue_exit(tmp_path):
    r = Room(tmp_path)
    session = await r.arrive("1.1")
    r.clock.now += 301
    r.live.feed(e.Tick(r.clock.now))
    await asyncio.wait_for(r.tasks[0], 1)
    assert (session.vars["ACD_WAIT_RESULT"], session.vars["ACD_EXIT"]) == ("exit", "callback")
    assert r.queue_log_events()[-1] == "EXITWITHTIMEOUT"


async def test_recorded_queue_starts_mixmonitor_named_by_call_id_before_dialling(tmp_path):
    r = Room(tmp_path)
    r.login("11")
    session = await r.arrive("1700000000.7")
    await ringing(session)
    mixmonitor = [c for c in session.commands if c[:2] == ("EXEC", "MixMonitor")]
    assert mixmonitor == [("EXEC", "MixMonitor", "var/recordings/1700000000.7.wav,b")]


async def test_without_number_prompts_the_announcement_falls_back_to_asterisks_core_sounds(tmp_path):
    r = Room(tmp_path)                               # a config with no announce_* prompts
    session = await r.arrive("1.1", ACD_LANG="el")
    r.room.announce(d.Announce(r.clock.now, "1.1", 3, 200.0))
    await settle()
    said = [c for c in session.commands if c[0] in ("STREAM FILE", "SAY NUMBER")]
    assert said == [("STREAM FILE", "queue-thereare", ""), ("SAY NUMBER", "3", ""),
                    ("STREAM FILE", "queue-callswaiting", ""), ("STREAM FILE", "queue-holdtime", ""),
                    ("SAY NUMBER", "4", ""), ("STREAM FILE", "queue-minutes", "")]
    assert session.commands[-1] == ("SET MUSIC", "ON", "default")


async def test_an_offer_already_waiting_skips_the_announcement_and_rings_at_once(tmp_path):
    r = Room(tmp_path)
    session = await r.arrive("1.1")
    r.room.announce(d.Announce(r.clock.now, "1.1", 3, 200.0))
    r.login("11")                                    # the offer lands in the inbox behind the announcement
    target, _ = await ringing(session)
    assert [c for c in session.commands if c[0] in ("STREAM FILE", "SAY NUMBER")] == []
    assert target.startswith("PJSIP/agent-11,")


def test_skills_variable_is_parsed_and_garbage_is_refused_with_the_value():
    assert parse_skills("lang:el=1, type:employer=3") == {"lang:el": 1, "type:employer": 3}
    assert parse_skills("") == {}
    with pytest.raises(CallVariablesError, match="lang:el"):
        parse_skills("lang:el")


def test_unknown_skill_or_bad_priority_on_the_channel_is_a_clear_error():
    config = make_config(QUEUES, AGENTS)
    with pytest.raises(CallVariablesError, match="unknown skills"):
        caller_attributes({"ACD_QUEUE": "q", "ACD_SKILLS": "lang:xx=1"}, default_call_id="1", default_queue=None,
                          config=config)
    with pytest.raises(CallVariablesError, match="ACD_PRIORITY"):
        caller_attributes({"ACD_QUEUE": "q", "ACD_PRIORITY": "high"}, default_call_id="1", default_queue=None,
                          config=config)
    with pytest.raises(CallVariablesError, match="ACD_QUEUE"):
        caller_attributes({}, default_call_id="1", default_queue=None, config=config)


async def test_a_stopping_daemon_hands_its_waiting_callers_over_and_takes_no_new_ones(tmp_path):
    """Issue 9, item 7: SIGTERM must not leave callers on the crash path (a closed socket,
    ``wait_retries`` seconds of retries); a caller whose agent rings stays in its Dial."""
    r = Room(tmp_path)
    waiting = await r.arrive("1.1")
    r.login("11")
    await settle()
    _, outcome = await ringing(waiting)               # 1.1 rings agent 11
    second = await r.arrive("1.2")
    assert await r.room.hand_over(timeout=1) == 1
    await asyncio.wait_for(r.tasks[1], 1)
    assert second.vars["ACD_WAIT_RESULT"] == "handover" and "1.2" in r.live.engine.calls
    late = await r.arrive("1.3")
    await asyncio.wait_for(r.tasks[2], 1)
    assert late.vars["ACD_WAIT_RESULT"] == "handover" and "1.3" not in r.live.engine.calls
    assert not r.tasks[0].done()
    outcome.set_result(("NOANSWER", 0))


async def test_a_caller_who_reached_the_dialplan_while_no_daemon_answered_keeps_that_place(tmp_path):
    """Callers arriving during an outage loop until a daemon answers, each on its own
    one-second phase: the place is the dialplan's arrival (ACD_ARRIVED), not the retry."""
    r = Room(tmp_path)
    late_retry = await r.arrive("2.2", ACD_ARRIVED=f"{r.clock.now - 2.0:.3f}")
    early_retry = await r.arrive("1.1", ACD_ARRIVED=f"{r.clock.now - 2.5:.3f}")
    calls = r.live.engine.calls
    assert calls["1.1"].enqueued_at == r.clock.now - 2.5 and calls["2.2"].enqueued_at == r.clock.now - 2.0
    assert early_retry.vars["ACD_ENQUEUED_AT"] == f"{r.clock.now - 2.5:.3f}"
    r.login("11")
    await settle()
    await ringing(early_retry)
    assert late_retry.dials.empty()


async def test_a_caller_is_marked_in_one_round_trip_for_the_plain_values_and_apart_for_the_others() -> None:
    """``set_variables``: MSet for the values it takes as written; a comma (MSet's separator)
    or an empty value goes by SET VARIABLE, so nothing is split or lost."""
    from acd.daemon.waiting_room import set_variables

    class Recorder:
        def __init__(self) -> None:
            self.sent: list[tuple[str, ...]] = []

        async def exec(self, application: str, *args: str) -> None:
            self.sent.append(("EXEC", application, *args))

        async def set_variable(self, name: str, value: str) -> None:
            self.sent.append(("SET VARIABLE", name, value))

    session = Recorder()
    await set_variables(session, {"ACD_CALLID": "1.1", "ACD_QUEUE": "pensions", "ACD_WAIT_RESULT": "",
                                  "ACD_NOTE": "a,b", "ACD_TRIES": "0"})   # type: ignore[arg-type]
    assert session.sent == [("EXEC", "MSet", "ACD_CALLID=1.1", "ACD_QUEUE=pensions", "ACD_TRIES=0"),
                            ("SET VARIABLE", "ACD_WAIT_RESULT", ""), ("SET VARIABLE", "ACD_NOTE", "a,b")]
