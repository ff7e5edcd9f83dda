"""The degraded path's agent states follow the ACD without writing any line (PAUSE,
PAUSEALL) into the queue_log the daemon shares with Asterisk."""
from __future__ import annotations

import asyncio

from acd.daemon.fallback_members import FallbackMembers
from acd.engine import decisions as d
from tests.engine_helpers import make_config

QUEUES = """
pensions: {requires: {topic:a: 1}}
violence: {requires: {topic:b: 2}, always_open: true}
"""
AGENTS = ("'11': {pin: '1234', skills: {topic:a: 3}}\n"
          "'29': {pin: '1234', skills: {topic:a: 1, topic:b: 2}}\n")


class FakeAMI:
    connected = True

    def __init__(self) -> None:
        self.actions: list[tuple[str, dict[str, str]]] = []

    def on_connect(self, callback) -> None:
        pass

    async def action(self, name: str, *, timeout: float | None = None, **fields: str) -> dict:
        self.actions.append((name, fields))
        return {"Response": "Success"}


async def test_a_pause_sets_the_agents_custom_device_busy_never_app_queues_pause_flag():
    # app_queue writes a PAUSE line for every QueuePause (set_queue_member_pause), and its
    # queues now carry the config's names: one device state for all queues, no line
    ami = FakeAMI()
    members = FallbackMembers(make_config(QUEUES, AGENTS), lambda: {})
    members.install(ami)
    members([d.AgentStatus(1.0, "29", "paused", "available", "break")])
    await asyncio.sleep(0.05)
    assert ami.actions == [("Setvar", {"Variable": "DEVICE_STATE(Custom:acd-agent-29)", "Value": "BUSY"})]
    members([d.AgentStatus(2.0, "29", "available", "paused", "")])
    await asyncio.sleep(0.05)
    assert ami.actions[1:] == [("Setvar", {"Variable": "DEVICE_STATE(Custom:acd-agent-29)", "Value": "INVALID"})]
    assert not any(name == "QueuePause" for name, _ in ami.actions)
