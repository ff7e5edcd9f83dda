"""The Asterisk files a run on one machine loads (the demo, ``bench.live``, the live
tests): the dialplan generator's output for the run's config, exactly what
``python -m dialplan`` writes for production, with only what such a run needs added
beside it:

- every agent's (and supervisor's generated phone's) contact at the sipp process that
  plays its phone (or none: a phone that is not registered), where production phones
  register;
- ``cb-<queue>``: a caller asking to be called back at its own number, as the IVR's
  callback node leaves it on the channel, without going through the IVR;
- for the bench, a plain app_queue queue with the same agents (the baseline) and the
  number ``aq`` that reaches it.

The added parts go after the generated text and never change a generated line but the
AOR contacts: Asterisk's pbx_config merges a context named twice, so the test numbers
join the generated ``acd-inbound``. Whatever the generator changes, these runs follow.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from acd.call_contract import CALLBACK
from acd.config.access import access_of
from acd.config.model import Config
from dialplan.generate import Options, generate

#: the bench's app_queue queue, and the number citizens dial to reach it
BASELINE_NUMBER = "aq"
#: where the generator points every static contact before each is set to its phone
_PLACEHOLDER = "127.0.0.1:9"


def sandbox_files(config: Config, *, agi_port: int, contacts: Mapping[str, int | None],
                  prompts_dir: str | None = None, baseline: str | None = None) -> dict[str, str]:
    """The ``*_generated.conf`` files for ``config`` with the daemon's FastAGI on
    ``agi_port`` and each agent's phone at ``contacts[<endpoint>]`` (a sipp port on
    loopback; None: an AOR without contact, which Asterisk reports ``UNAVAILABLE``).
    A supervisor's generated phone (``access.supervisor_phones``) is there too, at
    ``contacts[<endpoint>]`` or without contact when not given.

    Agents of the config missing from ``contacts`` get no endpoint at all: an Asterisk
    config out of step with the ACD's (a Dial to them says ``CHANUNAVAIL``). With
    ``baseline``, the app_queue queue of that name holds every phone in ``contacts``."""
    on_pbx = {agent_id: agent for agent_id, agent in config.agents.items() if agent.endpoint in contacts}
    supervisors = access_of(config).supervisor_endpoints
    unknown = set(contacts) - {agent.endpoint for agent in on_pbx.values()} - set(supervisors)
    if unknown:
        raise ValueError(f"contacts for endpoints the config has no agent or supervisor's phone for: "
                         f"{sorted(unknown)}")
    files = generate(dataclasses.replace(config, agents=on_pbx),
                     Options(agi_port=agi_port, agents_at=_PLACEHOLDER, prompts_dir=prompts_dir))
    unreached = {endpoint: None for endpoint in supervisors if endpoint not in contacts}
    files["pjsip_generated.conf"] = _with_contacts(files["pjsip_generated.conf"], {**contacts, **unreached})
    files["extensions_generated.conf"] += callback_numbers()
    if baseline is not None:
        files["extensions_generated.conf"] += baseline_number(baseline)
        files["queues_generated.conf"] += "\n" + baseline_queue(baseline, contacts)
    return files


def _with_contacts(pjsip: str, contacts: Mapping[str, int | None]) -> str:
    for endpoint, port in contacts.items():
        generated = f"contact=sip:{endpoint}@{_PLACEHOLDER}\n"
        if pjsip.count(generated) != 1:
            raise ValueError(f"the generated AOR of {endpoint} has no static contact line to set")
        pjsip = pjsip.replace(generated, "" if port is None else f"contact=sip:{endpoint}@127.0.0.1:{port}\n")
    return pjsip


def callback_numbers() -> str:
    """``cb-<queue>``: the generated ``q-<queue>`` with ``ACD_CALLBACK`` set to the
    caller's number first, as the IVR's callback node sets it."""
    return ("\n[acd-inbound]\n; test-only (rig.pbx_files): a callback request without the IVR\n"
            f"exten => _cb-.,1,Set({CALLBACK}=${{CALLERID(num)}})\n"
            " same => n,Goto(q-${EXTEN:3},1)\n")


def baseline_number(queue: str) -> str:
    """``aq``: straight into the baseline app_queue queue, an hour at most."""
    return (f"\n[acd-inbound]\n; test-only (rig.pbx_files): the bench's app_queue baseline\n"
            f"exten => {BASELINE_NUMBER},1,Answer()\n same => n,Queue({queue},,,,3600)\n same => n,Hangup()\n")


def baseline_queue(name: str, agent_endpoints: Iterable[str], *, strategy: str = "leastrecent") -> str:
    """A plain app_queue queue with the agents as static members, tuned like the ACD's
    bench queue: no wrap-up, every free member rung at once for waiting callers
    (``autofill``), a busy member not rung (``ringinuse=no``), no announcements."""
    members = "".join(f"member => PJSIP/{endpoint}\n" for endpoint in agent_endpoints)
    return (f"[{name}]\nstrategy={strategy}\nwrapuptime=0\nautofill=yes\nringinuse=no\ntimeout=15\nretry=0\n"
            "musicclass=default\nannounce-frequency=0\nperiodic-announce-frequency=0\njoinempty=yes\n"
            f"leavewhenempty=no\n{members}")
