"""The AMI wire format: any split of the stream gives the same messages, garbage is
dropped without losing its neighbours, and actions cannot smuggle headers."""
from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.protocol.ami import AMIMessage, AMIParser, encode_action

BANNER = b"Asterisk Call Manager/5.0.4\r\n"

# A Hangup event as main/manager_channels.c writes it, with a Greek caller name.
HANGUP = (
    "Event: Hangup\r\nPrivilege: call,all\r\nChannel: PJSIP/citizens-00000001\r\n"
    "CallerIDName: Παπαδόπουλος Γιώργος\r\nUniqueid: 1700000000.1\r\nCause: 16\r\n"
    "Cause-txt: Normal Clearing\r\n\r\n"
).encode()
# The Command action's answer (main/manager.c action_command): one Output line per line.
COMMAND = (
    "Response: Success\r\nActionID: acd-1\r\nMessage: Command output follows\r\n"
    "Output: Name/username             Host\r\nOutput: agent11/agent11  127.0.0.1:5070\r\n"
    "Output: 1 sip peers [Monitored: 1 online]\r\n\r\n"
).encode()
PONG = b"Response: Success\r\nActionID: acd-2\r\nPing: Pong\r\nTimestamp: 1700000000.123456\r\n\r\n"
STREAM = BANNER + HANGUP + COMMAND + PONG


def feed_in_pieces(data: bytes, cuts: list[int]) -> tuple[AMIParser, list[AMIMessage]]:
    parser = AMIParser()
    messages: list[AMIMessage] = []
    last = 0
    for cut in sorted(set(c % (len(data) + 1) for c in cuts)) + [len(data)]:
        messages += parser.feed(data[last:cut])
        last = cut
    return parser, messages


def test_greeting_is_the_banner_not_a_message() -> None:
    parser = AMIParser()
    assert parser.feed(BANNER) == []
    assert parser.banner == "Asterisk Call Manager/5.0.4"


def test_event_keeps_header_order_and_case_but_looks_up_any_case() -> None:
    [message] = AMIParser(expect_banner=False).feed(HANGUP)
    assert message.kind == "event"
    assert message.name == "Hangup"
    assert [key for key, _ in message.headers][:3] == ["Event", "Privilege", "Channel"]
    assert message.get("uniqueid") == "1700000000.1"
    assert message["CALLERIDNAME"] == "Παπαδόπουλος Γιώργος"
    assert message.get("Missing", "none") == "none"
    with pytest.raises(KeyError):
        message["Missing"]


def test_command_output_lines_are_all_kept_in_order() -> None:
    [message] = AMIParser(expect_banner=False).feed(COMMAND)
    assert message.kind == "response"
    assert message.name == "Success"
    assert message.action_id == "acd-1"
    assert message.get_all("Output") == [
        "Name/username             Host", "agent11/agent11  127.0.0.1:5070", "1 sip peers [Monitored: 1 online]"]
    assert message.get("Output") == "Name/username             Host"


def test_bare_newlines_are_tolerated() -> None:
    data = PONG.replace(b"\r\n", b"\n")
    [message] = AMIParser(expect_banner=False).feed(data)
    assert message.get("Ping") == "Pong"


def test_value_keeps_colons_and_empty_values() -> None:
    [message] = AMIParser(expect_banner=False).feed(
        b"Event: VarSet\r\nVariable: X\r\nValue: a:b: c\r\nAccountCode: \r\n\r\n")
    assert message.get("Value") == "a:b: c"
    assert message.get("AccountCode") == ""


def test_line_without_colon_is_dropped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        [message] = AMIParser(expect_banner=False).feed(b"Event: X\r\nthis is noise\r\nA: 1\r\n\r\n")
    assert message.headers == (("Event", "X"), ("A", "1"))
    assert "without 'Key:'" in caplog.text


def test_invalid_utf8_becomes_replacement_char_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        [message] = AMIParser(expect_banner=False).feed(b"Event: X\r\nName: ab\xff\xfecd\r\n\r\n")
    assert message.get("Name") == "ab\ufffd\ufffdcd"
    assert "invalid UTF-8" in caplog.text


def test_oversized_message_is_dropped_and_the_next_one_survives(caplog: pytest.LogCaptureFixture) -> None:
    parser = AMIParser(expect_banner=False, max_message_bytes=1000)
    with caplog.at_level(logging.WARNING):
        out = parser.feed(b"Event: Big\r\n" + b"X: " + b"y" * 600 + b"\r\n")
        out += parser.feed(b"X: " + b"y" * 600 + b"\r\n")
        out += parser.feed(b"\r\n" + PONG)
    assert [m.name for m in out] == ["Success"]
    assert "size bound" in caplog.text


