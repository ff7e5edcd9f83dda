"""The call contract: what travels with a call between the dialplan, the IVR, the waiting
room, the callbacks and the simulator.

The routing attributes live on the channel (``ACD_*`` variables) so that a restarted
daemon rebuilds its line from them; every party reads the names, the result values, the
skills format and the rule that turns IVR choices into skills from here, so the
simulator checks the very rule the production IVR applies. Nothing here imports the rest
of the project: it is the floor both sides stand on.

The widening rule (what a queue's ``widening`` steps do to a caller's requirements while
it waits) is the queue's, not the channel's: it is written once, ``QueueConfig.widened`` in
``acd.config.model``, which the engine, the queue_log and the config's checks all call.

Re-entry after a max-wait exit (``ACD_EXIT``): the same call id always; the place in
line (``ACD_ENQUEUED_AT``) only where the caller keeps it:

- ``queue``: another queue, with its own max wait: a fresh place (reset), else that
  queue's max wait would end at once;
- ``callback``: the caller leaves a number and keeps the place earned by waiting; the
  engine applies no max wait to a callback (its window is kept by the daemon), so the
  original time is safe to keep.
"""
from __future__ import annotations

import re
from collections.abc import Collection, Mapping

# -- the degraded path's app_queue names -------------------------------------------------
#: app_queue queue (and dialplan context) of a caller whose topic nobody knows: the IVR
#: itself failed and the degraded question got no 24/7 key. Every other degraded-path
#: queue is named as the config's queue, so the queue_log names it as the daemon does.
FALLBACK_QUEUE = "acd-fallback"
#: names a config's queue may not take: app_queue names queues case-insensitively
#: (``strcasecmp`` in apps/app_queue.c), ``general`` is queues.conf's own section, and
#: ``acd-fallback`` is the queue of callers of unknown topic
RESERVED_QUEUE_NAMES = frozenset({FALLBACK_QUEUE, "general"})


# -- the channel variables ----------------------------------------------------------------
#: the call's id for its whole life (the first channel's ``${UNIQUEID}``)
CALLID = "ACD_CALLID"
QUEUE = "ACD_QUEUE"
#: the caller's requirements, ``skill=level`` items joined by commas (``format_skills``)
SKILLS = "ACD_SKILLS"
PRIORITY = "ACD_PRIORITY"
LANG = "ACD_LANG"
CALLER_TYPE = "ACD_CALLER_TYPE"
#: epoch seconds of the caller's place in line, stamped once by the waiting room
ENQUEUED_AT = "ACD_ENQUEUED_AT"
#: the number a caller asked to be called back on
CALLBACK = "ACD_CALLBACK"
#: the queue of the caller's current wait (``LEFT_QUEUE`` after a max-wait exit)
QUEUED = "ACD_QUEUED"
#: epoch seconds when the channel entered the waiting room's dialplan
ARRIVED = "ACD_ARRIVED"
#: the dialplan's count of waiting-room attempts with no daemon answering
TRIES = "ACD_TRIES"
WAIT_RESULT = "ACD_WAIT_RESULT"
EXIT = "ACD_EXIT"
EXIT_TARGET = "ACD_EXIT_TARGET"
IVR_RESULT = "ACD_IVR_RESULT"
SATISFACTION = "ACD_SATISFACTION"
#: the agent a callback rings (set by the originate)
AGENT = "ACD_AGENT"
#: epoch seconds when the caller was connected to an agent (AMI ``Setvar``)
CONNECTED_AT = "ACD_CONNECTED_AT"
AGENT_RESULT = "ACD_AGENT_RESULT"
#: the AstDB family (key: the call id) where the generated ``acd-callback`` context notes
#: the citizen's answer to a callback's try the moment it happens (``CALLBACK_ANSWERED``),
#: with no daemon involved: the one record of a try that ends while no daemon listens
CALLBACK_DB = "acd-callback"
CALLBACK_ANSWERED = "answered"
TICKET = "ACD_TICKET"

