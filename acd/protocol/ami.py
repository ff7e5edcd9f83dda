"""The Asterisk Manager Interface wire format, without I/O: bytes in, messages out.

Why our own parser: panoramisk 1.4 (no release since 2021) decodes each socket read on
its own, so a Greek caller name whose UTF-8 bytes straddle two reads comes out
corrupted, and its parser lives inside the transport where no test can feed it a split
stream. Here the parser is a plain object (like h11): tests feed it any split of any
input and the asyncio client in ``ami_client`` only moves bytes.

Wire facts (asterisk/asterisk main/manager.c, Asterisk 16):

- on connect the server writes one greeting line, ``Asterisk Call Manager/5.0.4\\r\\n``;
- every message is ``Key: value\\r\\n`` lines closed by an empty line; the first line is
  ``Response:`` (answer to an action, carries the action's ``ActionID``) or ``Event:``;
- a key may repeat: the ``Command`` action answers with one ``Output:`` line per line of
  CLI output, ``Originate`` takes several ``Variable:`` lines;
- actions that list things answer ``Response: Success`` + ``EventList: start``, then one
  event per item with the same ``ActionID``, then an event named ``...Complete`` with
  ``EventList: Complete`` (astman_send_listack / astman_send_list_complete_start).
"""
from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from acd.protocol.lines import take_lines

log = logging.getLogger(__name__)

BANNER_PREFIX = "Asterisk Call Manager/"
#: a message (or a line) growing past this without its terminator is dropped: a
#: misbehaving peer must not make the daemon buffer without limit
DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024

_MISSING = object()


@dataclass(frozen=True, slots=True)
class AMIMessage:
    """One AMI message: its header lines in wire order, keys spelled as received.

    Lookups ignore the case of keys (Asterisk itself matches headers case-insensitively
    in astman_get_header); repeated keys are all kept, ``get`` answers the first.
    """

    headers: tuple[tuple[str, str], ...]

    @property
    def kind(self) -> Literal["event", "response"]:
        first = self.headers[0][0].lower() if self.headers else ""
        if first == "event":
            return "event"
        if first == "response":
            return "response"
        return "event" if self.get("Event") is not None else "response"

    @property
    def name(self) -> str:
        """The Event or Response value: ``"Hangup"``, ``"Success"``, ``"Error"``..."""
        key = "Event" if self.kind == "event" else "Response"
        return self.get(key, "") or ""

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    def get(self, key: str, default: str | None = None) -> str | None:
        wanted = key.lower()
        for name, value in self.headers:
            if name.lower() == wanted:
                return value
        return default

    def get_all(self, key: str) -> list[str]:
        """Every value of a repeated key, in order (``Output``, ``ChanVariable``...)."""
        wanted = key.lower()
        return [value for name, value in self.headers if name.lower() == wanted]

    def __getitem__(self, key: str) -> str:
        value = self.get(key, _MISSING)  # type: ignore[arg-type]
        if value is _MISSING:
            raise KeyError(key)
        return value  # type: ignore[return-value]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, _MISSING) is not _MISSING  # type: ignore[arg-type]

    def keys(self) -> Iterator[str]:
        return (name for name, _ in self.headers)

    @property
    def is_error(self) -> bool:
        return self.kind == "response" and self.name.lower() == "error"

    def __repr__(self) -> str:
        return f"AMIMessage({self.kind} {self.name!r}, {len(self.headers)} headers)"


