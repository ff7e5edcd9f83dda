"""An active daemon killed mid-load, a standby taking over: what the citizens lose.

One sandboxed Asterisk loaded with the generated dialplan (both daemons' FastAGI in it,
``--standby-agi``), one sipp process playing every agent phone (rings 200 ms, answers,
talks ``--talk`` seconds, hangs up), two ``acd run`` processes with ``daemon.lease``
sharing a Redis, each with its own SQLite call records. Citizens call at ``--rate``;
``--callbacks`` of them dial ``cb-bench`` instead (``rig.pbx_files``: what the
IVR's callback node leaves on the channel, ``ACD_CALLBACK`` = the caller's number),
wait 2 s and hang up; a second sipp process answers their callbacks (the callback leg's
dial string points at it) and talks until the agent hangs up;
once at least ``--waiting`` of them wait and ``--talking`` talk, the active daemon gets
SIGKILL. Everything is counted from the phones' own event logs and the records:

- answered / offered: citizens an agent's phone answered, once each, and callbacks
  the citizen answered;
- lost: citizens no agent answered, callbacks not answered;
- answered twice: citizens two agents answered (a call answered once queued again),
  callbacks answered twice;
- out of order: pairs of citizens where the later caller reached an agent's phone
  more than 0.25 s before the earlier one (the jitter of near-simultaneous offers
  is not an inversion);
- takeover: seconds from the SIGKILL until the standby logs that it routes callers;
- records: calls with a row in either daemon's call records (the killed one is started
  again 2 s later, as systemd's ``Restart=on-failure`` does, and replays its journal);
- callbacks: M of P made: P the callback citizens the waiting room answered (they were
  promised a callback), M those whose callback leg the citizen answered (the callback
  rows ``answered`` in either daemon's records; the citizens' phone confirms it).

Last line:

    failover: <answered>/<offered> answered, lost <L>, answered twice <D>, out of order <O>, takeover <T> s, records <R>/<offered>, callbacks <M>/<P> made

Run: ``python -m bench.failover [--calls 150] [--callbacks 10] [--agents 20] [--rate 8] [--talk 8]``.
"""
from __future__ import annotations

import argparse
import asyncio
import socket
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from acd.config import load_config
from dialplan.generate import Options, generate
from rig.asterisk import AsteriskSandbox
from rig.daemon_process import DaemonProcess
from rig.pbx_files import callback_numbers
from rig.ports import free_port
from rig.services import redis_url
from rig.sipp import agent_phones, citizens

CONFIG = """\
service: {{name: '1555', languages: [el]}}
skills: {{topic:a: A}}
queues:
  bench: {{requires: {{topic:a: 1}}, wrapup: 0, ring_timeout: 10, announcements: {{first_after: 0, every: 0}}}}
routing: {{missed_offer_rest: 1}}
agents:
{agents}
daemon: {{ami_host: 127.0.0.1, ami_port: {ami_port}, ami_username: {ami_user}, ami_secret: '{ami_secret}',
         agi_host: 127.0.0.1, agi_port: {agi_port}, api_port: {api_port}, queue_log: {var}/queue_log,
         recordings_dir: {var}/rec, database_url: 'sqlite+aiosqlite:///{var}/records.sqlite3',
         redis_url: '{redis}', redis_prefix: '{prefix}', lease: true}}
"""
PREFIX = "c-"
#: the callback citizens' numbers: this then 1, 2, ... (digits: ``acd-callback`` takes ``_X.``)
CALLBACK_PREFIX = "2109990"
#: how the callback leg leaves the PBX, in the generated dialplan
DIAL_OUT = "PJSIP/${EXTEN}@citizens"


def bench_dialplan(extensions: str, citizen_port: int) -> str:
    """The generated dialplan plus ``cb-bench`` (``rig.pbx_files.callback_numbers``: a
    caller asking to be called back, as the IVR's callback node would leave it) and the
    callback leg pointed at the sipp process playing the callback citizens."""
    if DIAL_OUT not in extensions:
        raise RuntimeError("the generated dialplan changed: update bench.failover.bench_dialplan")
    return (extensions + callback_numbers()).replace(DIAL_OUT, f"PJSIP/citizens/sip:${{EXTEN}}@127.0.0.1:{citizen_port}")


@dataclass(frozen=True)
class Load:
    calls: int = 150
    callbacks: int = 10
    agents: int = 20
    rate: float = 8.0
    talk: float = 8.0
    waiting: int = 50
    talking: int = 20


@dataclass(frozen=True)
class Figures:
    offered: int
    answered: int
    lost: int
    twice: int
    out_of_order: int
    takeover: float
    records: int
    callbacks_made: int
    callbacks_promised: int

    def line(self) -> str:
        return (f"failover: {self.answered}/{self.offered} answered, lost {self.lost}, answered twice {self.twice}, "
                f"out of order {self.out_of_order}, takeover {self.takeover:.1f} s, "
                f"records {self.records}/{self.offered}, callbacks {self.callbacks_made}/{self.callbacks_promised} made")


