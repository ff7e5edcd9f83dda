"""What Asterisk itself says about a sandbox's AGI conversations: each command a
channel's AGI received and the reply Asterisk gave, read from res_agi's own debug log.

Why from Asterisk's log and not from the daemon: a test that shows a caller *heard* a
prompt must take the PBX's word for it, not the word of the code under test. res_agi
(``handle_streamfile``, Asterisk 16) answers ``STREAM FILE`` with ``200 result=0
endpos=<samples played>`` when the file played to its end, and ``200 result=-1
endpos=0`` when it could not open it; the daemon goes on either way. ``agi set debug
on`` makes res_agi log both directions of every session::

    <PJSIP/citizens-0000001a>AGI Rx << STREAM FILE /tmp/prompts/el/announce_position-1 ""
    <PJSIP/citizens-0000001a>AGI Tx >> 200 result=0 endpos=11200

and a dynamic logger channel (``logger add channel``) writes those lines into a file
of the trace's own, so the base config's quiet logging stays as it is: ``stop()``
removes both again. The CLI switch is global, so while a trace runs every AGI session
of that Asterisk is logged, which is what a test wants.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol

# "<channel>AGI Rx << command" / "<channel>AGI Tx >> reply or environment line"
_LINE = re.compile(r"<(?P<channel>[^<>]+)>AGI (?P<way>Rx <<|Tx >>) ?(?P<text>.*)$")
_REPLY = re.compile(r"^[0-9]{3}[ -]")
_ENVIRONMENT = re.compile(r"^(agi_[a-z_0-9]+): ?(.*)$")
_STREAM_FILE = re.compile(r'^STREAM FILE (?:"((?:[^"\\]|\\.)*)"|(\S+))')
_RESULT = re.compile(r"\bresult=(-?[0-9]+)")
_ENDPOS = re.compile(r"\bendpos=([0-9]+)")


class CliRunner(Protocol):
    """What the trace needs of ``rig.asterisk.AsteriskSandbox``."""

    def cli(self, command: str, timeout: float = 30.0) -> str: ...


@dataclass(frozen=True, slots=True)
class AgiExchange:
    """One AGI command as Asterisk received it, and its reply (None: not answered yet,
    e.g. a ``STREAM FILE`` still playing)."""

    command: str
    reply: str | None

    @property
    def streamed_file(self) -> str | None:
        """The file of a ``STREAM FILE`` command (as named, without extension), else None."""
        match = _STREAM_FILE.match(self.command)
        if match is None:
            return None
        return match.group(1) if match.group(1) is not None else match.group(2)

    @property
    def result(self) -> int | None:
        match = _RESULT.search(self.reply or "")
        return int(match.group(1)) if match else None

    @property
    def endpos(self) -> int | None:
        """Samples played, for a ``STREAM FILE`` reply (8000 a second at 8 kHz)."""
        match = _ENDPOS.search(self.reply or "")
        return int(match.group(1)) if match else None

    @property
    def played(self) -> bool:
        """A ``STREAM FILE`` that Asterisk opened and played through: ``result=0`` and
        samples sent. A missing file is ``result=-1 endpos=0``; a key that cut the file
        short is ``result=<the key's code>``. A stop from AMI ``ControlPlayback`` also
        answers ``result=0`` (main/file.c makes the stop a 0): only ``endpos`` below the
        file's samples tells it from a file played to its end."""
        return self.streamed_file is not None and self.result == 0 and (self.endpos or 0) > 0


@dataclass(slots=True)
class AgiSession:
    """One AGI run on one channel: its environment and its commands in order."""

    channel: str
    environment: dict[str, str] = field(default_factory=dict)
    exchanges: list[AgiExchange] = field(default_factory=list)

    @property
    def script(self) -> str:
        """The FastAGI script the dialplan asked for (``agi://host:port/<script>?...``)."""
        request = self.environment.get("agi_request", "")
        path = request.split("://", 1)[-1].split("/", 1)[-1] if "/" in request else request
        return re.split(r"[?,]", path, maxsplit=1)[0]

    @property
    def caller(self) -> str:
        return self.environment.get("agi_callerid", "")

    def streamed(self) -> list[AgiExchange]:
        """The ``STREAM FILE`` commands, in order."""
        return [exchange for exchange in self.exchanges if exchange.streamed_file is not None]


def parse_agi_debug(text: str) -> list[AgiSession]:
    """res_agi's debug lines from a log, as sessions in the order they began.

    A channel runs several sessions one after another (the IVR, then the waiting room):
    a new one starts at its ``agi_request`` environment line. A line still being written
    (no newline yet) is left for the next read."""
    sessions: list[AgiSession] = []
    current: dict[str, AgiSession] = {}
    pending: dict[str, int] = {}     # channel -> index of the exchange awaiting its reply
    lines = text.split("\n")
    for line in lines[:-1]:          # the last piece has no newline yet (or is empty)
        match = _LINE.search(line)
        if match is None:
            continue
        channel, way, body = match.group("channel"), match.group("way"), match.group("text").rstrip("\r")
        environment = _ENVIRONMENT.match(body) if way.startswith("Tx") else None
        if environment is not None and (environment.group(1) == "agi_request" or channel not in current):
            current[channel] = AgiSession(channel)
            sessions.append(current[channel])
            pending.pop(channel, None)
        session = current.get(channel)
        if session is None:
            continue
        if way.startswith("Rx"):
            session.exchanges.append(AgiExchange(body, None))
            pending[channel] = len(session.exchanges) - 1
        elif environment is not None and not session.exchanges:
            session.environment[environment.group(1)] = environment.group(2)
        elif _REPLY.match(body) and channel in pending:
            index = pending.pop(channel)
            session.exchanges[index] = AgiExchange(session.exchanges[index].command, body)
    return sessions


class AgiTrace:
    """res_agi's debug log of one sandbox, written to ``path`` while the trace runs."""

    def __init__(self, asterisk: CliRunner, path: Path) -> None:
        self.asterisk = asterisk
        self.path = Path(path).resolve()
        self._running = False

    def start(self) -> AgiTrace:
        if " " in str(self.path):
            raise ValueError(f"a logger channel's file name cannot hold blanks: {self.path}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.asterisk.cli(f"logger add channel {self.path} verbose(3)")
        self._running = True
        self.asterisk.cli("agi set debug on")
        return self

    def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        try:
            self.asterisk.cli("agi set debug off")
        finally:
            self.asterisk.cli(f"logger remove channel {self.path}")

    def sessions(self) -> list[AgiSession]:
        """Every AGI session logged so far (Asterisk writes the log as the calls go)."""
        if not self.path.is_file():
            return []
        return parse_agi_debug(self.path.read_text(encoding="utf-8", errors="replace"))

    def __enter__(self) -> AgiTrace:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()
