"""The rig itself: a sandboxed Asterisk that real sipp phones call through.

If these fail, every integration test and benchmark above them means nothing, so they
check the plumbing end to end: calls, DTMF by SIP INFO, ring-no-answer, busy, 100 calls
at once, and a sandbox that stops by pid and touches nothing else.
"""
from __future__ import annotations

import os
import shutil
import socket
import time
import uuid
from pathlib import Path

import pytest

from rig.asterisk import AsteriskError, AsteriskSandbox
from rig.asterisk_conf import get_option, set_option
from rig.services import postgres_answers, redis_answers
from rig.sip_endpoints import agent_endpoint, pjsip_for
from rig.sipp import Phones, SippProcess, citizen_scenario_with_dtmf, citizens, parse_events, parse_stats

GREEK_NAME = "Γιώργος Παπαδόπουλος"


def dialplan(inbound: str) -> str:
    """The test's ``acd-inbound`` context. Tests record what the dialplan saw in astdb
    under a family of their own and read it back through the CLI."""
    return f"[acd-inbound]\n{inbound}\n[acd-agents]\n"


def db_get(asterisk: AsteriskSandbox, family: str, key: str) -> str | None:
    output = asterisk.cli(f"database get {family} {key}")
    return output.split("Value:", 1)[1].strip() if "Value:" in output else None


def wait_for_db(asterisk: AsteriskSandbox, family: str, key: str, timeout: float = 10.0) -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = db_get(asterisk, family, key)
        if value is not None:
            return value
        time.sleep(0.1)
    return None


def kinds(events: list, phone: str | None = None) -> list[str]:
    return [e.event for e in events if phone is None or e.phone == phone]


# ------------------------------------------------------------------ calls through Asterisk
@pytest.mark.asterisk
def test_citizen_reaches_agent_who_answers_and_hangs_up_after_one_second(asterisk, phones: Phones):
    family = f"rig{uuid.uuid4().hex[:8]}"
    agents = phones.agents(ring=0.2, talk=1.0)
    asterisk.apply({
        "pjsip_generated.conf": pjsip_for(["7"], agents.port),
        "extensions_generated.conf": dialplan(f"""
exten => 1555,1,Set(DB({family}/name)=${{CALLERID(name)}})
 same => n,Dial(PJSIP/agent-7,10)
 same => n,Hangup()"""),
    })
    caller = phones.citizens("1555", caller_name=GREEK_NAME)   # holds until the agent hangs up
    assert caller.wait(timeout=20).all_successful, caller.diagnostics()
    assert agents.stop().all_successful, agents.diagnostics()

    agent_side, citizen_side = agents.events(), caller.events()
    assert [(e.event, e.phone, e.peer) for e in agent_side] == [
        ("invite", "agent-7", "citizen-1"), ("answer", "agent-7", "citizen-1"), ("hangup", "agent-7", "citizen-1")]
    assert kinds(citizen_side) == ["invite", "answered", "bye"]   # the far end hung up
    answer, hangup = agent_side[1].at, agent_side[2].at
    assert 0.9 <= hangup - answer < 2.0
    assert citizen_side[2].at >= hangup                          # the citizen heard it after the agent
    assert db_get(asterisk, family, "name") == GREEK_NAME


@pytest.mark.asterisk
def test_dtmf_sent_as_sip_info_reaches_the_dialplan_and_picks_the_branch(asterisk, phones: Phones):
    family = f"rig{uuid.uuid4().hex[:8]}"
    asterisk.apply({
        "pjsip_generated.conf": pjsip_for([], 5060),
        "extensions_generated.conf": dialplan(f"""
exten => 1555,1,Answer()
 same => n,Read(CHOICE,,2,,1,5)
 same => n,Set(DB({family}/read)=${{CHOICE}})
 same => n,Goto(menu-${{CHOICE}},1)
exten => menu-42,1,Set(DB({family}/branch)=forty-two)
 same => n,Hangup()
exten => menu-24,1,Set(DB({family}/branch)=twenty-four)
 same => n,Hangup()"""),
    })
    caller = phones.citizens("1555", digits="42", first_digit_after=0.5, digit_gap=0.2)
    assert caller.wait(timeout=20).all_successful, caller.diagnostics()
    assert db_get(asterisk, family, "read") == "42"
    assert db_get(asterisk, family, "branch") == "forty-two"
    events = caller.events()
    assert [(e.event, e.peer) for e in events if e.event == "dtmf"] == [("dtmf", "4"), ("dtmf", "2")]
    assert kinds(events)[-1] == "bye"                            # the dialplan hung up after the branch


