"""The optional ``sim:`` section: the load a planner expects on a day.

The live daemon ignores this section; the simulator (``sim/``) reads it to know how many
callers come when, what they ask for, how long they talk and how long they hold on.
Absent, or any key left out, it defaults to the 1555 line's reference figures (18,500
calls a day peaking mid-morning, 4.5 minutes a call, 85 % solved at first contact), so
``acd-sim run --config`` works on any config file.

Step tables (``profile``, ``staffing``) map a time of day to a value that holds until
the next listed time; times must fall on the section's interval boundaries so every
interval of the report has exactly one value.
"""
from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from acd.call_contract import CITIZEN, EMPLOYER, caller_skills
from acd.config.errors import ConfigError
from acd.config.located import Fields, Located, parse_yaml
from acd.metrics import SERVICE_LEVEL_MODES, ServiceLevelMode, service_level_definition

#: The kinds of day the simulator tells apart (their opening hours: sim/opening.py).
DAY_TYPES: tuple[str, ...] = ("weekday", "saturday", "sunday", "holiday")
#: Reporting / arrival-profile intervals a planner may choose (minutes).
INTERVALS: tuple[int, ...] = (15, 30, 60)
DISTRIBUTIONS: tuple[str, ...] = ("lognormal", "exponential", "constant")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")

#: The default shape of a public-service line's day (relative weight per hour, 00-23):
#: almost nothing at night, a steep climb from 07:00, the peak at 10:00-11:00, a slow
#: afternoon decline. Only the shape matters; ``calls_per_day`` scales it.
DEFAULT_HOURLY_SHAPE: tuple[float, ...] = (
    0.3, 0.2, 0.15, 0.1, 0.1, 0.15, 0.5, 2.5, 5.5, 8.0, 9.0, 8.8,
    8.0, 7.2, 6.4, 5.6, 4.8, 4.2, 3.6, 3.0, 2.4, 1.8, 0.9, 0.5,
)


@dataclass(frozen=True, slots=True)
class Distribution:
    """A positive random duration: ``kind`` in DISTRIBUTIONS, ``mean`` seconds, and for
    lognormal the coefficient of variation ``cv`` (standard deviation / mean)."""

    kind: str
    mean: float
    cv: float = 1.0


@dataclass(frozen=True, slots=True)
class Redial:
    """Callers who got busy or hung up waiting try again with ``probability``, after a
    delay drawn from ``delay``; a redial is offered like any call and counted as one."""

    probability: float = 0.3
    delay: Distribution = Distribution("exponential", 300.0)
    max_attempts: int = 3


@dataclass(frozen=True, slots=True)
class QueueTarget:
    """One queue's own targets (``sim.target.queues``), met by ``acd-sim plan`` together
    with the line's: its callers answered within ``threshold`` s (None: the line's
    threshold) at ``service_level``, an ASA and an abandonment at most. No occupancy:
    agents serve several queues, so occupancy is the line's."""

    threshold: float | None = None
    service_level: float | None = None
    asa: float | None = None
    max_abandon: float | None = None


@dataclass(frozen=True, slots=True)
class PlanTarget:
    """What the staffing search aims for in every interval, and how the report pools
    all queues: answered within ``threshold`` s, callers hanging up within
    ``short_abandon`` s counted apart (acd.metrics' definitions).

    Any of service level, ASA, abandonment and occupancy, alone or together (the
    service level may be left out, ``service_level: null``, when another is given), and
    queues of their own beside the line (``queues``)."""

    threshold: float = 20.0
    #: None: no service-level target (``service_level: null``; another target is given)
    service_level: float | None = 0.8
    short_abandon: float = 5.0
    #: share of callers the trunk may turn away busy: the report's "lines needed"
    #: (Erlang B) is the fewest lines that keep to it
    max_blocking: float = 0.01
    #: further targets acd-sim plan meets together with the service level (None: none)
    asa: float | None = None
    max_abandon: float | None = None
    max_occupancy: float | None = None
    #: which calls the service level divides by (acd.metrics.SERVICE_LEVEL_MODES)
    counts: ServiceLevelMode = "answered_plus_abandoned"
    #: queue -> its own targets, met together with the line's
    queues: Mapping[str, QueueTarget] = field(default_factory=dict)

    @property
    def definition(self) -> str:
        """The service level's formula in words, written beside the figures."""
        return service_level_definition(self.threshold, self.short_abandon, self.counts)

    def queue_threshold(self, queue: str) -> float:
        """The seconds a queue's service level counts within: its own, else the line's."""
        own = self.queues.get(queue)
        return self.threshold if own is None or own.threshold is None else own.threshold


