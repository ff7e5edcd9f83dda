"""A fake FastAGI client cannot hold an agent beyond the ring deadline (issue 10).

Seen against the demo: two fake ``wait`` sessions claimed priority 1000 and never let
their Dial finish; both violence-line agents stayed "ringing" and a real caller waited
25 s. Here raw TCP clients play those sessions against the running daemon's FastAGI
server (from 127.0.0.1, an allowed address: a process on the Asterisk host).
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from acd.daemon.app import Daemon
from acd.daemon.waiting_room import CALL_VARIABLES
from acd.engine import AgentState
from acd.engine import events as e
from tests.waiting import eventually

CONFIG = """\
service: {{name: test, languages: [el]}}
skills: {{topic:violence: Violence}}
queues:
  violence: {{requires: {{topic:violence: 3}}, priority: 10, ring_timeout: 2,
              announcements: {{first_after: 0, every: 0}}}}
agents:
  '2901': {{pin: '1234', skills: {{topic:violence: 5}}}}
  '2902': {{pin: '4321', skills: {{topic:violence: 5}}}}
routing: {{ring_margin: 1, missed_offer_rest: 0.2}}
daemon: {{queue_log: {log}, ami_port: 1}}
"""


class FakeWait:
    """A ``wait`` session over raw TCP that answers every command but Dial, which it
    never lets finish."""

    def __init__(self, call_id: str, priority: str) -> None:
        self.call_id, self.priority = call_id, priority
        self.dials: list[str] = []
        self.closed = asyncio.Event()

    async def run(self, port: int, source: str = "127.0.0.1") -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        env = (f"agi_network: yes\nagi_network_script: wait\nagi_request: agi://127.0.0.1/wait\n"
               f"agi_channel: PJSIP/fake-{self.call_id}\nagi_uniqueid: {self.call_id}\n\n")
        writer.write(env.encode())
        values = {"ACD_CALLID": self.call_id, "ACD_QUEUE": "violence", "ACD_PRIORITY": self.priority,
                  "UNIQUEID": self.call_id}
        try:
            while line := (await reader.readline()).decode():
                if line.startswith("GET FULL VARIABLE"):
                    joined = "\x1f".join(values.get(name, "") for name in CALL_VARIABLES)
                    writer.write(f"200 result=1 ({joined})\n".encode())
                elif line.startswith("EXEC Dial"):
                    self.dials.append(line.split()[2])       # and never a reply
                else:
                    writer.write(b"200 result=1\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            self.closed.set()
            writer.close()


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    config = tmp_path / "acd.yaml"
    config.write_text(CONFIG.format(log=tmp_path / "queue_log"))
    daemon = Daemon(config, agi_port=0, extras=False)
    await daemon.start()
    try:
        yield daemon
    finally:
        await daemon.stop()


async def test_fake_sessions_cannot_hold_the_agents_past_the_ring_deadline(daemon: Daemon) -> None:
    engine = daemon.live.engine
    for agent_id in ("2901", "2902"):
        daemon.live.feed(e.AgentLoggedIn(daemon.live.now(), agent_id))
    fakes = [FakeWait("fake-1", "1000"), FakeWait("fake-2", "1000")]
    tasks = [asyncio.create_task(f.run(daemon.agi_port)) for f in fakes]
    await eventually(lambda: all(f.dials for f in fakes), what="both fakes dial an agent")
    assert {a.state for a in engine.agents.values()} == {AgentState.RINGING}
    # the claimed priority is not the config's: the queue's own applies
    assert {engine.calls[f.call_id].priority for f in fakes} == {10}

    citizen = FakeWait("citizen", "10")
    citizen_task = asyncio.create_task(citizen.run(daemon.agi_port))
    await eventually(lambda: "citizen" in engine.calls, what="the citizen queued")
    queued_at = asyncio.get_running_loop().time()
    # ring_timeout 2 + ring_margin 1: the engine withdraws both offers, the daemon closes
    # the sessions that never reported, and the agents are free for the real caller
    await eventually(lambda: all(f.closed.is_set() for f in fakes), timeout=10, what="the fakes closed")
    assert not any(f.call_id in engine.calls for f in fakes)
    await eventually(lambda: citizen.dials, timeout=10, what="the citizen offered an agent")
    assert asyncio.get_running_loop().time() - queued_at < 3 + 0.2 + 2    # deadline, rest, a loaded machine
    assert sum(a.state is AgentState.RINGING for a in engine.agents.values()) == 1
    assert sum(a.state is AgentState.AVAILABLE for a in engine.agents.values()) == 1
    for task in (*tasks, citizen_task):
        task.cancel()



async def test_the_daemon_closes_fastagi_from_a_host_that_is_not_asterisk(daemon: Daemon) -> None:
    """daemon.asterisk_hosts defaults to [127.0.0.1]: a client on 127.0.0.2 is closed
    before it can queue a caller (or dial an agent)."""
    daemon.live.feed(e.AgentLoggedIn(daemon.live.now(), "2901"))
    stranger = FakeWait("stranger", "10")
    await asyncio.wait_for(stranger.run(daemon.agi_port, source="127.0.0.2"), 5)
    assert stranger.closed.is_set() and stranger.dials == []
    assert "stranger" not in daemon.live.engine.calls
    assert daemon.live.engine.agents["2901"].state is AgentState.AVAILABLE
