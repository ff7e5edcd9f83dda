"""The one loader of the config file: YAML in, a validated ``Config`` out.

Every reader (daemon, IVR, dialplan generator, simulator) goes through ``load_config``,
so a mistake is caught once, before anything runs, and named with file, line and reason.
"""
from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from acd.call_contract import RESERVED_QUEUE_NAMES
from acd.config.access import check_supervisor_endpoints, parse_access, parse_privacy
from acd.config.back_office import parse_back_office
from acd.config.calendar import builtin_holidays
from acd.config.errors import ConfigError
from acd.config.ivr import parse_ivr
from acd.config.limits import PAUSE_REASON, QUEUE_NAME, check_length
from acd.config.pins import is_pin_hash, read_pins_file
from acd.config.located import Fields, Located, parse_yaml, read_yaml
from acd.config.number_prompts import check_number_prompts, check_plain_prompt, is_number_prompt, parse_number_prompt
from acd.config.model import (
    EXIT_ACTIONS,
    MAX_LEVEL,
    AgentConfig,
    Announcements,
    Config,
    DaemonSettings,
    ExitAction,
    HolidayCalendar,
    NumberPrompt,
    QueueConfig,
    RoutingPolicy,
    Schedule,
    ServiceTarget,
    TimeRange,
    WideningStep,
)
from acd.config.sim import parse_sim
from acd.config.telephony import AGENT_ENDPOINT_PREFIX, check_callback_dial, parse_phones, parse_trunks
import acd.engine.strategies as strategies
from acd.metrics import SERVICE_LEVEL_MODES

