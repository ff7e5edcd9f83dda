"""acd.protocol.lines: the line framing the AMI and AGI parsers share."""
from __future__ import annotations

from hypothesis import given, strategies as st

from acd.protocol.lines import take_lines


def one_by_one(buffer: bytearray) -> list[bytes]:
    """The rule, a line at a time: up to each ``\\n``, less one ``\\r`` before it."""
    lines = []
    while b"\n" in buffer:
        end = buffer.index(b"\n")
        line = bytes(buffer[:end])
        del buffer[:end + 1]
        lines.append(line[:-1] if line.endswith(b"\r") else line)
    return lines


def test_crlf_and_bare_lf_lines_come_out_without_their_ends_and_the_rest_waits() -> None:
    buffer = bytearray(b"Event: Hangup\r\nChannel: PJSIP/a\n\r\nUniqueid: 17")
    assert take_lines(buffer) == [b"Event: Hangup", b"Channel: PJSIP/a", b""]
    assert buffer == bytearray(b"Uniqueid: 17")
    assert take_lines(buffer) == [] and buffer == bytearray(b"Uniqueid: 17")


def test_only_the_cr_before_the_lf_goes_and_a_split_greek_name_waits_whole() -> None:
    name = "Ελένη".encode()
    buffer = bytearray(b"a\r\r\nb\rc\r\n" + name[:3])
    assert take_lines(buffer) == [b"a\r", b"b\rc"]
    buffer += name[3:] + b"\r\n"
    assert take_lines(buffer) == [name]


@given(st.lists(st.sampled_from([b"\r", b"\n", b"\r\n", b"x", "έ".encode(), b":"]), max_size=40))
def test_all_at_once_is_the_same_as_line_by_line(parts: list[bytes]) -> None:
    data = b"".join(parts)
    buffer, reference = bytearray(data), bytearray(data)
    assert take_lines(buffer) == one_by_one(reference)
    assert buffer == reference
