"""Line framing shared by the AMI and AGI parsers.

Both protocols are CRLF lines; some proxies and test tools send bare LF, so a line ends
at ``\\n`` with an optional ``\\r`` before it. Lines stay bytes here: decoding waits for
a complete line, because a newline byte never occurs inside a multi-byte UTF-8 sequence,
so a Greek name split across reads is rebuilt intact.
"""
from __future__ import annotations


def take_lines(buffer: bytearray) -> list[bytes]:
    """Remove every complete line from ``buffer`` and return them without their line
    ends; an unfinished last line stays in the buffer for the next read.

    All the complete lines are cut in one go, by bytes' own ``replace`` and ``split``:
    the AMI reader takes hundreds of lines a read under load, and a Python loop over
    them was the daemon's busiest function of its own (docs/demo.md)."""
    end = buffer.rfind(b"\n")
    if end < 0:
        return []
    chunk = bytes(buffer[:end + 1])
    del buffer[:end + 1]
    lines = (chunk.replace(b"\r\n", b"\n") if b"\r" in chunk else chunk).split(b"\n")
    lines.pop()          # the empty piece after the last line end
    return lines
