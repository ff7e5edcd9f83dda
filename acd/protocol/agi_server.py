"""FastAGI server over asyncio: one coroutine per call, routed by the URL's script name.

Why our own: with panoramisk 1.4 a client that closes before sending its environment
leaves the server spinning on an empty read and freezes the event loop, and replies
drift after a hang-up. Here the transport only moves bytes; ``agi.AGIParser`` decides
what they mean. A connection that sends garbage, closes early or stalls costs one
``header_timeout`` at most and never reaches a handler; a handler's exception is
logged and never escapes the server.

Only Asterisk may talk to it: a FastAGI client names the call's channel and variables,
so anyone else could queue fake callers or hold agents (issue 10: two fake ``wait``
sessions kept both violence-line agents ringing). ``allowed`` lists the addresses of
the Asterisk hosts; a connection from any other is logged and closed before a byte is
read.

Handlers are small named coroutines (``agi://host:port/wait`` runs ``handlers["wait"]``),
the shape wazo-agid keeps its entry points in. A hang-up reaches a handler as
``AGIHangup``, an exception it should expect.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping

from acd.protocol.agi import (
    AGIEnvironment,
    AGIParser,
    AGIProtocolError,
    AGIResponse,
    HangupNotice,
    encode_command,
)
from acd.protocol.errors import AGICommandError, AGIHangup

log = logging.getLogger(__name__)

_READ_SIZE = 65536

#: ``AST_CONTROL_STREAM_STOP``, ``_SUSPEND`` and ``_RESTART`` (include/asterisk/frame.h,
#: Asterisk 16): the control frames that end a playback from outside (``ControlPlayback``).
STREAM_CONTROLS: frozenset[int] = frozenset({1000, 1001, 1002})


class AGISession:
    """One call's AGI conversation: send a command, await its one reply.

    Commands are serialised (one in flight), as the protocol demands. A reader task owns
    the socket's read side, so Asterisk's ``HANGUP`` notice is seen even while the
    handler idles between commands (``hung_up``, ``wait_for_hangup``). After the notice
    commands are still sent: Asterisk answers the few allowed on a dead channel (GET
    VARIABLE, SET VARIABLE, VERBOSE...) and refuses the rest with 511, which raises
    ``AGIHangup`` here.
    """

    def __init__(self, env: AGIEnvironment, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 parser: AGIParser, pending: list[AGIResponse | HangupNotice] | None = None,
                 tally: collections.Counter[str] | None = None) -> None:
        """``tally``: counts each command sent, by ``command_name`` (the server's
        ``commands``: the round trips a call costs, which bench.live reports)."""
        self.env = env
        self._tally = tally
        self._reader = reader
        self._writer = writer
        self._parser = parser
        self._replies: asyncio.Queue[AGIResponse | None] = asyncio.Queue()
        self._lock = asyncio.Lock()
        self._hangup_seen = asyncio.Event()
        self._closed = False
        for item in pending or ():
            self._take(item)
        self._reading = asyncio.create_task(self._read_loop())

    @property
    def hung_up(self) -> bool:
        """Asterisk said the channel hung up (or the connection is gone)."""
        return self._hangup_seen.is_set()

    async def wait_for_hangup(self) -> None:
        """Returns once the channel has hung up; for handlers that idle between commands."""
        await self._hangup_seen.wait()

    def _take(self, item: AGIResponse | HangupNotice | AGIEnvironment) -> None:
        if isinstance(item, HangupNotice):
            log.debug("AGI HANGUP notice", extra={"channel": self.env.get("agi_channel")})
            self._hangup_seen.set()
        elif isinstance(item, AGIResponse):
            self._replies.put_nowait(item)

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self._reader.read(_READ_SIZE)
                if not data:
                    break
                for item in self._parser.feed(data):
                    self._take(item)
        except (ConnectionError, AGIProtocolError) as error:
            log.warning("FastAGI connection lost", extra={"channel": self.env.get("agi_channel"),
                                                          "reason": str(error)})
        finally:
            self._closed = True
            self._hangup_seen.set()
            self._replies.put_nowait(None)  # wakes a command awaiting its reply

    async def command(self, *words: str | int) -> AGIResponse:
        """Send one command and return its reply. Raises ``AGIHangup`` on 511 or a closed
        connection, ``AGICommandError`` on 510 (unknown command) and 520 (bad usage)."""
        line = encode_command(*words)
        shown = line.decode(errors="replace").strip()
        if self._tally is not None:
            self._tally[command_name(words)] += 1
        async with self._lock:
            stale = 0
            while not self._replies.empty():  # a reply nobody asked for would shift later ones
                if self._replies.get_nowait() is not None:
                    stale += 1
            if stale:
                log.warning("unsolicited AGI replies discarded", extra={"count": stale})
            if self._closed:
                self._replies.put_nowait(None)
                raise AGIHangup(f"connection closed before {shown!r}")
            try:
                self._writer.write(line)
                await self._writer.drain()
            except ConnectionError as error:
                raise AGIHangup(f"connection lost sending {shown!r}: {error}") from error
            reply = await self._replies.get()
            if reply is None:
                self._replies.put_nowait(None)
                raise AGIHangup(f"connection closed awaiting the reply to {shown!r}")
        if reply.code == 511:
            self._hangup_seen.set()
            raise AGIHangup(reply.text or "command not permitted on a dead channel")
        if reply.code != 200:
            raise AGICommandError(reply.code, reply.text, shown)
        return reply

    # ------------------------------------------------------------- helpers
    async def _checked(self, *words: str | int) -> AGIResponse:
        """A command whose ``result=-1`` means the channel failed or hung up."""
        reply = await self.command(*words)
        if reply.result is not None and reply.result < 0:
            self._hangup_seen.set()  # Asterisk's HANGUP notice follows this reply
            raise AGIHangup(f"{words[0]} answered result={reply.result}")
        return reply

    async def answer(self) -> AGIResponse:
        return await self._checked("ANSWER")

    async def hangup(self, channel: str | None = None) -> AGIResponse:
        return await self.command("HANGUP", *([channel] if channel else []))

    async def stream_file(self, name: str, escape_digits: str = "", offset: int | None = None) -> str | None:
        """Play a sound; the digit that interrupted it, or None when it played through
        or could not be played.

        res_agi.c (``handle_streamfile``, Asterisk 16) answers a file it cannot open with
        ``200 result=-1 endpos=0`` and ``run_agi`` goes on reading commands, because the
        channel is still up; a hang-up in mid-play gets ``result=-1`` too, with the
        samples played as ``endpos`` and Asterisk's HANGUP notice. A missing prompt must
        cost a caller a silent moment, not the call: so ``-1`` at position 0 with no
        notice is logged and skipped. A hang-up that looks like it still shows, by the
        511 the next command gets on the dead channel.

        A sound stopped from outside (AMI ``ControlPlayback`` with ``Control: stop``, as
        the waiting room does when an agent is offered) is "stopped, no digit": None.
        Asterisk 16 (main/file.c) breaks ``waitstream_core`` out on the queued
        ``AST_CONTROL_STREAM_STOP`` frame and returns the control code (1000, frame.h),
        but ``ast_waitstream_full`` passes it through ``sanitize_waitstream_return``,
        which makes STOP, SUSPEND and RESTART (1000-1002) a plain 0; so the reply is
        ``200 result=0 endpos=<samples played>``, endpos below the file's length,
        exactly like a file played through as far as the result goes. The control codes
        themselves are read as None too, should a build hand them through unsanitised:
        they are no key (``chr(1000)`` is no DTMF digit) and no hang-up."""
        words: list[str | int] = ["STREAM FILE", name, escape_digits]
        if offset is not None:
            words.append(offset)
        reply = await self.command(*words)
        if reply.result is not None and reply.result < 0:
            if self.hung_up or reply.endpos:
                self._hangup_seen.set()
                raise AGIHangup(f"STREAM FILE answered result={reply.result} endpos={reply.endpos}")
            log.warning("sound not played (missing file, or a hang-up the next command will show)",
                        extra={"channel": self.env.get("agi_channel"), "file": name})
            return None
        if reply.result in STREAM_CONTROLS:
            log.debug("sound stopped from outside", extra={"channel": self.env.get("agi_channel"), "file": name,
                                                           "endpos": reply.endpos})
            return None
        return _digit(reply.result)

    async def get_data(self, prompt: str, timeout_ms: int = 0, max_digits: int | None = None) -> str:
        """Play ``prompt`` and collect digits until timeout, ``#`` or ``max_digits``."""
        words: list[str | int] = ["GET DATA", prompt]
        if timeout_ms or max_digits is not None:
            words.append(timeout_ms)
        if max_digits is not None:
            words.append(max_digits)
        reply = await self.command(*words)
        if reply.result_text == "-1":
            self._hangup_seen.set()
            raise AGIHangup("GET DATA answered result=-1")
        return reply.result_text

    async def wait_for_digit(self, timeout_ms: int = -1) -> str | None:
        """The digit pressed within ``timeout_ms`` (-1 waits forever), or None."""
        return _digit((await self._checked("WAIT FOR DIGIT", timeout_ms)).result)

    async def set_variable(self, name: str, value: str) -> AGIResponse:
        return await self.command("SET VARIABLE", name, value)

    async def get_variable(self, name: str) -> str | None:
        """The variable's value; None when it is not set (``200 result=0``)."""
        reply = await self.command("GET VARIABLE", name)
        return reply.data if reply.result == 1 else None

    async def get_full_variable(self, expression: str, channel: str | None = None) -> str | None:
        """``${...}`` expressions evaluated by Asterisk, several per round trip."""
        reply = await self.command("GET FULL VARIABLE", expression, *([channel] if channel else []))
        return reply.data if reply.result == 1 else None

    async def exec(self, application: str, *args: str) -> AGIResponse:
        """Run a dialplan application; its return value is ``result`` (Dial: -1 when the
        caller hung up, -2 when the application does not exist). res_agi's handle_exec
        passes only its second word to the application, so the arguments travel as one
        comma-joined word, as they would be written in the dialplan."""
        words = ["EXEC", application, ",".join(args)] if args else ["EXEC", application]
        return await self.command(*words)

    async def verbose(self, message: str, level: int = 1) -> AGIResponse:
        return await self.command("VERBOSE", message, level)

    async def close(self) -> None:
        """Ends the AGI: Asterisk reads end-of-file and the dialplan goes on."""
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()
        self._reading.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reading


