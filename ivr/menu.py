"""Walking the IVR tree: a state machine fed keys and silences, giving back steps.

Everything that decides where a caller goes lives here, with no I/O and the clock as
a parameter (the h11 shape): ``MenuWalk`` is fed ``press(key)``, ``no_input()`` and
``entered(digits)`` and answers with the next ``Step``: ``Listen`` (play prompts and
wait for one key), ``AskNumber`` (collect a callback number), ``Route`` (leave the IVR
for a queue, with the requirements that travel on the channel) or ``Goodbye``. The
FastAGI handler (``agi_app``) only plays what a step says and feeds back what the caller
did, so every path through the tree is tested here without Asterisk.

Keys every node understands unless one of its options takes the key: ``*`` back to the
previous menu (with the choices made there undone), ``0`` an agent, ``#`` repeat.
Invalid or missing input is retried with a message at most ``retries`` times, then the
caller goes to an agent or hears a polite goodbye (``on_failure``). Routes check their
queue's hours and holidays at the moment of routing; 24/7 queues never close.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from acd.call_contract import CALLER_TYPES, CITIZEN, caller_skills, route_variables
from acd.config.ivr import AGENT, BACK, REPEAT, Action, IvrConfig, Node
from acd.config.model import Config
from acd.config.calendar import is_open, local_time

#: every key the phone has: all of them interrupt a prompt, so a wrong key is heard as
#: wrong instead of being swallowed
ALL_KEYS = "0123456789*#"


@dataclass(frozen=True, slots=True)
class Listen:
    """Play ``prompts`` (interruptible by any key), then wait ``timeout`` s for one key."""

    prompts: tuple[str, ...]
    timeout: float


@dataclass(frozen=True, slots=True)
class AskNumber:
    """Play ``prompts`` and collect up to ``max_digits`` digits ended by ``#`` or silence."""

    prompts: tuple[str, ...]
    max_digits: int
    timeout: float


@dataclass(frozen=True, slots=True)
class Route:
    """Leave the IVR for ``queue``; ``variables`` are the ACD_* channel variables that
    carry the caller's requirements to the waiting room (see the shared contract)."""

    prompts: tuple[str, ...]
    queue: str
    requirements: Mapping[str, int]
    priority: int
    language: str
    caller_type: str
    callback: str | None = None

    @property
    def variables(self) -> dict[str, str]:
        return route_variables(self.queue, self.requirements, self.priority, self.language, self.caller_type,
                               self.callback)


@dataclass(frozen=True, slots=True)
class Goodbye:
    """Play ``prompts`` and end the call."""

    prompts: tuple[str, ...]


Step = Listen | AskNumber | Route | Goodbye


@dataclass(frozen=True, slots=True)
class Choices:
    """What the caller has chosen so far (undone by ``*``)."""

    language: str | None = None
    queue: str | None = None
    caller_type: str | None = None
    priority: int | None = None
    skills: Mapping[str, int] = field(default_factory=dict)

    def apply(self, action: Action) -> Choices:
        return dataclasses.replace(
            self,
            language=action.language or self.language,
            queue=action.queue or self.queue,
            caller_type=action.caller_type or self.caller_type,
            priority=action.priority if action.priority is not None else self.priority,
            skills={**self.skills, **action.skills},
        )


def sound_file(reference: str, language: str, prompts_dir: str) -> str:
    """The file Asterisk plays for a prompt reference (``id`` or ``id@lang``), without
    extension as Asterisk wants it: ``<prompts_dir>/<lang>/<id>``."""
    prompt_id, _, forced = reference.partition("@")
    return f"{prompts_dir.rstrip('/')}/{forced or language}/{prompt_id}"


def ivr_section(config: Config) -> IvrConfig:
    """The config's IVR, refusing a config that has none (no tree to walk)."""
    if config.ivr is None:
        raise ValueError(f"{config.source} has no 'ivr' section")
    return config.ivr


