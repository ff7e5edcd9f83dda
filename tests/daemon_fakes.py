"""Fakes for daemon unit tests: an AGI session whose Dial outcomes the test decides, a
settable clock, and a waiting room wired to the real engine and queue_log writer."""
from __future__ import annotations

import asyncio
import re
import textwrap
from dataclasses import dataclass

from acd.config import load_config_text
from acd.config.model import Config
from acd.daemon.live_engine import LiveEngine
from acd.daemon.queue_log import QueueLogWriter
from acd.daemon.waiting_room import RoomSettings, WaitingRoom
from acd.engine import decisions as d
from acd.engine import events as e
from tests.engine_helpers import make_config

QUEUES = """
q:
  requires: {topic:a: 1}
  wrapup: 5
  ring_timeout: 15
  max_wait: 300
  on_max_wait: callback
  announcements: {first_after: 0, every: 0}
  record: true
"""
AGENTS = "'11': {pin: '1234', skills: {topic:a: 3, lang:el: 2}}\n'12': {pin: '1234', skills: {topic:a: 3}}\n"


def config_with(sections: str, queues: str = QUEUES, agents: str = AGENTS) -> Config:
    """The fakes' queue and agents plus more top-level sections (``prompts:`` ...), as YAML."""
    text = (
        "service: {name: test, languages: [el, en]}\n"
        "skills: {topic:a: A, topic:b: B, lang:el: Greek, lang:en: English, type:employer: Employers}\n"
        + "queues:\n" + textwrap.indent(textwrap.dedent(queues), "  ")
        + "agents:\n" + textwrap.indent(textwrap.dedent(agents), "  ")
        + textwrap.dedent(sections)
    )
    return load_config_text(text, "<test>")


class Hangup(ConnectionError):
    """What the protocol raises when the channel is gone (a ConnectionError subclass here)."""


@dataclass
class Response:
    result: int


