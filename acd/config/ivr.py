"""The ``ivr`` section: the citizens' menu tree, checked when the file loads.

Why everything is checked here and not when a caller walks the tree: a node that names
a missing node, prompt or queue would otherwise surface as silence on a live call, at
night, on the one path nobody tested. Every reference is resolved at load time and a
mistake is a ``ConfigError`` naming file and line, so a bad file is refused before it
replaces the running one.

Shape (see examples/1555.yaml)::

    ivr:
      entry: language            # the first node
      timeout: 5                 # seconds to wait for a key after a prompt
      retries: 3                 # invalid or missing input, then on_failure
      on_failure: agent          # agent | goodbye
      agent_queue: pensions      # where 0 goes before a topic is chosen
      prompts_dir: acd           # where Asterisk finds <lang>/<prompt>.wav
      sounds: {invalid: .., no_input: .., goodbye: .., info_options: .., transfer: ..}
      closed: {prompt: closed, exit: callback}      # outside hours, unless routes say
      routes: {labour: {closed: {prompt: .., exit: "queue:pensions"}}}
      callback: {prompt: .., confirm: .., min_digits: 10, max_digits: 14, dial: "PJSIP/{number}@trunk"}
      survey: {prompt: .., thanks: ..}              # optional post-call question
      degraded: {prompt: .., keys: {"9": violence}, timeout: 5}   # optional, see DegradedChoice
      nodes:
        language: {type: menu, prompt: [welcome, choose_language], default: "1",
                   options: {"1": {language: el, next: topic}, "2": {language: en, next: topic}}}

An option's action sets what the caller chose (``language``, ``caller_type``,
``queue``, ``priority``, ``skills``), may play a prompt (``say``), asks for a callback
number (``callback: true``), ends politely (``hangup: true``), and either goes on to
``next`` node or, without ``next``, routes the caller to the chosen queue. A prompt
reference is an id from ``prompts:``, or ``id@lang`` to play it in one language
whatever the caller chose (the language menu speaks both).
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from acd.call_contract import CALLER_TYPES
from acd.config.errors import ConfigError
from acd.config.located import Fields, Located

NODE_TYPES = ("menu", "info")
FAILURE_EXITS = ("agent", "goodbye")
KEYS = "0123456789*#"
#: the keys every node understands unless an option takes them: back, agent, repeat
BACK, AGENT, REPEAT = "*", "0", "#"
#: ``callback_failed``: said when a callback could not be stored (the caller stays in line)
SOUND_NAMES = ("invalid", "no_input", "goodbye", "info_options", "transfer", "callback_failed")
_NODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
#: the callback leg's dial string when the file gives none. A module constant, because a
#: slotted dataclass's class attribute is its slot descriptor, not its default.
DEFAULT_CALLBACK_DIAL = "PJSIP/{number}@citizens"
_DIAL = re.compile(r"^[A-Za-z0-9_/@.:${}-]*\{number\}[A-Za-z0-9_/@.:${}-]*$")


@dataclass(frozen=True, slots=True)
class Action:
    """What pressing one key does (see the module docstring)."""

    next: str | None = None
    queue: str | None = None
    language: str | None = None
    caller_type: str | None = None
    priority: int | None = None
    skills: Mapping[str, int] = field(default_factory=dict)
    say: tuple[str, ...] = ()
    callback: bool = False
    hangup: bool = False
    line: int = 0


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    type: str
    prompt: tuple[str, ...]
    options: Mapping[str, Action]
    #: the key taken when the caller presses nothing (the language menu's Greek)
    default: str | None = None
    #: where ``0`` goes from this node (else the chosen queue, else ``agent_queue``)
    agent: str | None = None
    line: int = 0


@dataclass(frozen=True, slots=True)
class ClosedExit:
    """Outside a route's hours: play ``prompt``, then ``exit``: ``callback``, ``goodbye``
    or ``queue`` (another line, ``target``)."""

    prompt: tuple[str, ...]
    exit: str = "goodbye"
    target: str | None = None


@dataclass(frozen=True, slots=True)
class CallbackSettings:
    prompt: tuple[str, ...] = ()
    confirm: tuple[str, ...] = ()
    min_digits: int = 8
    max_digits: int = 15
    #: the dial string of the callback leg to the citizen, ``{number}`` replaced
    dial: str = DEFAULT_CALLBACK_DIAL


@dataclass(frozen=True, slots=True)
class SurveySettings:
    prompt: tuple[str, ...]
    thanks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DegradedChoice:
    """The one question of the degraded path (no daemon answers FastAGI, so Asterisk
    asks it itself, see dialplan.generate): ``prompt``, then ``timeout`` seconds for a
    key; ``keys`` maps a key to a 24/7 queue (``always_open``), whose callers then go to
    that queue's own app_queue queue instead of the one holding every agent.

    Every 24/7 queue has a key: the file's ``keys``, else the key the IVR tree routes
    to that queue by (the first found from the entry node), so the emergency line keeps
    the number callers already know."""

    prompt: tuple[str, ...]
    keys: Mapping[str, str]
    timeout: float = 5.0


@dataclass(frozen=True, slots=True)
class IvrConfig:
    entry: str
    nodes: Mapping[str, Node]
    agent_queue: str
    sounds: Mapping[str, tuple[str, ...]]
    closed: ClosedExit
    routes_closed: Mapping[str, ClosedExit] = field(default_factory=dict)
    timeout: float = 5.0
    retries: int = 3
    on_failure: str = "agent"
    prompts_dir: str = "acd"
    callback: CallbackSettings = CallbackSettings()
    survey: SurveySettings | None = None
    degraded: DegradedChoice | None = None

    def closed_exit(self, queue: str) -> ClosedExit:
        return self.routes_closed.get(queue, self.closed)


_TOP_KEYS = ("entry", "timeout", "retries", "on_failure", "agent_queue", "prompts_dir", "sounds", "closed",
             "routes", "callback", "survey", "degraded", "nodes")
_ACTION_KEYS = ("next", "queue", "language", "caller_type", "priority", "skills", "say", "callback", "hangup")


class _Parser:
    """Reads the section with the already-validated rest of the file at hand."""

    def __init__(self, partial: Mapping[str, Any]) -> None:
        self.languages: tuple[str, ...] = partial["languages"]
        self.skills: Mapping[str, str] = partial["skills"]
        self.queues: Mapping[str, Any] = partial["queues"]
        self.prompts: Mapping[str, Any] = partial["prompts"]

    def prompt_list(self, node: Located) -> tuple[str, ...]:
        """One prompt reference or a list of them, each checked against ``prompts:``."""
        refs = list(node.elements()) if node.is_sequence() else [node]
        result = []
        for ref in refs:
            text = ref.as_str()
            prompt_id, _, language = text.partition("@")
            if prompt_id not in self.prompts:
                import difflib

                hint = difflib.get_close_matches(prompt_id, list(self.prompts), n=1)
                more = f"; did you mean {hint[0]!r}?" if hint else "; add its text under 'prompts'"
                raise ref.error(f"unknown prompt {prompt_id!r}{more}")
            if language and language not in self.languages:
                raise ref.error(f"{text!r}: {language!r} is not one of the service's languages")
            result.append(text)
        if not result:
            raise node.error("an empty prompt list")
        return tuple(result)

    def queue(self, node: Located) -> str:
        name = node.as_str()
        if name not in self.queues:
            raise node.error(f"unknown queue {name!r}; declare it under 'queues'")
        return name

    def action(self, node: Located) -> Action:
        if not node.is_mapping():
            return Action(next=node.as_str(), line=node.line)
        f = Fields(node, _ACTION_KEYS)
        skills: dict[str, int] = {}
        if (s := f.get("skills")) is not None:
            for name, level in s.items():
                if name not in self.skills:
                    raise level.error(f"unknown skill {name!r}")
                skills[name] = level.as_int(minimum=1, maximum=10)
        language = f.get("language")
        if language is not None and language.as_str() not in self.languages:
            raise language.error(f"{language.as_str()!r} is not one of the service's languages {self.languages}")
        action = Action(
            next=f.str("next", None),
            queue=self.queue(q) if (q := f.get("queue")) is not None else None,
            language=language.as_str() if language is not None else None,
            caller_type=f.choice("caller_type", CALLER_TYPES, None),
            priority=f.int("priority", None, minimum=-100, maximum=100),
            skills=skills,
            say=self.prompt_list(p) if (p := f.get("say")) is not None else (),
            callback=f.bool("callback", False),
            hangup=f.bool("hangup", False),
            line=node.line,
        )
        if action.hangup and (action.next or action.callback or action.queue):
            raise node.error("'hangup: true' ends the call; it cannot also go on (next, queue, callback)")
        return action

    def node(self, node_id: str, node: Located) -> Node:
        if not _NODE_ID.match(node_id):
            raise node.error(f"node id {node_id!r} must be letters, digits, '-' or '_'")
        f = Fields(node, ("type", "prompt", "options", "default", "agent"))
        kind = f.choice("type", NODE_TYPES, "menu")
        options: dict[str, Action] = {}
        if (o := f.get("options")) is not None:
            for key, value in o.items():
                if len(key) != 1 or key not in KEYS:
                    raise value.error(f"option key {key!r} must be one key of the phone: {KEYS}")
                options[key] = self.action(value)
        if kind == "menu" and not options:
            raise node.error("a menu needs 'options' (key: action)")
        default = f.str("default", None)
        if default is not None and default not in options:
            raise f.require("default").error(f"default key {default!r} is not one of the options")
        return Node(id=node_id, type=kind, prompt=self.prompt_list(f.require("prompt")), options=options,
                    default=default, agent=self.queue(a) if (a := f.get("agent")) is not None else None,
                    line=node.line)

    def closed(self, node: Located) -> ClosedExit:
        f = Fields(node, ("prompt", "exit"))
        text = f.str("exit", "goodbye")
        kind, _, target = text.partition(":")
        if kind not in ("callback", "goodbye", "queue") or (kind == "queue") != bool(target):
            raise f.require("exit").error(f"{text!r} is not an exit: use callback, goodbye or queue:<name>")
        if target and target not in self.queues:
            raise f.require("exit").error(f"unknown queue {target!r}")
        return ClosedExit(self.prompt_list(f.require("prompt")), kind, target or None)


def parse_ivr(node: Located, partial: Mapping[str, Any]) -> IvrConfig:
    """The ``ivr`` section's parser, registered with the loader."""
    p = _Parser(partial)
    f = Fields(node, _TOP_KEYS)
    nodes_node = f.require("nodes")
    nodes = {node_id: p.node(node_id, value) for node_id, value in nodes_node.items()}
    if not nodes:
        raise nodes_node.error("no nodes")
    sounds_node = f.require("sounds")
    sounds = {name: p.prompt_list(value) for name, value in sounds_node.mapping(SOUND_NAMES).items()}
    for needed in ("invalid", "no_input", "goodbye"):
        if needed not in sounds:
            raise sounds_node.error(f"missing required sound {needed!r}")
    if any(n.type == "info" for n in nodes.values()) and "info_options" not in sounds:
        raise sounds_node.error("info nodes need the 'info_options' sound (# repeat, * back, 0 agent)")
    routes: dict[str, ClosedExit] = {}
    if (r := f.get("routes")) is not None:
        for queue_name, value in r.items():
            if queue_name not in p.queues:
                raise value.error(f"unknown queue {queue_name!r}")
            routes[queue_name] = p.closed(Fields(value, ("closed",)).require("closed"))
    config = IvrConfig(
        entry=f.str("entry"),
        nodes=nodes,
        agent_queue=p.queue(f.require("agent_queue")),
        sounds=sounds,
        closed=p.closed(f.require("closed")),
        routes_closed=routes,
        timeout=f.float("timeout", 5.0, minimum=0.5, maximum=60),
        retries=f.int("retries", 3, minimum=1, maximum=10),
        on_failure=f.choice("on_failure", FAILURE_EXITS, "agent"),
        prompts_dir=f.str("prompts_dir", "acd"),
        callback=_callback(p, f.get("callback")),
        survey=_survey(p, f.get("survey")),
    )
    if config.entry not in nodes:
        raise f.require("entry").error(f"entry node {config.entry!r} is not under 'nodes'")
    _check_paths(config, nodes_node)
    if (d := f.get("degraded")) is not None:
        config = dataclasses.replace(config, degraded=_degraded(p, d, config))
    return config


