"""The FastAGI wire format, without I/O: bytes in, environment and replies out.

Why our own parser: panoramisk 1.4 reads a FastAGI reply as "the next line", so the
``HANGUP`` notice Asterisk writes when the caller hangs up is taken as the reply to the
next command, and every later reply is off by one (it answers the previous question).
pyst2's FastAGI does not import on Python 3. Here a notice is its own message type, so
a reply can never be confused with it, and tests can feed the parser any split.

Wire facts (asterisk/asterisk res/res_agi.c, Asterisk 16):

- Asterisk connects and writes ``agi_network: yes``, then ``agi_network_script: <path>``
  (everything after ``host[:port]/`` in the ``agi://`` URL, query included; absent when
  the URL has no path), then ``agi_request`` (the whole URL) and the other ``agi_*``
  variables, then ``agi_arg_1``... for the AGI() arguments after the URL, then an empty
  line (setup_env, launch_netscript);
- the script writes one command per line; Asterisk reads a line of at most 2047 bytes
  (AGI_BUF_LEN), a longer one is cut and its tail read as a second command, so we refuse
  to send one;
- each command gets exactly one reply: ``200 result=<n> [(<data>)] [endpos=<n>] ...``,
  ``510 Invalid or unknown command``, ``511 Command Not Permitted on a dead channel or
  intercept routine``, or the usage block ``520-Invalid command syntax.  Proper usage
  follows:`` / usage lines / ``520 End of proper usage.`` (agi_handle_command);
- between commands (never inside a reply) Asterisk writes ``HANGUP`` when the channel
  hangs up, and again when the AGI ends (run_agi, when AGISIGHUP is not "no");
- command words are split on blanks; ``"`` groups and ``\\`` escapes (parse_args).
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import parse_qsl, urlsplit

from acd.protocol.lines import take_lines

log = logging.getLogger(__name__)

#: Asterisk's command buffer (AGI_BUF_LEN 2048) holds 2047 bytes, the newline included
MAX_COMMAND_BYTES = 2047
#: the environment is ~25 short lines; anything near this is not Asterisk
MAX_HEADER_BYTES = 64 * 1024
#: a reply line this long without a newline is not Asterisk either
MAX_REPLY_LINE_BYTES = 1024 * 1024

_HEADER_LINE = re.compile(r"^(agi_[A-Za-z0-9_]+):(?: (.*))?$", re.DOTALL)
_REPLY_LINE = re.compile(r"^([0-9]{3})([ -])(.*)$", re.DOTALL)
_RESULT = re.compile(r"^result=(\S*)\s*(.*)$", re.DOTALL)
_DATA_THEN_EXTRAS = re.compile(r"^\((.*)\)((?:\s+[A-Za-z_]+=\S*)*)\s*$", re.DOTALL)
_EXTRAS = re.compile(r"^((?:\s*[A-Za-z_]+=\S*)*)\s*$", re.DOTALL)
_EXTRA = re.compile(r"([A-Za-z_]+)=(\S*)")
_ARG_KEY = re.compile(r"^agi_arg_([0-9]+)$")
_COMMAND_NAME = re.compile(r"^[A-Za-z]+( +[A-Za-z]+)*$")


class AGIProtocolError(ValueError):
    """The peer does not speak FastAGI (garbage before or inside the environment)."""


class AGIEnvironment(Mapping[str, str]):
    """The ``agi_*`` variables Asterisk sends first, plus what the URL carried.

    ``script`` is the path of ``agi://host:port/<script>?<query>``, the name handlers are
    routed by; ``query`` its parameters (first value of each); ``args`` the AGI()
    arguments after the URL, in order (``agi_arg_1``...).
    """

    def __init__(self, variables: Mapping[str, str]) -> None:
        self._variables = dict(variables)
        script_field = self._variables.get("agi_network_script")
        if script_field is None:
            script_field = _script_of_request(self._variables.get("agi_request", ""))
        path, _, query = script_field.partition("?")
        self.script: str = path.strip("/")
        self.query: Mapping[str, str] = MappingProxyType(_first_values(query))
        numbered = sorted((int(m.group(1)), value) for key, value in self._variables.items()
                          if (m := _ARG_KEY.match(key)))
        self.args: tuple[str, ...] = tuple(value for _, value in numbered)

    def __getitem__(self, key: str) -> str:
        return self._variables[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._variables)

    def __len__(self) -> int:
        return len(self._variables)

    def __repr__(self) -> str:
        return f"AGIEnvironment(script={self.script!r}, query={dict(self.query)!r}, args={self.args!r})"


def _script_of_request(request: str) -> str:
    if not request.startswith("agi://"):
        return ""
    _, slash, script = request[len("agi://"):].partition("/")
    return script if slash else ""


def _first_values(query: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        values.setdefault(key, value)
    return values


@dataclass(frozen=True, slots=True)
class AGIResponse:
    """One reply. ``result`` is the integer after ``result=`` when it is one (GET DATA
    answers typed digits, ``result=0123`` or ``result=12*``: read ``result_text``);
    ``data`` the text in parentheses; ``extras`` the other ``key=value`` pairs."""

    code: int
    result: int | None = None
    data: str | None = None
    endpos: int | None = None
    result_text: str = ""
    text: str = ""
    extras: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.code == 200


@dataclass(frozen=True, slots=True)
class HangupNotice:
    """Asterisk's ``HANGUP`` line: the channel is gone (not a reply to anything)."""