class FakeSession:
    """An AGI session whose Dial outcomes the test decides."""

    def __init__(self, variables: dict[str, str], uniqueid: str) -> None:
        self.vars = {"UNIQUEID": uniqueid, "CALLERID(num)": "2101234567", **variables}
        self.env = {"agi_uniqueid": uniqueid, "agi_channel": f"PJSIP/citizens-{uniqueid}"}
        self.commands: list[tuple[str, ...]] = []
        self.dials: asyncio.Queue[tuple[str, asyncio.Future]] = asyncio.Queue()
        self.gone = False
        self._hangup_notice = asyncio.Event()
        #: sound files Asterisk cannot open (not built, misnamed)
        self.missing_files: set[str] = set()
        #: sound files that play until the test finishes them (``finish_playback``) or
        #: a ControlPlayback stop reaches the channel (``stop_playback``): a sentence
        #: in progress
        self.long_files: set[str] = set()
        self.now_playing: asyncio.Future[str] | None = None
        #: the files a stop cut short
        self.stopped: list[str] = []

    async def wait_for_hangup(self) -> None:
        await self._hangup_notice.wait()

    def _check(self) -> None:
        if self.gone:
            raise Hangup("channel hung up")

    async def command(self, *words: str) -> Response:
        self._check()
        self.commands.append(words)
        if words[0] == "STREAM FILE" and words[1] in self.missing_files:
            return Response(-1)      # res_agi: "200 result=-1 endpos=0", the channel still up
        return Response(0)

    async def answer(self) -> Response:
        return await self.command("ANSWER")

    async def set_variable(self, name: str, value: str) -> Response:
        self._check()
        self.commands.append(("SET VARIABLE", name, value))
        self.vars[name] = value
        return Response(1)

    async def get_variable(self, name: str) -> str | None:
        return self.vars.get(name)

    async def get_full_variable(self, expression: str) -> str | None:
        return re.sub(r"\$\{([^}]+)\}", lambda m: self.vars.get(m.group(1), ""), expression)

    async def stream_file(self, name: str, escape_digits: str = "") -> str | None:
        """Like ``AGISession.stream_file``: a file Asterisk cannot open (result -1 at
        position 0, the channel still up) is skipped; a gone channel raises; a stopped
        file is no digit (res_agi's ``200 result=0 endpos=<n>``)."""
        await self.command("STREAM FILE", name, escape_digits)
        if name in self.long_files and name not in self.missing_files:
            self.now_playing = asyncio.get_running_loop().create_future()
            try:
                if await self.now_playing == "stopped":
                    self.stopped.append(name)
            finally:
                self.now_playing = None
        return None

    def stop_playback(self) -> bool:
        """AMI ``ControlPlayback`` with ``Control: stop`` reaching the channel: the file
        in progress ends now; with none playing the stop changes nothing (False)."""
        if self.now_playing is None or self.now_playing.done():
            return False
        self.now_playing.set_result("stopped")
        return True

    def finish_playback(self) -> None:
        """The file in progress plays to its end."""
        assert self.now_playing is not None and not self.now_playing.done(), "no file is playing"
        self.now_playing.set_result("finished")

    async def exec(self, application: str, *args: str) -> Response:
        self._check()
        self.commands.append(("EXEC", application, *args))
        if application == "MSet":        # name=value pairs, as pbx_builtin_setvar_multiple reads them
            self.vars.update(pair.split("=", 1) for pair in ",".join(args).split(","))  # type: ignore[misc]
        if application != "Dial":
            return Response(0)
        outcome: asyncio.Future = asyncio.get_running_loop().create_future()
        self.dials.put_nowait((args[0], outcome))
        status, result = await outcome
        self.vars["DIALSTATUS"] = status
        if result < 0:
            self.gone = True
        return Response(result)

    def hang_up(self) -> None:
        """The caller hangs up: Asterisk's HANGUP notice arrives on the session."""
        self.gone = True
        self._hangup_notice.set()


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Room:
    def __init__(self, tmp_path, queues: str = QUEUES, agents: str = AGENTS, routing: str = "", *,
                 config: Config | None = None, settings: RoomSettings = RoomSettings(),
                 stops: bool = True) -> None:
        """``stops``: the room gets a ``stop_playback`` like the daemon's, which stops the
        named channel's file (``FakeSession.stop_playback``), records the channel in
        ``self.stops`` and raises ``self.stop_error`` when the test sets one."""
        self.clock = Clock()
        self.config = config if config is not None else make_config(queues, agents, routing=routing)
        self.live = LiveEngine(self.config, now=self.clock)
        self.decisions: list[d.Decision] = []
        self.live.subscribe(self.decisions.extend)
        self.queue_log = QueueLogWriter(tmp_path / "queue_log", self.config)
        self.live.subscribe(self.queue_log)
        self.sessions: dict[str, FakeSession] = {}      # by channel name
        self.stops: list[str] = []
        self.stop_error: Exception | None = None
        self.room = WaitingRoom(self.live, settings, stop_playback=self.stop_playback if stops else None,
                                queue_log=self.queue_log.formatter)
        self.live.commands = self.room
        self.tasks: list[asyncio.Task] = []

    async def stop_playback(self, channel: str) -> None:
        """What ``Daemon.stop_playback`` does over AMI: ControlPlayback Control=stop."""
        self.stops.append(channel)
        await asyncio.sleep(0)                     # the AMI round trip
        if self.stop_error is not None:
            raise self.stop_error
        session = self.sessions.get(channel)
        if session is not None:
            session.stop_playback()

    def login(self, *agent_ids: str) -> None:
        for agent_id in agent_ids:
            self.live.feed(e.AgentLoggedIn(self.clock(), agent_id))

    async def arrive(self, uniqueid: str, *, missing_files: set[str] = frozenset(),
                     long_files: set[str] = frozenset(), **variables: str) -> FakeSession:
        session = FakeSession({"ACD_QUEUE": "q", **variables}, uniqueid)
        session.missing_files = set(missing_files)
        session.long_files = set(long_files)
        self.sessions[session.env["agi_channel"]] = session
        self.tasks.append(asyncio.create_task(self.room.handle(session)))
        await settle()
        return session

    def of(self, kind: type) -> list:
        return [x for x in self.decisions if isinstance(x, kind)]

    def queue_log_events(self) -> list[str]:
        self.queue_log._file.flush()
        return [line.split("|")[4] for line in self.queue_log.path.read_text().splitlines()]


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def ringing(session: FakeSession) -> tuple[str, asyncio.Future]:
    return await asyncio.wait_for(session.dials.get(), 1)