_SKILL = re.compile(r"^[a-z][a-z0-9_-]*(:[a-z0-9_-]+)?$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_LANG = re.compile(r"^[a-z]{2,3}$")
_PIN = re.compile(r"^[0-9]{4,8}$")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_BUILTIN_CALENDARS = ("greece",)

#: Sections parsed after the core ones, each by its own module, given the core parts
#: parsed so far (languages, skills, queues, agents, schedules, holidays, prompts).
SectionParser = Callable[[Located, dict[str, Any]], Any]
_SECTIONS: Mapping[str, SectionParser] = {
    "ivr": parse_ivr, "sim": parse_sim, "back_office": parse_back_office, "access": parse_access,
    "privacy": parse_privacy, "trunks": parse_trunks, "phones": parse_phones,
}

def load_config(path: str | Path) -> Config:
    """Read and validate a config file; raises ConfigError naming file, line and reason."""
    return _build(read_yaml(path))


def load_config_for_command(path: str | Path) -> Config | None:
    """The config a command line tool works on, or None after saying on stderr why it
    cannot be read (file, line and reason; or the file's own trouble): every ``acd``
    subcommand reports a bad config the same way and exits 1."""
    try:
        return load_config(path)
    except ConfigError as error:
        print(str(error), file=sys.stderr)
    except OSError as error:
        print(f"{path}: {error.strerror or error}", file=sys.stderr)
    return None


def load_config_text(text: str, file: str = "<config>") -> Config:
    return _build(parse_yaml(text, file))


_TOP = ("service", "skills", "routing", "holidays", "schedules", "queues", "agents", "teams", "daemon", "prompts", "ivr", "sim",
        "back_office", "access", "privacy", "trunks", "phones")


def _build(root: Located) -> Config:
    top = Fields(root, _TOP)
    service = Fields(top.require("service"), ("name", "languages", "lines", "timezone"))
    languages = _languages(service.require("languages"))
    skills = _skills(top.require("skills"))
    routing = _routing(top.get("routing"))
    holidays = _holidays(top.get("holidays"))
    schedules = _schedules(top.get("schedules"), holidays)
    queues = _queues(top.require("queues"), skills, schedules, languages)
    agents = _agents(top.get("agents"), top.get("teams"), skills)
    if not agents:
        raise root.error("no agents: declare some under 'agents' or 'teams'")
    daemon = _daemon(top.get("daemon"), service.str("timezone", "Europe/Athens"))
    agents, warnings = _issued_pins(root.file, agents, daemon)
    prompts, number_prompts = _prompts(top.get("prompts"), languages)
    partial: dict[str, Any] = {
        "languages": languages, "skills": skills, "queues": queues, "agents": agents,
        "schedules": schedules, "holidays": holidays, "prompts": prompts,
    }
    extras = {name: parser(node, partial) for name, parser in _SECTIONS.items() if (node := top.get(name)) is not None}
    if "trunks" in extras:
        check_callback_dial(top.get("ivr"))
    check_supervisor_endpoints(top.get("access"), extras.get("trunks"))
    return Config(
        source=root.file,
        service_name=service.str("name", "ACD"),
        languages=languages,
        skills=frozenset(skills),
        queues=queues,
        agents=agents,
        routing=routing,
        schedules=schedules,
        holidays=holidays,
        daemon=daemon,
        ivr=extras.get("ivr"),
        prompts=prompts,
        lines=service.int("lines", 100, minimum=1),
        sim=extras.get("sim"),
        back_office=extras.get("back_office"),
        access=extras.get("access"),
        privacy=extras.get("privacy"),
        trunks=extras.get("trunks"),
        phones=extras.get("phones"),
        number_prompts=number_prompts,
        warnings=warnings,
    )


# -- service and skills ------------------------------------------------------------------

def _languages(node: Located) -> tuple[str, ...]:
    result: list[str] = []
    for element in node.elements():
        code = element.as_str()
        if not _LANG.match(code):
            raise element.error(f"{code!r} is not a language code like 'el' or 'en'")
        if code in result:
            raise element.error(f"language {code!r} is listed twice")
        result.append(code)
    if not result:
        raise node.error("at least one language is needed (the first is the default)")
    return tuple(result)


def _skills(node: Located) -> dict[str, str]:
    """Skills are declared once (name: description) so that typos elsewhere are caught."""
    result: dict[str, str] = {}
    for name, value in node.items():
        if not _SKILL.match(name):
            raise value.error(f"skill name {name!r} must look like 'topic:pensions' (lower case, one colon at most)")
        result[name] = "" if value.is_null() else value.as_str()
    if not result:
        raise node.error("no skills declared")
    return result


def _skill_name(node: Located, name: str, skills: dict[str, str]) -> str:
    if name not in skills:
        import difflib

        hint = difflib.get_close_matches(name, list(skills), n=1)
        more = f"; did you mean {hint[0]!r}?" if hint else "; declare it under 'skills'"
        raise node.error(f"unknown skill {name!r}{more}")
    return name


def _levels(node: Located, skills: dict[str, str]) -> dict[str, int]:
    """A skill -> level mapping; a plain list means level 1 for each."""
    if node.is_sequence():
        return {_skill_name(e, e.as_str(), skills): 1 for e in node.elements()}
    return {_skill_name(value, name, skills): value.as_int(minimum=1, maximum=MAX_LEVEL) for name, value in node.items()}


# -- routing policy ------------------------------------------------------------------------

def _routing(node: Located | None) -> RoutingPolicy:
    if node is None:
        return RoutingPolicy()
    f = Fields(node, ("priority_seconds", "auto_pause_after", "missed_offer_rest", "default_handle_time",
                      "handle_time_window", "pause_reasons", "seed", "ring_margin", "callback_share",
                      "callback_attempts", "callback_retry_delay", "callback_window"))
    defaults = RoutingPolicy()
    reasons = defaults.pause_reasons
    if (r := f.get("pause_reasons")) is not None:
        reasons = {}
        for code, productive in r.items():
            if not _NAME.match(code):
                raise productive.error(f"pause reason {code!r} must be a simple word")
            check_length(productive, "pause reason", code, PAUSE_REASON)
            reasons[code] = productive.as_bool()
    return RoutingPolicy(
        priority_seconds=f.float("priority_seconds", defaults.priority_seconds, minimum=0),
        auto_pause_after=f.int("auto_pause_after", defaults.auto_pause_after, minimum=1),
        missed_offer_rest=f.float("missed_offer_rest", defaults.missed_offer_rest, minimum=0),
        ring_margin=f.float("ring_margin", defaults.ring_margin, minimum=0),
        default_handle_time=f.float("default_handle_time", defaults.default_handle_time, minimum=1),
        handle_time_window=f.int("handle_time_window", defaults.handle_time_window, minimum=1),
        pause_reasons=reasons,
        seed=f.int("seed", 0),
        callback_share=f.float("callback_share", defaults.callback_share, minimum=0.01, maximum=1.0),
        callback_attempts=f.int("callback_attempts", defaults.callback_attempts, minimum=1, maximum=20),
        callback_retry_delay=f.float("callback_retry_delay", defaults.callback_retry_delay, minimum=0),
        callback_window=f.float("callback_window", defaults.callback_window, minimum=60),
    )


# -- holidays and schedules ------------------------------------------------------------------

def _holidays(node: Located | None) -> dict[str, HolidayCalendar]:
    result: dict[str, HolidayCalendar] = {}
    if node is None:
        return result
    for name, value in node.items():
        f = Fields(value, ("builtin", "dates", "not_dates"))
        builtin = f.choice("builtin", _BUILTIN_CALENDARS, None)
        dates = _dates(f.get("dates"))
        not_dates = _dates(f.get("not_dates"))
        if not_dates:
            _check_not_dates(f.require("not_dates"), name, builtin, dates)
        result[name] = HolidayCalendar(name=name, builtin=builtin, dates=tuple(dates), not_dates=tuple(not_dates))
    return result


def _dates(node: Located | None) -> list[date]:
    dates: list[date] = []
    for element in node.elements() if node is not None else ():
        try:
            day = element.value()
        except ValueError as exc:       # 2024-13-07: YAML reads a date, the calendar has none
            raise element.error(f"expected a date like 2026-12-24, got {element.node.value!r}") from exc
        if not isinstance(day, date) or isinstance(day, datetime):
            raise element.error(f"expected a date like 2026-12-24, got {element.node.value!r}")
        if day in dates:
            raise element.error(f"{day.isoformat()} is listed twice")
        dates.append(day)
    return dates


def _check_not_dates(node: Located, name: str, builtin: str | None, dates: list[date]) -> None:
    """A removed day must be one the builtin calendar computes, and not also added: else
    the line is a typo (the wrong year, the wrong day of a moved holiday) that would
    silently change nothing."""
    if builtin is None:
        raise node.error(f"'not_dates' removes computed holidays, but calendar {name!r} has no 'builtin'")
    for element in node.elements():
        day = element.value()
        if day in dates:
            raise element.error(f"{day.isoformat()} is both in 'dates' and in 'not_dates'")
        if day not in builtin_holidays(builtin, day.year):
            raise element.error(f"{day.isoformat()} is not a holiday the {builtin!r} calendar computes; "
                                "nothing to remove")


_RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


def parse_time_range(node: Located, text: str) -> TimeRange:
    match = _RANGE.match(text.strip())
    if not match:
        raise node.error(f"{text!r} is not a time range like '08:00-20:00'")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2 != 0):
        raise node.error(f"{text!r} has an impossible time")
    start = time(h1, m1)
    end = time.max if h2 == 24 else time(h2, m2)
    if end <= start:
        raise node.error(f"{text!r} ends before it starts (split ranges that cross midnight in two)")
    return TimeRange(start, end)