def write_config(path: Path, load: Load, sandbox: AsteriskSandbox, agi_port: int, var: Path, redis: str,
                 prefix: str) -> None:
    var.mkdir(parents=True, exist_ok=True)
    agents = "\n".join(f"  '{3001 + n}': {{pin: '1234', skills: {{topic:a: 2}}}}" for n in range(load.agents))
    path.write_text(CONFIG.format(agents=agents, ami_port=sandbox.ami_port, ami_user=sandbox.ami_username,
                                  ami_secret=sandbox.ami_secret, agi_port=agi_port, api_port=free_port(28500),
                                  var=var, redis=redis, prefix=prefix))


def queue_counts(path: Path) -> tuple[int, int]:
    """(waiting, talking) as the active daemon's queue_log says now."""
    try:
        lines = [line.split("|") for line in path.read_text().splitlines()]
    except FileNotFoundError:
        return 0, 0
    events = Counter(line[4] for line in lines if len(line) > 4)
    ended = events["COMPLETEAGENT"] + events["COMPLETECALLER"]
    return events["ENTERQUEUE"] - events["CONNECT"] - events["ABANDON"], events["CONNECT"] - ended


def out_of_order(arrivals: dict[str, float], reached: dict[str, float], jitter: float = 0.25) -> int:
    callers = sorted((caller for caller in reached if caller in arrivals), key=arrivals.__getitem__)
    return sum(1 for i, early in enumerate(callers) for late in callers[i + 1:]
               if reached[late] < reached[early] - jitter)


def records(*databases: Path) -> int:
    calls: set[str] = set()
    for database in databases:
        if database.exists():
            with sqlite3.connect(database) as db:
                calls.update(row[0] for row in db.execute("SELECT call_id FROM calls"))
    return len(calls)


def callback_statuses(*databases: Path) -> dict[str, str]:
    """Each callback's status, ``answered`` if either daemon's records say so."""
    statuses: dict[str, str] = {}
    for database in databases:
        if database.exists():
            with sqlite3.connect(database) as db:
                try:
                    rows = db.execute("SELECT number, status FROM callbacks").fetchall()
                except sqlite3.OperationalError:        # no table yet
                    continue
            for number, status in rows:
                if statuses.get(number) != "answered":
                    statuses[number] = status
    return statuses


