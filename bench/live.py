"""The ACD against app_queue on one real Asterisk, with sipp citizens and agents.

One sandboxed Asterisk, one sipp process playing every agent phone (rings 200 ms,
answers, talks ``--talk`` seconds, hangs up), and two phases with the same load and
the same agents:

The Asterisk side is the dialplan generator's output for the bench's config (what
``python -m dialplan`` writes for production), with the agents' contacts at sipp and the
baseline queue beside it (rig.pbx_files).

1. ``acd``: citizens call ``q-bench``; the generated dialplan hands them to the daemon's ``wait``
   FastAGI handler, the engine picks the agent, the caller's session Dials it.
2. ``app_queue``: citizens call ``aq``; the dialplan runs ``Queue(bench-aq)``, a plain
   app_queue queue with the same agents as static members, ``strategy=leastrecent``,
   ``wrapuptime=0``, ``autofill=yes``, ``ringinuse=no``.

Every figure is read from the phones' event logs (bench/phone_figures.py): routing
latency from an agent's hang-up, while callers wait, to that agent's next INVITE;
answered calls from the agents' answers; peak concurrency from the citizens' calls.

Why app_queue is slower here than with one waiting caller: a member freed while
callers wait is taken only by the first caller(s) in line (``is_our_turn``: one per
free member, with ``autofill``), and each waiting caller looks at its turn once a
second (``RECHECK`` in apps/app_queue.c, ``wait_our_turn``). So app_queue's latency is
wherever the head caller's one-second clock stands when the agent hangs up: anywhere
from a few ms to a second. With every agent ringing and talking the same time, that
phase locks: measured with ``--talk 5`` (ring 0.2 s) p50 and p99 about 800 ms, with
``--talk 5.5`` about 300 ms, with ``--talk 4.8`` (ring plus talk a whole number of
seconds) p50 41 ms and p99 981 ms. The ACD's figure does not move (p99 6-9 ms): the
engine offers the call the moment the agent's hang-up arrives.

With ``--media`` the phases are instead the ACD twice, with every phone on A-law: first
silent phones (only Asterisk's music on hold flows), then the same load with media
both ways: each citizen plays the A-law recording of sipp's ``g711a.pcap`` from the
answer until the hang-up (sipp's ``play_pcap_audio``, again every 7 s) and every agent's
phone sends each packet back (sipp's ``-rtp_echo``), so through the bridge each side
hears the other. Beside the routing figures, Asterisk's CPU time in each phase (user
plus system, all its threads: ``/proc/<pid>/stat``) says what the media costs.

Last line:

    live: <answered>/<offered> answered, peak <P> concurrent, routing p99 <X> ms (app_queue <Y> ms), lost <L>, asterisk cpu <C> s (app_queue <D> s)

with ``--media``, the media phase's figures and ``(without media ...)`` in the brackets.

With ``--profile DIR`` py-spy (the ``profile`` extra, bench/pyspy.py) samples this
process, the daemon's, through each ACD phase into ``DIR/<phase>.txt``, and the bench
prints each thread's share of a core and the top functions, beside the round trips each
call cost: AGI commands by name and AMI actions sent, AMI events received.

Run: ``python -m bench.live [--calls 150] [--agents 50] [--rate 50] [--talk 5] [--media] [--profile DIR]``.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import logging
import os
import resource
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import pyspy
from bench.phone_figures import answered_callers, call_intervals, peak_concurrency, percentile, routing_latencies
from acd.config import load_config
from rig.asterisk import AsteriskSandbox
from rig.pbx_files import BASELINE_NUMBER, sandbox_files
from rig.rtp import SIPP_ALAW_PCAP
from rig.sipp import SippProcess

SKILL = "topic:bench"
BASELINE = "bench-aq"


@dataclass(frozen=True)
class Phase:
    """One run of the load: its name, the number the citizens dial, the prefix of their
    caller ids, and whether the phones send audio."""

    name: str
    number: str
    prefix: str
    media: bool = False


PHASES = (Phase("acd", "q-bench", "acd-"), Phase("app_queue", BASELINE_NUMBER, "aq-"))
MEDIA_PHASES = (Phase("acd", "q-bench", "acd-"), Phase("acd+media", "q-bench", "media-", media=True))


@dataclass(frozen=True)
class Load:
    calls: int = 150
    agents: int = 50
    rate: float = 50.0          # new citizens' calls per second
    talk: float = 5.0           # seconds each agent talks before hanging up
    first_agent: int = 3001
    media: bool = False         # the phases of MEDIA_PHASES instead of PHASES
    profile: Path | None = None  # py-spy records each ACD phase here

    @property
    def agent_ids(self) -> list[str]:
        return [str(self.first_agent + i) for i in range(self.agents)]


@dataclass(frozen=True)
class PhaseResult:
    name: str
    offered: int
    answered: int
    peak: int
    latencies: list[float]
    cpu: float = 0.0            # Asterisk's CPU seconds (user + system) during the phase

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 0.99)

    @property
    def lost(self) -> int:
        return self.offered - self.answered


def acd_config(load: Load, agi_port: int, sandbox: AsteriskSandbox, var: Path) -> str:
    """The ACD's config for the bench: one queue, wrap-up 0, leastrecent like the baseline."""
    agents = "".join(f"  '{agent}': {{pin: '1234', skills: {{{SKILL}: 1}}}}\n" for agent in load.agent_ids)
    return (
        "service: {name: '1555', languages: [en]}\n"
        f"skills: {{{SKILL}: Benchmark}}\n"
        "queues:\n"
        f"  bench: {{requires: {{{SKILL}: 1}}, wrapup: 0, ring_timeout: 15, strategy: leastrecent,\n"
        "          announcements: {first_after: 0, every: 0}}\n"
        "routing: {missed_offer_rest: 0}\n"
        f"agents:\n{agents}"
        f"daemon: {{ami_host: 127.0.0.1, ami_port: {sandbox.ami_port}, ami_username: {sandbox.ami_username},\n"
        f"         ami_secret: '{sandbox.ami_secret}', agi_host: 127.0.0.1, agi_port: {agi_port},\n"
        f"         queue_log: {var / 'queue_log'}, recordings_dir: {var / 'recordings'}}}\n"
    )


