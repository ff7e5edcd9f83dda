"""The Asterisk side of the config: dialplan, agents' PJSIP endpoints and the degraded
app_queue queue, written as the ``*_generated.conf`` files the base config includes.

Why generated: the queues, agents, IVR entry and prompts already live in the one
config file; writing them again by hand into Asterisk's files is how the two drift
apart. The generator reads the validated config and nothing else (never the daemon).

The call's path, and the fallbacks that keep "no caller is left in silence" true:

- ``acd-inbound``: the service number answers, runs the ``ivr`` FastAGI handler and
  goes on by ``ACD_IVR_RESULT``: ``queue`` to the waiting room, ``goodbye`` hangs up,
  anything else (no daemon answered, the IVR crashed) to ``acd-fallback``. One
  extension per queue (``q-<queue>``) skips the IVR, for tests and transfers.
- ``acd-waiting``: the ``wait`` handler holds the caller until an agent answers. It
  always leaves ``ACD_WAIT_RESULT`` set; empty means the daemon went away mid-call,
  so the channel loops back into ``wait`` (the next daemon re-queues it at its
  original place from the ACD_* variables) and after ``wait_retries`` seconds without
  any daemon it takes the fallback; but a caller whose Dial was answered
  (``DIALSTATUS=ANSWER``: the agent hung up while no daemon listened) is done, never
  queued again. After the agent hangs up: the ``survey``.
- ``acd-exit``: the queue's ``on_max_wait`` (``ACD_EXIT``): callback, other queue,
  ticket (the daemon's call records open the ticket from the engine's exit decision;
  the caller hears that it is recorded), goodbye (voicemail plays the goodbye:
  app_voicemail is not loaded).
- ``acd-fallback``: the degraded path. Its app_queue queues are named as the config's
  queues wherever the caller's topic is known, so the queue_log (one file, app_queue's
  lines beside the daemon's: docs/records.md) names the queue the same whichever path
  took the call:

  - a caller who presses a 24/7 line's key (the emergency line: queues with
    ``always_open``) in the one question Asterisk itself asks (the IVR's ``degraded``
    settings), or who had chosen that line in the IVR already, goes through context
    ``acd-fallback-<queue>`` to app_queue queue ``<queue>``: only the agents who qualify
    for it (the engine's own ``qualifies``), weighted above the rest;
  - a caller whose topic is known already (``ACD_QUEUE``: the IVR ran, then the daemon
    went away) goes to app_queue queue ``<queue>``: every agent, the qualified ones
    first (penalties, ``queues``), so callers are still answered;
  - a caller of unknown topic (the IVR itself failed, and no 24/7 key was pressed) goes
    to app_queue queue ``acd-fallback``, every agent's phone: here nobody knows the
    topic, so no config queue's name would be true, and the queue_log says so.

  No step looks at the clock, so the 24/7 line is open on this path at night and on
  holidays too. Who is working (logged in, not paused) reaches app_queue as a device
  state, never as app_queue's pause flag: ``fallback_device``.
- ``acd-agents``: the agents' feature codes (``agent`` handler), escalation to the
  back office among them; ``acd-supervisors``: nothing (the supervisors' phones are
  only rung, never dial); ``acd-callback``: the
  leg to the citizen when a callback is placed (``acd.daemon.callbacks``), whose answer
  ``acd-callback-answered`` notes in AstDB.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from acd import call_contract as c
from acd.call_contract import FALLBACK_QUEUE, reentry_resets
from acd.config.ivr import DegradedChoice
from acd.config.model import AgentConfig, Config, QueueConfig
from acd.config.access import SUPERVISORS_CONTEXT, access_of, supervisor_secret_key
from acd.config.telephony import (
    DEFAULT_CODECS,
    DEFAULT_PHONE_DTMF_MODE,
    DEFAULT_TRUNK,
    DEFAULT_TRUNK_DTMF_MODE,
    Phones,
    Trunk,
    phones_of,
    trunks_of,
)
from acd.config.model import member_name
from acd.engine.lines import qualifies
from acd.engine.strategies import strategy_of

#: the agents' feature codes: login, logout, pause (+ the reason's number), unpause, and
#: escalate the current (or just ended) call to the back office (+ a unit's number)
FEATURE_CODES: Mapping[str, str] = {"login": "*11", "logout": "*12", "pause": "*13", "unpause": "*14",
                                    "escalate": "*15"}
#: the codes that take a trailing digit: the pause reason's, the back-office unit's number
_WITH_NUMBER = ("pause", "escalate")
#: context of each agent's hint (the member's state in every degraded-path queue)
STATES_CONTEXT = "acd-agent-states"
#: penalties of a topic queue's members: who qualifies, who does not, and the 24/7
#: lines' reserved agents, rung last (app_queue rings a higher penalty only when no
#: lower one is free: ``calc_metric`` in apps/app_queue.c)
QUALIFIED, UNQUALIFIED, RESERVED = 0, 1, 2
#: seconds a caller handed over by a stopping daemon tries the FastAGI again (a standby,
#: or the daemon restarting) before the fallback queue
HANDOVER_RETRIES = 2
FILES = ("extensions_generated.conf", "pjsip_generated.conf", "queues_generated.conf")
_HOST = re.compile(r"^[A-Za-z0-9.:_-]+$")
#: res_pjsip ``dtmf_mode`` of the citizens' trunk: RFC 4733 when negotiated, else in-band
TRUNK_DTMF_MODE = DEFAULT_TRUNK_DTMF_MODE
#: res_pjsip ``dtmf_mode`` of the agents' phones: RFC 4733, what softphones send
AGENT_DTMF_MODE = DEFAULT_PHONE_DTMF_MODE
#: codec order of every endpoint by default: G.711 A-law (Europe's) first, u-law second
CODECS = ",".join(DEFAULT_CODECS)


class GenerateError(ValueError):
    """Options the generator cannot turn into a working Asterisk config."""


@dataclass(frozen=True, slots=True)
class Options:
    """What differs between production and the sandbox; the config gives the rest."""

    agi_host: str | None = None
    agi_port: int | None = None
    #: the number citizens dial (default: the service name when it is digits)
    service_number: str | None = None
    #: overrides ``ivr.prompts_dir`` (where Asterisk finds ``<lang>/<prompt>``)
    prompts_dir: str | None = None
    #: seconds a caller loops waiting for a daemon before taking the fallback
    wait_retries: int = 10
    #: ``host:port`` of the agents' phones as static contacts (the sandbox's sipp);
    #: None: the phones register (with ``secrets``)
    agents_at: str | None = None
    #: agent id -> SIP password, for phones that register
    secrets: Mapping[str, str] = field(default_factory=dict)
    #: overrides every trunk's ``match`` (comma-separated addresses; the sandbox's
    #: 127.0.0.1); a config without ``trunks:`` gets one trunk matching this or 127.0.0.1
    trunk_match: str | None = None
    #: seconds between OPTIONS pings to each registered phone (0: none). A softphone that
    #: vanishes without un-registering then shows Unreachable (ContactStatus) within
    #: this plus ``qualify_timeout`` (3 s), not when its registration expires (up to an
    #: hour), and the daemon stops offering it calls. res_pjsip's default is 0.
    qualify_frequency: int = 0
    #: phones behind NAT: answer them where their packets come from (``rewrite_contact``,
    #: ``force_rport``) and send media back where it comes from (``rtp_symmetric``)
    nat: bool = False
    #: ``host:port`` of a second daemon's FastAGI (two daemons, ``daemon.lease``): when the
    #: first answers no result (down, a standby, stopping) the caller tries it at once
    standby_agi: str | None = None

    def check(self) -> None:
        if self.agi_port is not None and not 0 < self.agi_port < 65536:
            raise GenerateError(f"AGI port {self.agi_port} is not a TCP port")
        if self.agi_host is not None and not _HOST.match(self.agi_host):
            raise GenerateError(f"AGI host {self.agi_host!r} is not a host name or address")
        if self.service_number is not None and not re.match(r"^[0-9A-Za-z+]+$", self.service_number):
            raise GenerateError(f"service number {self.service_number!r} is not dialable")
        if self.agents_at is not None and not re.match(r"^[A-Za-z0-9.-]+:[0-9]{1,5}$", self.agents_at):
            raise GenerateError(f"agents_at {self.agents_at!r} must be host:port")
        if self.standby_agi is not None and not re.match(r"^[A-Za-z0-9.-]+:[0-9]{1,5}$", self.standby_agi):
            raise GenerateError(f"standby_agi {self.standby_agi!r} must be host:port")
        if not 0 <= self.qualify_frequency <= 86400:
            raise GenerateError(f"qualify frequency {self.qualify_frequency} must be 0 to 86400 seconds")
        if self.trunk_match is not None and not all(_HOST.match(part.replace("/", "")) and part
                                                    for part in self.trunk_match.split(",")):
            raise GenerateError(f"trunk match {self.trunk_match!r} must be addresses, CIDR ranges or hosts, "
                                "comma-separated")
        if not 1 <= self.wait_retries <= 3600:
            raise GenerateError(f"wait_retries {self.wait_retries} must be 1 to 3600 seconds")


def _agi(config: Config, options: Options, handler: str, *args: str) -> str:
    host = options.agi_host or config.daemon.agi_host
    port = options.agi_port or config.daemon.agi_port
    return "AGI(" + ",".join((f"agi://{host}:{port}/{handler}", *args)) + ")"


def _prompts_dir(config: Config, options: Options) -> str:
    if options.prompts_dir:
        return options.prompts_dir.rstrip("/")
    return config.ivr.prompts_dir.rstrip("/") if config.ivr is not None else "acd"


def _prompt_files(config: Config, options: Options, refs: tuple[str, ...]) -> str:
    """Prompt references (``id`` in the caller's language, ``id@lang`` in that one) as
    one ``&``-joined file list for Background()."""
    files = []
    for ref in refs:
        prompt, _, language = ref.partition("@")
        files.append(f"{_prompts_dir(config, options)}/{language or '${' + c.LANG + '}'}/{prompt}")
    return "&".join(files)


def _sound(config: Config, options: Options, prompt: str, fallback: str) -> str:
    """A config prompt in the caller's language, or one of Asterisk's own sounds when
    the config has no such prompt (a config without IVR still hears something)."""
    if prompt in config.prompts:
        return f"{_prompts_dir(config, options)}/${{{c.LANG}}}/{prompt}"
    return fallback


@dataclass(frozen=True, slots=True)
class EmergencyLine:
    """A 24/7 queue (``always_open``: the emergency line) on the degraded path: its own
    dialplan context and its own app_queue queue, named as the queue and holding only
    the agents who qualify for it."""

    queue: QueueConfig
    #: the dialplan context: ``acd-fallback-<queue>``
    context: str
    members: tuple[AgentConfig, ...]
    #: app_queue ``weight``: above the all-agents queue's 0, ordered among the 24/7 lines
    #: as the engine orders their callers
    weight: int
    #: the key that reaches it from the degraded path's question (None: no question)
    key: str | None


def degraded_choice(config: Config) -> DegradedChoice | None:
    """The IVR's ``degraded`` settings (prompt, keys, timeout), if the config has them."""
    choice = config.ivr.degraded if config.ivr is not None else None
    return choice if isinstance(choice, DegradedChoice) else None


def emergency_lines(config: Config) -> list[EmergencyLine]:
    """One ``EmergencyLine`` per 24/7 queue of the config, in the config's order.

    Members: the agents who meet the queue's own requirements by the engine's rule
    (``acd.engine.lines.qualifies``), so who may take an emergency call is decided in
    one place. Without a daemon nobody knows the caller's language, so the IVR's
    additions (``lang:*``) do not narrow it further.

    Weight: app_queue's ``weight`` only orders queues that share a member (a member of
    a queue with a higher weight whose callers outnumber its available members is left
    to that queue: ``compare_weight`` in apps/app_queue.c). The engine's score of a
    caller is ``weight x (wait + priority x priority_seconds)``; for callers who just
    arrived that orders queues by ``weight x priority``, then by ``weight``, and that
    order (1, 2, ...) becomes the app_queue weight, above the all-agents queue's 0.
    """
    choice = degraded_choice(config)
    keys = {queue: key for key, queue in choice.keys.items()} if choice is not None else {}
    always_open = [queue for queue in config.queues.values() if queue.always_open]
    ranks = sorted({_rank(queue) for queue in always_open})
    lines = []
    for queue in always_open:
        members = tuple(agent for agent in config.agents.values() if qualifies(agent.skills, queue.requirements))
        if not members:
            raise GenerateError(f"no agent qualifies for the 24/7 queue {queue.name!r} "
                                f"({_requirements(queue)}): its degraded-path queue would ring nobody")
        lines.append(EmergencyLine(queue, f"{FALLBACK_QUEUE}-{queue.name}", members,
                                   1 + ranks.index(_rank(queue)), keys.get(queue.name)))
    return lines


def _rank(queue: QueueConfig) -> tuple[float, float]:
    return (queue.weight * queue.priority, queue.weight)


def _requirements(queue: QueueConfig) -> str:
    return ", ".join(f"{skill} >= {level}" for skill, level in queue.requirements.items()) or "none"


def service_number(config: Config, options: Options) -> str:
    if options.service_number:
        return options.service_number
    if config.service_name.isdigit():
        return config.service_name
    raise GenerateError(f"service name {config.service_name!r} is not a number: give --service-number")


def extensions(config: Config, options: Options = Options()) -> str:
    """``extensions_generated.conf``."""
    options.check()
    goodbye = _sound(config, options, "goodbye", "vm-goodbye")
    lines = [f"; Generated by `python -m dialplan` from {config.source}: edit the config, not this file.", ""]
    lines += ["[acd-inbound]", f"exten => {service_number(config, options)},1,Answer()",
              f" same => n,Set({c.CALLID}=${{UNIQUEID}})",
              f" same => n,Set({c.LANG}={config.default_language})"]
    if config.ivr is not None:
        lines += [f" same => n,{_agi(config, options, 'ivr')}",
                  f' same => n,GotoIf($["${{{c.IVR_RESULT}}}" = "{c.IVR_QUEUE}"]?{c.WAITING_CONTEXT},s,1)',
                  f' same => n,GotoIf($["${{{c.IVR_RESULT}}}" = "{c.IVR_GOODBYE}"]?bye)',
                  ' same => n,Log(WARNING,ACD IVR did not finish for ${CHANNEL} (AGISTATUS=${AGISTATUS}))',
                  f" same => n,Goto({FALLBACK_QUEUE},s,1)",
                  " same => n(bye),Hangup()"]
    else:
        first = next(iter(config.queues))
        lines += [f" same => n,Set({c.QUEUE}={first})", f" same => n,Goto({c.WAITING_CONTEXT},s,1)"]
    lines += _dids(config, options)
    for name in config.queues:
        lines += [f"exten => q-{name},1,Set({c.CALLID}=${{UNIQUEID}})", f" same => n,Set({c.QUEUE}={name})",
                  f" same => n,Set({c.LANG}={config.default_language})", f" same => n,Goto({c.WAITING_CONTEXT},s,1)"]
    handover_tries = max(0, options.wait_retries - HANDOVER_RETRIES)
    second = []
    if options.standby_agi:     # the other daemon, when this one queued nobody (a result is final)
        second = [f' same => n,GotoIf($["${{{c.WAIT_RESULT}}}" != "" & "${{{c.WAIT_RESULT}}}" != "{c.WAIT_HANDOVER}"]?result)',
                  ' same => n,GotoIf($["${DIALSTATUS}" = "ANSWER"]?answered)',
                  f" same => n,AGI(agi://{options.standby_agi}/{c.WAIT_HANDLER})"]
    lines += ["", f"[{c.WAITING_CONTEXT}]", f"exten => s,1,Set({c.TRIES}=0)",
              # the caller's place in line if no daemon answers at once (ms, main/stdtime %q)
              f" same => n,Set({c.ARRIVED}=${{STRFTIME(,,%s.%q)}})",
              f" same => n(wait),{_agi(config, options, c.WAIT_HANDLER)}",
              *second,
              f' same => n(result),GotoIf($["${{{c.WAIT_RESULT}}}" = "{c.WAIT_ANSWERED}"]?answered)',
              f' same => n,GotoIf($["${{{c.WAIT_RESULT}}}" = "{c.WAIT_EXIT}"]?exit)',
              f' same => n,GotoIf($["${{{c.WAIT_RESULT}}}" = "{c.WAIT_ERROR}"]?{FALLBACK_QUEUE},s,1)',
              # no daemon answered (empty result): an agent who answered ends the call, never
              # a second queue (app_dial sets DIALSTATUS=ANSWER once its Dial was answered)
              ' same => n,GotoIf($["${DIALSTATUS}" = "ANSWER"]?answered)',
              f' same => n,GotoIf($["${{{c.WAIT_RESULT}}}" = "{c.WAIT_HANDOVER}"]?handover)',
              f" same => n(retry),Set({c.TRIES}=$[${{{c.TRIES}}} + 1])",
              f" same => n,GotoIf($[${{{c.TRIES}}} > {options.wait_retries}]?{FALLBACK_QUEUE},s,1)",
              # music, not silence, while no daemon answers (it plays on through Wait)
              " same => n,StartMusicOnHold()",
              " same => n,Wait(1)",
              " same => n,Goto(wait)",
              # a stopping daemon let the caller go: at once to the next daemon, and to
              # the fallback after HANDOVER_RETRIES seconds without one (handed over
              # again by the same stopping daemon: once a second, like a crash)
              f" same => n(handover),Set({c.WAIT_RESULT}=)",
              f" same => n,GotoIf($[${{{c.TRIES}}} >= {handover_tries}]?retry)",
              f" same => n,Set({c.TRIES}={handover_tries})",
              " same => n,Goto(wait)",
              f" same => n(exit),GotoIf(${{DIALPLAN_EXISTS(acd-exit,${{{c.EXIT}}},1)}}?acd-exit,${{{c.EXIT}}},1)",
              " same => n,Goto(acd-exit,goodbye,1)"]
    if config.ivr is not None and config.ivr.survey is not None:
        lines += [f" same => n(answered),{_agi(config, options, 'survey')}",
                  f' same => n,ExecIf($["${{{c.SATISFACTION}}}" != ""]?UserEvent(ACDSatisfaction,'
                  f'CallID: ${{{c.CALLID}}},Score: ${{{c.SATISFACTION}}}))',
                  " same => n,Hangup()"]
    else:
        lines += [" same => n(answered),Hangup()"]
    ticket = _sound(config, options, "ticket_recorded", "auth-thankyou")
    lines += ["", "[acd-exit]"]
    if config.ivr is not None and config.ivr.callback.prompt:
        lines += [f'exten => callback,1,GotoIf($["${{{c.CALLBACK}}}" != ""]?goodbye,1)',
                  *(f" same => n,Set({name}=)" for name in reentry_resets("callback")),
                  f" same => n,{_agi(config, options, 'ivr', 'callback')}",
                  f' same => n,GotoIf($["${{{c.IVR_RESULT}}}" = "{c.IVR_QUEUE}"]?{c.WAITING_CONTEXT},s,1)',
                  " same => n,Goto(goodbye,1)"]
    else:
        lines += ["exten => callback,1,Goto(goodbye,1)"]
    lines += [f"exten => queue,1,Set({c.QUEUE}=${{{c.EXIT_TARGET}}})",
              *(f" same => n,Set({name}=)" for name in reentry_resets("queue")),
              f" same => n,Goto({c.WAITING_CONTEXT},s,1)",
              f"exten => ticket,1,Playback({ticket})",
              " same => n,Goto(goodbye,1)",
              "exten => voicemail,1,Goto(goodbye,1)",
              f"exten => goodbye,1,Playback({goodbye})",
              " same => n,Hangup()"]
    lines += _degraded_path(config, options)
    lines += ["", "[acd-agents]"]
    for action, code in FEATURE_CODES.items():
        lines += [f"exten => {code},1,{_agi(config, options, 'agent', action)}", *_agent_code_on_standby(options, action)]
    for action in _WITH_NUMBER:
        code = FEATURE_CODES[action]
        digit = '${EXTEN:' + str(len(code)) + '}'
        lines += [f"exten => _{code}X,1,{_agi(config, options, 'agent', action, digit)}",
                  *_agent_code_on_standby(options, action, digit)]
    lines += ["", f"[{SUPERVISORS_CONTEXT}]",
              "; The supervisors' phones: empty on purpose. They are only rung (ChanSpy by AMI Originate",
              "; runs on the answered channel, no dialplan); a call from one reaches nothing (404)."]
    dial = callback_dial(config)
    lines += ["", "[acd-callback]", "; The agent answered a callback (AMI Originate): now ring the citizen.",
              "exten => _X.,1,Dial(" + dial.replace("{number}", "${EXTEN}") + f",60,U({CALLBACK_NOTE}^${{{c.CALLID}}}))",
              " same => n,Hangup()", *_callback_answer_note(), ""]
    return "\n".join(lines)


#: the subroutine Dial's U() runs on the citizen's channel when it answers a callback
CALLBACK_NOTE = "acd-callback-answered"


def _callback_answer_note() -> list[str]:
    """The citizen answered a callback's try: noted in AstDB (``call_contract.CALLBACK_DB``)
    at the answer, before the bridge (app_dial.c runs U()'s Gosub on the called channel
    then), so the note is there whoever hangs up first and whether or not a daemon
    listens; a daemon that did not see the try asks it before trying again
    (``acd.daemon.callbacks``). ``ARG1`` is the call id, expanded on the agent's leg."""
    return ["", f"[{CALLBACK_NOTE}]",
            f"exten => s,1,Set(DB({c.CALLBACK_DB}/${{ARG1}})={c.CALLBACK_ANSWERED})",
            " same => n,Return()"]


def _dids(config: Config, options: Options) -> list[str]:
    """The trunks' dialled numbers (DIDs): each lands at the service number's entry."""
    number = service_number(config, options)
    return [f"exten => {did},1,Goto({number},1)" for did in dialled_numbers(config) if did != number]


def dialled_numbers(config: Config) -> list[str]:
    """Every trunk's dialled numbers, in the config's order."""
    trunks = trunks_of(config)
    return [did for trunk in trunks.trunks.values() for did in trunk.dids] if trunks is not None else []


def callback_dial(config: Config) -> str:
    """The callback leg's dial string, ``{number}`` to replace: through the trunk the
    ``trunks:`` section names for callbacks, else ``ivr.callback.dial``."""
    trunks = trunks_of(config)
    if trunks is not None:
        return trunks.trunks[trunks.callbacks].dial
    return config.ivr.callback.dial if config.ivr is not None else f"PJSIP/{{number}}@{DEFAULT_TRUNK}"


def _agent_code_on_standby(options: Options, *args: str) -> list[str]:
    """After an agent's feature code went to the first daemon: with two daemons, the
    second one when the first is down (``AGISTATUS=FAILURE``) or a standby
    (``ACD_AGENT_RESULT=standby``, ``Daemon.agent_code``); then hang up."""
    if not options.standby_agi:
        return [" same => n,Hangup()"]
    return [f' same => n,GotoIf($["${{AGISTATUS}}" != "FAILURE" & "${{{c.AGENT_RESULT}}}" != "{c.AGENT_STANDBY}"]?done)',
            " same => n,AGI(" + ",".join((f"agi://{options.standby_agi}/agent", *args)) + ")",
            " same => n(done),Hangup()"]


def _degraded_path(config: Config, options: Options) -> list[str]:
    """The ``acd-fallback`` context, one ``acd-fallback-<queue>`` per 24/7 queue, and
    the agents' hints (``acd-agent-states``).

    The question is Background() then WaitExten() (apps in main/pbx_builtins.c, Asterisk
    16): a key pressed during the prompt that is an extension of the context jumps
    there at once; WaitExten() runs out into the next priority (the unknown topic's
    queue) when no key comes; any other key is no extension, so the PBX sends it to
    ``i``, which goes there too. A missing prompt file only logs a warning and the wait
    for the key still runs. A caller whose ``ACD_QUEUE`` names a config queue is never
    asked: its topic is known, and so is the app_queue queue of that name."""
    lines_247 = emergency_lines(config)
    choice = degraded_choice(config)
    asks = choice is not None and any(line.key is not None for line in lines_247)
    emergency = {line.queue.name for line in lines_247}
    out = ["", f"[{FALLBACK_QUEUE}]",
           "; No daemon: a caller of known topic to the app_queue queue named as the config's queue;",
           f"; a caller of unknown topic (the IVR failed, no 24/7 key) to {FALLBACK_QUEUE}, every agent.",
           "exten => s,1,Answer()"]
    for line in lines_247:
        out.append(f' same => n,GotoIf($["${{{c.QUEUE}}}" = "{line.queue.name}"]?{line.context},s,1)')
    for name in config.queues:
        if name not in emergency:
            out.append(f' same => n,GotoIf($["${{{c.QUEUE}}}" = "{name}"]?topic)')
    if asks:
        assert choice is not None
        # a caller who chose a topic already that is no queue now (a reload removed it) is not asked
        out += [f' same => n,GotoIf($["${{{c.QUEUE}}}" != ""]?general)',
                f" same => n,Background({_prompt_files(config, options, choice.prompt)})",
                f" same => n,WaitExten({choice.timeout:g})"]
    out += [f" same => n(general),Log(WARNING,ACD degraded path: ${{CHANNEL}} to app_queue {FALLBACK_QUEUE})",
            f" same => n,Queue({FALLBACK_QUEUE})",
            " same => n,Hangup()",
            # reached only when ACD_QUEUE equals a config queue's name (the GotoIfs above)
            f" same => n(topic),Log(WARNING,ACD degraded path: ${{CHANNEL}} to app_queue ${{{c.QUEUE}}})",
            f" same => n,Queue(${{{c.QUEUE}}})",
            " same => n,Hangup()"]
    if asks:
        out += [f"exten => {line.key},1,Goto({line.context},s,1)" for line in lines_247 if line.key is not None]
        out.append("exten => i,1,Goto(s,general)")
    for line in lines_247:
        out += ["", f"[{line.context}]",
                f"; The 24/7 line {line.queue.name!r} without a daemon: only its own agents, any hour.",
                f"exten => s,1,Log(WARNING,ACD degraded path: ${{CHANNEL}} to app_queue {line.queue.name})",
                " same => n,Answer()",
                f" same => n,Set({c.QUEUE}={line.queue.name})",
                f" same => n,Queue({line.queue.name})",
                " same => n,Hangup()"]
    out += ["", f"[{STATES_CONTEXT}]",
            "; Each agent's state in the degraded-path queues: the phone's, unless the daemon set the",
            "; agent's Custom device BUSY (logged out or paused in the ACD). See fallback_device.",
            *(f"exten => {agent.endpoint},hint,PJSIP/{agent.endpoint}&{fallback_device(agent)}"
              for agent in config.agents.values())]
    return out


def fallback_device(agent: AgentConfig) -> str:
    """The Custom device through which the daemon tells the degraded path whether the
    agent works: ``BUSY`` when logged out or paused in the ACD, ``INVALID`` otherwise.

    Why not app_queue's pause flag (AMI QueuePause): every pause and unpause makes
    app_queue write a PAUSE/UNPAUSE line for the queue (``set_queue_member_pause`` in
    apps/app_queue.c, Asterisk 16; without a queue, a PAUSEALL line more), and the
    degraded path's queues now carry the config's names, so the queue_log would count
    each pause twice, the daemon's line and app_queue's. A device state writes no line.

    How: every member's state interface is the hint ``hint:<endpoint>@acd-agent-states``,
    ``PJSIP/<endpoint>&Custom:acd-<endpoint>``. A hint's state is the aggregate of its
    devices (``ast_devstate_aggregate_add`` in main/devicestate.c ranks BUSY above every
    state but RINGINUSE, and INVALID below all), so BUSY makes the member busy whatever
    the phone does, and INVALID leaves the phone's own state (free, in use, unreachable);
    app_queue with ``ringinuse=no`` rings only a member whose state is free
    (``can_ring_entry``). A Custom device never set is UNKNOWN, below the phone's states
    too, so the queues ring every phone when no daemon ever ran. func_devstate keeps the
    state in astdb: it survives the daemon, a reload and an Asterisk restart."""
    return f"Custom:acd-{agent.endpoint}"


def queues(config: Config) -> str:
    """``queues_generated.conf``: the degraded path's queues.

    ``acd-fallback`` holds every agent (so it works when no daemon ever ran), for
    callers of unknown topic. Every member of every queue takes its state from the
    agent's hint (``fallback_device``): a running daemon makes the agents who are logged
    out or on a pause busy there, so a caller on this path rings only those who were
    working. ``ringinuse=no`` keeps a queue from ringing agents busy with the daemon's
    callers or another queue's; ``autofill`` rings every free member for the waiting
    callers at once.

    Each 24/7 queue gets an app_queue queue of its own name with only the agents who
    qualify for it (see ``emergency_lines``), its ring timeout, wrap-up, strategy and
    music, and a ``weight`` above the others' 0, so those agents take its callers
    first. Each other queue gets an app_queue queue of its own name, with the same
    settings of its own, for callers whose topic is known: every agent is a member, so
    its callers are still answered when its qualified agents are busy, at penalty 0 if
    they qualify (the engine's ``qualifies``), 1 if not, and 2 for the 24/7 lines'
    agents. app_queue rings the free member with the lowest metric and a penalty adds
    1,000,000 per step to it (``calc_metric`` in apps/app_queue.c; ``penaltymemberslimit``
    is 0), so a topic's callers ring its own agents first, then the others, and the
    24/7 lines' agents only when no one else is free, which keeps them free for their
    line while others can take the call. In ``acd-fallback`` those 24/7 agents have
    penalty 1 for the same reason."""
    lines_247 = emergency_lines(config)
    reserved = {agent.id for line in lines_247 for agent in line.members}
    parts = [f"; Generated by `python -m dialplan` from {config.source}.\n",
             f"[{FALLBACK_QUEUE}]\nstrategy=leastrecent\ntimeout=15\nretry=2\nwrapuptime=10\nringinuse=no\n"
             "autofill=yes\njoinempty=yes\nleavewhenempty=no\nmusicclass=default\nannounce-frequency=0\n",
             *(_member(agent, 1 if agent.id in reserved else 0) for agent in config.agents.values())]
    for line in lines_247:
        queue = line.queue
        parts += [f"\n; the 24/7 line {queue.name!r} (priority {queue.priority}, weight {queue.weight:g} in the engine): "
                  f"the agents with {_requirements(queue)}\n",
                  _queue_section(queue, line.weight),
                  *(_member(agent, QUALIFIED) for agent in line.members)]
    emergency = {line.queue.name for line in lines_247}
    for queue in config.queues.values():
        if queue.name in emergency:
            continue
        parts += [f"\n; {queue.name!r} for callers whose topic is known: every agent, those with "
                  f"{_requirements(queue)} first, the 24/7 lines' last\n",
                  _queue_section(queue, 0),
                  *(_member(agent, topic_penalty(agent, queue, reserved)) for agent in config.agents.values())]
    return "".join(parts)


def topic_penalty(agent: AgentConfig, queue: QueueConfig, reserved: set[str]) -> int:
    """The agent's penalty in a topic queue's app_queue queue (see ``queues``)."""
    if agent.id in reserved:
        return RESERVED
    return QUALIFIED if qualifies(agent.skills, queue.requirements) else UNQUALIFIED


def _queue_section(queue: QueueConfig, weight: int) -> str:
    """A config queue's own app_queue section: its strategy, ring timeout, wrap-up and music."""
    return (f"[{queue.name}]\nstrategy={strategy_of(queue.strategy).app_queue}\n"
            + (f"weight={weight}\n" if weight else "")
            + f"timeout={queue.ring_timeout:g}\nretry=2\nwrapuptime={queue.wrapup:g}\n"
            "ringinuse=no\nautofill=yes\njoinempty=yes\nleavewhenempty=no\n"
            f"musicclass={queue.music_class}\nannounce-frequency=0\n")


def _member(agent: AgentConfig, penalty: int) -> str:
    """A static member named as the daemon's queue_log names the agent (``member_name``):
    app_queue writes that name in its lines (``log_membername_as_agent``), so one person
    has one name whichever path took the call. Its state is the agent's hint
    (``fallback_device``)."""
    name = member_name(agent)
    if any(c in name for c in ",|;\n"):
        raise GenerateError(f"agent {agent.id}'s name {name!r} has one of , | ; or a line break: app_queue's "
                            "member line and the queue_log cannot carry it")
    return f"member => PJSIP/{agent.endpoint},{penalty},{name},hint:{agent.endpoint}@{STATES_CONTEXT}\n"


def pjsip(config: Config, options: Options = Options()) -> str:
    """``pjsip_generated.conf``: the citizens' trunks, one endpoint per agent and one per
    supervisor's phone of its own (``access.supervisor_phones``' ``{endpoint: NAME}``).

    DTMF as the world sends it (docs/telephony.md): a trunk's ``dtmf_mode`` defaults to
    ``auto``, which offers and answers ``telephone-event`` (RFC 4733) and, when the far end
    offers none, listens for in-band tones; the agents' phones default to ``rfc4733``. SIP
    INFO is accepted with any mode (res_pjsip_dtmf_info.c never looks at it). G.711 A-law
    first (European networks), then u-law; both from the config (``trunks:``, ``phones:``).
    ``direct_media=no``: media stays through Asterisk so recordings and music work."""
    options.check()
    parts = [f"; Generated by `python -m dialplan` from {config.source}.\n"]
    parts += [_trunk_sections(trunk, options) for trunk in _trunks(config, options)]
    # (endpoint, context, caller id, secrets file key) of every phone
    phones: list[tuple[str, str, str | None, str]] = [
        (agent.endpoint, "acd-agents", f"{agent.name} <{agent.id}>", agent.id) for agent in config.agents.values()]
    phones += [(name, SUPERVISORS_CONTEXT, None, supervisor_secret_key(name))
               for name in access_of(config).supervisor_endpoints]
    if options.agents_at is None:
        missing = [key for _, _, _, key in phones if key not in options.secrets]
        if missing:
            raise GenerateError(f"the phones register, but {len(missing)} have no SIP password in the secrets file "
                                f"(first: {missing[0]}); give --secrets FILE (`python -m dialplan secrets` "
                                "writes it) or --agents-at HOST:PORT")
    parts += [_phone_sections(name, context, callerid, options.secrets.get(key), phones_of(config), options)
              for name, context, callerid, key in phones]
    return "".join(parts)


def _phone_sections(name: str, context: str, callerid: str | None, password: str | None, phones: Phones,
                    options: Options) -> str:
    """A phone's endpoint, aor and (when it registers) auth: an agent's or a supervisor's,
    written alike (the config's ``phones:`` codecs and DTMF, media through Asterisk, the
    NAT options), so a supervisor's phone works wherever an agent's does. Only
    ``context`` differs: what a call *from* the phone may reach."""
    endpoint = (f"[{name}]\ntype=endpoint\ncontext={context}\ndisallow=all\nallow={','.join(phones.codecs)}\n"
                f"dtmf_mode={phones.dtmf_mode}\ndirect_media=no\naors={name}\n"
                + (f"callerid={callerid}\n" if callerid is not None else ""))
    if options.nat:
        endpoint += "rewrite_contact=yes\nforce_rport=yes\nrtp_symmetric=yes\n"
    if options.agents_at is not None:
        return f"{endpoint}\n[{name}]\ntype=aor\ncontact=sip:{name}@{options.agents_at}\n\n"
    return (f"{endpoint}auth={name}\n\n[{name}]\ntype=auth\nauth_type=userpass\nusername={name}\n"
            f"password={password}\n\n"
            f"[{name}]\ntype=aor\nmax_contacts=1\nremove_existing=yes\n"
            + (f"qualify_frequency={options.qualify_frequency}\n" if options.qualify_frequency else "")
            + "\n")


def _trunks(config: Config, options: Options) -> list[Trunk]:
    """The config's trunks, their ``match`` replaced by ``options.trunk_match`` if given;
    without ``trunks:``, one trunk (``citizens``) for the sandbox's local citizens."""
    trunks = trunks_of(config)
    match = tuple(options.trunk_match.split(",")) if options.trunk_match else None
    if trunks is None:
        return [Trunk(name=DEFAULT_TRUNK, match=match or ("127.0.0.1",), trust_caller_id=False)]
    return [dataclasses.replace(trunk, match=match) if match else trunk for trunk in trunks.trunks.values()]


def _trunk_sections(trunk: Trunk, options: Options) -> str:
    """One carrier's endpoint (calls in land in ``acd-inbound``), its identify by the
    carrier's addresses and, with a ``server``, the AOR calls out go to, the digest auth
    (the password from the secrets file) and the outbound registration."""
    name = trunk.name
    password = options.secrets.get(trunk.secret_key) if trunk.username else None
    if trunk.username and password is None:
        raise GenerateError(f"trunk {name!r} authenticates as {trunk.username!r}, but the secrets file has no "
                            f"'{trunk.secret_key} <password>' line")
    endpoint = (f"[{name}]\ntype=endpoint\ncontext=acd-inbound\ndisallow=all\nallow={','.join(trunk.codecs)}\n"
                f"dtmf_mode={trunk.dtmf_mode}\ndirect_media=no\n")
    if trunk.trust_caller_id:
        endpoint += "trust_id_inbound=yes\n"
    if trunk.server:
        endpoint += f"aors={name}\n"
    if password is not None:
        endpoint += f"outbound_auth={name}\nfrom_user={trunk.username}\n"
    out = [endpoint, f"[{name}]\ntype=identify\nendpoint={name}\nmatch={','.join(trunk.match)}\n"]
    if trunk.server:
        out.append(f"[{name}]\ntype=aor\ncontact=sip:{trunk.server}\n")
    if password is not None:
        out.append(f"[{name}]\ntype=auth\nauth_type=userpass\nusername={trunk.username}\npassword={password}\n")
    if trunk.register:
        out.append(f"[{name}]\ntype=registration\nserver_uri=sip:{trunk.server}\n"
                   f"client_uri=sip:{trunk.username}@{trunk.server}\ncontact_user={trunk.username}\n"
                   f"outbound_auth={name}\nretry_interval=60\nforbidden_retry_interval=600\nmax_retries=10000\n"
                   # a carrier's passing 401/403 must not end the registration until a reload
                   "auth_rejection_permanent=no\n")
    return "\n".join(out) + "\n"


def generate(config: Config, options: Options = Options()) -> dict[str, str]:
    """Every generated file by name."""
    return {"extensions_generated.conf": extensions(config, options),
            "pjsip_generated.conf": pjsip(config, options),
            "queues_generated.conf": queues(config)}


def write(config: Config, out: Path, options: Options = Options()) -> list[Path]:
    """Write the files into ``out`` (all or none: they are generated before any is written)."""
    files = generate(config, options)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def read_secrets(path: Path) -> dict[str, str]:
    """``<agent id> <password>`` per line (``#`` comments): the phones' SIP passwords stay
    out of the config file, which is shared far more widely."""
    secrets: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        parts = text.split()
        if len(parts) != 2 or not re.match(r"^[A-Za-z0-9_.!@%^*+=-]{8,}$", parts[1]):
            raise GenerateError(f"{path}:{number}: expected '<agent id> <password of 8+ safe characters>'")
        secrets[parts[0]] = parts[1]
    return secrets
