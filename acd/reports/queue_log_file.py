"""Reading a queue_log as app_queue writes it: the one parser of the format here.

Lines are ``time|callid|queue|agent|event|data...`` (Asterisk 16 main/logger.c,
apps/app_queue.c; the layouts are listed in ``acd.daemon.queue_log``, which writes
them). The agent field is the queue member's name: ``PJSIP/agent-2401`` (the dial
interface) or, for members added with a name, the name app_queue writes (``english
2401``); `agent_of` finds the config's agent behind either.

What a replay needs is read: each call's enqueue, answer, end and outcome, and when
each agent was logged in (ADDMEMBER / REMOVEMEMBER, in any queue) and paused
(PAUSE / UNPAUSE, PAUSEALL / UNPAUSEALL). A line that cannot be read is reported with
its file and line and left out; the rest of the file is still read.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from acd.config.model import Config
from acd.reports.real_day import AgentChange, RealCall, RealDay, ReportError, day_bounds, so_far

#: events that end a call unanswered, and its outcome (the line's time is when it left)
_UNANSWERED = {"ABANDON": "abandoned", "EXITWITHTIMEOUT": "exited", "EXITEMPTY": "exited", "EXITWITHKEY": "exited"}
#: events that end an answered call, and which data field holds the talk time
_COMPLETED = {"COMPLETECALLER": 1, "COMPLETEAGENT": 1, "BLINDTRANSFER": 3, "ATTENDEDTRANSFER": 3, "TRANSFER": 3}


@dataclass(frozen=True, slots=True)
class Line:
    at: float
    callid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...]


def parse_line(text: str) -> Line:
    """One line; ``ValueError`` saying what is wrong with it."""
    fields = text.rstrip("\r\n").split("|")
    if len(fields) < 5:
        raise ValueError(f"{len(fields)} fields, a queue_log line has at least 5 (time|callid|queue|agent|event)")
    try:
        at = float(fields[0])
    except ValueError:
        raise ValueError(f"time {fields[0]!r} is not epoch seconds") from None
    if not fields[4]:
        raise ValueError("no event name")
    return Line(at, fields[1], fields[2], fields[3], fields[4], tuple(fields[5:]))


def agent_of(member: str, config: Config) -> str | None:
    """The config's agent behind a queue member name: its id, its dial interface
    (``PJSIP/<endpoint>``), its name, or a member name whose last word is one of
    those (app_queue's ``<team> <id>``); None when no agent matches."""
    agents = config.agents
    if member in agents:
        return member
    by_endpoint = {f"PJSIP/{a.endpoint}": a.id for a in agents.values()}
    if member in by_endpoint:
        return by_endpoint[member]
    by_name = {a.name: a.id for a in agents.values() if a.name}
    if member in by_name:
        return by_name[member]
    last = member.replace("/", " ").split()[-1] if member.strip() else ""
    for candidate in (last, last.rsplit("-", 1)[-1]):
        if candidate in agents:
            return candidate
        endpoint = {a.endpoint: a.id for a in agents.values()}
        if candidate in endpoint:
            return endpoint[candidate]
    return None


@dataclass(slots=True)
class _Open:
    queue: str
    enqueued_at: float
    answered_at: float | None = None
    agent: str | None = None
    ring_time: float | None = None


@dataclass(slots=True)
class _Presence:
    queues: set[str] = field(default_factory=set)
    paused: bool = False

    def state(self) -> str:
        if not self.queues:
            return "logged_out"
        return "paused" if self.paused else "available"


def read_queue_log(path: Path, day: dt.date, timezone: str, config: Config, *,
                   warn: Callable[[str], None] = lambda _: None) -> RealDay:
    """The calls that entered a queue on ``day`` (local) and the agents' log-ins and
    pauses, from a queue_log file; ``ReportError`` when the file cannot be read."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return day_from_lines(handle, day, timezone, config, warn=warn, name=str(path))
    except OSError as error:
        raise ReportError(f"cannot read the queue_log {path}: {error.strerror or error}") from error


def day_from_lines(lines: Iterable[str], day: dt.date, timezone: str, config: Config, *,
                   warn: Callable[[str], None] = lambda _: None, name: str = "<queue_log>") -> RealDay:
    start, end = day_bounds(day, timezone)
    open_calls: dict[str, _Open] = {}
    calls: list[RealCall] = []
    presence: dict[str, _Presence] = {}
    changes: list[AgentChange] = []
    unknown: set[str] = set()

    def agent(member: str) -> str | None:
        found = agent_of(member, config)
        if found is None and member not in unknown:
            unknown.add(member)
            warn(f"{name}: queue member {member!r} is no agent of the config; its lines are left out")
        return found

    def moved(agent_id: str, at: float, change: Callable[[_Presence], None]) -> None:
        mine = presence.setdefault(agent_id, _Presence())
        before = mine.state()
        change(mine)
        if mine.state() != before and at < end:
            changes.append(AgentChange(agent_id, max(at, start), mine.state()))

    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            line = parse_line(text)
            _take(line, open_calls, calls, agent, moved, start, end)
        except (ValueError, IndexError) as error:
            warn(f"{name}:{number}: {error}; line left out")
    calls.sort(key=lambda c: c.enqueued_at)
    return RealDay(day, timezone, calls, _squash(changes, start), name, so_far(day, timezone))


def _take(line: Line, open_calls: dict[str, _Open], calls: list[RealCall], agent: Callable[[str], str | None],
          moved: Callable[[str, float, Callable[[_Presence], None]], None], start: float, end: float) -> None:
    event = line.event
    if event == "ENTERQUEUE":
        if start <= line.at < end:
            open_calls[line.callid] = _Open(line.queue, line.at)
        return
    if event == "CONNECT":
        call = open_calls.get(line.callid)
        if call is not None:
            call.answered_at, call.agent = line.at, agent(line.agent)
            call.ring_time = float(line.data[2]) if len(line.data) > 2 and line.data[2] else None
        return
    if event in _COMPLETED:
        call = open_calls.pop(line.callid, None)
        if call is not None and call.answered_at is not None:
            talk = float(line.data[_COMPLETED[event]])
            calls.append(RealCall(line.callid, call.queue, call.enqueued_at, "answered", call.answered_at,
                                  call.answered_at + talk, talk, call.agent, ring_time=call.ring_time))
        return
    if event in _UNANSWERED:
        call = open_calls.pop(line.callid, None)
        if call is not None:
            calls.append(RealCall(line.callid, call.queue, call.enqueued_at, _UNANSWERED[event], None,
                                  max(line.at, call.enqueued_at)))
        return
    if event in ("ADDMEMBER", "REMOVEMEMBER", "PAUSE", "UNPAUSE", "PAUSEALL", "UNPAUSEALL"):
        agent_id = agent(line.agent)
        if agent_id is None:
            return
        queue = line.queue
        if event == "ADDMEMBER":
            moved(agent_id, line.at, lambda p: p.queues.add(queue))
        elif event == "REMOVEMEMBER":
            moved(agent_id, line.at, lambda p: p.queues.discard(queue))
        else:
            paused = event in ("PAUSE", "PAUSEALL")
            moved(agent_id, line.at, lambda p: setattr(p, "paused", paused))


def _squash(changes: list[AgentChange], start: float) -> list[AgentChange]:
    """The changes as the records would hold them: an agent's state before the day as
    one change at its start, then the day's changes."""
    before: dict[str, AgentChange] = {}
    during: list[AgentChange] = []
    for change in changes:
        if change.at <= start:
            before[change.agent_id] = AgentChange(change.agent_id, start, change.state)
        else:
            during.append(change)
    return [before[a] for a in sorted(before)] + during