class MenuWalk:
    """One caller's walk through the tree. Not thread-safe; one per call."""

    def __init__(self, config: Config, now: Callable[[], float], caller_number: str = "") -> None:
        self.config = config
        self.ivr = ivr_section(config)
        self.now = now
        self.caller_number = caller_number
        self.node: Node = self.ivr.nodes[self.ivr.entry]
        self.choices = Choices()
        self.history: list[tuple[Node, Choices]] = []
        self.failures = 0
        self._callback_for: Choices | None = None   # set while a callback number is asked
        self._pending: list[str] = []

    @property
    def language(self) -> str:
        return self.choices.language or self.config.default_language

    # ------------------------------------------------------------------ inputs
    def start(self) -> Step:
        return self._listen()

    def press(self, key: str) -> Step:
        """The caller pressed ``key`` while a ``Listen`` step was playing or waiting."""
        if len(key) != 1 or key not in ALL_KEYS:
            raise ValueError(f"{key!r} is not a phone key")
        if self._callback_for is not None:
            raise RuntimeError("a callback number is being asked: feed entered(), not press()")
        action = self.node.options.get(key)
        if action is not None:
            return self._take(action)
        if key == REPEAT:
            return self._listen()
        if key == BACK:
            if self.history:
                self.node, self.choices = self.history.pop()
                self.failures = 0
            return self._listen()
        if key == AGENT:
            return self._to_agent()
        return self._failed("invalid")

    def request_callback(self, queue: str, language: str | None = None, caller_type: str | None = None) -> Step:
        """Start at the callback question for ``queue``: a caller whose wait ran out
        (``on_max_wait: callback``) comes back to the IVR only to leave a number."""
        if queue not in self.config.queues:
            raise ValueError(f"unknown queue {queue!r}")
        if language not in self.config.languages:
            language = None
        self.choices = Choices(language=language, queue=queue,
                               caller_type=caller_type if caller_type in CALLER_TYPES else None)
        return self._ask_callback(self.choices)

    def no_input(self) -> Step:
        """The caller pressed nothing within the step's timeout."""
        if self._callback_for is not None:
            return self.entered("")
        if self.node.default is not None:
            return self._take(self.node.options[self.node.default])
        return self._failed("no_input")

    def entered(self, digits: str) -> Step:
        """The digits typed at an ``AskNumber`` step (empty: the caller's own number)."""
        choices = self._callback_for
        if choices is None:
            raise RuntimeError("no callback number was asked")
        settings = self.ivr.callback
        number = digits.strip().rstrip("#") or self.caller_number
        if number.isdigit() and settings.min_digits <= len(number) <= settings.max_digits:
            self._callback_for = None
            return self._route(choices, settings.confirm, callback=number)
        self.failures += 1
        if self.failures > self.ivr.retries:
            return Goodbye(self._flush(*self.ivr.sounds["invalid"], *self.ivr.sounds["goodbye"]))
        return AskNumber(self._flush(*self.ivr.sounds["invalid"], *settings.prompt), settings.max_digits,
                         self.ivr.timeout)

    # ------------------------------------------------------------------ decisions
    def _take(self, action: Action) -> Step:
        chosen = self.choices.apply(action)
        self._pending.extend(action.say)
        if action.hangup:
            return Goodbye(self._flush(*self.ivr.sounds["goodbye"]))
        if action.next is not None:
            self.history.append((self.node, self.choices))
            self.node, self.choices, self.failures = self.ivr.nodes[action.next], chosen, 0
            return self._listen()
        self.choices = chosen
        if action.callback:
            return self._ask_callback(chosen)
        return self._open_route(chosen)

    def _to_agent(self) -> Step:
        queue = self.node.agent or self.choices.queue or self.ivr.agent_queue
        return self._open_route(dataclasses.replace(self.choices, queue=queue))

    def _failed(self, why: str) -> Step:
        self.failures += 1
        if self.failures <= self.ivr.retries:
            self._pending.extend(self.ivr.sounds[why])
            return self._listen()
        self._pending.extend(self.ivr.sounds[why])
        if self.ivr.on_failure == "agent":
            return self._to_agent()
        return Goodbye(self._flush(*self.ivr.sounds["goodbye"]))

    def _open_route(self, choices: Choices, *, redirected: bool = False) -> Step:
        """Route to the chosen queue if it is open now, else take its out-of-hours exit."""
        assert choices.queue is not None  # the config loader proved every exit has one
        if self.is_open(choices.queue):
            return self._route(choices, self.ivr.sounds.get("transfer", ()))
        closed = self.ivr.closed_exit(choices.queue)
        self._pending.extend(closed.prompt)
        if closed.exit == "queue" and closed.target is not None and not redirected:
            return self._open_route(dataclasses.replace(choices, queue=closed.target), redirected=True)
        if closed.exit == "callback":
            return self._ask_callback(choices)
        return Goodbye(self._flush(*self.ivr.sounds["goodbye"]))

    def _ask_callback(self, choices: Choices) -> Step:
        self._callback_for, self.failures = choices, 0
        settings = self.ivr.callback
        return AskNumber(self._flush(*settings.prompt), settings.max_digits, self.ivr.timeout)

    def is_open(self, queue_name: str) -> bool:
        """Whether the queue takes callers now (its schedule, holidays; 24/7 queues always)."""
        queue = self.config.queues[queue_name]
        if queue.always_open:
            return True
        at = local_time(self.now(), self.config.daemon.timezone)
        return is_open(self.config.schedules[queue.schedule], self.config.holidays, at)

    def _route(self, choices: Choices, prompts: tuple[str, ...], callback: str | None = None) -> Route:
        assert choices.queue is not None
        language = choices.language or self.config.default_language
        caller_type = choices.caller_type or CITIZEN
        requirements = caller_skills(choices.skills, language, caller_type, self.config.skills)
        queue = self.config.queues[choices.queue]
        priority = queue.priority if choices.priority is None else choices.priority
        return Route(self._flush(*prompts), choices.queue, requirements, priority, language, caller_type, callback)

    def _listen(self) -> Listen:
        prompts = [*self.node.prompt]
        if self.node.type == "info":
            prompts.extend(self.ivr.sounds["info_options"])
        return Listen(self._flush(*prompts), self.ivr.timeout)

    def _flush(self, *prompts: str) -> tuple[str, ...]:
        """The messages waiting to be said (invalid, closed...) followed by ``prompts``."""
        result = (*self._pending, *prompts)
        self._pending.clear()
        return result