@dataclass(frozen=True, slots=True)
class SimSettings:
    calls_per_day: float = 18_500.0
    #: day type -> its calls per day, where it differs from ``calls_per_day``
    day_volumes: Mapping[str, float] = field(default_factory=dict)
    #: day type -> its own arrival profile, where its shape differs from ``profile``
    day_profiles: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    #: minutes per interval of the profile, staffing and reports
    interval: int = 30
    #: share of the day's calls arriving in each interval (sums to 1)
    profile: tuple[float, ...] = ()
    #: queue -> share of callers the IVR routes there (sums to 1)
    topics: Mapping[str, float] = field(default_factory=dict)
    #: language code -> share of callers choosing it (sums to 1)
    languages: Mapping[str, float] = field(default_factory=dict)
    #: queue -> share of that queue's callers who are employers (need ``type:employer``)
    employers: Mapping[str, float] = field(default_factory=dict)
    ivr_time: Distribution = Distribution("lognormal", 40.0, 0.3)
    #: time an agent spends talking; the queue's wrap-up comes on top (AHT = talk + wrap-up)
    talk_time: Distribution = Distribution("lognormal", 270.0, 0.8)
    #: how long a caller holds on before hanging up; None: callers never abandon
    patience: Distribution | None = Distribution("exponential", 240.0)
    #: seconds an agent's phone rings before the agent answers
    answer_delay: float = 2.0
    redial: Redial = Redial()
    #: share of answered calls solved at once; the rest become back-office tickets
    first_contact: float = 0.85
    #: agents on duty per interval (None: every agent follows its shifts)
    staffing: tuple[int, ...] | None = None
    target: PlanTarget = PlanTarget()
    seed: int = 1

    @property
    def intervals(self) -> int:
        return 24 * 60 // self.interval

    @property
    def interval_seconds(self) -> float:
        return self.interval * 60.0


def settings_for(config: Any) -> SimSettings:
    """The config's ``sim:`` section, or the 1555 defaults fitted to its queues and
    languages when the file has none (checked like a written section would be)."""
    if config.sim is not None:
        return config.sim
    partial = {"queues": config.queues, "languages": config.languages, "agents": config.agents,
               "skills": config.skills, "file": config.source}
    return _settings(parse_yaml("{}", config.source), partial, written=False)


def parse_sim(node: Located, partial: dict[str, Any]) -> SimSettings:
    return _settings(node, partial, written=True)


_KEYS = ("calls_per_day", "day_volumes", "day_profiles", "interval", "profile", "topics", "languages", "employers", "ivr_time",
         "talk_time", "handle_time", "patience", "answer_delay", "redial", "first_contact", "staffing", "target", "seed")


def _settings(node: Located, partial: Mapping[str, Any], *, written: bool) -> SimSettings:
    """``node`` is the written section, or an empty mapping for the defaults."""
    d = SimSettings()
    f = Fields(node, _KEYS)
    interval = f.int("interval", d.interval)
    if interval not in INTERVALS:
        raise f.require("interval").error(f"interval is {interval} minutes; use one of 15, 30, 60")
    queues: Mapping[str, Any] = partial["queues"]
    languages: tuple[str, ...] = partial["languages"]
    topics, langs = f.get("topics"), f.get("languages")
    settings = SimSettings(
        calls_per_day=f.float("calls_per_day", d.calls_per_day, minimum=0),
        day_volumes=_day_volumes(f.get("day_volumes")),
        interval=interval,
        profile=_profile(f.get("profile"), interval),
        day_profiles=_day_profiles(f.get("day_profiles"), interval),
        topics=_shares(topics, tuple(queues), "queue") if topics else _even(tuple(queues)),
        languages=_shares(langs, languages, "language") if langs else _default_languages(languages),
        employers=_employers(f.get("employers"), queues),
        ivr_time=_distribution(f.get("ivr_time"), d.ivr_time),
        talk_time=_distribution(_talk_node(f), d.talk_time),
        patience=_patience(f.get("patience"), d.patience or Distribution("exponential", 240.0)),
        answer_delay=f.float("answer_delay", d.answer_delay, minimum=0),
        redial=_redial(f.get("redial")),
        first_contact=f.float("first_contact", d.first_contact, minimum=0, maximum=1),
        staffing=_staffing(f.get("staffing"), interval, len(partial["agents"])),
        target=_target(f.get("target"), queues),
        seed=f.int("seed", d.seed, minimum=0),
    )
    _check_served(node if written else None, settings, partial)
    return settings


def _talk_node(f: Fields) -> Located | None:
    """``talk_time``, or the old name ``handle_time`` (it always meant talk alone, while
    AHT everywhere else is talk plus wrap-up) with a warning naming file and line."""
    talk, old = f.get("talk_time"), f.get("handle_time")
    if talk is not None and old is not None:
        raise old.error("give talk_time alone: handle_time is its old name")
    if old is not None:
        warnings.warn(f"{old.file}:{old.line}: sim.handle_time is deprecated: it is the talk time "
                      "(wrap-up comes on top); call it talk_time", FutureWarning, stacklevel=2)
    return talk if talk is not None else old


