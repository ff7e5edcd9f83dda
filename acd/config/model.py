"""The validated config: plain frozen objects that the engine, the daemon, the IVR,
the dialplan generator and the simulator all read.

Nothing here parses or checks; ``acd.config.loader`` builds these objects and is the
one place that validates them, so every reader can trust what it gets.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from typing import TYPE_CHECKING

if TYPE_CHECKING:       # the sections' own modules register their parsers with the loader, which imports this one
    from acd.config.access import AccessSettings, PrivacySettings
    from acd.config.back_office import BackOffice
    from acd.config.ivr import IvrConfig
    from acd.config.sim import SimSettings
    from acd.config.telephony import Phones, Trunks

from acd.metrics import ServiceLevelMode, service_level_definition

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
    """The queue's service-level objective: ``target`` of calls answered within ``threshold`` s,
    divided as ``counts`` says (acd.metrics.service_level's modes)."""

    threshold: float = 20.0
    target: float = 0.8
    short_abandon: float = 5.0
    #: which calls the service level divides by (acd.metrics.SERVICE_LEVEL_MODES)
    counts: ServiceLevelMode = "answered_plus_abandoned"

    @property
    def definition(self) -> str:
        """The service level's formula in words, for every page and report that shows it."""
        return service_level_definition(self.threshold, self.short_abandon, self.counts)


@dataclass(frozen=True, slots=True)
class QueueConfig:
    name: str
    title: Mapping[str, str]
    requirements: Requirements
    priority: int = 0
    weight: float = 1.0
    #: which free agent is offered a caller: a name of acd.engine.strategies.STRATEGIES
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

    def widened(self, requirements: Requirements, stage: int) -> dict[str, int]:
        """A caller's ``requirements`` after ``stage`` of this queue's widening steps (0 =
        before any step). The one widening rule: the engine's lines, the queue_log and the
        simulator's config check all call it."""
        reqs = dict(requirements)
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
    #: the argon2 hash of the agent's PIN (``acd.config.pins``), clear digits from an old
    #: config (accepted with a warning), or "" when none is issued yet (no PIN login)
    pin: str
    #: the PJSIP endpoint name the dialplan generator writes for this agent's phone
    endpoint: str
    line: int = 0
    #: when the agent is on duty (used by the simulator's staffing); empty = always
    shifts: tuple["TimeRange", ...] = ()
    #: the ``teams:`` entry the agent comes from (None: listed under ``agents:``)
    team: str | None = None


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    """Engine-wide rules."""

    #: one priority step is worth this many seconds of waiting (priority ages with wait)
    priority_seconds: float = 60.0
    #: consecutive ring-no-answers after which an agent is paused automatically
    auto_pause_after: int = 3
    #: rest after a missed offer before the agent is offered again (stops ping-pong)
    missed_offer_rest: float = 5.0
    #: an offer not answered within the queue's ring_timeout plus this margin is
    #: withdrawn by the engine itself (as no-answer), whatever the driver reports
    ring_margin: float = 5.0
    #: handling time assumed for wait estimates before any call has been handled
    default_handle_time: float = 270.0
    #: how many recent handled calls feed the estimate of handling time
    handle_time_window: int = 50
    #: pause reason codes: code -> productive? (productive pauses count as occupied)
    pause_reasons: Mapping[str, bool] = field(default_factory=lambda: {"break": False, "backoffice": True})
    #: seed of the random strategy, so simulations and tests repeat exactly
    seed: int = 0
    #: at most this share of the free agents rings for callbacks at once (at least one
    #: callback always may): a backlog of callbacks never takes every free agent at once
    callback_share: float = 0.25
    #: tries to reach a citizen who asked for a callback before it counts as failed
    callback_attempts: int = 3
    #: seconds between two tries of a callback the citizen did not answer
    callback_retry_delay: float = 600.0
    #: seconds a callback may wait, from the moment its queue is open, before it expires
    #: (the service promises a callback within 4 hours)
    callback_window: float = 14400.0


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
    """Named closed days: ``builtin`` names a computed calendar (``greece``), ``dates`` adds
    fixed ones and ``not_dates`` takes computed ones back out.

    ``not_dates`` exists because the computed calendar follows a practice, not a law (the
    Labour Day the ministry moves out of the Easter days is decided each year): when a
    decision departs from it, the config adds the day it chose and removes the day the
    computation chose, without a code change. The loader accepts a ``not_dates`` day only
    if the builtin calendar really computes it, so a typo cannot pass for a decision."""

    name: str
    builtin: str | None = None
    dates: tuple[date, ...] = ()
    not_dates: tuple[date, ...] = ()


#: The number prompts the waiting room plays, in this order: the caller's place in line,
#: then the estimated wait in minutes (see ``NumberPrompt``).
ANNOUNCE_POSITION = "announce_position"
ANNOUNCE_WAIT = "announce_wait"


def plural_form(n: int) -> str:
    """The CLDR plural category of ``n`` for Greek and English alike: ``one`` for 1,
    ``other`` for every other whole number (``1 λεπτό`` / ``2 λεπτά``, ``1 minute`` /
    ``2 minutes``). A language with more categories would get its rule here."""
    return "one" if n == 1 else "other"


@dataclass(frozen=True, slots=True)
class NumberForms:
    """One language's texts of a number prompt. ``{n}`` stands for the number; in ``over``
    it stands for ``up_to``, the largest number that has a file of its own."""

    other: str
    over: str
    #: the singular (``n == 1``); None means ``other`` serves for 1 too
    one: str | None = None


@dataclass(frozen=True, slots=True)
class NumberPrompt:
    """A prompt that says a number, rendered ahead of time into one file per number.

    Why not Asterisk's ``SAY NUMBER``: Asterisk ships no Greek core sounds, and the
    grammar around a number (``1 λεπτό`` but ``3 λεπτά``) belongs to the sentence, not
    to the number. So the config writes whole sentences per language and plural form,
    ``ivr prompts build`` renders ``<id>-1`` .. ``<id>-<up_to>`` and ``<id>-over``, and
    the waiting room plays the file of the number it has to say."""

    id: str
    up_to: int
    texts: Mapping[str, NumberForms]
    line: int = 0

    def file_id(self, n: int) -> str:
        """The prompt file that says ``n``: its own up to ``up_to``, the ``over`` one beyond."""
        return f"{self.id}-{n}" if 1 <= n <= self.up_to else f"{self.id}-over"

    def text(self, language: str, n: int) -> str:
        """What ``file_id(n)`` says in ``language``."""
        forms = self.texts[language]
        if not 1 <= n <= self.up_to:
            return forms.over.replace("{n}", str(self.up_to))
        template = forms.one if plural_form(n) == "one" and forms.one is not None else forms.other
        return template.replace("{n}", str(n))

    def expanded(self, language: str) -> dict[str, str]:
        """Every file of this prompt in ``language``: file id -> text (``up_to + 1`` files)."""
        return {self.file_id(n): self.text(language, n) for n in range(1, self.up_to + 2)}


@dataclass(frozen=True, slots=True)
class DaemonSettings:
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_username: str = "acd"
    ami_secret: str = "acd"
    #: a file holding the AMI secret (first line), so the secret stays out of the YAML,
    #: which is shared far more widely; relative to the config file's directory; not
    #: together with ``ami_secret`` (read by acd/daemon/ami_login.py)
    ami_secret_file: str | None = None
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    #: the REST API and web pages listen here, apart from FastAGI (``agi_host``)
    api_host: str = "127.0.0.1"
    #: the only addresses FastAGI answers (Asterisk's); others are logged and closed
    asterisk_hosts: tuple[str, ...] = ("127.0.0.1",)
    #: ``<agent id> <argon2 hash>`` lines (``acd pins generate``), relative to the
    #: config file's directory; None: PINs only from the config
    pins_file: str | None = None
    redis_url: str | None = None
    #: the live state's keys in Redis start with this (two daemons of one centre share it)
    redis_prefix: str = "acd:"
    #: two daemons of one centre: only the holder of the leader lease in Redis routes
    #: callers, the other is a standby (``acd.daemon.leader``); needs ``redis_url``
    lease: bool = False
    database_url: str = "sqlite+aiosqlite:///var/acd.sqlite3"
    queue_log: str = "var/queue_log"
    recordings_dir: str = "var/recordings"
    api_port: int = 8080
    timezone: str = "Europe/Athens"
    #: wrong agent PINs (phone or web panel) allowed within ``pin_window`` seconds before
    #: that agent number and that phone are locked for ``pin_lockout`` seconds
    pin_max_failures: int = 3
    pin_window: float = 300.0
    pin_lockout: float = 300.0
    #: wrong PINs from one address (any agents) and against one agent (from any address
    #: but the agent's own phone) within ``pin_window`` before that address, or the
    #: agent's web and hot-desk logins, are locked (acd.pin_guard)
    pin_source_max_failures: int = 10
    pin_agent_max_failures: int = 10


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
    ivr: IvrConfig | None = None
    #: prompt id -> language -> text
    prompts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: trunk lines (simultaneous calls the line can carry; callers beyond get busy)
    lines: int = 100
    #: the simulator's section, parsed by ``acd.config.sim`` (the live daemon ignores it)
    sim: SimSettings | None = None
    #: the back-office units tickets go to, parsed by ``acd.config.back_office``
    back_office: BackOffice | None = None
    #: page sessions and retention of personal data, parsed by ``acd.config.access``
    access: AccessSettings | None = None
    privacy: PrivacySettings | None = None
    #: prompts that say a number (waiting-room announcements): prompt id -> template
    number_prompts: Mapping[str, NumberPrompt] = field(default_factory=dict)
    #: the carriers' trunks and the agents' phones' DTMF and codecs, parsed by
    #: ``acd.config.telephony`` (None: the generator's defaults)
    trunks: Trunks | None = None
    phones: Phones | None = None
    #: what is accepted but should change (clear-text PINs, a missing pins file);
    #: ``acd check`` prints them, the daemon logs them
    warnings: tuple[str, ...] = ()

    @property
    def default_language(self) -> str:
        return self.languages[0]


def member_name(agent: AgentConfig) -> str:
    """The agent field of its queue_log lines: the member name app_queue logs for it
    (``log_membername_as_agent``), which the generated fallback queues give it too, so
    both paths name one person one way (``acd.daemon.queue_log``, ``dialplan.generate``)."""
    return agent.name
