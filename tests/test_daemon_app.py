"""The daemon's config handling: ``acd check`` and SIGHUP reload (bad config refused,
the last good one stays), and the agent roster that survives a restart."""
from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import pytest

from acd.cli import main
from acd.config import load_config
from acd.daemon.app import Daemon
from acd.pin_guard import Attempt
from acd.engine import AgentState
from acd.engine import events as e

GOOD = """\
service: {{name: test, languages: [el, en]}}
skills: {{topic:a: A}}
queues:
  q: {{requires: {{topic:a: 1}}, wrapup: {wrapup}}}
agents:
  '11': {{pin: '1234', skills: {{topic:a: 3}}}}
daemon: {{queue_log: {log}}}
"""


def write(path: Path, wrapup: int = 5) -> Path:
    path.write_text(GOOD.format(wrapup=wrapup, log=path.parent / "queue_log"))
    return path


def test_check_accepts_a_good_config_and_names_file_and_line_of_a_bad_one(tmp_path, capsys):
    config = write(tmp_path / "acd.yaml")
    assert main(["check", "--config", str(config)]) == 0
    config.write_text(config.read_text().replace("topic:a: 1", "topic:zz: 1"))
    assert main(["check", "--config", str(config)]) == 1
    assert f"{config}:4:" in capsys.readouterr().err


def test_check_of_a_missing_file_is_a_clear_error(tmp_path, capsys):
    assert main(["check", "--config", str(tmp_path / "none.yaml")]) == 1
    assert "none.yaml" in capsys.readouterr().err


def test_reload_with_a_bad_config_is_refused_and_the_running_config_stays(tmp_path, caplog):
    config = write(tmp_path / "acd.yaml", wrapup=5)
    daemon = Daemon(config)
    config.write_text("service: {name: test\n")          # broken YAML
    with caplog.at_level(logging.ERROR):
        assert daemon.reload() is False
    assert daemon.live.config.queues["q"].wrapup == 5
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert refused and refused[0].file == str(config) and refused[0].line is not None


def test_reload_keeps_agents_and_applies_the_new_rules(tmp_path):
    config = write(tmp_path / "acd.yaml", wrapup=5)
    daemon = Daemon(config)
    daemon.live.feed(e.AgentLoggedIn(daemon.live.now(), "11"))
    write(config, wrapup=30)
    assert daemon.reload() is True
    assert daemon.live.engine.config.queues["q"].wrapup == 30
    assert daemon.live.engine.agents["11"].state is AgentState.AVAILABLE


def test_a_reload_reaches_every_subscriber_that_follows_the_config(tmp_path):
    from acd.daemon.live_engine import FollowsConfig

    config = write(tmp_path / "acd.yaml", wrapup=5)
    daemon = Daemon(config)
    told: list[int] = []

    class Follower:
        def __call__(self, decisions: object) -> None: ...
        def reconfigure(self, new: object) -> None:
            told.append(new.queues["q"].wrapup)  # type: ignore[attr-defined]

    daemon.live.subscribe(Follower())
    daemon.live.subscribe(lambda decisions: None)     # a plain subscriber keeps no tables
    followers = [s for s in daemon.live.subscribers if isinstance(s, FollowsConfig)]
    assert daemon.queue_log in followers and daemon.fallback_members in followers
    write(config, wrapup=30)
    assert daemon.reload() is True
    assert told == [30]
    assert daemon.fallback_members.config.queues["q"].wrapup == 30


def test_the_pin_limits_come_from_the_config_and_a_reload_changes_them_but_keeps_a_lockout(tmp_path):
    config = tmp_path / "acd.yaml"
    limits = "daemon: {{queue_log: {log}, pin_max_failures: {n}, pin_window: 60, pin_lockout: {lockout}}}\n"
    base = GOOD.split("daemon:")[0].format(wrapup=5)
    config.write_text(base + limits.format(log=tmp_path / "queue_log", n=2, lockout=120))
    daemon = Daemon(config)
    guard = daemon.phone.guard
    assert (guard.max_failures, guard.window, guard.lockout) == (2, 60, 120)
    web = Attempt("11", "web:10.0.0.9")
    guard.failed(web)
    guard.failed(web)
    assert guard.locked(web)
    config.write_text(base + limits.format(log=tmp_path / "queue_log", n=5, lockout=600))
    assert daemon.reload() is True
    assert daemon.phone.guard is guard and (guard.max_failures, guard.lockout) == (5, 600)
    assert guard.locked(web)              # a reload is no way around a lockout


def test_reload_reopens_the_queue_log_after_logrotate_moved_it_even_with_a_bad_config(tmp_path):
    config = write(tmp_path / "acd.yaml")
    daemon = Daemon(config)
    queue_log = tmp_path / "queue_log"
    daemon.live.feed(e.AgentLoggedIn(daemon.live.now(), "11"))
    rotated = queue_log.rename(tmp_path / "queue_log.1")
    config.write_text("service: {name: test\n")          # broken YAML: the reload is refused
    assert daemon.reload() is False
    daemon.live.feed(e.AgentLoggedOut(daemon.live.now(), "11"))
    assert "|ADDMEMBER|" in rotated.read_text() and "|REMOVEMEMBER|" not in rotated.read_text()
    assert "|REMOVEMEMBER|" in queue_log.read_text() and "|ADDMEMBER|" not in queue_log.read_text()


