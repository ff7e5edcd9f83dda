"""The live demo on one machine: a sandboxed Asterisk, the daemon, sipp citizens and
sipp agents, with the live queue figures printed every second.

It reads a real config (``examples/1555.yaml`` by default), logs every agent in, gives
every agent's phone to one sipp process (rings 200 ms, talks ``--talk`` seconds, hangs
up) and sends citizens to the queues' direct numbers (``q-<queue>``) at ``--rate`` calls a
second, spread over the queues in the config's topic mix, for ``--seconds``; once the
calls under way have ended it prints the final report (acd.metrics' definitions) and
stops everything it started. Nothing is left running.

Run: ``python -m acd.demo`` (or ``acd demo``) ``[--seconds 60] [--rate 4] [--talk 8]``.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from acd.config import ConfigError, load_config
from acd.config.model import Config
from acd.engine import AgentState
from acd.engine import events as e
from acd.live_figures import LiveFigures

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "examples" / "1555.yaml"
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


async def run(config_path: Path, workdir: Path, *, seconds: float, rate: float, talk: float) -> int:
    from bench.asterisk_side import baseline_queue, dialplan, endpoints
    from acd.daemon.app import Daemon
    from rig.asterisk import AsteriskSandbox
    from rig.ports import free_port
    from rig.sipp import agent_phones, citizens

    config: Config = load_config(config_path)
    prompts = await asyncio.to_thread(demo_prompts, config)
    pins = await asyncio.to_thread(demo_pins, config, workdir / "var")
    agi_port = free_port(14573)
    api_port = free_port(18080)
    agents = agent_phones(workdir, ring=0.2, talk=talk, name="agents")
    contacts = {agent.endpoint: agents.port for agent in config.agents.values()}
    sandbox = AsteriskSandbox(workdir / "asterisk", extra_files={
        "pjsip_generated.conf": endpoints(contacts), "extensions_generated.conf": dialplan(agi_port),
        "queues_generated.conf": baseline_queue("acd-fallback", contacts)})
    print(f"starting Asterisk (SIP 127.0.0.1:{sandbox.sip_port}, AMI {sandbox.ami_port}) ...", flush=True)
    daemon = None
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
        daemon = Daemon(sandbox_config(config_path, workdir / "demo.yaml", sandbox, agi_port, workdir / "var",
                                       prompts, api_port))
        (workdir / "var").mkdir(parents=True, exist_ok=True)
        password = await demo_supervisor(daemon.config.daemon.database_url)
        figures = LiveFigures()
        daemon.live.subscribe(figures)
        await daemon.start()
        for agent in config.agents:
            daemon.live.feed(e.AgentLoggedIn(daemon.live.now(), agent))
        await start(agents)
        shares = queue_shares(config)
        print(f"{len(config.agents)} agents logged in; citizens call {len(shares)} queues at {rate:g}/s "
              f"for {seconds:g} s (talk {talk:g} s), in the config's topic mix", flush=True)
        print(f"wallboard http://127.0.0.1:{api_port}/  agents' panel http://127.0.0.1:{api_port}/agent",
              flush=True)
        print(f"log in as supervisor, password {password}", flush=True)
        if pins:
            first = next(iter(pins))
            print(f"agents' PINs in {workdir / 'var' / 'demo-pins.txt'} (agent {first}: {pins[first]})", flush=True)
        for queue, share in shares.items():
            phone = citizens(workdir, sandbox.sip_port, f"q-{queue}", calls=max(1, round(rate * share * seconds)),
                             rate=rate * share, caller_prefix=f"{queue}-", name=f"citizens-{queue}")
            callers.append(phone)
            await start(phone)
        started = time.monotonic()
        # citizens call for `seconds`; then the calls under way finish before the report
        drain_until = seconds + talk + 60
        while ((elapsed := time.monotonic() - started) < seconds
               or (elapsed < drain_until and any(phone.running for phone in callers))):
            print(status_line(elapsed, daemon, figures), flush=True)
            await asyncio.sleep(1.0)
        print(status_line(time.monotonic() - started, daemon, figures), flush=True)
        final = figures.figures()
        print(f"demo: offered {final.offered}, answered {final.answered}, abandoned {final.abandoned}, "
              f"service level {'-' if final.service_level is None else f'{final.service_level:.0%}'}, "
              f"queue_log {workdir / 'var' / 'queue_log'}", flush=True)
    finally:
        if starting:
            await asyncio.wait(starting)
        for phone in [*callers, agents]:
            if phone.running:
                await asyncio.to_thread(phone.stop, 1.0)
        if daemon is not None:
            await daemon.stop()
        await asyncio.to_thread(sandbox.stop)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m acd.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long citizens keep calling")
    parser.add_argument("--rate", type=float, default=4.0, help="citizens' calls per second, all queues")
    parser.add_argument("--talk", type=float, default=8.0, help="seconds each agent talks")
    parser.add_argument("--keep", type=Path, help="keep the sandbox, logs and queue_log in this directory")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.rate <= 0 or args.talk <= 0:
        parser.error("seconds, rate and talk must be positive")
    logging.basicConfig(level=logging.ERROR)
    try:
        load_config(args.config)
    except ConfigError as error:
        print(str(error), file=sys.stderr)
        return 1
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        return asyncio.run(run(args.config.resolve(), args.keep.resolve(), seconds=args.seconds, rate=args.rate,
                               talk=args.talk))
    with tempfile.TemporaryDirectory(prefix="acd-demo-") as tmp:
        return asyncio.run(run(args.config.resolve(), Path(tmp), seconds=args.seconds, rate=args.rate,
                               talk=args.talk))


if __name__ == "__main__":
    sys.exit(main())
