"""The Asterisk configuration the live bench, the demo and the end-to-end tests load
into the sandbox (as the ``*_generated.conf`` files the base config includes).

It follows the contract of the dialplan generator (agents' endpoints ``agent-<id>`` in
context ``acd-agents`` with the generator's DTMF modes and codecs and ``direct_media=no``, citizens in
``acd-inbound``, ``q-<queue>`` per queue, the ``wait`` and ``agent`` FastAGI handlers)
but adds what only these runs need: every agent's contact points at a sipp process,
and the app_queue baseline queue of the bench.
"""
from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dialplan.generate import AGENT_DTMF_MODE, CODECS, FEATURE_CODES, TRUNK_DTMF_MODE

#: sipp scenarios only the bench, demo and live tests need (the common phones are rig's)
SCENARIOS = Path(__file__).with_name("scenarios")



def endpoints(agent_contacts: Mapping[str, int | None]) -> str:
    """PJSIP endpoints: ``agent-<id>`` -> sipp port, and the citizens' endpoint by IP.

    A port of ``None`` writes the AOR without a contact: a softphone that is not
    registered, which Asterisk reports as ``UNAVAILABLE`` and a Dial to it as
    ``CHANUNAVAIL`` (how the live tests get an unreachable agent).

    The base pjsip.conf identifies by the user in From before the IP
    (``endpoint_identifier_order=username,ip``): on one machine citizens and agents'
    phones share 127.0.0.1, and an agent's feature-code call must reach ``acd-agents``."""
    parts = [f"[citizens]\ntype=endpoint\ncontext=acd-inbound\ndisallow=all\nallow={CODECS}\n"
             f"direct_media=no\ndtmf_mode={TRUNK_DTMF_MODE}\n\n",
             "[citizens]\ntype=identify\nendpoint=citizens\nmatch=127.0.0.1\n\n"]
    for endpoint, port in agent_contacts.items():
        contact = "" if port is None else f"contact=sip:{endpoint}@127.0.0.1:{port}\n"
        parts.append(
            f"[{endpoint}]\ntype=endpoint\ncontext=acd-agents\ndisallow=all\nallow={CODECS}\n"
            f"direct_media=no\ndtmf_mode={AGENT_DTMF_MODE}\naors={endpoint}\n\n"
            f"[{endpoint}]\ntype=aor\n{contact}\n")
    return "".join(parts)