class AMIParser:
    """Turns the AMI byte stream into ``AMIMessage`` objects, whatever the read sizes.

    Decoding happens only on complete lines (a newline byte never occurs inside a
    multi-byte UTF-8 sequence), so a character split across reads is rebuilt intact.
    Lines are split on ``\\n`` with an optional ``\\r`` before it, because some proxies
    and test tools send bare newlines.
    """

    def __init__(self, *, expect_banner: bool = True,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        if max_message_bytes < 64:
            raise ValueError(f"max_message_bytes={max_message_bytes} is too small to hold any message")
        self.banner: str | None = None
        self._expect_banner = expect_banner
        self._max = max_message_bytes
        self._buffer = bytearray()
        self._lines: list[bytes] = []
        self._size = 0
        self._discarding = False

    def feed(self, data: bytes) -> list[AMIMessage]:
        self._buffer += data
        messages: list[AMIMessage] = []
        buffer = self._buffer
        for line in take_lines(buffer):
            message = self._take_line(line)
            if message is not None:
                messages.append(message)
        if len(buffer) + self._size > self._max:
            log.warning("AMI message exceeds the size bound; dropped",
                        extra={"bytes": len(buffer) + self._size, "bound": self._max})
            buffer.clear()
            self._reset_message(discard=True)
        return messages

    # ------------------------------------------------------------------ internals
    def _take_line(self, line: bytes) -> AMIMessage | None:
        if self._expect_banner:
            self._expect_banner = False
            text = _decode(line, "banner")
            if text.startswith(BANNER_PREFIX):
                self.banner = text
                return None
        if not line:
            if self._discarding or not self._lines:
                self._reset_message(discard=False)
                return None
            return self._finish()
        if self._discarding:
            return None
        self._lines.append(line)
        self._size += len(line) + 2
        if self._size > self._max:
            log.warning("AMI message exceeds the size bound; dropped",
                        extra={"bytes": self._size, "bound": self._max})
            self._reset_message(discard=True)
        return None

    def _finish(self) -> AMIMessage | None:
        headers: list[tuple[str, str]] = []
        for raw in self._lines:
            text = _decode(raw, "header line")
            key, colon, value = text.partition(":")
            key = key.strip()
            if not colon or not key:
                log.warning("AMI line without 'Key:' dropped", extra={"line": text[:200]})
                continue
            headers.append((key, value[1:] if value.startswith(" ") else value))
        self._reset_message(discard=False)
        if not headers:
            return None
        message = AMIMessage(tuple(headers))
        if message.get("Event") is None and message.get("Response") is None:
            log.warning("AMI message with neither Event nor Response dropped",
                        extra={"keys": [k for k, _ in headers][:10]})
            return None
        return message

    def _reset_message(self, *, discard: bool) -> None:
        self._lines = []
        self._size = 0
        self._discarding = discard


def _decode(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        log.warning("invalid UTF-8 from AMI replaced", extra={"what": what, "reason": str(error)})
        return raw.decode("utf-8", errors="replace")


FieldValue = str | int | float | Sequence[str]


def encode_action(name: str, action_id: str, fields: Mapping[str, FieldValue] | None = None) -> bytes:
    """One action on the wire. A list value becomes repeated headers (``Variable:``).

    CR, LF or NUL anywhere would let a value start a header or a message of its own
    (header injection, e.g. a caller name ending the action and starting ``Command``),
    so they are refused rather than stripped.
    """
    _check_key(name, "action name")
    lines = [f"Action: {_check_value(name, 'Action')}", f"ActionID: {_check_value(action_id, 'ActionID')}"]
    for key, value in (fields or {}).items():
        _check_key(key, "field name")
        if key.lower() in ("action", "actionid"):
            raise ValueError(f"field {key!r} is set by encode_action itself")
        if isinstance(value, (list, tuple)):
            lines.extend(f"{key}: {_check_value(item, key)}" for item in value)
        else:
            lines.append(f"{key}: {_check_value(value, key)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def _check_key(key: str, what: str) -> None:
    if not isinstance(key, str) or not key or any(c in key for c in ":\r\n\0 \t"):
        raise ValueError(f"{what} {key!r} must be a non-empty word without ':', spaces or line breaks")


def _check_value(value: object, key: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"value of {key!r} must be text or a number, not {type(value).__name__}")
    text = str(value)
    if any(c in text for c in "\r\n\0"):
        raise ValueError(f"value of {key!r} contains a line break or NUL: {text[:80]!r}")
    return text
