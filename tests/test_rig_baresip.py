"""The baresip softphone rig (rig/baresip.py): its config, its ctrl_tcp framing, and two
real baresip processes calling each other directly (no Asterisk): auto-answer, RFC 4733
digits, hang-up, and a stop that ends exactly the process it started."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rig.baresip import Softphone, SoftphoneError, account_line, config_text, find_baresip, netstring, \
    split_netstrings
from tests.needs import missing


def test_account_line_carries_digest_password_auto_answer_and_alaw_first() -> None:
    line = account_line("agent-72", "Secret-72", "127.0.0.1:15060")
    assert line == ("<sip:agent-72@127.0.0.1:15060>;auth_pass=Secret-72;answermode=auto;"
                    "audio_codecs=PCMA,PCMU;regint=300\n")
    assert "regint=0" in account_line("agent-1", None, "127.0.0.1:5060", register=False)
    assert "auth_pass" not in account_line("agent-1", None, "127.0.0.1:5060")


@pytest.mark.parametrize("user, password, registrar", [
    ("agent 1", "x", "127.0.0.1:5060"), ("agent-1", "a;b", "127.0.0.1:5060"),
    ("agent-1", "x", "127.0.0.1:5060>"), ("", "x", "127.0.0.1:5060")])
def test_account_line_refuses_what_would_break_the_accounts_file(user: str, password: str, registrar: str) -> None:
    with pytest.raises(ValueError, match="softphone"):
        account_line(user, password, registrar)


def test_config_needs_no_sound_card_and_listens_on_loopback_only(tmp_path: Path) -> None:
    text = config_text(17500, 17900, tmp_path / "mic.wav")
    assert "sip_listen 127.0.0.1:17500" in text
    assert "ctrl_tcp_listen 127.0.0.1:17900" in text
    assert f"audio_source aufile,{tmp_path / 'mic.wav'}" in text
    assert "alsa" not in text and "ausine" not in text
    for module in ("g711.so", "aufile.so", "aubridge.so", "menu.so", "ctrl_tcp.so", "account.so"):
        assert module in text
        if find_baresip() is not None:
            assert (Path("/usr/lib/baresip/modules") / module).is_file(), f"Debian's baresip lacks {module}"


def test_netstrings_round_trip_and_a_cut_message_waits_for_its_rest() -> None:
    stream = netstring(b'{"a":1}') + netstring(b"") + netstring(b'{"event":true}')
    assert split_netstrings(stream) == ([b'{"a":1}', b"", b'{"event":true}'], b"")
    assert split_netstrings(stream[:-3]) == ([b'{"a":1}', b""], b'14:{"event":tru')
    assert split_netstrings(b"12") == ([], b"12")
    with pytest.raises(SoftphoneError, match="malformed"):
        split_netstrings(b"x3:abc,")
    with pytest.raises(SoftphoneError, match="comma"):
        split_netstrings(b"3:abcd")


@pytest.fixture
def two_phones(tmp_path: Path) -> Iterator[tuple[Softphone, Softphone]]:
    if find_baresip() is None:
        missing("baresip is not installed (Debian package baresip)")
    caller = Softphone(tmp_path / "caller", "agent-1", "127.0.0.1:5999", register=False)
    callee = Softphone(tmp_path / "callee", "agent-2", "127.0.0.1:5999", register=False)
    try:
        caller.start()
        callee.start()
        yield caller, callee
    finally:
        caller.stop()
        callee.stop()


def test_two_softphones_call_auto_answer_send_rfc4733_digits_and_hang_up(
        two_phones: tuple[Softphone, Softphone]) -> None:
    caller, callee = two_phones
    caller.dial(callee.uri)
    assert callee.wait_for("CALL_ESTABLISHED").peer == "sip:agent-1@127.0.0.1:5999"
    caller.wait_for("CALL_ESTABLISHED")
    callee.wait_for("CALL_RTPESTAB")           # audio arrived from the caller's aufile microphone
    caller.send_digits("*1#")
    callee.wait_for("CALL_DTMF_START", count=3)
    assert [ev.param for ev in callee.events() if ev.type == "CALL_DTMF_START"] == list("*1#")
    pid = callee.pid
    caller.hangup()
    assert callee.wait_for("CALL_CLOSED").param == "Connection reset by peer"
    callee.stop()
    assert pid is not None and not _alive(pid)
    with pytest.raises(ValueError, match="DTMF"):
        caller.send_digits("1x")


def test_a_refused_command_is_an_error(two_phones: tuple[Softphone, Softphone]) -> None:
    caller, _ = two_phones
    with pytest.raises(SoftphoneError, match="refused|did not answer"):
        caller.command("no-such-command")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