def _days(node: Located, spec: str) -> list[int]:
    spec = spec.strip().lower()
    if spec in ("daily", "every day"):
        return list(range(7))
    days: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if "-" in part:
            a, b = (p.strip() for p in part.split("-", 1))
            if a not in _DAYS or b not in _DAYS:
                raise node.error(f"{part!r} is not a day range like 'mon-fri'")
            i, j = _DAYS.index(a), _DAYS.index(b)
            if j < i:
                raise node.error(f"{part!r} runs backwards")
            days.extend(range(i, j + 1))
        elif part in _DAYS:
            days.append(_DAYS.index(part))
        else:
            raise node.error(f"{part!r} is not a day (mon..sun, 'mon-fri' or 'daily')")
    return days


def _schedules(node: Located | None, holidays: dict[str, HolidayCalendar]) -> dict[str, Schedule]:
    result = {"always": Schedule(name="always", weekly={}, always_open=True)}
    if node is None:
        return result
    for name, value in node.items():
        f = Fields(value, ("weekly", "holidays", "always_open"))
        always = f.bool("always_open", False)
        weekly: dict[int, list[TimeRange]] = {}
        if (w := f.get("weekly")) is not None:
            for day_spec, ranges in w.items():
                texts = [e for e in ranges.elements()] if ranges.is_sequence() else [ranges]
                for text_node in texts:
                    rng = parse_time_range(text_node, text_node.as_str())
                    for day in _days(ranges, day_spec):
                        weekly.setdefault(day, []).append(rng)
        elif not always:
            raise value.error("a schedule needs 'weekly' hours or 'always_open: true'")
        cal: list[str] = []
        if (h := f.get("holidays")) is not None:
            for element in h.elements():
                cal_name = element.as_str()
                if cal_name not in holidays:
                    raise element.error(f"unknown holiday calendar {cal_name!r}; declare it under 'holidays'")
                cal.append(cal_name)
        result[name] = Schedule(
            name=name,
            weekly={d: tuple(sorted(r, key=lambda x: x.start)) for d, r in weekly.items()},
            holidays=tuple(cal),
            always_open=always,
        )
    return result


