"""The API under readers, with a full day behind its figures, and routing beside it.

One process holds what the daemon holds: the live engine (185 agents, 36 queues), the
API on a loopback port, and a routing driver feeding the engine a call's events on the
same event loop. Before the clock starts, a whole day of calls (``--calls``, 18,000 by
default) goes through the engine, so today's figures have every one behind them.

Then, for ``--seconds`` each:

1. routing alone: the driver feeds an event every ``--period`` ms (arrivals, answers,
   hang-ups, abandons, wrap-up ends); routing latency is the delay from an event's due
   moment to the engine's decisions being published (the event loop's lag plus the
   engine's work), which is what readers sharing the loop would add to;
2. the same routing under readers: ``wrk`` (another process) requests ``GET
   /api/queues`` as fast as the API answers, and ``--clients`` WebSocket clients (another
   process, aiohttp) hold ``/api/events``; each client times every message from the
   engine's decision (``at``) to its arrival (the fan-out latency).

Last line:

    api: <N> req/s GET /api/queues with <C> calls today, p99 <X> ms, websocket fan-out to <W> clients p99 <Y> ms, routing p99 <R> ms under readers (<R0> ms without)

Run: ``python -m bench.api [--calls 18000] [--seconds 10] [--clients 200]``; needs
``wrk`` (Debian package ``wrk``).
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from aiohttp import ClientSession, TCPConnector, WSMsgType, web
from sqlalchemy.ext.asyncio import create_async_engine

from acd.api import make_app
from acd.api.floor import local_midnight
from acd.auth import AuthStore
from acd.config.access import AccessSettings
from acd.daemon.live_engine import LiveEngine
from acd.engine import decisions as d
from acd.engine import events as e
from bench.engine import TOPICS, bench_config
from bench.phone_figures import percentile
from rig.ports import free_port


DELTA_HEAD = re.compile(r'\{"type": "delta", "at": ([0-9.e+-]+),')


class Driver:
    """A contact centre's events, one at a time: callers arrive, agents answer and hang
    up, some callers give up. Each ``step`` feeds one event and follows its decisions."""

    def __init__(self, live: LiveEngine, seed: int = 1) -> None:
        self.live = live
        self.rng = random.Random(seed)
        self.ringing: dict[str, str] = {}
        self.talking: list[str] = []
        self.waiting: list[str] = []
        self.wrapping: list[str] = []
        self.next_call = 0
        self.finished = 0

    def feed(self, event: e.Event) -> None:
        for decision in self.live.feed(event):
            if isinstance(decision, d.OfferCall):
                self.ringing[decision.call_id] = decision.agent_id
                if decision.call_id in self.waiting:
                    self.waiting.remove(decision.call_id)
            elif isinstance(decision, d.CallQueued):
                self.waiting.append(decision.call_id)
            elif isinstance(decision, d.CallConnected):
                self.talking.append(decision.call_id)
            elif isinstance(decision, d.CallEnded):
                self.wrapping.append(decision.agent_id)
                self.finished += 1
            elif isinstance(decision, (d.CallAbandoned, d.ExitCall)):
                self.finished += 1
                if decision.call_id in self.waiting:
                    self.waiting.remove(decision.call_id)

    def step(self, now: float) -> None:
        roll = self.rng.random()
        if self.wrapping and roll < 0.2:
            self.feed(e.AgentReady(now, self.wrapping.pop(0)))
        elif self.ringing and roll < 0.45:
            call_id, agent_id = next(iter(self.ringing.items()))
            del self.ringing[call_id]
            if self.rng.random() < 0.1:
                self.feed(e.CallerHungUp(now, call_id))         # gave up while it rang
            else:
                self.feed(e.OfferAnswered(now, call_id, agent_id))
        elif self.talking and roll < 0.7:
            call_id = self.talking.pop(self.rng.randrange(len(self.talking)))
            self.feed((e.AgentHungUp if self.rng.random() < 0.5 else e.CallerHungUp)(now, call_id))
        elif len(self.waiting) > 20:
            self.feed(e.CallerHungUp(now, self.waiting[0]))
        else:
            self.next_call += 1
            self.feed(e.CallArrived(now, f"c{self.next_call}", f"q{self.rng.randrange(TOPICS)}"))


def fill_the_day(driver: Driver, calls: int, start: float, end: float) -> None:
    """``calls`` finished calls through the engine, their times spread over [start, end)."""
    for agent_id in driver.live.config.agents:
        driver.feed(e.AgentLoggedIn(start, agent_id))
    at = start
    step = (end - start) / (calls * 5)
    while driver.finished < calls:
        at = min(at + step, end)
        driver.step(at)


async def route(driver: Driver, seconds: float, period: float) -> list[float]:
    """Feed an event every ``period`` seconds of the loop's clock for ``seconds``; each
    event's latency: from its due moment to its decisions published, in ms."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    due = loop.time()
    end = due + seconds
    while due < end:
        due += period
        await asyncio.sleep(max(0.0, due - loop.time()))
        driver.step(time.time())
        latencies.append((loop.time() - due) * 1000)
    return latencies