def test_agent_logins_and_pauses_survive_a_daemon_restart(tmp_path):
    config = write(tmp_path / "acd.yaml")
    first = Daemon(config)
    first.live.feed(e.AgentLoggedIn(first.live.now(), "11"))
    first.live.feed(e.AgentPaused(first.live.now(), "11", "break"))
    second = Daemon(config)
    second.roster.load()
    for event in second.roster.restore_events(second.live.now(), list(second.config.agents)):
        second.live.feed(event)
    agent = second.live.engine.agents["11"]
    assert (agent.state, agent.reason) == (AgentState.PAUSED, "break")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_a_survey_answer_is_stored_with_the_call_record(tmp_path):
    """The survey handler's sink is the daemon's: the score lands in the call's row."""
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import create_async_engine

    from acd.records import calls

    database = f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}"
    config = tmp_path / "acd.yaml"
    config.write_text(GOOD.format(wrapup=0, log=tmp_path / "queue_log").replace(
        "daemon: {", f"daemon: {{database_url: '{database}', api_port: {free_port()}, agi_port: {free_port()}, "
                     f"ami_port: {free_port()}, "))
    daemon = Daemon(config)
    await daemon.start()
    try:
        now = daemon.live.now()
        daemon.live.feed(e.AgentLoggedIn(now, "11"))
        daemon.live.feed(e.CallArrived(now, "c1", "q"))
        daemon.live.feed(e.OfferAnswered(now + 1, "c1", "11"))
        daemon.live.feed(e.AgentHungUp(now + 60, "c1"))
        daemon.store_satisfaction("c1", 5)
    finally:
        await daemon.stop()
    db = create_async_engine(database)
    async with db.connect() as conn:
        (row,) = (await conn.execute(select(calls))).all()
    await db.dispose()
    assert (row.call_id, row.outcome, row.satisfaction) == ("c1", "answered", 5)


async def test_a_restarted_daemon_with_records_refuses_a_second_ticket_for_a_found_call(tmp_path):
    """The last daemon escalated call "old" and died; this one finds the call on agent
    11's phone at resync and asks its call records, so a second *15 is refused."""
    from acd.agent_desk import EscalationRefused
    from acd.config.back_office import back_office_of
    from acd.records import CallRecords
    from acd.records.ticket import new_ticket

    database = f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}"
    config = tmp_path / "acd.yaml"
    config.write_text(GOOD.format(wrapup=0, log=tmp_path / "queue_log").replace(
        "daemon: {", f"daemon: {{database_url: '{database}', api_port: {free_port()}, agi_port: {free_port()}, "
                     f"ami_port: {free_port()}, "))
    last = CallRecords(database, back_office=back_office_of(load_config(config)))
    await last.start()
    last.open_ticket(new_ticket(None, call_id="old", queue="q", at=10, source="agent", agent_id="11"))
    await last.close()
    daemon = Daemon(config)
    await daemon.start()
    try:
        daemon.escalations.found_on_call("11", "old", "q")
        for _ in range(50):
            if daemon.escalations.taken("old").ticket is not None:
                break
            await asyncio.sleep(0.02)
        with pytest.raises(EscalationRefused) as refused:
            daemon.escalations.escalate("11")
        assert refused.value.kind == "already"
    finally:
        await daemon.stop()


class FakeAMI:
    """Answers actions as Asterisk would; records what was sent."""

    def __init__(self, answer: str, message: str = "", connected: bool = True) -> None:
        self.sent: list[tuple[str, dict[str, str]]] = []
        self.answer, self.message, self.connected = answer, message, connected

    async def action(self, name: str, *, timeout: float | None = None, **fields: str):
        from acd.protocol import AMIMessage

        self.sent.append((name, fields))
        return AMIMessage((("Response", self.answer), ("Message", self.message)))


async def test_the_waiting_room_stops_a_sentence_with_controlplayback_over_ami(tmp_path):
    from acd.protocol import AMIActionError

    daemon = Daemon(write(tmp_path / "acd.yaml"))
    assert daemon.room.stop_playback == daemon.stop_playback
    daemon.ami = FakeAMI("Success")
    await daemon.stop_playback("PJSIP/citizens-00000007")
    assert daemon.ami.sent == [("ControlPlayback", {"Channel": "PJSIP/citizens-00000007", "Control": "stop"})]
    daemon.ami = FakeAMI("Error", "No such channel")            # the caller hung up meanwhile
    with pytest.raises(AMIActionError, match="No such channel"):
        await daemon.stop_playback("PJSIP/citizens-00000007")
    daemon.ami = FakeAMI("Success", connected=False)
    with pytest.raises(ConnectionError):
        await daemon.stop_playback("PJSIP/citizens-00000007")
    assert daemon.ami.sent == []


async def test_the_api_listens_on_api_host_apart_from_fastagi(tmp_path):
    """daemon.api_host puts the API (and its pages) on its own address; agi_host keeps
    FastAGI where it was (before, the API bound agi_host and api_host was refused)."""
    import aiohttp

    from rig.ports import free_port

    api_port = free_port(18480)
    config = tmp_path / "acd.yaml"
    config.write_text(GOOD.split("daemon:")[0].format(wrapup=5) + (
        f"daemon: {{queue_log: {tmp_path / 'queue_log'}, ami_port: 1, api_host: 127.0.0.3, api_port: {api_port},"
        f" database_url: 'sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}'}}\n"))
    daemon = Daemon(config, agi_port=0)
    await daemon.start()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.3:{api_port}/api/health") as r:
                assert r.status == 200
            with pytest.raises(aiohttp.ClientConnectionError):
                await session.get(f"http://127.0.0.1:{api_port}/api/health")
        assert daemon.agi.host == "127.0.0.1"
    finally:
        await daemon.stop()
