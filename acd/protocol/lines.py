"""Line framing shared by the AMI and AGI parsers.

Both protocols are CRLF lines; some proxies and test tools send bare LF, so a line ends
at ``\\n`` with an optional ``\\r`` before it. Lines stay bytes here: decoding waits for
a complete line, because a newline byte never occurs inside a multi-byte UTF-8 sequence,
so a Greek name split across reads is rebuilt intact.
"""
from __future__ import annotations


def take_lines(buffer: bytearray) -> list[bytes]:
    """Remove every complete line from ``buffer`` and return them without their line
    ends; an unfinished last line stays in the buffer for the next read."""
    lines: list[bytes] = []
    start = 0
    while True:
        end = buffer.find(b"\n", start)
        if end < 0:
            break
        line = bytes(buffer[start:end])
        start = end + 1
        lines.append(line[:-1] if line.endswith(b"\r") else line)
    del buffer[:start]
    return lines