async def run(load: Load, workdir: Path) -> Figures:
    redis = redis_url()
    prefix = f"bench-failover-{uuid.uuid4().hex[:8]}:"
    agents = agent_phones(workdir, ring=0.2, talk=load.talk, port=free_port(16900, socket.SOCK_DGRAM))
    called_back = agent_phones(workdir, ring=0.2, talk=None, port=free_port(16950, socket.SOCK_DGRAM),
                               name="called-back")
    databases = (workdir / "var-0" / "records.sqlite3", workdir / "var-1" / "records.sqlite3")
    sandbox = AsteriskSandbox(workdir / "asterisk")
    sandbox.start()
    daemons: list[DaemonProcess] = []
    try:
        ports = (free_port(24800), free_port(24850))
        configs = [workdir / f"acd-{n}.yaml" for n in range(2)]
        for n, config in enumerate(configs):
            write_config(config, load, sandbox, ports[n], workdir / f"var-{n}", redis, prefix)
        (workdir / "var-0" / "agents.json").write_text(
            "{" + ",".join(f'"{3001 + n}": {{"state": "logged_in"}}' for n in range(load.agents)) + "}")
        files = generate(load_config(configs[0]), Options(
            agi_port=ports[0], agents_at=f"127.0.0.1:{agents.port}", standby_agi=f"127.0.0.1:{ports[1]}"))
        files["extensions_generated.conf"] = bench_dialplan(files["extensions_generated.conf"], called_back.port)
        sandbox.apply(files)
        agents.start()
        called_back.start()
        active, standby = (DaemonProcess(config, workdir / f"daemon-{n}.log") for n, config in enumerate(configs))
        daemons += [active, standby]
        active.start()
        active.wait_logged("active: routing callers")
        standby.start()
        standby.wait_logged("standby: waiting for the leader lease")
        caller_phones = citizens(workdir, sandbox.sip_port, "q-bench", calls=load.calls - load.callbacks,
                                 rate=load.rate * (load.calls - load.callbacks) / load.calls,
                                 caller_prefix=PREFIX, hold=None)
        callback_phones = citizens(workdir, sandbox.sip_port, "cb-bench", calls=load.callbacks,
                                   rate=load.rate * load.callbacks / load.calls, caller_prefix=CALLBACK_PREFIX,
                                   hold=2.0, name="callback-citizens") if load.callbacks else None
        caller_phones.start()
        if callback_phones is not None:
            callback_phones.start()
        deadline = time.monotonic() + load.calls / load.rate + 60
        while True:
            waiting, talking = queue_counts(workdir / "var-0" / "queue_log")
            if waiting >= load.waiting and talking >= load.talking:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"never {load.waiting} waiting and {load.talking} talking "
                                   f"(now {waiting} and {talking}): raise --rate or --talk")
            await asyncio.sleep(0.05)
        waiting, talking = queue_counts(workdir / "var-0" / "queue_log")
        killed_at = time.monotonic()
        active.kill()
        pending = sum(1 for status in callback_statuses(databases[0]).values() if status == "pending")
        print(f"killed the active daemon with {waiting} callers waiting and {talking} talking, "
              f"{pending} callbacks pending", flush=True)
        while "active: routing callers" not in standby.text():
            if time.monotonic() > killed_at + 30:
                raise RuntimeError("the standby never took over:\n" + standby.text()[-3000:])
            await asyncio.sleep(0.02)
        takeover = time.monotonic() - killed_at
        print(f"the standby routes callers after {takeover:.1f} s", flush=True)
        # as systemd does (deploy/acd.service: Restart=on-failure, RestartSec=2), the crashed
        # daemon comes back, as the standby now, and writes the rows its journal kept
        await asyncio.sleep(max(0.0, killed_at + 2.0 - time.monotonic()))
        await asyncio.to_thread(active.start)
        await asyncio.to_thread(caller_phones.wait, load.calls * load.talk / load.agents + 120)
        promised = 0
        if callback_phones is not None:
            await asyncio.to_thread(callback_phones.wait, 60)
            promised = len({ev.phone for ev in callback_phones.events() if ev.event == "answered"})
        deadline = time.monotonic() + load.callbacks * load.talk + 60
        while time.monotonic() < deadline and "pending" in callback_statuses(*databases).values():
            await asyncio.sleep(0.5)                 # the callbacks still in line are made
        await asyncio.sleep(1.0)                     # the last rows reach the records
        standby.terminate()
        active.terminate()
        statuses = callback_statuses(*databases)
        made = sum(1 for status in statuses.values() if status == "answered")
        called_back.stop(2.0)                        # sipp's log is whole once it has exited
        reached_back = Counter(ev.phone for ev in called_back.events() if ev.event == "answer")
        print(f"callbacks: {len(statuses)} stored {dict(Counter(statuses.values()))}, the citizens' phone "
              f"answered {len(reached_back)} numbers ({sum(reached_back.values())} calls)", flush=True)
        agent_events = agents.events()
        answers = Counter(ev.peer for ev in agent_events if ev.event == "answer" and ev.peer.startswith(PREFIX))
        reached: dict[str, float] = {}
        for ev in sorted(agent_events, key=lambda ev: ev.at):
            if ev.event == "invite" and ev.peer.startswith(PREFIX):
                reached.setdefault(ev.peer, ev.at)
        arrivals = {ev.phone: ev.at for ev in caller_phones.events() if ev.event == "invite"}
        answered = len(answers) + made
        return Figures(offered=load.calls, answered=answered, lost=load.calls - answered,
                       twice=sum(1 for n in [*answers.values(), *reached_back.values()] if n > 1),
                       out_of_order=out_of_order(arrivals, reached), takeover=takeover, records=records(*databases),
                       callbacks_made=made, callbacks_promised=promised)
    finally:
        for daemon in daemons:
            daemon.stop()
        for phones in (agents, called_back):
            if phones.running:
                phones.stop(2.0)
        sandbox.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.failover", description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=Load.calls)
    parser.add_argument("--callbacks", type=int, default=Load.callbacks,
                        help="citizens among --calls who ask to be called back")
    parser.add_argument("--agents", type=int, default=Load.agents)
    parser.add_argument("--rate", type=float, default=Load.rate)
    parser.add_argument("--talk", type=float, default=Load.talk)
    parser.add_argument("--waiting", type=int, default=Load.waiting, help="callers waiting at the kill")
    parser.add_argument("--talking", type=int, default=Load.talking, help="callers talking at the kill")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="run in DIR and keep the logs there")
    args = parser.parse_args(argv)
    if not 0 <= args.callbacks < args.calls:
        parser.error(f"--callbacks must be from 0 to --calls - 1, not {args.callbacks}")
    load = Load(args.calls, args.callbacks, args.agents, args.rate, args.talk, args.waiting, args.talking)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        figures = asyncio.run(run(load, args.keep))
    else:
        with tempfile.TemporaryDirectory(prefix="acd-failover-") as tmp:
            figures = asyncio.run(run(load, Path(tmp)))
    print(figures.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