# -- their result values ------------------------------------------------------------------
#: ``ACD_WAIT_RESULT`` values (empty: the daemon went away, loop back into ``wait``);
#: ``handover``: the stopping daemon let the caller go: the dialplan tries the FastAGI
#: again at once (a standby or a restarted daemon re-queues it at its place), then takes
#: the fallback within seconds, with music meanwhile
WAIT_ANSWERED, WAIT_EXIT, WAIT_ERROR, WAIT_HANDOVER = "answered", "exit", "error", "handover"
#: ``ACD_IVR_RESULT`` values
IVR_QUEUE, IVR_GOODBYE = "queue", "goodbye"
#: ``ACD_QUEUED`` of a caller whose wait ended by a max-wait exit: a return enters anew
LEFT_QUEUE = "-"
#: ``ACD_AGENT_RESULT`` of a standby daemon: the dialplan tries the other one
AGENT_STANDBY = "standby"

# -- where a waiting caller is in the generated dialplan ----------------------------------
#: the context whose loop holds a waiting caller (``dialplan.generate``): a restarted
#: daemon finds in it, over AMI, the callers whose retry loop will bring them back
WAITING_CONTEXT = "acd-waiting"
#: the FastAGI handler that loop calls (``agi://host:port/wait``)
WAIT_HANDLER = "wait"

#: exit kind -> the variables emptied before the caller goes back into ``wait``
REENTRY_RESETS: Mapping[str, tuple[str, ...]] = {"queue": (ENQUEUED_AT,), "callback": ()}


def reentry_resets(exit_kind: str) -> tuple[str, ...]:
    """The channel variables a re-entry after ``exit_kind`` resets (none for an exit
    that does not come back to the waiting room)."""
    return REENTRY_RESETS.get(exit_kind, ())


# -- the caller's skills ------------------------------------------------------------------
CITIZEN, EMPLOYER = "citizen", "employer"
CALLER_TYPES: tuple[str, ...] = (CITIZEN, EMPLOYER)
#: the skill an employer needs (when the config declares it)
EMPLOYER_SKILL = "type:employer"


def language_skill(language: str) -> str:
    """The skill a caller speaking ``language`` needs (when the config declares it)."""
    return f"lang:{language}"


def caller_skills(chosen: Mapping[str, int], language: str, caller_type: str,
                  declared: Collection[str]) -> dict[str, int]:
    """The requirements a caller carries out of the IVR: the skills its choices set, plus
    ``lang:<language>`` and, for an employer, ``type:employer``, each at level 1 and only
    when the config declares that skill; a level a choice set is kept."""
    requirements = dict(chosen)
    if language_skill(language) in declared:
        requirements.setdefault(language_skill(language), 1)
    if caller_type == EMPLOYER and EMPLOYER_SKILL in declared:
        requirements.setdefault(EMPLOYER_SKILL, 1)
    return requirements


class CallVariablesError(ValueError):
    """The ACD_* variables on a channel cannot be routed (names the variable and value)."""


_SKILL_ITEM = re.compile(r"^\s*([a-z][a-z0-9_-]*(?::[a-z0-9_-]+)?)\s*=\s*([0-9]+)\s*$")


def format_skills(requirements: Mapping[str, int]) -> str:
    """``{"type:employer": 1, "lang:el": 1}`` -> ``"lang:el=1,type:employer=1"`` (sorted)."""
    return ",".join(f"{skill}={level}" for skill, level in sorted(requirements.items()))


def parse_skills(text: str) -> dict[str, int]:
    """``ACD_SKILLS``: ``"lang:el=1,type:employer=1"`` -> ``{"lang:el": 1, "type:employer": 1}``."""
    skills: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        match = _SKILL_ITEM.match(item)
        if not match:
            raise CallVariablesError(f"{SKILLS} item {item!r} is not skill=level (in {text!r})")
        skills[match.group(1)] = int(match.group(2))
    return skills


def route_variables(queue: str, requirements: Mapping[str, int], priority: int, language: str,
                    caller_type: str, callback: str | None = None) -> dict[str, str]:
    """The variables the IVR leaves on a channel it routes to the waiting room."""
    values = {QUEUE: queue, SKILLS: format_skills(requirements), PRIORITY: str(priority),
              LANG: language, CALLER_TYPE: caller_type}
    if callback is not None:
        values[CALLBACK] = callback
    return values