def _callback(p: _Parser, node: Located | None) -> CallbackSettings:
    if node is None:
        return CallbackSettings()
    f = Fields(node, ("prompt", "confirm", "min_digits", "max_digits", "dial"))
    settings = CallbackSettings(
        prompt=p.prompt_list(f.require("prompt")),
        confirm=p.prompt_list(c) if (c := f.get("confirm")) is not None else (),
        min_digits=f.int("min_digits", 8, minimum=3, maximum=20),
        max_digits=f.int("max_digits", 15, minimum=3, maximum=20),
        dial=f.str("dial", DEFAULT_CALLBACK_DIAL),
    )
    if settings.max_digits < settings.min_digits:
        raise node.error("max_digits is below min_digits")
    if not _DIAL.match(settings.dial):
        raise f.require("dial").error(f"{settings.dial!r} must be a dial string holding {{number}}, "
                                      "like 'PJSIP/{number}@trunk'")
    return settings


def _survey(p: _Parser, node: Located | None) -> SurveySettings | None:
    if node is None:
        return None
    f = Fields(node, ("prompt", "thanks"))
    return SurveySettings(p.prompt_list(f.require("prompt")),
                          p.prompt_list(t) if (t := f.get("thanks")) is not None else ())


def _degraded(p: _Parser, node: Located, ivr: IvrConfig) -> DegradedChoice:
    f = Fields(node, ("prompt", "keys", "timeout"))
    always_open = [name for name, queue in p.queues.items() if queue.always_open]
    if not always_open:
        raise node.error("the degraded path's choice offers the 24/7 queues (always_open: true); there are none")
    keys: dict[str, str] = {}
    if (k := f.get("keys")) is not None:
        for key, value in k.items():
            if len(key) != 1 or key not in KEYS:
                raise value.error(f"key {key!r} must be one key of the phone: {KEYS}")
            queue = p.queue(value)
            if queue not in always_open:
                raise value.error(f"queue {queue!r} is not a 24/7 queue (always_open: true); the degraded "
                                  "path's own queues are only for those")
            if queue in keys.values():
                raise value.error(f"queue {queue!r} has two keys")
            keys[key] = queue
    from_ivr = _keys_to_queues(ivr)
    for queue in always_open:
        if queue in keys.values():
            continue
        ivr_key = from_ivr.get(queue)
        if ivr_key is None:
            raise node.error(f"the IVR routes to the 24/7 queue {queue!r} by no key: give its key here, "
                             f"like 'keys: {{\"9\": {queue}}}'")
        if ivr_key in keys:
            raise node.error(f"key {ivr_key!r} (the IVR's for {queue!r}) is taken by {keys[ivr_key]!r}; give 'keys'")
        keys[ivr_key] = queue
    return DegradedChoice(prompt=p.prompt_list(f.require("prompt")), keys=keys,
                          timeout=f.float("timeout", ivr.timeout, minimum=0.5, maximum=60))