# -- queues ------------------------------------------------------------------------------------

_QUEUE_KEYS = ("title", "requires", "priority", "weight", "strategy", "prefer_best_match", "wrapup",
               "ring_timeout", "max_wait", "on_max_wait", "widening", "announcements", "service_level",
               "record", "schedule", "music_class", "always_open")


def _check_app_queue_name(key: Located, name: str, earlier: Mapping[str, QueueConfig]) -> None:
    """The degraded path names its app_queue queues as the config's queues (so the
    queue_log names a call's queue the same whichever path took it): a name app_queue
    would read as another queue, or as its ``[general]`` section, is refused here."""
    if name.lower() in RESERVED_QUEUE_NAMES:
        taken = ("queues.conf's own [general] section" if name.lower() == "general"
                 else "app_queue's queue for callers of unknown topic when no daemon runs")
        raise key.error(f"queue name {name!r} is reserved: {taken} has it")
    same = [other for other in earlier if other.lower() == name.lower()]
    if same:
        raise key.error(f"queue name {name!r} differs from queue {same[0]!r} only in case: app_queue, which "
                        "takes the callers when no daemon runs, would see one queue")


def _queues(node: Located, skills: dict[str, str], schedules: dict[str, Schedule],
            languages: tuple[str, ...]) -> dict[str, QueueConfig]:
    result: dict[str, QueueConfig] = {}
    exits: list[tuple[Located, ExitAction]] = []
    for name, value in node.items():
        if not _NAME.match(name):
            raise value.error(f"queue name {name!r} must be letters, digits, '-' or '_'")
        check_length(value, "queue name", name, QUEUE_NAME)
        _check_app_queue_name(node.key(name), name, result)
        f = Fields(value, _QUEUE_KEYS)
        title = _titles(f.get("title"), name, languages)
        requires = _levels(f.require("requires"), skills)
        widening = _widening(f.get("widening"), requires, skills)
        schedule = f.str("schedule", "always")
        if schedule not in schedules:
            raise f.require("schedule").error(f"unknown schedule {schedule!r}")
        exit_action = ExitAction("goodbye")
        if (e := f.get("on_max_wait")) is not None:
            exit_action = _exit_action(e)
            exits.append((e, exit_action))
        max_wait = f.float("max_wait", None, minimum=1)
        if max_wait is not None and widening and widening[-1].after >= max_wait:
            raise f.require("widening").error("a widening step comes after max_wait; it would never apply")
        result[name] = QueueConfig(
            name=name,
            title=title,
            requirements=requires,
            priority=f.int("priority", 0, minimum=-100, maximum=100),
            weight=f.float("weight", 1.0, minimum=0.01),
            strategy=_strategy(f),
            prefer_best_match=f.bool("prefer_best_match", True),
            wrapup=f.float("wrapup", 10.0, minimum=0),
            ring_timeout=f.float("ring_timeout", 15.0, minimum=1),
            max_wait=max_wait,
            on_max_wait=exit_action,
            widening=widening,
            announcements=_announcements(f.get("announcements")),
            service=_service(f.get("service_level")),
            record=f.bool("record", False),
            schedule=schedule,
            music_class=f.str("music_class", "default"),
            always_open=f.bool("always_open", False),
            line=value.line,
        )
    if not result:
        raise node.error("no queues declared")
    for where, action in exits:
        if action.kind == "queue" and action.target not in result:
            raise where.error(f"on_max_wait names unknown queue {action.target!r}")
    return result