def asterisk_files(load: Load, config: Path, agi_port: int, agents_port: int) -> dict[str, str]:
    """What ``python -m dialplan`` writes for the bench's config, every agent's phone at the
    agents' sipp, and the baseline queue beside it (rig.pbx_files)."""
    contacts: dict[str, int | None] = {f"agent-{agent}": agents_port for agent in load.agent_ids}
    return sandbox_files(load_config(config), agi_port=agi_port, contacts=contacts, baseline=BASELINE)


def cpu_seconds(pid: int) -> float:
    """A process's CPU time so far, user plus system, all threads (``/proc/<pid>/stat``
    fields 14 and 15, in clock ticks; counted after the command name, which may hold
    spaces)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rig_cpu(agents: SippProcess) -> dict[str, float]:
    """CPU seconds so far of the rest of the run, to see where the machine's cores went:
    this process (the daemon and the bench), the citizens' sipp (a child that exited and
    was waited for: its time is in the children's usage), the agents' sipp (running)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    assert agents.pid is not None
    return {"daemon and bench": own.ru_utime + own.ru_stime, "citizens' sipp": children.ru_utime + children.ru_stime,
            "agents' sipp": cpu_seconds(agents.pid)}


def round_trips(daemon: Any) -> collections.Counter[str]:
    """What the daemon exchanged with Asterisk so far: AGI sessions and commands (by
    name), AMI actions sent and events received (all, and by name)."""
    counts: collections.Counter[str] = collections.Counter({"AGI sessions": daemon.agi.sessions})
    counts.update({f"AGI {name}": n for name, n in daemon.agi.commands.items()})
    counts.update({f"AMI action {name}": n for name, n in daemon.ami.sent.items()})
    counts["AMI events"] = sum(daemon.ami.received.values())
    counts.update({f"AMI event {name}": n for name, n in daemon.ami.received.items()})
    return counts


def per_call(counts: collections.Counter[str], calls: int) -> list[str]:
    """``round_trips``'s growth over a phase, per call, the busiest first."""
    return [f"{n / calls:7.2f}  {name}" for name, n in counts.most_common() if n > 0]


def media_legs(channelstats: str) -> tuple[int, int, set[str]]:
    """From ``pjsip show channelstats`` (channels/pjsip/cli_commands.c's columns: bridge,
    channel, up time, codec, then count, lost, pct and jitter received, the same sent, and
    RTT): the bridged call legs with RTP both ways, all bridged legs, and their codecs."""
    both, legs, codecs = 0, 0, set()
    for row in channelstats.splitlines():
        fields = row.split()
        if len(fields) != 13 or not fields[4].isdigit() or not fields[8].isdigit():
            continue
        legs += 1
        codecs.add(fields[3])
        both += int(fields[4]) > 0 and int(fields[8]) > 0
    return both, legs, codecs


