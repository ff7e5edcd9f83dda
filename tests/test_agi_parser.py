"""The FastAGI wire format: the environment, replies that never drift past a HANGUP
notice, garbage refused before the environment, commands quoted the way res_agi splits."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.protocol.agi import (
    MAX_COMMAND_BYTES,
    AGIEnvironment,
    AGIParser,
    AGIProtocolError,
    AGIResponse,
    HangupNotice,
    encode_command,
    parse_reply,
    split_command,
)

# As res_agi.c launch_netscript + setup_env write it, for AGI(agi://127.0.0.1:4573/wait?queue=q1&lang=el,x,y z)
ENVIRONMENT = (
    "agi_network: yes\n"
    "agi_network_script: wait?queue=q1&lang=el\n"
    "agi_request: agi://127.0.0.1:4573/wait?queue=q1&lang=el\n"
    "agi_channel: PJSIP/citizens-00000001\n"
    "agi_language: el\n"
    "agi_uniqueid: 1700000000.1\n"
    "agi_callerid: 2101234567\n"
    "agi_calleridname: Μαρία Οικονόμου\n"
    "agi_accountcode: \n"
    "agi_arg_1: x\n"
    "agi_arg_2: y z\n"
    "\n"
).encode()

USAGE = (
    "520-Invalid command syntax.  Proper usage follows:\n"
    " Usage: STREAM FILE <filename> <escape_digits> [<offset>]\n"
    "   Send the given file, allowing playback to be interrupted by the given\n"
    "520 End of proper usage.\n"
)
REPLIES = [
    ("200 result=0\n", AGIResponse(200, 0, None, None, "0", "result=0")),
    ("200 result=1 (Γιώργος (ΓΠ))\n", AGIResponse(200, 1, "Γιώργος (ΓΠ)", None, "1", "result=1 (Γιώργος (ΓΠ))")),
    ("200 result=49 endpos=12000\n",
     AGIResponse(200, 49, None, 12000, "49", "result=49 endpos=12000", {"endpos": "12000"})),
    ("200 result=-1 (hangup) endpos=0\n",
     AGIResponse(200, -1, "hangup", 0, "-1", "result=-1 (hangup) endpos=0", {"endpos": "0"})),
    ("200 result=0123 (timeout)\n", AGIResponse(200, 123, "timeout", None, "0123", "result=0123 (timeout)")),
    ("510 Invalid or unknown command\n", AGIResponse(510, text="Invalid or unknown command")),
    ("511 Command Not Permitted on a dead channel or intercept routine\n",
     AGIResponse(511, text="Command Not Permitted on a dead channel or intercept routine")),
]


def test_environment_gives_variables_script_query_and_args() -> None:
    [env] = AGIParser().feed(ENVIRONMENT)
    assert isinstance(env, AGIEnvironment)
    assert env.script == "wait"
    assert dict(env.query) == {"queue": "q1", "lang": "el"}
    assert env.args == ("x", "y z")
    assert env["agi_calleridname"] == "Μαρία Οικονόμου"
    assert env["agi_accountcode"] == ""
    assert env.get("agi_nope") is None


def test_script_falls_back_to_the_request_url_when_no_script_line() -> None:
    env = AGIEnvironment({"agi_request": "agi://10.0.0.1/agent?action=login"})
    assert (env.script, dict(env.query)) == ("agent", {"action": "login"})
    assert AGIEnvironment({"agi_request": "agi://10.0.0.1"}).script == ""


def test_args_are_ordered_by_number_not_by_text() -> None:
    env = AGIEnvironment({f"agi_arg_{n}": str(n) for n in (10, 2, 1)})
    assert env.args == ("1", "2", "10")


@pytest.mark.parametrize(("line", "expected"), REPLIES)
def test_reply_lines_parse_as_res_agi_writes_them(line: str, expected: AGIResponse) -> None:
    parser = AGIParser()
    parser.feed(ENVIRONMENT)
    assert parser.feed(line.encode()) == [expected]


def test_usage_block_is_one_reply_with_all_its_lines() -> None:
    parser = AGIParser()
    parser.feed(ENVIRONMENT)
    [reply] = parser.feed(USAGE.encode())
    assert reply.code == 520
    assert "STREAM FILE <filename>" in reply.text
    assert reply.text.endswith("End of proper usage.")


def test_hangup_notice_is_not_a_reply() -> None:
    parser = AGIParser()
    parser.feed(ENVIRONMENT)
    assert parser.feed(b"200 result=-1\nHANGUP\n511 Command Not Permitted on a dead channel or intercept routine\n") == [
        AGIResponse(200, -1, None, None, "-1", "result=-1"),
        HangupNotice(),
        REPLIES[-1][1],
    ]


@pytest.mark.parametrize("garbage", [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n",
    b"agi_network yes\n",
    b"agi_channel: x\nSSH-2.0-OpenSSH_9.2\n",
])
def test_garbage_before_the_environment_is_refused(garbage: bytes) -> None:
    parser = AGIParser()
    with pytest.raises(AGIProtocolError):
        parser.feed(garbage)
    with pytest.raises(AGIProtocolError):
        parser.feed(ENVIRONMENT)


def test_endless_header_line_is_refused() -> None:
    parser = AGIParser()
    with pytest.raises(AGIProtocolError):
        for _ in range(100):
            parser.feed(b"agi_x: " + b"a" * 1024)


def test_reply_line_that_is_no_reply_is_dropped_without_shifting_the_next() -> None:
    parser = AGIParser()
    parser.feed(ENVIRONMENT)
    assert parser.feed(b"hello there\n200 result=1\n") == [AGIResponse(200, 1, None, None, "1", "result=1")]


stream_items = st.lists(st.sampled_from(["hangup", "usage"] + [line for line, _ in REPLIES]), max_size=12)


@settings(max_examples=300, deadline=None)
@given(stream_items, st.lists(st.integers(min_value=0, max_value=4000), max_size=25))
def test_any_split_gives_the_same_replies_and_hangups_never_shift_them(
        items: list[str], cuts: list[int]) -> None:
    wire = ENVIRONMENT + "".join("HANGUP\n" if i == "hangup" else USAGE if i == "usage" else i
                                 for i in items).encode()
    parser = AGIParser()
    out: list[object] = []
    last = 0
    for cut in sorted({c % (len(wire) + 1) for c in cuts}) + [len(wire)]:
        out += parser.feed(wire[last:cut])
        last = cut
    env, rest = out[0], out[1:]
    assert isinstance(env, AGIEnvironment) and env["agi_calleridname"] == "Μαρία Οικονόμου"
    replies = [x for x in rest if isinstance(x, AGIResponse)]
    expected = [parse_reply(USAGE.splitlines()) if i == "usage" else dict(REPLIES)[i]
                for i in items if i != "hangup"]
    assert replies == expected
    assert sum(isinstance(x, HangupNotice) for x in rest) == items.count("hangup")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.booleans())
def test_random_bytes_never_raise_anything_but_protocol_error(data: bytes, after_env: bool) -> None:
    parser = AGIParser()
    if after_env:
        parser.feed(ENVIRONMENT)
    try:
        items = parser.feed(data)
    except AGIProtocolError:
        assert not after_env or len(data) > 1024 * 1024
        return
    assert all(isinstance(x, (AGIEnvironment, AGIResponse, HangupNotice)) for x in items)


# ---------------------------------------------------------------- commands
def test_plain_words_are_not_quoted_and_name_words_may_come_together() -> None:
    assert encode_command("STREAM FILE", "welcome", "12#") == b"STREAM FILE welcome 12#\n"
    assert encode_command("stream", "file", "welcome") == b"STREAM file welcome\n"


def test_empty_argument_is_kept_as_an_empty_quoted_word() -> None:
    assert encode_command("STREAM FILE", "beep", "") == b'STREAM FILE beep ""\n'


def test_greek_value_with_spaces_and_quotes_is_one_argument() -> None:
    line = encode_command("SET VARIABLE", "CALLERID(name)", 'Ο "Γιάννης" \\ Β')
    assert split_command(line.decode().rstrip("\n")) == ["SET", "VARIABLE", "CALLERID(name)", 'Ο "Γιάννης" \\ Β']


@pytest.mark.parametrize("words", [
    ("SET VARIABLE", "X", "a\nANSWER"),
    ("SET VARIABLE", "X", "a\rb"),
    ("VERBOSE", "nul\0"),
    ("BAD\nNAME",),
    ("",),
    ("SET VARIABLE", "X", "y" * MAX_COMMAND_BYTES),
])
def test_commands_that_asterisk_would_split_are_refused(words: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        encode_command(*words)


argument = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\0"), max_size=40)


@settings(max_examples=300, deadline=None)
@given(st.lists(argument, max_size=6))
def test_encoded_arguments_split_back_exactly_as_res_agi_parses_them(args: list[str]) -> None:
    line = encode_command("EXEC", *args).decode()
    assert line.endswith("\n") and line.count("\n") == 1
    assert split_command(line[:-1]) == ["EXEC", *args]
