"""The live demo on one machine: a sandboxed Asterisk, the daemon, sipp citizens and
sipp agents, with the live queue figures printed every second.

It reads a real config (``examples/1555.yaml`` by default) and loads into the sandbox
what ``python -m dialplan`` writes for it (rig.pbx_files: only the phones' contacts
differ), logs ``--agents`` of its agents in (spread over the queues by the topic mix),
gives every agent's phone to one sipp process (rings 200 ms, talks ``--talk`` seconds,
hangs up) and sends citizens to the queues' direct numbers (``q-<queue>``) at ``--rate``
calls a second, in the config's topic mix, for ``--seconds``. A citizen hangs up after
``--patience`` seconds on the line if the call has not ended by then: waiting, that is an
abandon. The default load is more than the agents logged in can take, so callers wait:
their position is announced, the wallboard fills and the impatient ones abandon.

Once the calls under way have ended (or ``--drain`` seconds later) it prints the final
report (acd.metrics' definitions) with the callers still waiting and talking when it
stopped, and stops everything it started; Ctrl-C and SIGTERM stop it the same way, with
the report. Nothing is left running. ``--keep DIR`` keeps the config it ran with
(``DIR/demo.yaml``), Asterisk's files (``DIR/asterisk/etc``), the logs and the queue_log.

Run: ``python -m acd.demo`` (or ``acd demo``)
``[--seconds 90] [--rate 1] [--agents 20] [--talk 15] [--patience 40]``.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from acd.config import ConfigError, load_config
from acd.config.model import Config
from acd.engine import AgentState, CallState
from acd.engine import events as e
from acd.engine.lines import qualifies
from acd.live_figures import LiveFigures

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "examples" / "1555.yaml"
#: the demo's default load: more than the agents logged in can take (about 32 erlangs on
#: 20 agents with the 1555 example's wrap-ups), so callers wait, hear their position and
#: some abandon; tests/test_demo.py holds it to that
DEFAULT_LOAD = {"seconds": 90.0, "rate": 1.0, "agents": 20, "talk": 15.0, "patience": 40.0}
#: rendered prompts outlive a demo's temporary directory: the next demo renders none
PROMPT_CACHE = Path.home() / ".cache" / "acd-1555" / "demo-prompts"


def sandbox_config(source: Path, target: Path, sandbox: Any, agi_port: int, var: Path,
                   prompts_dir: Path | None = None, api_port: int | None = None) -> Path:
    """The user's config with the daemon section pointed at the sandbox (ports, secret,
    files under ``var``) and, when given, the prompts where the demo rendered them
    (Asterisk plays an absolute path as well as one under its sounds directory);
    everything else as written."""
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    if prompts_dir is not None:
        data.setdefault("ivr", {})["prompts_dir"] = str(prompts_dir)
    data["daemon"] = {
        "ami_host": "127.0.0.1", "ami_port": sandbox.ami_port, "ami_username": sandbox.ami_username,
        "ami_secret": sandbox.ami_secret, "agi_host": "127.0.0.1", "agi_port": agi_port,
        "queue_log": str(var / "queue_log"), "recordings_dir": str(var / "recordings"),
        "database_url": f"sqlite+aiosqlite:///{var / 'acd.sqlite3'}",
    }
    if api_port is not None:
        data["daemon"]["api_port"] = api_port
    # the demo's pages are plain http on loopback: a Secure cookie would never come back
    data["access"] = {**(data.get("access") or {}), "secure_cookies": False}
    if (var / "demo.pins").exists():
        data["daemon"]["pins_file"] = str(var / "demo.pins")
    target.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


async def demo_supervisor(database_url: str, name: str = "supervisor") -> str:
    """A supervisor in the demo's fresh database, with a random password (returned), so
    the wallboard and the other pages can be logged in to while the demo runs."""
    import secrets

    from sqlalchemy.ext.asyncio import create_async_engine

    from acd.auth import AuthStore

    db = create_async_engine(database_url)
    try:
        store = AuthStore(db)
        await store.prepare()
        password = secrets.token_urlsafe(12)
        await store.add_user(name, password, "supervisor")
        return password
    finally:
        await db.dispose()


def demo_pins(config: Config, var: Path) -> dict[str, str]:
    """A PIN for each agent without one in the config, hashed into ``var/demo.pins`` (the
    file ``acd pins generate`` writes) and in clear in ``var/demo-pins.txt``, so the
    agents' panel can be tried; the clear PINs of the agents in the config."""
    from acd.config.pins import hash_pin, new_pin, write_pins_file

    var.mkdir(parents=True, exist_ok=True)
    clear = {agent.id: new_pin() for agent in config.agents.values() if not agent.pin}
    write_pins_file(var / "demo.pins", {agent_id: hash_pin(pin) for agent_id, pin in clear.items()})
    fd = os.open(var / "demo-pins.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handout:
        handout.write("".join(f"{agent_id} {pin}\n" for agent_id, pin in clear.items()))
    return clear


def demo_prompts(config: Config, cache: Path = PROMPT_CACHE) -> Path | None:
    """The config's prompts rendered (once; later demos reuse unchanged files) so callers
    hear their position and wait; None, with a warning, where espeak-ng or sox is missing:
    the demo then runs with silent announcements rather than not at all."""
    from tqdm import tqdm  # type: ignore[import-untyped]

    from ivr.prompts import PromptBuildError, build, config_texts

    texts = config_texts(config)
    try:
        build(texts, cache, progress=lambda jobs: tqdm(jobs, desc="rendering prompts", unit="prompt", leave=False))
    except (PromptBuildError, OSError) as error:
        print(f"warning: prompts not rendered ({error}); announcements will be silent", file=sys.stderr)
        return None
    return cache


def queue_shares(config: Config) -> dict[str, float]:
    """Each queue's share of the citizens: the simulator's topic mix when the config has
    one (so the rare violence line gets its few calls, not a seventh), else equal."""
    from acd.config.sim import settings_for

    topics = {queue: share for queue, share in settings_for(config).topics.items() if queue in config.queues}
    total = sum(topics.values())
    if total <= 0:
        return {queue: 1 / len(config.queues) for queue in config.queues}
    return {queue: share / total for queue, share in topics.items() if share > 0}


def demo_staff(config: Config, shares: dict[str, float], count: int) -> list[str]:
    """``count`` agents to log in (all, when the config has fewer), each queue's share of
    them by the topic mix (at least one for every queue some agent qualifies for), so no
    queue's callers wait for an agent who never comes while another's idle."""
    count = min(count, len(config.agents))
    wanted = {queue: max(1.0, count * share) for queue, share in shares.items()}
    have = dict.fromkeys(wanted, 0)
    chosen: list[str] = []
    while len(chosen) < count:
        # the queue furthest below its share picks next: its first qualified agent not chosen
        for queue in sorted(wanted, key=lambda queue: have[queue] / wanted[queue]):
            requirements = config.queues[queue].requirements
            agent = next((a for a in config.agents if a not in chosen
                          and qualifies(config.agents[a].skills, requirements)), None)
            if agent is not None:
                chosen.append(agent)
                for other in have:
                    have[other] += qualifies(config.agents[agent].skills, config.queues[other].requirements)
                break
        else:       # no queue has a qualified agent left: the rest in the config's order
            chosen += [a for a in config.agents if a not in chosen][:count - len(chosen)]
    return chosen


def offered_erlangs(config: Config, shares: dict[str, float], rate: float, talk: float) -> float:
    """The load the citizens offer, in agents kept busy: calls a second times the handle
    time (talk plus each queue's wrap-up). Above the agents logged in, callers wait."""
    return sum(rate * share * (talk + config.queues[queue].wrapup) for queue, share in shares.items())


def status_line(elapsed: float, daemon: Any, figures: LiveFigures) -> str:
    engine = daemon.live.engine
    states: dict[AgentState, int] = {}
    for agent in engine.agents.values():
        states[agent.state] = states.get(agent.state, 0) + 1
    waiting = engine.waiting_calls()
    longest = max((daemon.live.now() - c.enqueued_at for c in waiting), default=0.0)
    report = figures.figures()
    level = "-" if report.service_level is None else f"{report.service_level:.0%}"
    asa = "-" if report.asa is None else f"{report.asa:.1f}s"
    return (f"{elapsed:5.0f}s  waiting {len(waiting):3d} (longest {longest:4.0f}s)  "
            f"talking {states.get(AgentState.ON_CALL, 0):3d}  ringing {states.get(AgentState.RINGING, 0):2d}  "
            f"wrap-up {states.get(AgentState.WRAP_UP, 0):3d}  free {states.get(AgentState.AVAILABLE, 0):3d}  |  "
            f"done {report.answered:4d} answered {report.abandoned:3d} abandoned  SL {level:>4}  ASA {asa}")


def final_line(daemon: Any, figures: LiveFigures, queue_log: Path) -> str:
    """The demo's last word: every caller offered, finished or not. The figures cover
    the calls that ended; the callers still in line (waiting or being rung) and those
    still talking when the demo stopped are counted beside them, so that offered is
    answered + abandoned + exited + still waiting + still talking."""
    final = figures.figures()
    open_calls = [call.state for call in daemon.live.engine.calls.values()]
    waiting = sum(state in (CallState.WAITING, CallState.OFFERED) for state in open_calls)
    talking = sum(state is CallState.CONNECTED for state in open_calls)
    level = "-" if final.service_level is None else f"{final.service_level:.0%}"
    return (f"demo: offered {final.offered + waiting + talking}, answered {final.answered}, "
            f"abandoned {final.abandoned + final.short_abandoned}, exited {final.exited}, "
            f"still waiting {waiting}, still talking {talking} when it stopped, "
            f"service level {level} of the {final.offered} calls that ended, queue_log {queue_log}")


async def run(config_path: Path, workdir: Path, *, seconds: float, rate: float, talk: float,
              agents_in: int = int(DEFAULT_LOAD["agents"]), patience: float | None = DEFAULT_LOAD["patience"],
              drain: float | None = None) -> int:
    """The demo; returns its exit status (0, or 128 + the signal that stopped it)."""
    from acd.daemon.app import Daemon
    from rig.asterisk import AsteriskSandbox
    from rig.pbx_files import sandbox_files
    from rig.ports import free_port
    from rig.sipp import agent_phones, citizens

    config: Config = load_config(config_path)
    stopped_by: list[int] = []
    main_task = asyncio.current_task()
    assert main_task is not None
    loop = asyncio.get_running_loop()

    def stop(signum: int) -> None:
        """SIGTERM ends the demo as Ctrl-C (asyncio.run's SIGINT handler) does: the task is
        cancelled, the report printed and the clean-up below runs."""
        stopped_by.append(signum)
        main_task.cancel()

    loop.add_signal_handler(signal.SIGTERM, stop, signal.SIGTERM)
    prompts = await asyncio.to_thread(demo_prompts, config)
    pins = await asyncio.to_thread(demo_pins, config, workdir / "var")
    agi_port = free_port(14573)
    api_port = free_port(18080)
    agents = agent_phones(workdir, ring=0.2, talk=talk, name="agents")
    sandbox = AsteriskSandbox(workdir / "asterisk")
    # the config the demo runs with (kept with --keep), and Asterisk's files generated from it
    demo_config = sandbox_config(config_path, workdir / "demo.yaml", sandbox, agi_port, workdir / "var",
                                 prompts, api_port)
    sandbox.extra_files.update(sandbox_files(
        load_config(demo_config), agi_port=agi_port,
        contacts={agent.endpoint: agents.port for agent in config.agents.values()}))
    print(f"starting Asterisk (SIP 127.0.0.1:{sandbox.sip_port}, AMI {sandbox.ami_port}) ...", flush=True)
    daemon = None
    figures = LiveFigures(config)
    callers: list[Any] = []
    #: starts running in a thread: a Ctrl-C cancels the await, not the thread, so the
    #: clean-up waits for them before it stops what they started (else a sipp or Asterisk
    #: started just after the clean-up would outlive the demo)
    starting: set[asyncio.Future[Any]] = set()

    async def start(thing: Any) -> None:
        future = asyncio.ensure_future(asyncio.to_thread(thing.start))
        starting.add(future)
        await asyncio.shield(future)

    try:
        await start(sandbox)
        # with the extras: call records (SQLite under var/) and the API, so the wallboard
        # and the agents' panel can be watched while the demo runs
        daemon = Daemon(demo_config)
        (workdir / "var").mkdir(parents=True, exist_ok=True)
        password = await demo_supervisor(daemon.config.daemon.database_url)
        daemon.live.subscribe(figures)
        await daemon.start()
        shares = queue_shares(config)
        staff = demo_staff(config, shares, agents_in)
        for agent in staff:
            daemon.live.feed(e.AgentLoggedIn(daemon.live.now(), agent))
        await start(agents)
        load = offered_erlangs(config, shares, rate, talk)
        print(f"{len(staff)} of {len(config.agents)} agents logged in; citizens call {len(shares)} queues at "
              f"{rate:g}/s for {seconds:g} s (talk {talk:g} s, patience "
              f"{'-' if patience is None else f'{patience:g} s'}), in the config's topic mix: "
              f"{load:.0f} erlangs offered to {len(staff)} agents"
              + (", callers will wait" if load > len(staff) else ""), flush=True)
        print(f"wallboard http://127.0.0.1:{api_port}/  agents' panel http://127.0.0.1:{api_port}/agent",
              flush=True)
        print(f"log in as supervisor, password {password}", flush=True)
        if pins:
            first = next(iter(pins))
            print(f"agents' PINs in {workdir / 'var' / 'demo-pins.txt'} (agent {first}: {pins[first]})", flush=True)
        for queue, share in shares.items():
            phone = citizens(workdir, sandbox.sip_port, f"q-{queue}", calls=max(1, round(rate * share * seconds)),
                             rate=rate * share, caller_prefix=f"{queue}-", name=f"citizens-{queue}", hold=patience)
            callers.append(phone)
            await start(phone)
        started = time.monotonic()
        # citizens call for `seconds`; then the calls under way finish before the report
        drain_until = seconds + (talk + 60 if drain is None else drain)
        while ((elapsed := time.monotonic() - started) < seconds
               or (elapsed < drain_until and any(phone.running for phone in callers))):
            print(status_line(elapsed, daemon, figures), flush=True)
            await asyncio.sleep(1.0)
        print(status_line(time.monotonic() - started, daemon, figures), flush=True)
    except asyncio.CancelledError:
        if not stopped_by:
            raise           # Ctrl-C: asyncio.run turns it into KeyboardInterrupt, after the clean-up
        print(f"stopped by {signal.Signals(stopped_by[0]).name}", flush=True)
    finally:
        # a second SIGTERM must not cut the clean-up short
        loop.add_signal_handler(signal.SIGTERM, stopped_by.append, signal.SIGTERM)
        # the truth before the clean-up ends the calls still up
        if daemon is not None and daemon.live is not None:
            print(final_line(daemon, figures, workdir / "var" / "queue_log"), flush=True)
        await _clean_up(starting, [*callers, agents], daemon, sandbox)
        loop.remove_signal_handler(signal.SIGTERM)
    return 128 + stopped_by[0] if stopped_by else 0


async def _clean_up(starting: set[asyncio.Future[Any]], phones: list[Any], daemon: Any, sandbox: Any) -> None:
    """Stop what the demo started: the sipp phones, the daemon, then Asterisk."""
    if starting:
        await asyncio.wait(starting)
    for phone in phones:
        if phone.running:
            await asyncio.to_thread(phone.stop, 1.0)
    if daemon is not None:
        await daemon.stop()
    await asyncio.to_thread(sandbox.stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m acd.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--seconds", type=float, default=DEFAULT_LOAD["seconds"],
                        help="how long citizens keep calling")
    parser.add_argument("--rate", type=float, default=DEFAULT_LOAD["rate"],
                        help="citizens' calls per second, all queues")
    parser.add_argument("--agents", type=int, default=DEFAULT_LOAD["agents"],
                        help="agents logged in (the config's, by topic mix)")
    parser.add_argument("--talk", type=float, default=DEFAULT_LOAD["talk"], help="seconds each agent talks")
    parser.add_argument("--patience", type=float, default=DEFAULT_LOAD["patience"],
                        help="seconds a citizen stays on the line before hanging up (0: until the agent does)")
    parser.add_argument("--drain", type=float,
                        help="seconds to wait for the calls under way after the last citizen (default talk + 60)")
    parser.add_argument("--keep", type=Path,
                        help="keep the config it ran with (DIR/demo.yaml), Asterisk's files, logs and queue_log")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.rate <= 0 or args.talk <= 0 or args.agents < 1:
        parser.error("seconds, rate, talk and agents must be positive")
    if args.patience < 0 or (args.drain is not None and args.drain < 0):
        parser.error("patience and drain cannot be negative")
    logging.basicConfig(level=logging.ERROR)
    try:
        load_config(args.config)
    except ConfigError as error:
        print(str(error), file=sys.stderr)
        return 1
    options = {"seconds": args.seconds, "rate": args.rate, "talk": args.talk, "agents_in": args.agents,
               "patience": args.patience or None, "drain": args.drain}
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        status = _run(args.config.resolve(), args.keep.resolve(), options)
        print(f"kept in {args.keep}: demo.yaml (the config it ran with), asterisk/etc (Asterisk's files), "
              "var (queue_log, call records, PINs)", flush=True)
        return status
    with tempfile.TemporaryDirectory(prefix="acd-demo-") as tmp:
        return _run(args.config.resolve(), Path(tmp), options)


def _run(config: Path, workdir: Path, options: dict[str, Any]) -> int:
    """The demo's exit status, also when a signal ends it before anything was started
    (nothing to clean up then) or Ctrl-C does (the clean-up ran first)."""
    try:
        return asyncio.run(run(config, workdir, **options))
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    except asyncio.CancelledError:
        return 128 + signal.SIGTERM


if __name__ == "__main__":
    sys.exit(main())
