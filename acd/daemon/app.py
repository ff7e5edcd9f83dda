"""The daemon's wiring: config -> engine -> waiting room, agents' phones, AMI bridge,
queue_log, one FastAGI server; signals for reload and stop.

Start-up order matters for the reliability contract (docs/reliability.md): the FastAGI
server listens first (callers looping back into ``wait`` after a restart are re-queued
at once, at their original place), then the AMI link comes up in the background and
retries forever, so a PBX that is restarting does not stop the daemon from serving the
sessions it has. But nobody is offered a call before AMI's resync has placed the agents
restored from the saved roster (one may still be talking to a caller the last daemon
connected) and until the waiting callers that resync found in the dialplan's loop are
back in line (``acd.daemon.returning_callers``, at most ``RETURN_BOUND`` seconds): they
are out of routing until then, re-queued callers wait at their place, and if AMI has
not come within ``RESYNC_GRACE`` seconds they are released unchecked, with an error
logged.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from acd import call_contract as c
from acd.config import ConfigError, load_config
from acd.config.model import Config
from acd.daemon.agents_phone import AgentPhone
from acd.daemon.ami_bridge import AMI_EVENT_CLASSES, RESYNC_GRACE, AMIBridge
from acd.daemon.ami_login import ami_secret, login_failure
from acd.daemon.callback_book import CallbackBook
from acd.daemon.callbacks import CallbackDialer
from acd.daemon.caller_numbers import CallerNumbers
from acd.daemon.decision_log import DecisionLog
from acd.daemon.ended_away import record_calls_ended_away
from acd.daemon.escalation import Escalations
from acd.daemon.fallback_members import FallbackMembers
from acd.daemon.live_engine import LiveEngine
from acd.daemon.queue_log import QueueLogWriter
from acd.daemon.roster import AgentRoster
from acd.daemon.waiting_room import RoomSettings, WaitingRoom
from acd.engine.events import AgentLoggedIn

if TYPE_CHECKING:       # imported when the extras start: redis and SQLAlchemy only then
    from acd.live_state import LiveState
    from acd.records.writer import CallRecords

log = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[None]]


class Closes(Protocol):
    """What ``stop`` closes after the sessions: the records, the live state, the purge."""

    async def close(self) -> None: ...


class Writer(Closes, Protocol):
    """A decision subscriber that writes somewhere and starts before it subscribes."""

    async def start(self) -> None: ...
    def __call__(self, decisions: Any) -> None: ...


W = TypeVar("W", bound=Writer)


def _redis(url: str | None) -> Any:
    """A redis.asyncio client for the callback book's mirror (None without a URL)."""
    if not url:
        return None
    import redis.asyncio as aioredis

    return aioredis.Redis.from_url(url, decode_responses=True)


def ivr_handlers(config: Config, on_satisfaction: Callable[[str, int], None] | None = None,
                 on_callback: Any = None) -> Mapping[str, Handler]:
    """The IVR's own FastAGI handlers (``ivr``, ``survey``); none when the config has no IVR.
    A failure to build them is logged, not raised: the dialplan's fallback path still serves
    callers, which beats a daemon that will not start."""
    from ivr import agi_app

    try:
        return dict(agi_app.handlers(config, on_satisfaction=on_satisfaction, on_callback=on_callback))
    except Exception:
        log.exception("IVR handlers could not be built; the dialplan's fallback serves callers")
        return {}