def _keys_to_queues(ivr: IvrConfig) -> dict[str, str]:
    """queue -> the first key (breadth first from the entry node) whose option chooses it."""
    found: dict[str, str] = {}
    order, seen = [ivr.entry], {ivr.entry}
    for node_id in order:
        for key, action in ivr.nodes[node_id].options.items():
            if action.queue is not None:
                found.setdefault(action.queue, key)
            if action.next is not None and action.next not in seen:
                seen.add(action.next)
                order.append(action.next)
    return found


def _check_paths(config: IvrConfig, where: Located) -> None:
    """Every ``next`` names a node; every way out of the tree knows its queue; callback
    requests are configured; every node can be reached."""
    for node in config.nodes.values():
        for key, action in node.options.items():
            if action.next is not None and action.next not in config.nodes:
                raise _error(where, action.line, f"node {node.id!r} key {key!r}: unknown next node {action.next!r}")
            if action.callback and not config.callback.prompt:
                raise _error(where, action.line, "a callback option needs the 'callback' settings (prompt)")
    if config.closed.exit == "callback" or any(c.exit == "callback" for c in config.routes_closed.values()):
        if not config.callback.prompt:
            raise where.error("an out-of-hours 'callback' exit needs the 'callback' settings (prompt)")
    # Walk the tree remembering whether a queue was chosen on the way (the only state
    # that decides whether an exit is complete); a node is visited at most twice.
    seen: set[tuple[str, bool]] = set()
    todo = [(config.entry, False)]
    while todo:
        node_id, has_queue = todo.pop()
        if (node_id, has_queue) in seen:
            continue
        seen.add((node_id, has_queue))
        node = config.nodes[node_id]
        for key, action in node.options.items():
            chosen = has_queue or action.queue is not None
            if action.next is not None:
                todo.append((action.next, chosen))
            elif not action.hangup and not chosen:
                raise _error(where, action.line, f"node {node_id!r} key {key!r} routes the caller but no queue was "
                                                 "chosen on the way: add 'queue' or 'next'")
    unreachable = sorted(set(config.nodes) - {n for n, _ in seen})
    if unreachable:
        raise _error(where, config.nodes[unreachable[0]].line, f"node {unreachable[0]!r} is never reached from "
                                                               f"the entry {config.entry!r}")


def _error(where: Located, line: int, reason: str) -> ConfigError:
    return ConfigError(f"ivr.nodes: {reason}", where.file, line)