def command_name(words: tuple[str | int, ...]) -> str:
    """What a command is counted as: its verb, and for ``EXEC`` the application too
    (``EXEC Dial`` and ``EXEC MSet`` are different costs)."""
    verb = str(words[0])
    return f"{verb} {words[1]}" if verb == "EXEC" and len(words) > 1 else verb


def _digit(result: int | None) -> str | None:
    return chr(result) if result is not None and result > 0 else None


Handler = Callable[[AGISession], Awaitable[None]]


class FastAGIServer:
    """Listens for Asterisk's FastAGI connections and runs the handler the URL names."""

    def __init__(self, handlers: Mapping[str, Handler], host: str = "127.0.0.1", port: int = 4573, *,
                 header_timeout: float = 5.0, allowed: Iterable[str] | None = None) -> None:
        """``allowed``: the peer addresses served (Asterisk's); None serves any (tests of
        the protocol alone). Change it with ``allow`` (a reload)."""
        if header_timeout <= 0:
            raise ValueError(f"header_timeout must be positive, not {header_timeout}")
        self.allowed: frozenset[ipaddress.IPv4Address | ipaddress.IPv6Address] | None = None
        if allowed is not None:
            self.allow(allowed)
        self.handlers = dict(handlers)
        #: AGI commands sent, over all sessions, by ``command_name``; and the sessions
        #: served (each one a FastAGI connection Asterisk opened)
        self.commands: collections.Counter[str] = collections.Counter()
        self.sessions = 0
        self.host = host
        self._requested_port = port
        self.header_timeout = header_timeout
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False

    def allow(self, addresses: Iterable[str]) -> None:
        self.allowed = frozenset(ipaddress.ip_address(a) for a in addresses)

    def _refused(self, peer: object) -> bool:
        if self.allowed is None:
            return False
        try:
            address = ipaddress.ip_address(str(peer[0]))  # type: ignore[index]
        except (TypeError, IndexError, ValueError):
            return True
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return address not in self.allowed

    @property
    def port(self) -> int:
        """The port listened on (the real one when 0 asked the OS to choose)."""
        if self._server is None or not self._server.sockets:
            return self._requested_port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._stopping = False
        self._server = await asyncio.start_server(self._accept, self.host, self._requested_port)

    async def stop(self) -> None:
        """Stop listening and cancel running sessions (their channels go on in the
        dialplan: Asterisk sees the connection close and moves to the next priority)."""
        if self._server is not None:
            self._server.close()
        self._stopping = True
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        peer = writer.get_extra_info("peername")
        try:
            if self._refused(peer):
                log.warning("FastAGI connection from a host that is not Asterisk; closed", extra={"peer": str(peer)})
                return
            await self._serve(reader, writer, peer)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            # stop() ended this session: a normal end. Re-raised, it would reach asyncio's
            # start_server callback, which logs a cancelled connection task as an error.
        except Exception:  # the server outlives any one connection
            log.exception("FastAGI connection failed", extra={"peer": str(peer)})
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: object) -> None:
        parser = AGIParser()
        try:
            env, rest = await asyncio.wait_for(_read_environment(reader, parser), self.header_timeout)
        except asyncio.TimeoutError:
            log.warning("FastAGI peer sent no environment in time; closed",
                        extra={"peer": str(peer), "timeout": self.header_timeout})
            return
        except AGIProtocolError as error:
            log.warning("FastAGI peer sent garbage; closed", extra={"peer": str(peer), "reason": str(error)})
            return
        if env is None:
            log.info("FastAGI peer closed before its environment", extra={"peer": str(peer)})
            return
        handler = self.handlers.get(env.script)
        if handler is None:
            # "FAILURE" as a command line makes run_agi end with AGISTATUS=FAILURE (res_agi.c),
            # so the dialplan moves on to its fallback instead of a silent SUCCESS.
            log.error("FastAGI script unknown; AGISTATUS=FAILURE",
                      extra={"script": env.script, "channel": env.get("agi_channel"), "known": sorted(self.handlers)})
            with contextlib.suppress(ConnectionError):
                writer.write(b"FAILURE\n")
                await writer.drain()
            return
        session = AGISession(env, reader, writer, parser, rest, tally=self.commands)
        self.sessions += 1
        try:
            await handler(session)
        except AGIHangup:
            log.info("FastAGI session ended by hang-up",
                     extra={"script": env.script, "channel": env.get("agi_channel")})
        except Exception:
            log.exception("FastAGI handler failed", extra={"script": env.script, "channel": env.get("agi_channel")})
        finally:
            await session.close()


async def _read_environment(reader: asyncio.StreamReader, parser: AGIParser
                            ) -> tuple[AGIEnvironment | None, list[AGIResponse | HangupNotice]]:
    """The environment, and whatever followed it in the same reads (normally nothing)."""
    while True:
        data = await reader.read(_READ_SIZE)
        if not data:
            return None, []
        items = parser.feed(data)
        for index, item in enumerate(items):
            if isinstance(item, AGIEnvironment):
                rest = [x for x in items[index + 1:] if not isinstance(x, AGIEnvironment)]
                return item, rest
