"""AMI client over asyncio: login, actions answered by ActionID, events to callbacks.

Why our own: panoramisk 1.4 (no release since 2021) never returns from some actions
(QueueAdd among them) because it guesses from the action name whether more messages
follow; here ``action`` waits for exactly one response and ``action_list`` waits for
the list's ``EventList: Complete`` event, which Asterisk always sends for list actions
(main/manager.c astman_send_list_complete_start). The parsing itself is ``ami.AMIParser``.

The transport's whole job is reconnect, resync and back-pressure:

- a dropped link fails every pending action at once with ``AMIConnectionLost`` (never a
  silent hang), then reconnects with exponential backoff;
- after every login the ``on_connect`` callbacks run, because events were lost while
  the link was down and the daemon must ask for the full picture again;
- every write awaits ``drain``, so a slow Asterisk slows the sender instead of growing
  a buffer without bound;
- a keepalive: after ``keepalive`` seconds with nothing read the client sends ``Ping``
  (main/manager.c ``action_ping``: any logged-in user, answered ``Response: Success``,
  ``Ping: Pong``) and drops the link when no reply comes within ``keepalive_timeout``.
  A half-open link (the peer gone without a FIN: a cable, a NAT, a frozen host) sends
  nothing and fails no write, so without it the daemon would wait for events forever;
  with the defaults it is noticed within 8 s, then reconnected like any lost link;
- ``on_disconnect`` callbacks run when a link that was up is lost, so what needs AMI
  (placing callbacks) pauses at once instead of failing action after action.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import itertools
import logging
import random
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from acd.protocol.ami import AMIMessage, AMIParser, FieldValue, encode_action
from acd.protocol.errors import AMIActionError, AMIAuthError, AMIConnectionLost, AMIError

log = logging.getLogger(__name__)

EventCallback = Callable[[AMIMessage], Awaitable[None] | None]
ConnectCallback = Callable[["AMIClient"], Awaitable[None] | None]
DisconnectCallback = Callable[[str], None]

_READ_SIZE = 65536
_EVENT_NAME = re.compile(r"^[A-Za-z0-9_]+$")


class _ListCollector:
    def __init__(self, future: asyncio.Future[list[AMIMessage]]) -> None:
        self.future = future
        self.items: list[AMIMessage] = []


class AMIClient:
    """One AMI connection, kept up. ``await connect()`` logs in (``AMIAuthError`` when the
    credentials are refused, which is never retried: a wrong secret does not heal)."""

    def __init__(self, host: str, port: int, username: str, secret: str, *, reconnect: bool = True,
                 min_backoff: float = 0.5, max_backoff: float = 30.0, action_timeout: float = 10.0,
                 connect_timeout: float = 5.0, keepalive: float | None = 5.0, keepalive_timeout: float = 3.0,
                 events: str = "on", only_handled: bool = False) -> None:
        """``keepalive``: seconds of silence before a ``Ping`` (None: never); a ping not
        answered within ``keepalive_timeout`` seconds drops the link. ``events``: the
        Login's ``Events`` mask, ``on`` (every class the user may read) or the classes
        wanted (``call,system``): Asterisk checks it per session before it writes an event
        (``process_events`` in main/manager.c), so a class left out costs neither side
        anything; replies to actions (lists included) come whatever the mask.
        ``only_handled``: after each login, a ``Filter`` action (whitelist, main/manager.c
        ``match_filter``) asks for the events some ``on_event`` handler takes, by name, so
        the chatter of a wanted class (Newstate, Bridge*, MusicOnHold* ... in ``call``) is
        not sent either; no filter while a ``"*"`` handler wants everything."""
        if not 0 < min_backoff <= max_backoff:
            raise ValueError(f"need 0 < min_backoff <= max_backoff, got {min_backoff}, {max_backoff}")
        if (keepalive is not None and keepalive <= 0) or keepalive_timeout <= 0:
            raise ValueError(f"keepalive and keepalive_timeout must be > 0, got {keepalive}, {keepalive_timeout}")
        self.keepalive, self.keepalive_timeout = keepalive, keepalive_timeout
        self._last_read = 0.0
        self._keepalive_task: asyncio.Task[None] | None = None
        self._disconnect_callbacks: list[DisconnectCallback] = []
        self.host, self.port = host, port
        self.username, self.secret = username, secret
        self.reconnect = reconnect
        self.min_backoff, self.max_backoff = min_backoff, max_backoff
        self.action_timeout = action_timeout
        self.connect_timeout = connect_timeout
        self.events = events
        self.only_handled = only_handled
        #: the events handled, as spelled by ``on_event`` (the filter's names)
        self._handled: set[str] = set()
        #: events received by name (list items apart): what the link carries
        self.received: collections.Counter[str] = collections.Counter()
        #: actions sent through ``action`` and ``action_list``, by name (the daemon's round trips)
        self.sent: collections.Counter[str] = collections.Counter()
        self.banner: str | None = None
        self._ids = itertools.count(1)
        self._prefix = f"acd-{random.getrandbits(32):08x}-"
        self._pending: dict[str, asyncio.Future[AMIMessage]] = {}
        self._lists: dict[str, _ListCollector] = {}
        self._event_callbacks: dict[str, list[EventCallback]] = {}
        self._connect_callbacks: list[ConnectCallback] = []
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._callback_tasks: set[asyncio.Task[Any]] = set()
        self._connected = asyncio.Event()
        self._closing = False
        self._write_lock = asyncio.Lock()

    # ------------------------------------------------------------------ public
    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def on_event(self, name: str, callback: EventCallback) -> None:
        """Call ``callback(message)`` for events named ``name`` (any case), or every event
        for ``"*"``. A callback may be a coroutine function; one that raises is logged."""
        self._event_callbacks.setdefault(name.lower(), []).append(callback)
        if name not in self._handled:
            self._handled.add(name)
            if self.only_handled and self.connected:     # a handler added later: its events too
                task = asyncio.ensure_future(self._ask_for([name]))
                self._callback_tasks.add(task)
                task.add_done_callback(lambda done: self._callback_done(done, "Filter"))

    def on_connect(self, callback: ConnectCallback) -> None:
        """Call ``callback(client)`` after every login, the first and each reconnect."""
        self._connect_callbacks.append(callback)

    def on_disconnect(self, callback: DisconnectCallback) -> None:
        """Call ``callback(reason)`` each time a link that was up is lost (or closed)."""
        self._disconnect_callbacks.append(callback)

    async def connect(self) -> None:
        self._closing = False
        await self._open()

    async def action(self, name: str, *, timeout: float | None = None, **fields: FieldValue) -> AMIMessage:
        """Send an action and return its ``Response`` message (Success or Error alike).

        ``timeout`` (seconds, lower case) is how long we wait for the answer; an AMI field
        such as Originate's ``Timeout`` (milliseconds) is spelled as Asterisk spells it."""
        action_id = self._next_id()
        future: asyncio.Future[AMIMessage] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = future
        try:
            self.sent[name] += 1
            await self._send(encode_action(name, action_id, fields))
            return await asyncio.wait_for(future, timeout or self.action_timeout)
        except asyncio.TimeoutError:
            raise asyncio.TimeoutError(f"AMI action {name} got no response within "
                                       f"{timeout or self.action_timeout}s") from None
        finally:
            self._pending.pop(action_id, None)

    async def action_list(self, name: str, *, timeout: float | None = None, **fields: FieldValue
                          ) -> list[AMIMessage]:
        """Send a list action (CoreShowChannels, DeviceStateList, QueueStatus...) and return
        its item events, without the closing ``...Complete`` event. ``AMIActionError``
        when Asterisk answers Error."""
        action_id = self._next_id()
        loop = asyncio.get_running_loop()
        response: asyncio.Future[AMIMessage] = loop.create_future()
        collector = _ListCollector(loop.create_future())
        self._pending[action_id] = response
        self._lists[action_id] = collector
        limit = timeout or self.action_timeout
        try:
            self.sent[name] += 1
            await self._send(encode_action(name, action_id, fields))
            async with asyncio.timeout(limit):
                answer = await response
                if answer.is_error:
                    raise AMIActionError(name, answer.get("Message", "") or "")
                if answer.get("EventList") is None:  # not a list action: nothing will follow
                    return []
                return await collector.future
        except TimeoutError:
            raise asyncio.TimeoutError(f"AMI list action {name} not complete within {limit}s") from None
        finally:
            self._pending.pop(action_id, None)
            self._lists.pop(action_id, None)

    async def close(self) -> None:
        """Log off and stop reconnecting; pending actions fail with ``AMIConnectionLost``."""
        self._closing = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reconnect_task
            self._reconnect_task = None
        if self._writer is not None and self.connected:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._send(encode_action("Logoff", self._next_id(), {})), 1.0)
        await self._drop("client closed")
        for task in list(self._callback_tasks):
            task.cancel()

    # ------------------------------------------------------------------ connection
    def _next_id(self) -> str:
        return f"{self._prefix}{next(self._ids)}"

    async def _open(self) -> None:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port),
                                                self.connect_timeout)
        parser = AMIParser()
        self._writer = writer
        self._last_read = asyncio.get_running_loop().time()
        self._reader_task = asyncio.create_task(self._read_loop(reader, parser, writer))
        try:
            login = await self._login()
        except BaseException:
            await self._drop("login failed", reconnect=False)
            raise
        self.banner = parser.banner
        if self.only_handled:
            await self._ask_for(sorted(self._handled))
        self._connected.set()
        if self.keepalive is not None:
            self._keepalive_task = asyncio.create_task(self._keepalive_loop(writer, self.keepalive))
        log.info("AMI logged in", extra={"host": self.host, "port": self.port, "banner": self.banner,
                                         "login_message": login.get("Message")})
        for callback in list(self._connect_callbacks):
            self._run_callback(callback, self, "on_connect")

    async def _login(self) -> AMIMessage:
        action_id = self._next_id()
        future: asyncio.Future[AMIMessage] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = future
        try:
            await self._write(encode_action("Login", action_id, {
                "Username": self.username, "Secret": self.secret, "Events": self.events}))
            answer = await asyncio.wait_for(future, self.connect_timeout)
        finally:
            self._pending.pop(action_id, None)
        if answer.is_error:
            raise AMIAuthError(f"AMI login as {self.username!r} refused: {answer.get('Message')}")
        return answer

    async def _ask_for(self, names: Sequence[str]) -> None:
        """Add a whitelist filter for these events (an answer that refuses it is logged:
        the events then come unfiltered, costing time, not correctness)."""
        if "*" in self._handled or not names:
            return
        bad = [name for name in names if not _EVENT_NAME.match(name)]
        if bad:
            log.warning("AMI events not filtered: names that are no event names", extra={"names": bad})
            return
        action_id = self._next_id()
        future: asyncio.Future[AMIMessage] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = future
        try:
            # the event's text begins "Event: <name>\r\n"; POSIX ERE, REG_EXTENDED in manager.c
            await self._write(encode_action("Filter", action_id, {
                "Operation": "Add", "Filter": f"^Event: ({'|'.join(names)})[[:space:]]"}))
            answer = await asyncio.wait_for(future, self.action_timeout)
        finally:
            self._pending.pop(action_id, None)
        if answer.is_error:
            log.warning("AMI event filter refused; every event comes", extra={"message": answer.get("Message")})

    async def _send(self, data: bytes) -> None:
        if not self.connected:
            raise AMIConnectionLost("AMI is not connected")
        await self._write(data)

    async def _write(self, data: bytes) -> None:
        writer = self._writer
        if writer is None:
            raise AMIConnectionLost("AMI is not connected")
        async with self._write_lock:
            try:
                writer.write(data)
                await writer.drain()
            except (ConnectionError, RuntimeError) as error:
                raise AMIConnectionLost(f"AMI write failed: {error}") from error

    async def _read_loop(self, reader: asyncio.StreamReader, parser: AMIParser,
                         writer: asyncio.StreamWriter) -> None:
        reason = "connection closed by Asterisk"
        try:
            while True:
                data = await reader.read(_READ_SIZE)
                if not data:
                    break
                self._last_read = asyncio.get_running_loop().time()
                for message in parser.feed(data):
                    self._dispatch(message)
        except asyncio.CancelledError:
            return
        except (ConnectionError, OSError) as error:
            reason = f"connection error: {error}"
        if self._writer is writer:  # not already replaced by close() or a newer link
            await self._drop(reason)

    async def _drop(self, reason: str, *, reconnect: bool | None = None) -> None:
        """Close the socket, fail pending actions, and reconnect unless closing."""
        was_connected = self.connected
        self._connected.clear()
        writer, self._writer = self._writer, None
        task, self._reader_task = self._reader_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        keepalive, self._keepalive_task = self._keepalive_task, None
        if keepalive is not None and keepalive is not asyncio.current_task():
            keepalive.cancel()
        error = AMIConnectionLost(f"AMI link lost: {reason}")
        for future in list(self._pending.values()):
            if not future.done():
                future.set_exception(error)
        for collector in list(self._lists.values()):
            if not collector.future.done():
                collector.future.set_exception(error)
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        if not was_connected:
            return
        for callback in list(self._disconnect_callbacks):
            try:
                callback(reason)
            except Exception:
                log.exception("AMI disconnect callback failed")
        if self._closing:
            log.info("AMI link closed", extra={"reason": reason, "host": self.host, "port": self.port})
            return
        log.warning("AMI link lost", extra={"reason": reason, "host": self.host, "port": self.port})
        wanted = self.reconnect if reconnect is None else reconnect
        if wanted and not self._closing and self._reconnect_task is None:
            self._reconnect_task = asyncio.create_task(self._reconnect_loop())

    async def _keepalive_loop(self, writer: asyncio.StreamWriter, interval: float) -> None:
        """Ping after ``interval`` s of silence; no answer in time drops this link."""
        loop = asyncio.get_running_loop()
        while self._writer is writer:
            quiet = loop.time() - self._last_read
            if quiet < interval:
                await asyncio.sleep(interval - quiet)
                continue
            try:
                await self.action("Ping", timeout=self.keepalive_timeout)
            except asyncio.TimeoutError:
                if self._writer is writer:
                    await self._drop(f"keepalive: no reply to Ping within {self.keepalive_timeout:g}s")
                return
            except AMIConnectionLost:
                return

    async def _reconnect_loop(self) -> None:
        delay = self.min_backoff
        try:
            while not self._closing:
                await asyncio.sleep(delay * random.uniform(0.8, 1.0))
                try:
                    await self._open()
                    return
                except AMIAuthError as error:  # credentials changed under us: keep trying, loudly
                    log.error("AMI re-login refused", extra={"reason": str(error)})
                except (OSError, asyncio.TimeoutError, AMIError) as error:
                    log.info("AMI reconnect failed", extra={"reason": repr(error), "retry_in": delay})
                delay = min(delay * 2, self.max_backoff)
        finally:
            self._reconnect_task = None

    # ------------------------------------------------------------------ dispatch
    def _dispatch(self, message: AMIMessage) -> None:
        action_id = message.action_id
        if message.kind == "response":
            future = self._pending.get(action_id or "")
            if future is not None and not future.done():
                future.set_result(message)
            elif action_id is not None:
                log.debug("AMI response for no pending action", extra={"action_id": action_id})
            return
        collector = self._lists.get(action_id or "")
        if collector is not None:
            if (message.get("EventList") or "").lower() == "complete":
                if not collector.future.done():
                    collector.future.set_result(collector.items)
            else:
                collector.items.append(message)
            return
        self.received[message.name] += 1
        for key in (message.name.lower(), "*"):
            for callback in self._event_callbacks.get(key, ()):
                self._run_callback(callback, message, message.name)

    def _run_callback(self, callback: Callable[[Any], Any], argument: Any, what: str) -> None:
        try:
            result = callback(argument)
        except Exception:
            log.exception("AMI callback failed", extra={"event": what})
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._callback_tasks.add(task)
            task.add_done_callback(lambda t: self._callback_done(t, what))

    def _callback_done(self, task: asyncio.Future[Any], what: str) -> None:
        self._callback_tasks.discard(task)  # type: ignore[arg-type]
        if not task.cancelled() and task.exception() is not None:
            log.error("AMI callback failed", exc_info=task.exception(), extra={"event": what})