async def ws_clients(url: str, token: str, clients: int, seconds: float) -> None:
    """(Run in its own process.) Hold ``clients`` sockets for ``seconds``; print the
    fan-out latencies' p99 and count as JSON."""
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}

    opened = 0
    all_open = asyncio.Event()
    if clients == 0:
        all_open.set()

    async def one(session: ClientSession) -> None:
        nonlocal opened
        async with session.ws_connect(url, headers=headers, heartbeat=None) as socket:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    break
                arrived = time.time()
                # a delta opens with its type and time: read those, not the whole floor
                head = DELTA_HEAD.match(message.data)
                if head is None:
                    opened += 1
                    if opened == clients:
                        all_open.set()
                elif all_open.is_set():
                    latencies.append((arrived - float(head.group(1))) * 1000)

    async with ClientSession(connector=TCPConnector(limit=0)) as session:      # no cap of 100 connections
        tasks = [asyncio.create_task(one(session)) for _ in range(clients)]
        await asyncio.wait_for(all_open.wait(), 60)
        print("open", flush=True)           # the bench starts its clock now
        await asyncio.sleep(seconds)
        connected = sum(1 for t in tasks if not t.done())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps({"p99": percentile(latencies, 0.99) if latencies else None, "messages": len(latencies),
                      "connected": connected}))


def parse_wrk(text: str) -> tuple[float, float]:
    """(requests per second, p99 ms) from ``wrk --latency`` output."""
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return rate, float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


async def run(calls: int, seconds: float, clients: int, period: float, connections: int) -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("bench.api needs wrk (apt-get install wrk)")
    config = bench_config(agents=185)
    live = LiveEngine(config)
    driver = Driver(live)
    with tempfile.TemporaryDirectory() as directory:
        db = create_async_engine(f"sqlite+aiosqlite:///{Path(directory) / 'users.sqlite3'}")
        auth = AuthStore(db, remember_for=1.0)
        await auth.prepare()
        await auth.add_user("bench", "bench password 1", "supervisor")
        token = await auth.issue_token("bench", ["figures", "events"])
        app = make_app(live, auth=auth, settings=AccessSettings(secure_cookies=False))
        now = time.time()
        started = time.perf_counter()
        fill_the_day(driver, calls, local_midnight(now, config.daemon.timezone) + 1, now - 1)
        # what the day left behind is long-lived: out of the collector's full passes, as a
        # daemon does after start-up (each pass over it would stall the loop)
        gc.collect()
        gc.freeze()
        print(f"a day of {driver.finished} finished calls fed through the engine in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port(18480)
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            async with ClientSession() as session:
                answer = await session.get(f"http://127.0.0.1:{port}/api/queues",
                                           headers={"Authorization": f"Bearer {token}"})
                body = await answer.json()
            today = sum(q["today"]["offered"] for q in body["queues"].values())
            alone = await route(driver, seconds, period)
            print(f"routing alone: p99 {percentile(alone, 0.99):.2f} ms over {len(alone)} events", flush=True)
            sockets = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.api", "--ws", f"ws://127.0.0.1:{port}/api/events", token,
                str(clients), str(seconds), stdout=subprocess.PIPE)
            assert sockets.stdout is not None
            await sockets.stdout.readline()         # every client has its snapshot: the clock starts
            load = await asyncio.create_subprocess_exec(
                wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency",
                "-H", f"Authorization: Bearer {token}", f"http://127.0.0.1:{port}/api/queues",
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            under = await route(driver, seconds, period)
            wrk_out = (await load.communicate())[0].decode()
            ws_out = json.loads((await sockets.communicate())[0].decode().strip().splitlines()[-1])
        finally:
            await runner.cleanup()
            await db.dispose()
    rate, p99 = parse_wrk(wrk_out)
    print(f"wrk: {rate:.0f} req/s p99 {p99:.1f} ms; websocket: {ws_out}", flush=True)
    r0, r_under = percentile(alone, 0.99), percentile(under, 0.99)
    fan_out = ws_out["p99"] if ws_out["p99"] is not None else float("nan")
    return (f"api: {rate:.0f} req/s GET /api/queues with {today} calls today, p99 {p99:.1f} ms, "
            f"websocket fan-out to {ws_out['connected']} clients p99 {fan_out:.1f} ms, "
            f"routing p99 {r_under:.1f} ms under readers ({r0:.1f} ms without)")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--ws"]:
        url, token, clients, seconds = argv[1:5]
        asyncio.run(ws_clients(url, token, int(clients), float(seconds)))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=18_000, help="finished calls in today's figures")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--clients", type=int, default=200, help="WebSocket clients on /api/events")
    parser.add_argument("--period", type=float, default=10.0, help="ms between the routing driver's events")
    parser.add_argument("--connections", type=int, default=8, help="wrk's open connections")
    args = parser.parse_args(argv)
    print(asyncio.run(run(args.calls, args.seconds, args.clients, args.period / 1000, args.connections)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