def _strategy(f: Fields) -> str:
    node = f.get("strategy")
    if node is not None and (why := strategies.APP_QUEUE_ONLY.get(node.as_str())) is not None:
        raise node.error(f"{node.as_str()!r} is app_queue's strategy and not one of the engine's "
                         f"({', '.join(strategies.NAMES)}): {why}")
    return str(f.choice("strategy", strategies.NAMES, strategies.DEFAULT))


def _titles(node: Located | None, name: str, languages: tuple[str, ...]) -> dict[str, str]:
    if node is None:
        return {lang: name for lang in languages}
    if not node.is_mapping():
        text = node.as_str()
        return {lang: text for lang in languages}
    titles = {lang: text.as_str() for lang, text in node.mapping(languages).items()}
    return {lang: titles.get(lang, titles.get(languages[0], name)) for lang in languages}


def _widening(node: Located | None, requires: dict[str, int], skills: dict[str, str]) -> tuple[WideningStep, ...]:
    if node is None:
        return ()
    steps: list[WideningStep] = []
    for element in node.elements():
        f = Fields(element, ("after", "min_level", "drop"))
        after = f.float("after", minimum=0)
        if steps and after <= steps[-1].after:
            raise element.error("widening steps must come in increasing 'after' order")
        min_level = f.int("min_level", None, minimum=1, maximum=MAX_LEVEL)
        if min_level is not None and steps:
            previous = [s.min_level for s in steps if s.min_level is not None]
            if previous and min_level > previous[-1]:
                raise element.error("min_level may only go down from one step to the next (widening never narrows)")
        drop: frozenset[str] = frozenset()
        if (d := f.get("drop")) is not None:
            drop = frozenset(_skill_name(e, e.as_str(), skills) for e in d.elements())
        if min_level is None and not drop:
            raise element.error("a widening step needs 'min_level' or 'drop'")
        steps.append(WideningStep(after=after, min_level=min_level, drop=drop))
    return tuple(steps)


def _exit_action(node: Located) -> ExitAction:
    text = node.as_str()
    kind, _, target = text.partition(":")
    if kind not in EXIT_ACTIONS:
        raise node.error(f"{text!r} is not an exit; use one of callback, voicemail[:box], ticket, queue:<name>, goodbye")
    if kind == "queue" and not target:
        raise node.error("'queue' exit needs a target, like 'queue:general'")
    return ExitAction(kind=kind, target=target or None)


def _announcements(node: Located | None) -> Announcements:
    if node is None:
        return Announcements()
    f = Fields(node, ("first_after", "every", "position", "estimated_wait", "periodic_prompt"))
    d = Announcements()
    return Announcements(
        first_after=f.float("first_after", d.first_after, minimum=0),
        every=f.float("every", d.every, minimum=0),
        position=f.bool("position", d.position),
        estimated_wait=f.bool("estimated_wait", d.estimated_wait),
        periodic_prompt=f.str("periodic_prompt", None),
    )


def _service(node: Located | None) -> ServiceTarget:
    if node is None:
        return ServiceTarget()
    f = Fields(node, ("threshold", "target", "short_abandon", "counts"))
    d = ServiceTarget()
    return ServiceTarget(
        threshold=f.float("threshold", d.threshold, minimum=1),
        target=f.float("target", d.target, minimum=0, maximum=1),
        short_abandon=f.float("short_abandon", d.short_abandon, minimum=0),
        counts=f.choice("counts", SERVICE_LEVEL_MODES, d.counts),
    )


# -- agents ------------------------------------------------------------------------------------

