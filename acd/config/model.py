"""The validated config: plain frozen objects that the engine, the daemon, the IVR,
the dialplan generator and the simulator all read.

Nothing here parses or checks; ``acd.config.loader`` builds these objects and is the
one place that validates them, so every reader can trust what it gets.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

#: Agent selection strategies. ``longest_idle`` is ours (idle since the last call of any
#: queue); the others keep app_queue's meaning so engineers can carry their habits over:
#: leastrecent = least recently finished a call *of this queue*, fewestcalls = fewest
#: calls completed in this queue, random, rrmemory = round robin continuing after the
#: last agent offered, linear = config order, first free wins.
STRATEGIES: tuple[str, ...] = ("longest_idle", "leastrecent", "fewestcalls", "random", "rrmemory", "linear")

#: What happens to a caller who waited the queue's max_wait.
EXIT_ACTIONS: tuple[str, ...] = ("callback", "voicemail", "ticket", "queue", "goodbye")

#: Requirements: skill name -> minimum level (levels are 1..MAX_LEVEL).
Requirements = Mapping[str, int]
MAX_LEVEL = 10


@dataclass(frozen=True, slots=True)
class WideningStep:
    """After ``after`` seconds of waiting, the call accepts more agents.

    ``min_level`` caps every requirement's minimum level (a 4 becomes a 2 when
    min_level is 2); ``drop`` removes requirements altogether (the pool grows to agents
    without that skill). Steps only ever relax, so a caller's place never changes.
    """

    after: float
    min_level: int | None = None
    drop: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ExitAction:
    """Where a caller goes after max_wait: ``kind`` is one of EXIT_ACTIONS; ``target`` is the
    other queue for ``queue``, a mailbox for ``voicemail``."""

    kind: str
    target: str | None = None


@dataclass(frozen=True, slots=True)
class Announcements:
    """Position / estimated-wait announcements while waiting (seconds; 0 disables)."""

    first_after: float = 30.0
    every: float = 60.0
    position: bool = True
    estimated_wait: bool = True
    #: a periodic message (prompt id) played between announcements, or None
    periodic_prompt: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceTarget:
    """The queue's service-level objective: ``target`` of calls answered within ``threshold`` s."""

    threshold: float = 20.0
    target: float = 0.8
    short_abandon: float = 5.0


@dataclass(frozen=True, slots=True)
class QueueConfig:
    name: str
    title: Mapping[str, str]
    requirements: Requirements
    priority: int = 0
    weight: float = 1.0
    strategy: str = "longest_idle"
    #: rank agents by match quality (levels on the required skills, then specialists
    #: before generalists) before applying ``strategy``
    prefer_best_match: bool = True
    wrapup: float = 10.0
    ring_timeout: float = 15.0
    max_wait: float | None = None
    on_max_wait: ExitAction = ExitAction("goodbye")
    widening: tuple[WideningStep, ...] = ()
    announcements: Announcements = Announcements()
    service: ServiceTarget = ServiceTarget()
    record: bool = False
    schedule: str = "always"
    music_class: str = "default"
    #: 24/7 routes (the emergency line) ignore schedules and holidays
    always_open: bool = False
    line: int = 0

    def stage_requirements(self, stage: int) -> dict[str, int]:
        """The requirements in force at widening ``stage`` (0 = before any step)."""
        reqs = dict(self.requirements)
        for step in self.widening[:stage]:
            for skill in step.drop:
                reqs.pop(skill, None)
            if step.min_level is not None:
                reqs = {skill: min(level, step.min_level) for skill, level in reqs.items()}
        return reqs


@dataclass(frozen=True, slots=True)
class AgentConfig:
    id: str
    name: str
    skills: Mapping[str, int]
    pin: str
    #: the PJSIP endpoint name the dialplan generator writes for this agent's phone
    endpoint: str
    line: int = 0
    #: when the agent is on duty (used by the simulator's staffing); empty = always
    shifts: tuple["TimeRange", ...] = ()


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    """Engine-wide rules."""

    #: one priority step is worth this many seconds of waiting (priority ages with wait)
    priority_seconds: float = 60.0
    #: consecutive ring-no-answers after which an agent is paused automatically
    auto_pause_after: int = 3
    #: rest after a missed offer before the agent is offered again (stops ping-pong)
    missed_offer_rest: float = 5.0
    #: handling time assumed for wait estimates before any call has been handled
    default_handle_time: float = 270.0
    #: how many recent handled calls feed the estimate of handling time
    handle_time_window: int = 50
    #: pause reason codes: code -> productive? (productive pauses count as occupied)
    pause_reasons: Mapping[str, bool] = field(default_factory=lambda: {"break": False, "backoffice": True})
    #: seed of the random strategy, so simulations and tests repeat exactly
    seed: int = 0


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: time
    end: time  # exclusive; 24:00 is written as time.max


@dataclass(frozen=True, slots=True)
class Schedule:
    """Opening hours: weekday (0 = Monday) -> open ranges, and holiday calendars that close it."""

    name: str
    weekly: Mapping[int, tuple[TimeRange, ...]]
    holidays: tuple[str, ...] = ()
    always_open: bool = False


@dataclass(frozen=True, slots=True)
class HolidayCalendar:
    """Named closed days: ``builtin`` names a computed calendar (``greece``), ``dates`` adds fixed ones."""

    name: str
    builtin: str | None = None
    dates: tuple[date, ...] = ()


@dataclass(frozen=True, slots=True)
class DaemonSettings:
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_username: str = "acd"
    ami_secret: str = "acd"
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    redis_url: str | None = None
    database_url: str = "sqlite+aiosqlite:///var/acd.sqlite3"
    queue_log: str = "var/queue_log"
    recordings_dir: str = "var/recordings"
    api_port: int = 8080
    timezone: str = "Europe/Athens"


@dataclass(frozen=True, slots=True)
class Config:
    """The whole validated config file."""

    source: str
    service_name: str
    languages: tuple[str, ...]
    skills: frozenset[str]
    queues: Mapping[str, QueueConfig]
    agents: Mapping[str, AgentConfig]
    routing: RoutingPolicy
    schedules: Mapping[str, Schedule]
    holidays: Mapping[str, HolidayCalendar]
    daemon: DaemonSettings
    #: the IVR section, parsed by ``acd.config.ivr`` (kept opaque to the engine)
    ivr: Any = None
    #: prompt id -> language -> text
    prompts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: trunk lines (simultaneous calls the line can carry; callers beyond get busy)
    lines: int = 100
    #: the simulator's section, parsed by ``acd.config.sim`` (the live daemon ignores it)
    sim: Any = None
    #: the back-office units tickets go to, parsed by ``acd.config.back_office``
    back_office: Any = None

    @property
    def default_language(self) -> str:
        return self.languages[0]