def dialplan(agi_port: int, *, baseline_queue: str | None = None, retries: int = 10,
             callback_dial: str = "PJSIP/{number}@citizens") -> str:
    """Citizens: ``q-<queue>`` into the waiting room; ``cb-<queue>`` the same, asking to
    be called back at the caller's number (what the IVR's callback node leaves on the
    channel, without the IVR); ``aq`` straight into the baseline queue. Agents: the
    feature codes. ``acd-callback``: the leg to the citizen once the agent answered a
    callback, ``callback_dial`` with ``{number}`` replaced (the generator's contract).

    The waiting room's contract with the dialplan: the ``wait`` handler always sets
    ``ACD_WAIT_RESULT`` before it returns (``answered``, ``exit``, ``error``) and resets
    ``ACD_TRIES``. Empty means the daemon went away mid-call (restart, crash): the
    channel loops back into ``wait`` with its ACD_* variables, so the next daemon
    re-queues it at its original place. After ``retries`` failed attempts in a row (no
    daemon at all) the caller takes the app_queue fallback instead of silence. A
    stopping daemon's ``handover`` is retried the same way (the generated dialplan
    retries it at once and shortens the wait for a daemon; these runs restart one)."""
    agi = f"agi://127.0.0.1:{agi_port}"
    fallback = baseline_queue or "acd-fallback"
    text = f"""\
        [acd-inbound]
        exten => _q-.,1,Set(ACD_QUEUE=${{EXTEN:2}})
         same => n,Set(ACD_TRIES=0)
         same => n(wait),AGI({agi}/wait)
         same => n,GotoIf($["${{ACD_WAIT_RESULT}}" = "error"]?fallback)
         same => n,GotoIf($["${{ACD_WAIT_RESULT}}" = "handover"]?retry)
         same => n,GotoIf($["${{ACD_WAIT_RESULT}}" != ""]?done)
         same => n(retry),Set(ACD_TRIES=$[${{ACD_TRIES}} + 1])
         same => n,GotoIf($[${{ACD_TRIES}} > {retries}]?fallback)
         same => n,Wait(1)
         same => n,Goto(wait)
         same => n(done),Hangup()
         same => n(fallback),Queue({fallback})
         same => n,Hangup()
        exten => _cb-.,1,Set(ACD_QUEUE=${{EXTEN:3}})
         same => n,Set(ACD_CALLBACK=${{CALLERID(num)}})
         same => n,Set(ACD_TRIES=0)
         same => n,Goto(q-${{EXTEN:3}},wait)
        exten => aq,1,Answer()
         same => n,Queue({fallback},,,,3600)
         same => n,Hangup()

        [acd-agents]
        exten => {FEATURE_CODES['login']},1,AGI({agi}/agent,login)
         same => n,Hangup()
        exten => {FEATURE_CODES['logout']},1,AGI({agi}/agent,logout)
         same => n,Hangup()
        exten => {FEATURE_CODES['pause']},1,AGI({agi}/agent,pause)
         same => n,Hangup()
        exten => _{FEATURE_CODES['pause']}X,1,AGI({agi}/agent,pause,${{EXTEN:3}})
         same => n,Hangup()
        exten => {FEATURE_CODES['unpause']},1,AGI({agi}/agent,unpause)
         same => n,Hangup()
        exten => {FEATURE_CODES['escalate']},1,AGI({agi}/agent,escalate)
         same => n,Hangup()
        exten => _{FEATURE_CODES['escalate']}X,1,AGI({agi}/agent,escalate,${{EXTEN:3}})
         same => n,Hangup()

        [acd-callback]
        exten => _X.,1,Dial({callback_dial.replace("{number}", "${EXTEN}")},60)
         same => n,Hangup()
        """
    return textwrap.dedent(text)


def baseline_queue(name: str, agent_endpoints: Iterable[str], *, strategy: str = "leastrecent") -> str:
    """A plain app_queue queue with the agents as static members, tuned like the ACD's
    bench queue: no wrap-up, every free member rung at once for waiting callers
    (``autofill``), a busy member not rung (``ringinuse=no``), no announcements."""
    members = "".join(f"member => PJSIP/{endpoint}\n" for endpoint in agent_endpoints)
    return (f"[{name}]\nstrategy={strategy}\nwrapuptime=0\nautofill=yes\nringinuse=no\ntimeout=15\nretry=0\n"
            "musicclass=default\nannounce-frequency=0\nperiodic-announce-frequency=0\njoinempty=yes\n"
            f"leavewhenempty=no\n{members}")


def feature_code_phone(workdir: Path, sip_port: int, endpoint: str, code: str, pin: str) -> Any:
    """A ``rig.sipp.SippProcess`` (not started) for an agent's phone that dials ``code``
    as ``endpoint`` (exactly: Asterisk identifies the agent by the From user) and types
    a 4-digit ``pin`` by SIP INFO."""
    from rig.sipp import SippProcess

    if len(pin) != 4 or not pin.isdigit():
        raise ValueError(f"the feature-code phone types a 4-digit PIN, not {pin!r}")
    digits = [arg for i, digit in enumerate(pin, 1) for arg in ("-key", f"d{i}", digit)]
    return SippProcess(SCENARIOS / "agent_feature_code.xml",
                       ["-s", code, "-key", "agent", endpoint, *digits, "-m", "1", "-timeout", "60s"],
                       workdir=workdir, name=f"{endpoint}-{code.lstrip('*')}", remote=f"127.0.0.1:{sip_port}")