def _agent(node: Located, agent_id: str, f: Fields, skills: dict[str, str], name: str | None = None,
           team: str | None = None) -> AgentConfig:
    pin = f.str("pin", "")
    if pin and not _PIN.match(pin) and not is_pin_hash(pin):
        raise f.require("pin").error("a PIN is 4 to 8 digits, or its argon2 hash")
    levels = _levels(f.require("skills"), skills)
    shifts_node = f.get("shifts")
    shifts = tuple(parse_time_range(e, e.as_str()) for e in shifts_node.elements()) if shifts_node else ()
    return AgentConfig(
        id=agent_id,
        name=name or f.str("name", agent_id),
        skills=levels,
        pin=pin,
        endpoint=AGENT_ENDPOINT_PREFIX + agent_id,
        line=node.line,
        shifts=shifts,
        team=team,
    )


def _agents(node: Located | None, teams: Located | None, skills: dict[str, str]) -> dict[str, AgentConfig]:
    result: dict[str, AgentConfig] = {}

    def add(where: Located, agent: AgentConfig) -> None:
        if agent.id in result:
            raise where.error(f"agent id {agent.id!r} is used twice (first at line {result[agent.id].line})")
        result[agent.id] = agent

    if node is not None:
        for agent_id, value in node.items():
            if not re.match(r"^[0-9]{2,8}$", agent_id):
                raise value.error(f"agent id {agent_id!r} must be 2 to 8 digits (agents log in by typing it)")
            add(value, _agent(value, agent_id, Fields(value, ("name", "pin", "skills", "shifts")), skills))
    if teams is not None:
        for team, value in teams.items():
            f = Fields(value, ("ids", "pin", "skills", "shifts"))
            if (shared := f.get("pin")) is not None:
                raise shared.error("one PIN for a whole team lets any member act as any other: remove it and "
                                   "give each agent their own with 'acd pins generate' (daemon.pins_file)")
            ids_node = f.require("ids")
            match = re.match(r"^([0-9]{2,8})-([0-9]{2,8})$", ids_node.as_str())
            if not match or int(match.group(2)) < int(match.group(1)):
                raise ids_node.error("team ids are a range like '2001-2040'")
            first, last = int(match.group(1)), int(match.group(2))
            if last - first >= 2000:
                raise ids_node.error("a team of more than 2,000 agents is surely a typo")
            for number in range(first, last + 1):
                add(value, _agent(value, str(number), f, skills, name=f"{team} {number}", team=team))
    return result


# -- daemon and prompts ------------------------------------------------------------------------

def _daemon(node: Located | None, timezone: str) -> DaemonSettings:
    d = DaemonSettings(timezone=timezone)
    if node is None:
        return d
    f = Fields(node, ("ami_host", "ami_port", "ami_username", "ami_secret", "ami_secret_file", "agi_host", "agi_port",
                      "redis_url", "redis_prefix", "lease", "database_url", "queue_log", "recordings_dir", "api_port",
                      "pin_max_failures", "pin_window", "pin_lockout", "api_host", "asterisk_hosts", "pins_file",
                      "pin_source_max_failures", "pin_agent_max_failures"))
    secret_file = f.get("ami_secret_file")
    if secret_file is not None and f.get("ami_secret") is not None:
        raise secret_file.error("give ami_secret or ami_secret_file, not both")
    hosts = f.get("asterisk_hosts")
    lease = f.bool("lease", d.lease)
    if lease and not f.get("redis_url"):
        raise (f.get("lease") or node).error("daemon.lease needs daemon.redis_url: the leader lease lives in Redis")
    return DaemonSettings(
        lease=lease,
        ami_host=f.str("ami_host", d.ami_host),
        ami_port=f.int("ami_port", d.ami_port, minimum=1, maximum=65535),
        ami_username=f.str("ami_username", d.ami_username),
        ami_secret=f.str("ami_secret", d.ami_secret),
        ami_secret_file=_beside(node, f.str("ami_secret_file", None)),
        agi_host=f.str("agi_host", d.agi_host),
        agi_port=f.int("agi_port", d.agi_port, minimum=1, maximum=65535),
        redis_url=f.str("redis_url", d.redis_url),
        redis_prefix=f.str("redis_prefix", d.redis_prefix),
        database_url=f.str("database_url", d.database_url),
        queue_log=f.str("queue_log", d.queue_log),
        recordings_dir=f.str("recordings_dir", d.recordings_dir),
        api_port=f.int("api_port", d.api_port, minimum=1, maximum=65535),
        timezone=timezone,
        pin_max_failures=f.int("pin_max_failures", d.pin_max_failures, minimum=1, maximum=100),
        pin_window=f.float("pin_window", d.pin_window, minimum=1.0),
        pin_lockout=f.float("pin_lockout", d.pin_lockout, minimum=1.0),
        api_host=f.str("api_host", d.api_host),
        asterisk_hosts=tuple(h.as_ip_address() for h in hosts.elements()) if hosts is not None else d.asterisk_hosts,
        pins_file=f.str("pins_file", d.pins_file),
        pin_source_max_failures=f.int("pin_source_max_failures", d.pin_source_max_failures, minimum=1, maximum=10000),
        pin_agent_max_failures=f.int("pin_agent_max_failures", d.pin_agent_max_failures, minimum=1, maximum=10000),
    )