def analyse(name: str, load: Load, citizen_events: Sequence, agent_events: Sequence, prefix: str,
            cpu: float = 0.0) -> PhaseResult:
    """One phase's figures. Callers wait from the last citizen's dialling (all are in)
    until the last INVITE an agent received in this phase."""
    mine = [e for e in agent_events if e.peer.startswith(prefix)]
    dialled = [e.at for e in citizen_events if e.event == "invite"]
    rung = [e.at for e in mine if e.event == "invite"]
    window_agents = {e.phone for e in mine}
    phase_events = [e for e in agent_events if e.phone in window_agents
                    and (min(dialled, default=0.0) <= e.at <= max(rung, default=0.0))]
    latencies = routing_latencies(phase_events, waiting_from=max(dialled, default=0.0),
                                  waiting_until=max(rung, default=0.0))
    return PhaseResult(name, load.calls, len(answered_callers(mine)), peak_concurrency(call_intervals(citizen_events)),
                       latencies, cpu)


def summary(main: PhaseResult, other: PhaseResult) -> str:
    """The last line: ``main``'s figures, ``other``'s beside them (app_queue's, or the
    silent run's when ``main`` is the run with media)."""
    label = "without media" if main.name.endswith("+media") else other.name
    return (f"live: {main.answered}/{main.offered} answered, peak {main.peak} concurrent, "
            f"routing p99 {main.p99:.1f} ms ({label} {other.p99:.1f} ms), lost {main.lost}, "
            f"asterisk cpu {main.cpu:.1f} s ({label} {other.cpu:.1f} s)")