AGIMessage = AGIResponse | HangupNotice


def parse_reply(lines: list[str]) -> AGIResponse:
    """A complete reply (one line, or the lines of a 520 usage block) -> ``AGIResponse``."""
    match = _REPLY_LINE.match(lines[0])
    if not match:
        raise AGIProtocolError(f"not an AGI reply: {lines[0][:200]!r}")
    code, rest = int(match.group(1)), match.group(3)
    text = "\n".join([rest, *lines[1:]])
    if code != 200:
        return AGIResponse(code=code, text=text)
    result = _RESULT.match(rest)
    if not result:
        return AGIResponse(code=code, text=text)
    result_text, tail = result.group(1), result.group(2)
    data: str | None = None
    extras_text = tail
    if tail.startswith("("):
        grouped = _DATA_THEN_EXTRAS.match(tail)
        if grouped:
            data, extras_text = grouped.group(1), grouped.group(2)
        else:  # a value holding ")" and no closing paren: keep everything as data
            data, extras_text = tail[1:], ""
    elif not _EXTRAS.match(tail):
        extras_text = ""
    extras = dict(_EXTRA.findall(extras_text))
    endpos = extras.get("endpos")
    return AGIResponse(
        code=code,
        result=_int_or_none(result_text),
        data=data,
        endpos=_int_or_none(endpos) if endpos is not None else None,
        result_text=result_text,
        text=text,
        extras=extras,
    )