def dial_status(asterisk: AsteriskSandbox, phones: Phones, behaviour: str,
                dial_timeout: int) -> tuple[str | None, SippProcess]:
    """A citizen's call, answered by the dialplan, that Dials one agent phone with
    ``behaviour``; returns Dial's DIALSTATUS and the (stopped) agent phone."""
    family = f"rig{uuid.uuid4().hex[:8]}"
    agents = phones.agents(behaviour=behaviour)
    asterisk.apply({
        "pjsip_generated.conf": pjsip_for(["3"], agents.port),
        "extensions_generated.conf": dialplan(f"""
exten => 1555,1,Answer()
 same => n,Dial(PJSIP/agent-3,{dial_timeout})
 same => n,Set(DB({family}/status)=${{DIALSTATUS}})
 same => n,Hangup()"""),
    })
    caller = phones.citizens("1555")
    assert caller.wait(timeout=20).all_successful, caller.diagnostics()
    status = wait_for_db(asterisk, family, "status")
    assert agents.stop().all_successful, agents.diagnostics()
    return status, agents


@pytest.mark.asterisk
def test_agent_who_never_answers_rings_until_asterisk_cancels(asterisk, phones: Phones):
    status, agents = dial_status(asterisk, phones, "never_answers", dial_timeout=2)
    assert status == "NOANSWER"
    agent_side = agents.events()
    assert kinds(agent_side) == ["invite", "cancel"]
    assert 1.8 <= agent_side[1].at - agent_side[0].at < 3.5     # Dial's 2 s timeout


@pytest.mark.asterisk
def test_busy_agent_answers_486_and_the_dialplan_sees_busy(asterisk, phones: Phones):
    status, agents = dial_status(asterisk, phones, "busy", dial_timeout=5)
    assert status == "BUSY"
    assert kinds(agents.events()) == ["busy"]


@pytest.mark.asterisk
def test_hundred_calls_at_once_are_all_connected_and_ended_cleanly(asterisk, phones: Phones):
    """1555 has 100+ callers at once: the RTP port range, maxcalls and open files must
    carry 200 channels (citizen and agent legs) without a single failed call."""
    agents = phones.agents(ring=0.0, talk=None)                # the citizens hang up
    asterisk.apply({
        "pjsip_generated.conf": pjsip_for(["load"], agents.port),
        "extensions_generated.conf": dialplan("exten => 1555,1,Dial(PJSIP/agent-load,10)\n same => n,Hangup()"),
    })
    started = time.monotonic()
    caller = phones.citizens("1555", calls=100, rate=100, hold=4.0)
    peak = 0
    while caller.running and time.monotonic() - started < 45:
        output = asterisk.cli("core show channels count")
        peak = max(peak, int(output.split(" active channel")[0].split()[-1]))
        time.sleep(0.2)
    result = caller.wait(timeout=50)
    assert (result.created, result.successful, result.failed) == (100, 100, 0), caller.diagnostics()
    agent_result = agents.stop()
    assert (agent_result.successful, agent_result.failed) == (100, 0), agents.diagnostics()
    assert peak >= 200                                         # all 100 calls were up together
    answered = [e for e in caller.events() if e.event == "answered"]
    first_hangup = min(e.at for e in caller.events() if e.event == "hangup")
    assert len(answered) == 100 and max(e.at for e in answered) < first_hangup
    assert "0 active channels" in asterisk.cli("core show channels count")