async def run(load: Load, workdir: Path) -> tuple[PhaseResult, PhaseResult]:
    from acd.daemon.app import Daemon
    from acd.engine import events as e
    from rig.asterisk import AsteriskSandbox
    from rig.ports import free_port
    from rig.sipp import SippError, agent_phones, citizens

    agi_port = free_port(14573)
    # Other runs on the machine pick ports from the same ranges: the AGI port is held
    # until the daemon binds it, and each phone binds its port right after it was found
    # free (the agents' sipp is checked: a UAS that exited leaves no agents).
    agi_hold = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    agi_hold.bind(("127.0.0.1", agi_port))
    phases = MEDIA_PHASES if load.media else PHASES
    agents = agent_phones(workdir, ring=0.2, talk=load.talk, alaw=load.media, echo=load.media)
    sandbox = AsteriskSandbox(workdir / "asterisk")
    config = workdir / "bench.yaml"
    config.write_text(acd_config(load, agi_port, sandbox, workdir / "var"))
    sandbox.extra_files.update(asterisk_files(load, config, agi_port, agents.port))
    daemon = Daemon(config, extras=False)
    daemon_started = False
    callers = None
    recording: pyspy.Recording | None = None
    citizen_events: dict[str, list] = {}
    cpu: dict[str, float] = {}
    try:
        await asyncio.to_thread(agents.start)
        if not agents.running:
            raise SippError(f"the agents' sipp exited at start:\n{agents.diagnostics()}")
        await asyncio.to_thread(sandbox.start)
        agi_hold.close()
        await daemon.start()
        daemon_started = True
        deadline = time.monotonic() + 60
        while not daemon.ami.connected:
            if time.monotonic() > deadline:
                raise RuntimeError("the daemon did not log in to the sandbox's AMI within 60 s")
            await asyncio.sleep(0.05)
        for agent in load.agent_ids:
            daemon.live.feed(e.AgentLoggedIn(daemon.live.now(), agent))
        for phase in phases:
            started = time.monotonic()
            assert sandbox.pid is not None
            cpu_before = cpu_seconds(sandbox.pid)
            print(f"{phase.name}: {load.calls} calls at {load.rate:g}/s to {load.agents} agents ...", flush=True)
            callers = citizens(workdir, sandbox.sip_port, phase.number, calls=load.calls, rate=load.rate,
                               caller_prefix=phase.prefix, name=phase.name.replace("+", "-"), alaw=load.media,
                               play=SIPP_ALAW_PCAP if phase.media else None)
            if load.profile is not None and phase.number == "q-bench":
                recording = await asyncio.to_thread(pyspy.record, os.getpid(), load.profile / f"{phase.name}.txt")
            trips_before = round_trips(daemon)
            await asyncio.to_thread(callers.start)
            rig_before = rig_cpu(agents)
            if phase.media:
                # mid-call, once every citizen has dialled: does RTP flow both ways on each leg?
                await asyncio.sleep(load.calls / load.rate + load.talk / 2)
                stats = await asyncio.to_thread(sandbox.cli, "pjsip show channelstats")
                (workdir / f"{phase.name}.channelstats").write_text(stats)
                both, legs, codecs = media_legs(stats)
                print(f"{phase.name}: RTP both ways on {both} of {legs} bridged call legs, codecs {sorted(codecs)}",
                      flush=True)
            # A call the phones lost under overload (sipp's UAS aborts a call when a late
            # INVITE retransmission comes instead of the ACK, and sends no BYE) would hold
            # the run forever: past a generous budget the calls still up are ended.
            budget = load.calls / load.rate + (load.calls / load.agents + 1) * (load.talk + 1) * 3 + 60
            try:
                result = await asyncio.to_thread(callers.wait, budget)
            except SippError:
                result = callers.result()
                print(f"{phase.name}: calls still up after {budget:.0f} s were ended", flush=True)
            cpu[phase.name] = cpu_seconds(sandbox.pid) - cpu_before
            rig = {who: after - rig_before[who] for who, after in rig_cpu(agents).items()}
            if recording is not None:
                out = await asyncio.to_thread(recording.stop)
                print(f"{phase.name}: py-spy profile of the daemon in {out} "
                      f"(speedscope or flamegraph.pl read it), {recording.seconds:.1f} s:", flush=True)
                print("\n".join(pyspy.hot_spots(out.read_text()).lines(recording.seconds)), flush=True)
                print(f"{phase.name}: round trips per call:", flush=True)
                print("\n".join(per_call(round_trips(daemon) - trips_before, load.calls)), flush=True)
                recording = None
            citizen_events[phase.name] = callers.events()
            print(f"{phase.name}: citizens done in {time.monotonic() - started:.1f} s "
                  f"({result.successful} successful, {result.failed} failed), asterisk cpu {cpu[phase.name]:.1f} s; "
                  + ", ".join(f"{who} {seconds:.1f} s" for who, seconds in rig.items()), flush=True)
            await asyncio.sleep(0.5)
    finally:
        agi_hold.close()
        if recording is not None:
            with contextlib.suppress(RuntimeError):   # an error is on its way already
                await asyncio.to_thread(recording.stop)
        if callers is not None and callers.running:
            await asyncio.to_thread(callers.stop, 5.0)
        if agents.running:
            await asyncio.to_thread(agents.stop, 5.0)
        if daemon_started:
            await daemon.stop()
        await asyncio.to_thread(sandbox.stop)
    agent_events = agents.events()
    first, second = (analyse(phase.name, load, citizen_events.get(phase.name, []), agent_events, phase.prefix,
                             cpu.get(phase.name, 0.0)) for phase in phases)
    return first, second


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.live", description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=Load.calls)
    parser.add_argument("--agents", type=int, default=Load.agents)
    parser.add_argument("--rate", type=float, default=Load.rate)
    parser.add_argument("--talk", type=float, default=Load.talk)
    parser.add_argument("--media", action="store_true",
                        help="the ACD without and then with audio both ways (citizens play g711a.pcap, agents echo)")
    parser.add_argument("--keep", help="keep the sandbox, phone logs and queue_log in this directory")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="py-spy records the daemon through each ACD phase into DIR/<phase>.txt "
                             "(needs the profile extra)")
    args = parser.parse_args(argv)
    if args.calls < 1 or args.agents < 1 or args.rate <= 0 or args.talk <= 0:
        parser.error("calls, agents, rate and talk must be positive")
    logging.basicConfig(level=logging.ERROR)
    if args.profile is not None:
        try:
            pyspy.py_spy()
        except pyspy.ProfilerMissing as error:
            parser.error(str(error))
    load = Load(calls=args.calls, agents=args.agents, rate=args.rate, talk=args.talk, media=args.media,
                profile=args.profile.resolve() if args.profile is not None else None)
    if args.keep:
        workdir = Path(args.keep)
        workdir.mkdir(parents=True, exist_ok=True)
        acd, baseline = asyncio.run(run(load, workdir.resolve()))
    else:
        with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
            acd, baseline = asyncio.run(run(load, Path(tmp)))
    for phase in (acd, baseline):
        print(f"{phase.name}: {phase.answered}/{phase.offered} answered, peak {phase.peak}, "
              f"routing p50 {percentile(phase.latencies, 0.5):.1f} ms p99 {phase.p99:.1f} ms "
              f"({len(phase.latencies)} hand-overs), asterisk cpu {phase.cpu:.1f} s")
    main_phase, other = (baseline, acd) if load.media else (acd, baseline)
    print(summary(main_phase, other))
    return 0 if acd.lost == 0 and main_phase.lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
