"""The fallback queues' pause flags follow the ACD without writing PAUSEALL lines into
the queue_log the daemon shares with Asterisk."""
from __future__ import annotations

import asyncio

from acd.daemon.fallback_members import FallbackMembers, fallback_queues
from acd.engine import decisions as d
from tests.engine_helpers import make_config

QUEUES = """
general: {requires: {topic:a: 1}}
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


def test_each_agent_is_paused_in_the_fallback_queues_it_is_a_static_member_of():
    config = make_config(QUEUES, AGENTS)
    assert fallback_queues(config) == {"11": ["acd-fallback"], "29": ["acd-fallback", "acd-fallback-violence"]}


async def test_a_pause_is_one_queuepause_per_fallback_queue_never_one_for_all_queues():
    # a QueuePause without Queue makes app_queue write PAUSEALL (queue NONE), which tools
    # would apply to the agent's real queues beside the daemon's own PAUSEALL
    ami = FakeAMI()
    members = FallbackMembers(make_config(QUEUES, AGENTS), lambda: {})
    members.install(ami)
    members([d.AgentStatus(1.0, "29", "paused", "available", "break")])
    await asyncio.sleep(0.05)
    assert [(name, fields["Queue"], fields["Paused"]) for name, fields in ami.actions] == [
        ("QueuePause", "acd-fallback", "true"), ("QueuePause", "acd-fallback-violence", "true")]
    assert all(fields["Interface"] == "PJSIP/agent-29" for _, fields in ami.actions)