# -- step tables -------------------------------------------------------------------------------

def _time_index(node: Located, text: str, interval: int) -> int:
    match = _TIME.match(text.strip())
    if not match:
        raise node.error(f"{text!r} is not a time of day like '07:30'")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours > 23 or minutes > 59:
        raise node.error(f"{text!r} is an impossible time")
    total = hours * 60 + minutes
    if total % interval:
        raise node.error(f"{text!r} is not on a {interval}-minute interval boundary")
    return total // interval


def step_table(node: Located, interval: int, *, integer: bool) -> list[float]:
    """Expand ``{"07:00": v, "09:30": w}`` to one value per interval (0 before the first)."""
    count = 24 * 60 // interval
    points: list[tuple[int, float]] = []
    for text, value in node.items():
        index = _time_index(value, text, interval)
        number: float = value.as_int(minimum=0) if integer else value.as_float(minimum=0)
        if points and index <= points[-1][0]:
            raise value.error(f"{text!r} must come after the time before it")
        points.append((index, number))
    if not points:
        raise node.error("the table is empty; give at least one 'HH:MM: value' entry")
    result = [0.0] * count
    for n, (index, number) in enumerate(points):
        end = points[n + 1][0] if n + 1 < len(points) else count
        result[index:end] = [number] * (end - index)
    return result


def _profile(node: Located | None, interval: int) -> tuple[float, ...]:
    if node is None:
        per_hour = 60 // interval if interval <= 60 else 1
        weights = [w for w in DEFAULT_HOURLY_SHAPE for _ in range(per_hour)]
    else:
        weights = step_table(node, interval, integer=False)
    total = sum(weights)
    if total <= 0:
        raise node.error("the profile has no calls at all")  # type: ignore[union-attr]
    return tuple(w / total for w in weights)


def _staffing(node: Located | None, interval: int, agents: int) -> tuple[int, ...] | None:
    if node is None:
        return None
    counts = [int(v) for v in step_table(node, interval, integer=True)]
    if max(counts) > agents:
        raise node.error(f"staffing asks for {max(counts)} agents but the config has {agents}")
    return tuple(counts)


# -- mixes -------------------------------------------------------------------------------------

def _shares(node: Located, allowed: tuple[str, ...], what: str) -> dict[str, float]:
    values = {name: value.as_float(minimum=0) for name, value in node.mapping(allowed).items()}
    total = sum(values.values())
    if total <= 0:
        raise node.error(f"the {what} shares add up to nothing")
    return {name: share / total for name, share in values.items() if share > 0}


def _even(names: tuple[str, ...]) -> dict[str, float]:
    return {name: 1 / len(names) for name in names}


def _default_languages(languages: tuple[str, ...]) -> dict[str, float]:
    """Most callers of a national line speak its first language: 95 % by default."""
    if len(languages) == 1:
        return {languages[0]: 1.0}
    rest = 0.05 / (len(languages) - 1)
    return {lang: (0.95 if n == 0 else rest) for n, lang in enumerate(languages)}


def _day_profiles(node: Located | None, interval: int) -> dict[str, tuple[float, ...]]:
    if node is None:
        return {}
    return {name: _profile(table, interval) for name, table in node.mapping(DAY_TYPES).items()}


def _day_volumes(node: Located | None) -> dict[str, float]:
    if node is None:
        return {}
    return {name: value.as_float(minimum=0) for name, value in node.mapping(DAY_TYPES).items()}


def _employers(node: Located | None, queues: Mapping[str, Any]) -> dict[str, float]:
    if node is None:
        return {}
    return {name: value.as_float(minimum=0, maximum=1) for name, value in node.mapping(tuple(queues)).items()}


# -- durations ---------------------------------------------------------------------------------

def _distribution(node: Located | None, default: Distribution) -> Distribution:
    """``{distribution: lognormal, mean: 270, cv: 0.8}``, or a plain number: the mean,
    keeping the default's shape."""
    if node is None:
        return default
    if not _is_mapping(node):
        kind, mean, cv = default.kind, node.as_float(minimum=0), default.cv
    else:
        f = Fields(node, ("distribution", "mean", "cv"))
        kind = f.choice("distribution", DISTRIBUTIONS, default.kind)
        mean = f.float("mean", default.mean, minimum=0)
        cv = f.float("cv", default.cv, minimum=0.01, maximum=10)
    if mean <= 0 and kind != "constant":
        raise node.error(f"a {kind} duration needs a mean above 0 (use 'distribution: constant' for none)")
    return Distribution(kind, mean, cv)