def _int_or_none(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


class AGIParser:
    """Reads one FastAGI connection: first the environment, then replies and notices.

    ``feed`` returns, in order, at most one ``AGIEnvironment`` and then ``AGIResponse``
    and ``HangupNotice`` objects. Anything but ``agi_*`` lines before the environment's
    empty line raises ``AGIProtocolError``: the server then closes the connection,
    because a port scanner or an HTTP client has nothing to say to a handler.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._variables: dict[str, str] = {}
        self._header_bytes = 0
        self.environment: AGIEnvironment | None = None
        self._usage: list[str] | None = None
        self.failed = False

    def feed(self, data: bytes) -> list[AGIEnvironment | AGIMessage]:
        if self.failed:
            raise AGIProtocolError("the connection already failed")
        self._buffer += data
        out: list[AGIEnvironment | AGIMessage] = []
        buffer = self._buffer
        try:
            for line in take_lines(buffer):
                item = self._take_line(line) if self.environment is not None else self._take_header(line)
                if item is not None:
                    out.append(item)
            limit = MAX_HEADER_BYTES - self._header_bytes if self.environment is None else MAX_REPLY_LINE_BYTES
            if len(buffer) > limit:
                raise AGIProtocolError(f"{len(buffer)} bytes without a line end")
        except AGIProtocolError:
            self.failed = True
            raise
        return out

    def _take_header(self, raw: bytes) -> AGIEnvironment | None:
        self._header_bytes += len(raw) + 1
        if self._header_bytes > MAX_HEADER_BYTES:
            raise AGIProtocolError(f"environment longer than {MAX_HEADER_BYTES} bytes")
        if not raw:
            if not self._variables:
                raise AGIProtocolError("empty line before any agi_* variable")
            self.environment = AGIEnvironment(self._variables)
            return self.environment
        match = _HEADER_LINE.match(_decode(raw))
        if not match:
            raise AGIProtocolError(f"not an agi_* variable line: {raw[:80]!r}")
        self._variables[match.group(1)] = match.group(2) or ""
        return None

    def _take_line(self, raw: bytes) -> AGIMessage | None:
        text = _decode(raw)
        if self._usage is not None:  # inside a 520 usage block: only its end line ends it
            self._usage.append(text)
            if text.startswith("520 "):
                lines, self._usage = self._usage, None
                return parse_reply(lines)
            return None
        if text.strip() == "HANGUP":
            return HangupNotice()
        if text.startswith("520-"):
            self._usage = [text]
            return None
        if not _REPLY_LINE.match(text):
            log.warning("AGI line that is no reply dropped", extra={"line": text[:200]})
            return None
        return parse_reply([text])


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        log.warning("invalid UTF-8 from Asterisk replaced", extra={"reason": str(error)})
        return raw.decode("utf-8", errors="replace")


def encode_command(*words: str | int) -> bytes:
    """One AGI command line. The first word is the command name and may hold several
    words (``"STREAM FILE"``); the others are arguments, quoted when they hold blanks,
    quotes or backslashes so res_agi's parse_args gives each back as one argument.
    Line breaks and NUL would end the command early and start another: refused."""
    if not words:
        raise ValueError("an AGI command needs at least its name")
    name = words[0]
    if not isinstance(name, str) or not _COMMAND_NAME.fullmatch(name):
        raise ValueError(f"AGI command name {name!r} must be letters and single spaces")
    parts = [" ".join(name.split()).upper()]
    for word in words[1:]:
        if isinstance(word, bool) or not isinstance(word, (str, int)):
            raise ValueError(f"AGI argument {word!r} must be text or an integer")
        parts.append(_quote(str(word)))
    line = (" ".join(parts) + "\n").encode("utf-8")
    if len(line) > MAX_COMMAND_BYTES:
        raise ValueError(f"AGI command is {len(line)} bytes; Asterisk reads at most {MAX_COMMAND_BYTES}")
    return line


def _quote(word: str) -> str:
    if any(c in word for c in "\r\n\0"):
        raise ValueError(f"AGI argument contains a line break or NUL: {word[:80]!r}")
    if word and not any(c in word for c in ' \t"\\'):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def split_command(line: str) -> list[str]:
    """res_agi's parse_args in Python: how Asterisk splits a command line into words.

    Used by tests and fakes to check that ``encode_command`` round-trips."""
    words: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    in_word = False
    for char in line:
        if char == '"' and not escaped:
            quoted = not quoted
            if quoted and not in_word:
                in_word = True
            continue
        if char in " \t" and not quoted and not escaped:
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
            continue
        if char == "\\" and not escaped:
            escaped = True
            continue
        current.append(char)
        in_word = True
        escaped = False
    if in_word:
        words.append("".join(current))
    return words