# ------------------------------------------------------------------ the sandbox itself
def _processes_using(path: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(path).encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _ami_login(port: int, username: str, secret: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as ami:
        ami.recv(100)                                          # the banner
        ami.sendall(f"Action: Login\r\nUsername: {username}\r\nSecret: {secret}\r\n\r\n".encode())
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = ami.recv(1024)
            if not chunk:
                break
            reply += chunk
    return reply.decode()


@pytest.mark.asterisk
def test_sandbox_runs_from_its_own_directories_and_stops_by_pid(asterisk, tmp_path):
    sandbox = AsteriskSandbox(tmp_path / "second")
    assert (sandbox.sip_port, sandbox.ami_port) != (asterisk.sip_port, asterisk.ami_port)
    with sandbox:
        pid = sandbox.pid
        settings = sandbox.cli("core show settings")
        assert f"Configuration directory:     {tmp_path / 'second' / 'etc'}" in settings
        assert "Module directory:            /usr/lib/asterisk/modules" in settings
        assert "Response: Success" in _ami_login(sandbox.ami_port, sandbox.ami_username, sandbox.ami_secret)
        assert "Response: Error" in _ami_login(sandbox.ami_port, sandbox.ami_username, "wrong")
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert _processes_using(tmp_path / "second") == []
    assert asterisk.running and "Asterisk 16" in asterisk.cli("core show version")   # the other one is untouched


@pytest.mark.asterisk
def test_sandbox_that_cannot_start_says_why_and_leaves_nothing_running(asterisk, tmp_path):
    broken = tmp_path / "broken-config"
    shutil.copytree(Path(__file__).resolve().parent.parent / "asterisk-config", broken)
    modules = broken / "modules.conf"
    modules.write_text(modules.read_text() + "require => res_no_such_module.so\n")
    sandbox = AsteriskSandbox(tmp_path / "sandbox", base_config=broken, start_timeout=15)
    with pytest.raises(AsteriskError) as failure:
        sandbox.start()
    assert "res_no_such_module" in str(failure.value)          # the log tail names the cause
    assert not sandbox.running and _processes_using(tmp_path / "sandbox") == []


@pytest.mark.asterisk
def test_reloading_a_config_with_errors_is_refused(asterisk):
    with pytest.raises(AsteriskError, match="bogus_option"):
        asterisk.apply({"pjsip_generated.conf": "[agent-9]\ntype = endpoint\nbogus_option = 1\n"})


# ------------------------------------------------------------------ pure parts
def test_set_option_keeps_comments_and_adds_missing_keys():
    text = "; why\n[general]\nport = 5038 ; default\n\n[acd]\nsecret => old\n"
    changed = set_option(set_option(text, "general", "port", "15038"), "acd", "secret", "new")
    assert changed.startswith("; why\n[general]\nport = 15038 ; default\n")
    assert get_option(changed, "acd", "secret") == "new"
    assert get_option(set_option(changed, "acd", "read", "call"), "acd", "read") == "call"
    with pytest.raises(KeyError):
        set_option(text, "nowhere", "port", "1")
    with pytest.raises(ValueError):
        set_option(text, "general", "port", "1\n[evil]")


def test_phone_event_log_and_stats_are_parsed_with_microseconds():
    events = parse_events("1700000000.000000 5123.000000 invite agent-1 citizen-2 abc@x\n"
                          "1699999999.000000 999999.000000 answered citizen-2 1555 def\n")
    assert [(e.event, e.phone, e.peer) for e in events] == [("answered", "citizen-2", "1555"),
                                                             ("invite", "agent-1", "citizen-2")]
    assert events[1].at == pytest.approx(1700000000.005123)
    with pytest.raises(ValueError, match="line 1"):
        parse_events("1700000000.0 invite\n")
    assert parse_stats("A;SuccessfulCall(C);\n1;2;\n3;4;\n")["SuccessfulCall(C)"] == "4"


def test_dtmf_digits_become_one_info_each_and_bad_digits_are_refused():
    scenario = citizen_scenario_with_dtmf("1#", first_digit_after=1.0, digit_gap=0.25)
    assert scenario.count("Content-Type: application/dtmf-relay") == 2
    assert "Signal=1" in scenario and "Signal=#" in scenario
    assert '<pause milliseconds="1000" />' in scenario and '<pause milliseconds="250" />' in scenario
    assert "CSeq: 2 INFO" in scenario and "CSeq: 3 INFO" in scenario
    with pytest.raises(ValueError):
        citizen_scenario_with_dtmf("12x", 1.0, 0.3)


def test_phone_and_endpoint_builders_refuse_input_that_would_break_sip(tmp_path):
    with pytest.raises(ValueError):
        agent_endpoint("7]\n[evil", 16000)
    with pytest.raises(ValueError):
        citizens(tmp_path, 15060, "1555", caller_name='Bob" <sip:x>')
    with pytest.raises(ValueError):
        citizens(tmp_path, 15060, "15 55")


@pytest.mark.redis
@pytest.mark.postgres
def test_service_checks_speak_each_servers_own_protocol(redis_url, postgres_url):
    assert redis_answers() and postgres_answers()
    assert not postgres_answers(("127.0.0.1", 6379))           # Redis is not PostgreSQL
    assert not redis_answers(("127.0.0.1", 5432))