def _patience(node: Located | None, default: Distribution) -> Distribution | None:
    """Like any duration, or ``none``: callers who never hang up (Erlang C's world)."""
    if node is not None and not _is_mapping(node):
        value = node.value()
        if value is False or value in ("none", "never"):   # (0 == False: test identity)
            return None
    return _distribution(node, default)


def _is_mapping(node: Located) -> bool:
    return isinstance(node.node, yaml.MappingNode)


def _redial(node: Located | None) -> Redial:
    d = Redial()
    if node is None:
        return d
    f = Fields(node, ("probability", "delay", "max_attempts"))
    return Redial(
        probability=f.float("probability", d.probability, minimum=0, maximum=1),
        delay=_distribution(f.get("delay"), d.delay),
        max_attempts=f.int("max_attempts", d.max_attempts, minimum=1, maximum=20),
    )


def _target(node: Located | None, queues: Mapping[str, Any]) -> PlanTarget:
    d = PlanTarget()
    if node is None:
        return d
    f = Fields(node, ("threshold", "service_level", "short_abandon", "max_blocking", "asa", "max_abandon",
                      "max_occupancy", "counts", "queues"))
    level_node = f.values.get("service_level")
    target = PlanTarget(
        threshold=f.float("threshold", d.threshold, minimum=1),
        # written as null: no service-level target, another one rules
        service_level=None if level_node is not None and level_node.is_null()
        else f.float("service_level", d.service_level, minimum=0.01, maximum=0.999),
        short_abandon=f.float("short_abandon", d.short_abandon, minimum=0),
        max_blocking=f.float("max_blocking", d.max_blocking, minimum=0.0001, maximum=0.5),
        asa=f.float("asa", None, minimum=1),
        max_abandon=f.float("max_abandon", None, minimum=0.001, maximum=0.999),
        max_occupancy=f.float("max_occupancy", None, minimum=0.01, maximum=1),
        counts=f.choice("counts", SERVICE_LEVEL_MODES, d.counts),
        queues=_queue_targets(f.get("queues"), queues),
    )
    if target.service_level is None and target.asa is None and target.max_abandon is None \
            and target.max_occupancy is None:
        raise (level_node or node).error("service_level is null and no other target is given: give asa, "
                                         "max_abandon or max_occupancy, or a service level")
    return target


def _queue_targets(node: Located | None, queues: Mapping[str, Any]) -> dict[str, QueueTarget]:
    if node is None:
        return {}
    targets: dict[str, QueueTarget] = {}
    for name, value in node.items():
        if name not in queues:
            raise node.key(name).error(f"no queue {name!r} in the config's queues (known: {', '.join(queues)})")
        f = Fields(value, ("threshold", "service_level", "asa", "max_abandon"))
        target = QueueTarget(threshold=f.float("threshold", None, minimum=1),
                             service_level=f.float("service_level", None, minimum=0.01, maximum=0.999),
                             asa=f.float("asa", None, minimum=1),
                             max_abandon=f.float("max_abandon", None, minimum=0.001, maximum=0.999))
        if target.service_level is None and target.asa is None and target.max_abandon is None:
            raise value.error(f"queue {name!r}: give its service_level, asa or max_abandon (occupancy is the "
                              "line's: agents serve several queues)")
        targets[name] = target
    return targets


# -- coherence with the rest of the file ---------------------------------------------------------

def _check_served(node: Located | None, settings: SimSettings, partial: Mapping[str, Any]) -> None:
    """Refuse a mix that sends callers where no configured agent could ever take them.

    Such callers would wait until they give up, and the planner would read a staffing
    problem into what is a typo. The check takes the requirements the engine would give
    a caller of each language and caller type (the queue's, with the skills the
    production IVR adds, ``caller_skills``) after every widening step, the widest.
    """
    queues, agents, skills = partial["queues"], partial["agents"], partial["skills"]
    for queue_name in settings.topics:
        queue = queues[queue_name]
        caller_types = (CITIZEN, EMPLOYER) if settings.employers.get(queue_name, 0) > 0 else (CITIZEN,)
        for lang in settings.languages:
            variants = []
            for caller_type in caller_types:
                reqs = dict(queue.requirements)
                for skill, level in caller_skills({}, lang, caller_type, skills).items():
                    reqs[skill] = max(reqs.get(skill, 0), level)
                variants.append(queue.widened(reqs, len(queue.widening)))
            for reqs in variants:
                if not any(all(a.skills.get(s, 0) >= lvl for s, lvl in reqs.items()) for a in agents.values()):
                    needs_text = ", ".join(f"{s}>={v}" for s, v in sorted(reqs.items()))
                    reason = f"no agent can take {lang!r} callers of queue {queue_name!r} (needs {needs_text})"
                    if node is None:
                        raise ConfigError(f"sim (defaults): {reason}", partial.get("file"), queue.line or None)
                    raise node.error(reason)