def test_endless_line_without_terminator_is_bounded() -> None:
    parser = AMIParser(expect_banner=False, max_message_bytes=1000)
    for _ in range(50):
        assert parser.feed(b"z" * 500) == []
    assert len(parser._buffer) <= 1000
    assert [m.name for m in parser.feed(b"\r\n\r\n" + PONG)] == ["Success"]


def test_message_with_neither_event_nor_response_is_dropped() -> None:
    assert AMIParser(expect_banner=False).feed(b"Foo: bar\r\n\r\n") == []


def test_extra_blank_lines_between_messages_are_harmless() -> None:
    out = AMIParser(expect_banner=False).feed(b"\r\n\r\n" + PONG + b"\r\n\r\n" + PONG)
    assert len(out) == 2


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=30))
def test_any_split_of_the_stream_gives_the_same_messages(cuts: list[int]) -> None:
    whole_parser, whole = feed_in_pieces(STREAM, [])
    parser, pieces = feed_in_pieces(STREAM, cuts)
    assert pieces == whole
    assert parser.banner == whole_parser.banner == "Asterisk Call Manager/5.0.4"
    assert [m.name for m in pieces] == ["Hangup", "Success", "Success"]
    assert pieces[0].get("CallerIDName") == "Παπαδόπουλος Γιώργος"


garbage_line = st.binary(min_size=1, max_size=40).filter(lambda b: b":" not in b and b"\n" not in b and b"\r" not in b)


@settings(max_examples=200, deadline=None)
@given(st.lists(garbage_line, min_size=1, max_size=5), st.lists(st.integers(0, 2000), max_size=10))
def test_garbage_lines_inside_messages_are_dropped_and_the_messages_survive(
        garbage: list[bytes], cuts: list[int]) -> None:
    noisy = BANNER + HANGUP.replace(b"Cause: 16\r\n", b"Cause: 16\r\n" + b"\r\n".join(garbage) + b"\r\n") + PONG
    _, messages = feed_in_pieces(noisy, cuts)
    assert [m.name for m in messages] == ["Hangup", "Success"]
    assert messages[0].get("Cause-txt") == "Normal Clearing"
    assert messages[0].get("CallerIDName") == "Παπαδόπουλος Γιώργος"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_random_bytes_never_raise(data: bytes) -> None:
    parser = AMIParser(max_message_bytes=1024)
    for message in parser.feed(data) + parser.feed(data[::-1]):
        assert message.kind in ("event", "response")


field_key = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,15}", fullmatch=True).filter(
    lambda k: k.lower() not in ("action", "actionid"))
field_value = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\0"),
                      max_size=30).map(lambda v: v.strip(" "))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(field_key, field_value | st.lists(field_value, min_size=1, max_size=3), max_size=6))
def test_encoded_action_parses_back_to_its_fields(fields: dict[str, str | list[str]]) -> None:
    wire = encode_action("Originate", "acd-7", fields).replace(b"Action:", b"Response:", 1)
    [message] = AMIParser(expect_banner=False).feed(wire)
    assert message.name == "Originate"
    assert message.action_id == "acd-7"
    for key, value in fields.items():
        expected = value if isinstance(value, list) else [value]
        # keys that differ only in case are one header to Asterisk: compare through the message
        assert all(v in message.get_all(key) for v in expected)


def test_list_values_become_repeated_headers() -> None:
    wire = encode_action("Originate", "acd-1", {"Channel": "Local/100@test", "Variable": ["A=1", "B=Γ"]})
    assert wire == ("Action: Originate\r\nActionID: acd-1\r\nChannel: Local/100@test\r\n"
                    "Variable: A=1\r\nVariable: B=Γ\r\n\r\n").encode()


@pytest.mark.parametrize("fields", [
    {"Channel": "PJSIP/x\r\nAction: Command"},
    {"Variable": ["A=1", "B=2\nC=3"]},
    {"Bad\nKey": "v"},
    {"Bad: Key": "v"},
    {"Value": "nul\0"},
    {"ActionID": "mine"},
])
def test_header_injection_is_refused(fields: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        encode_action("Originate", "acd-1", fields)


@pytest.mark.parametrize("name", ["", "Ping\r\nAction: Command", "Two Words"])
def test_bad_action_name_is_refused(name: str) -> None:
    with pytest.raises(ValueError):
        encode_action(name, "acd-1", {})