def _beside(node: Located, name: str | None) -> str | None:
    """A file named in the config, relative to the config file's own directory (where the
    engineer keeps it: /etc/acd/ami.secret beside /etc/acd/1555.yaml), not the daemon's
    working directory."""
    if not name or Path(name).is_absolute() or node.file.startswith("<"):
        return name
    return str(Path(node.file).parent / name)


def _issued_pins(file: str, agents: dict[str, AgentConfig], daemon: DaemonSettings
                 ) -> tuple[dict[str, AgentConfig], tuple[str, ...]]:
    """The agents with the PIN hashes of ``daemon.pins_file`` (relative to the config's
    directory), and warnings for what still works but should change."""
    warnings: list[str] = []
    clear = [a for a in agents.values() if a.pin and not is_pin_hash(a.pin)]
    if clear:
        warnings.append(f"{file}:{clear[0].line}: a clear-text PIN in the config for {len(clear)} of "
                        f"{len(agents)} agents; issue hashed ones with 'acd pins generate' and remove 'pin:'")
    if daemon.pins_file is None:
        return agents, tuple(warnings)
    path = Path(daemon.pins_file)
    if not path.is_absolute() and not file.startswith("<"):
        path = Path(file).parent / path
    if not path.exists():
        warnings.append(f"{path}: no pins file yet: agents without a PIN cannot log in by PIN "
                        "(write it with 'acd pins generate')")
        return agents, tuple(warnings)
    hashes = read_pins_file(path, agents)
    result = dict(agents)
    for agent_id, stored in hashes.items():
        agent = agents[agent_id]
        if agent.pin:
            raise ConfigError(f"agent {agent_id!r} has a PIN here and in {path}; keep only the pins file's",
                              file, agent.line)
        result[agent_id] = dataclasses.replace(agent, pin=stored)
    return result, tuple(warnings)


def _prompts(node: Located | None, languages: tuple[str, ...]
             ) -> tuple[dict[str, dict[str, str]], dict[str, NumberPrompt]]:
    """Plain prompts (a text per language) and number prompts (``up_to`` and plural
    forms, see ``acd.config.number_prompts``), both under ``prompts``."""
    result: dict[str, dict[str, str]] = {}
    numbers: dict[str, NumberPrompt] = {}
    plain: dict[str, Located] = {}
    if node is None:
        return result, numbers
    for prompt_id, value in node.items():
        if not _NAME.match(prompt_id):
            raise value.error(f"prompt id {prompt_id!r} must be letters, digits, '-' or '_'")
        if is_number_prompt(value):
            numbers[prompt_id] = parse_number_prompt(prompt_id, value, languages)
            continue
        located = value.mapping(languages)
        for lang, text in located.items():
            check_plain_prompt(prompt_id, lang, text)
        texts = {lang: text.as_str() for lang, text in located.items()}
        missing = [lang for lang in languages if lang not in texts]
        if missing:
            raise value.error(f"prompt {prompt_id!r} has no text for {', '.join(missing)}")
        result[prompt_id] = texts
        plain[prompt_id] = value
    check_number_prompts(node, plain, numbers)
    return result, numbers