class Daemon:
    def __init__(self, config_path: str | Path, *, agi_port: int | None = None, ami_port: int | None = None,
                 now: Callable[[], float] = time.time, extras: bool = True, book: bool | None = None) -> None:
        """``extras``: also run the call records, the Redis live state (when configured) and
        the REST API; the benchmark and unit tests leave them out. ``book``: keep promised
        callbacks in the records database (default: with the extras); without it they
        live in memory only."""
        self.config_path = Path(config_path)
        self.config = load_config(self.config_path)
        settings = self.config.daemon
        self.agi_port = settings.agi_port if agi_port is None else agi_port
        self.ami_port = settings.ami_port if ami_port is None else ami_port
        self._ami_secret = ami_secret(settings)   # a missing secret file stops the start, named
        self.live = LiveEngine(self.config, now=now)
        self.queue_log = QueueLogWriter(settings.queue_log, self.config)
        self.roster = AgentRoster(Path(settings.queue_log).parent / "agents.json")
        self.live.subscribe(self.queue_log)
        self.live.subscribe(self.roster)
        self.book: CallbackBook | None = None
        if (extras if book is None else book) and settings.database_url:
            self.book = CallbackBook(self.live, settings.database_url, redis=_redis(settings.redis_url),
                                     redis_prefix=settings.redis_prefix)
        elif extras:
            log.warning("no daemon.database_url: promised callbacks are kept in memory only, "
                        "and a restart forgets them")
        self.live.subscribe(DecisionLog(self.live.engine))     # agents' actions and routing's reasons
        self.callbacks = CallbackDialer(self.live, self.book)
        if self.book is not None:       # a written outcome's AstDB answer note goes
            self.book.finished = self.callbacks.forget_answer
        self.room = WaitingRoom(self.live, RoomSettings(recordings_dir=Path(settings.recordings_dir)),
                                callbacks=self.callbacks, stop_playback=self.stop_playback,
                                queue_log=self.queue_log.formatter)
        self.live.commands = self.room          # the engine's commands on calls are the room's to carry out
        self.caller_numbers = CallerNumbers()
        self.escalations = Escalations(self.live, self.store_ticket, self.caller_numbers.number)
        self.live.subscribe(self.escalations)
        self.phone = AgentPhone(self.live, escalations=self.escalations)
        self.bridge = AMIBridge(self.live, self.room, self.escalations)
        self.fallback_members = FallbackMembers(self.config, lambda: self.live.engine.agents)
        self.live.subscribe(self.fallback_members)
        self.agi: Any = None
        self.ami: Any = None
        self._stopped = asyncio.Event()
        self._ami_task: asyncio.Task[None] | None = None
        self._prepare_task: asyncio.Task[None] | None = None
        self._book_task: asyncio.Task[None] | None = None
        self._offer_task: asyncio.Task[None] | None = None
        self.extras = extras
        #: started with the extras (None: not configured, or failed to start)
        self.records: CallRecords | None = None
        self.live_state: LiveState | None = None
        self._closes: list[Closes] = []
        self._api_runner: Any = None
        self.resync_grace = RESYNC_GRACE
        self._grace: asyncio.TimerHandle | None = None
        self.lease: Any = None
        self._away_calls_pending = False
        self.bridge.resynced.append(self._close_calls_ended_away)
        self._lease_task: asyncio.Task[None] | None = None

    def handlers(self) -> dict[str, Handler]:
        handlers: dict[str, Handler] = dict(ivr_handlers(self.config, self.store_satisfaction,
                                                         self.promise_callback if self.book else None))
        handlers[c.WAIT_HANDLER] = self.room.handle
        handlers["agent"] = self.agent_code
        return handlers

    async def agent_code(self, session: Any) -> None:
        """An agent's feature code; a standby daemon leaves it to the active one (the
        generated dialplan tries the other daemon on ``ACD_AGENT_RESULT=standby``)."""
        if self.room.standby:
            await session.set_variable(c.AGENT_RESULT, c.AGENT_STANDBY)
            return
        await self.phone.handle(session)

    async def stop_playback(self, channel: str) -> None:
        """Stop the sound ``channel`` is playing: the waiting room cuts a caller's
        announcement with it when an agent is offered, so the reserved agent does not idle
        while the sentence finishes. AMI ``ControlPlayback`` with ``Control: stop``
        (apps/app_controlplayback.c, Asterisk 16; app_controlplayback.so loaded, the AMI
        user's write class ``call``) queues ``AST_CONTROL_STREAM_STOP`` on the channel,
        which ends the STREAM FILE in progress. Raises when there is no AMI link or
        Asterisk refuses (``No such channel``: the caller hung up); the room logs it."""
        if self.ami is None or not self.ami.connected:
            raise ConnectionError("no AMI link")
        response = await self.ami.action("ControlPlayback", timeout=2.0, Channel=channel, Control="stop")
        if response.is_error:
            from acd.protocol import AMIActionError

            raise AMIActionError("ControlPlayback", response.get("Message", "") or "")

    async def promise_callback(self, call_id: str, route: Any, enqueued_at: float | None) -> float:
        """The IVR's callback, stored before the caller hears it confirmed (raises when
        it cannot be stored); the place in line kept, as epoch seconds."""
        if self.book is None:
            raise RuntimeError("no callback book: callbacks are not kept")
        kept = await self.book.promise(call_id, route.queue, route.callback, requirements=route.requirements,
                                       priority=route.priority, language=route.language,
                                       caller_type=route.caller_type, enqueued_at=enqueued_at)
        return kept.enqueued_at

    def store_satisfaction(self, call_id: str, score: int) -> None:
        """The survey's answer goes to the call records (started later, with the extras);
        without them it is only logged, so a survey never fails for lack of a database."""
        if self.records is not None:
            self.records.set_satisfaction(call_id, score)
        else:
            log.info("satisfaction answer not stored: no call records", extra={"call_id": call_id, "score": score})

    def store_ticket(self, ticket: Any) -> None:
        """An agent's escalation goes to the call records like the survey's answer; without
        them the whole ticket is logged, so the back office can still find it."""
        if self.records is not None:
            self.records.open_ticket(ticket)
        else:
            log.warning("ticket not stored: no call records", extra=ticket.row())

    async def start(self) -> None:
        from acd.protocol import AMIClient, FastAGIServer

        # no QUEUESTART: Asterisk's logger writes it when *it* starts, and reporting tools
        # read it as every agent logged off, which a daemon restart does not do
        settings = self.config.daemon
        for warning in self.config.warnings:
            log.warning("config: %s", warning)
        if settings.lease:      # a standby until the leader lease is ours (_became_active)
            self.room.standby, self.fallback_members.enabled = True, False
            self.callbacks.set_active(False)
        else:
            self.roster.load()
            self._restore_agents()
        self.agi = FastAGIServer(self.handlers(), host=settings.agi_host, port=self.agi_port,
                                 allowed=settings.asterisk_hosts)
        await self.agi.start()
        self.agi_port = self.agi.port
        log.info("FastAGI listening", extra={"host": settings.agi_host, "port": self.agi_port})
        self.ami = AMIClient(settings.ami_host, self.ami_port, settings.ami_username, self._ami_secret,
                             reconnect=True, events=AMI_EVENT_CLASSES, only_handled=True)
        self.bridge.install(self.ami)
        self.fallback_members.install(self.ami)
        self.callbacks.install(self.ami)
        self.caller_numbers.install(self.ami)
        self._ami_task = asyncio.create_task(self._connect_ami())
        if self.extras:
            await self._start_extras()
        if self.book is not None and not settings.lease:
            # after the records: one SQLite file takes one schema change at a time
            self._book_task = asyncio.create_task(self._open_book())
        elif self.book is not None:
            # a standby too: a promise this daemon stored but died before mirroring is
            # on its disk only; offered to the mirror, the active daemon makes it
            self._offer_task = asyncio.create_task(self._keep_trying("callback offer", self.book.offer))
        if settings.lease and settings.redis_url:
            from acd.daemon.leader import LeaderLease

            self.lease = LeaderLease(settings.redis_url, f"{settings.redis_prefix}leader")
            self.callbacks.fence = self.lease.holds
            self._lease_task = asyncio.create_task(self.lease.run(self._became_active, self._became_standby))
            log.info("standby: waiting for the leader lease", extra={"holder": self.lease.holder})

    def _restore_agents(self) -> None:
        """Log the roster's agents back in, out of routing until AMI's resync has placed
        them (one may still be talking to a caller the last daemon connected)."""
        self._away_calls_pending = True
        restored = self.roster.restore_events(self.live.now(), list(self.config.agents))
        self.bridge.hold_until_resync(ev.agent_id for ev in restored if isinstance(ev, AgentLoggedIn))
        with self.queue_log.formatter.restoring(ev.agent_id for ev in restored if isinstance(ev, AgentLoggedIn)):
            for event in restored:      # logged in before the restart: no second ADDMEMBER
                self.live.feed(event)
        if self._grace is not None:
            self._grace.cancel()
        self._grace = asyncio.get_running_loop().call_later(
            self.resync_grace, self.bridge.release_unconfirmed, f"no AMI resync within {self.resync_grace:g} s")

    async def _close_calls_ended_away(self) -> None:
        """After the first resync since the agents were restored (``acd.daemon.ended_away``)."""
        if self._away_calls_pending and self.live_state is not None:
            self._away_calls_pending = False
            await record_calls_ended_away(self.live, self.bridge, self.live_state, self.room.queue_log)

    async def _became_active(self, token: int) -> None:
        """The lease is ours: the agents as the last active daemon left them in Redis (else
        the roster file), a resync if AMI is already up, then callers are queued here."""
        try:
            agents = await self.live_state.agents() if self.live_state is not None else None
        except Exception as error:
            log.warning("agents not read from the live state; the roster file instead", extra={"reason": repr(error)})
            agents = None
        if agents:
            self.roster.take_live(agents)
        else:
            self.roster.load()
        self._restore_agents()
        self.room.standby, self.fallback_members.enabled = False, True
        self.callbacks.set_active(True)
        if self.book is not None and self._book_task is None:      # the promised callbacks are ours to make now
            self._book_task = asyncio.create_task(self._open_book())
        if self.ami is not None and self.ami.connected:
            asyncio.create_task(self.bridge.resync())
            asyncio.create_task(self.fallback_members.sync())
        log.info("active: routing callers", extra={"token": token})

    async def _became_standby(self) -> None:
        """The lease is lost (Redis unreachable, another daemon holds it): route nobody,
        so no agent is offered two calls; the waiting callers go on to the other daemon."""
        self.room.standby, self.fallback_members.enabled = True, False
        self.callbacks.set_active(False)
        await self.room.hand_over()
        self.room.closing = False

    async def _start_extras(self) -> None:
        """Records, live state and API subscribe to decisions like the queue_log; any of them
        failing to start is logged and routing goes on without it."""
        settings = self.config.daemon
        from acd.config.back_office import back_office_of
        from acd.live_state import LiveState
        from acd.records.writer import CallRecords

        def call_records(url: str) -> CallRecords:
            # rows not yet in the database wait in a journal beside the queue_log, across restarts
            return CallRecords(url, back_office=back_office_of(self.config), caller_number=self.caller_numbers.number,
                               journal=Path(settings.queue_log).parent / "records-journal.jsonl")

        def live_state(url: str) -> LiveState:
            return LiveState(url, prefix=settings.redis_prefix)

        if settings.database_url:
            self.records = await self._started("call records", call_records, settings.database_url)
        if settings.redis_url:
            self.live_state = await self._started("live state", live_state, settings.redis_url)
        if self.live_state is not None:
            # the live state also mirrors the phones' registrations, and the agents restored before it
            self.bridge.registrations.subscribe(self.live_state.phone_changed)
            if not self.room.standby:
                self.live_state.agents_now(self.live.engine.agents.values(), self.live.now())
        try:
            from aiohttp import web

            from acd.api.app import make_app
            from acd.api.supervise import AMI_LINK
            from acd.config.access import access_of
            from acd.records.desk import TicketDesk

            # the back office works tickets in the call records' database, through their pool
            records = self.records
            desk = TicketDesk(records.db, now=self.live.now) if records is not None else None
            if desk is not None:       # a call found at resync may have a ticket from the last daemon
                self.escalations.look_up_tickets_with(desk.escalated_as)
            auth = await self._start_access(records)
            app = make_app(self.live, self.phone.guard, self.escalations, self.bridge.registrations, desk,
                           auth=auth, settings=access_of(self.config),
                           caller_numbers=self.caller_numbers.number)
            app[AMI_LINK] = self.ami        # supervisors' listen / whisper / barge ring through it
            runner = web.AppRunner(app,
                                   access_log=logging.getLogger("aiohttp.access") if access_of(self.config).access_log else None)
            await runner.setup()
            await web.TCPSite(runner, settings.api_host, settings.api_port).start()
            self._api_runner = runner
            log.info("API listening", extra={"host": settings.api_host, "port": settings.api_port})
        except Exception:
            log.exception("API not started", extra={"port": settings.api_port})

    async def _started(self, what: str, make: Callable[[str], W], url: str) -> W | None:
        """A writer made, started and subscribed to decisions; None when it failed to
        start (logged: routing goes on without it)."""
        try:
            writer = make(url)
            await writer.start()
        except Exception:
            log.exception(f"{what} not started", extra={"url": url})
            return None
        self.live.subscribe(writer)
        self._closes.append(writer)
        return writer

    async def _start_access(self, records: CallRecords | None) -> Any:
        """The API's users, sessions and audit log, in the call records' database, and the
        daily erasure of old personal data there (``privacy.retention_days``). Without the
        records (no database) nobody can log in: the API serves health and login only."""
        if records is None:
            return None
        from acd.auth import AuthStore
        from acd.config.access import access_of
        from acd.records.retention import DailyPurge

        auth = AuthStore(records.db, now=self.live.now, session_hours=access_of(self.config).session_hours,
                         remember_for=access_of(self.config).remember_seconds)
        try:
            await asyncio.wait_for(auth.prepare(), 2.0)
        except Exception:      # the database is down at start: the API still serves (503 until it is back)
            log.warning("user tables not ready (records database down); retrying in the background")
            self._prepare_task = asyncio.create_task(self._keep_trying("user tables", auth.prepare),
                                                     name="auth-prepare")
        purge = DailyPurge(records.db, lambda: self.config, now=self.live.now)
        purge.start()
        self._closes.append(purge)      # closed with the writers at stop
        return auth

    async def _open_book(self) -> None:
        """Pending callbacks back in line at their places; a database not up yet is
        retried (the callbacks wait on disk meanwhile)."""
        if self._offer_task is not None:        # one schema change at a time on SQLite
            await asyncio.wait([self._offer_task])
        if self.book is not None:
            await self._keep_trying("callback book", self.book.start)

    async def _keep_trying(self, what: str, attempt: Callable[[], Awaitable[Any]]) -> None:
        """``attempt`` until it succeeds or the daemon stops, backing off from 0.5 s to
        30 s: what needs the records database waits for it instead of giving up at start."""
        delay = 0.5
        while not self._stopped.is_set():
            try:
                await attempt()
                log.info(f"{what} ready")
                return
            except Exception as error:
                log.warning(f"{what} not ready; retrying", extra={"reason": repr(error), "in": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _connect_ami(self) -> None:
        delay = 0.5
        while not self._stopped.is_set():
            try:
                await self.ami.connect()
                log.info("AMI connected", extra={"port": self.ami_port})
                return
            except Exception as error:  # refused, auth, timeout: keep serving AGI and retry
                level, message, fields = login_failure(error, self.config.daemon, self.config_path, self.ami_port)
                log.log(level, f"{message}; retrying", extra={**fields, "in": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    def reload(self) -> bool:
        """SIGHUP: take the config file again; a bad one is refused and the last good one
        stays. The queue_log is reopened either way: logrotate sends the same signal
        after moving the file, and must not depend on the config being valid."""
        self.queue_log.reopen()
        try:
            config = load_config(self.config_path)
        except ConfigError as error:
            log.error("config reload refused; keeping the running config",
                      extra={"file": getattr(error, "file", None), "line": getattr(error, "line", None),
                             "reason": getattr(error, "reason", str(error))})
            return False
        except OSError as error:
            log.error("config reload refused; keeping the running config",
                      extra={"file": str(self.config_path), "reason": str(error)})
            return False
        self.config = config
        self.live.reconfigure(config)
        self.phone.guard.configure(config.daemon)
        if self.agi is not None:
            self.agi.allow(config.daemon.asterisk_hosts)
        for warning in config.warnings:
            log.warning("config: %s", warning)
        log.info("config reloaded", extra={"file": str(self.config_path)})
        return True

    async def run(self) -> None:
        """Start, then serve until SIGTERM/SIGINT; SIGHUP reloads."""
        loop = asyncio.get_running_loop()
        # before start(): a SIGHUP's default action would kill a daemon still starting
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stopped.set)
        try:
            await self.start()
            await self._stopped.wait()
        finally:
            for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            await self.stop()

    async def stop(self) -> None:
        self._stopped.set()
        if self._grace is not None:
            self._grace.cancel()
        if self._lease_task is not None:        # the standby takes over at its next try
            self._lease_task.cancel()
            await self.lease.close()
        for task in (self._ami_task, self._prepare_task, self._book_task, self._offer_task):
            if task is not None:
                task.cancel()
        await self.room.hand_over()      # before the sessions close: no caller waits on a crash path
        if self.agi is not None:
            await self.agi.stop()
        if self.ami is not None:
            await self.ami.close()
        if self._api_runner is not None:
            await self._api_runner.cleanup()
        if self.book is not None:
            await self.book.close()
        for closing in self._closes:
            try:
                await closing.close()
            except Exception:
                log.exception("writer did not close cleanly", extra={"writer": repr(closing)})
        self.live.clock.cancel()
        self.queue_log.close()
