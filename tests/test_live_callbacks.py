"""End-to-end: a callback left when the max wait runs out, through the generated
dialplan, a real (sandboxed) Asterisk, the daemon and sipp phones.

Issue 9 item 1: the caller re-entered the waiting room with the original enqueue time
and was exited a second time at once; the citizen heard "confirmed" and was never
called. Here the citizen waits out the max wait, leaves the number (its own, by
pressing nothing), hears the confirmation, hangs up; an agent logs in, is rung first,
then the citizen's phone; the callback's row ends ``answered``.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from acd.config import load_config
from acd.engine import events as e
from acd.protocol.errors import AMIActionError
from dialplan.generate import Options, generate
from ivr.prompts import build, config_texts
from rig.asterisk import AsteriskSandbox
from rig.ports import free_port
from rig.sipp import Phones, SippProcess
from tests.waiting import eventually

pytestmark = pytest.mark.asterisk

AGENT = "11"
CALLER = "21055501"          # what sipp's From carries: the number the IVR offers to call back
CONFIG = """\
service: {{name: '1555', languages: [el, en]}}
skills: {{topic:a: A}}
queues:
  qa: {{requires: {{topic:a: 1}}, wrapup: 1, ring_timeout: 5, max_wait: 3, on_max_wait: callback,
        announcements: {{first_after: 0, every: 0}}}}
agents:
  '{agent}': {{pin: '1111', skills: {{topic:a: 1}}}}
prompts:
  choose_language: {{el: "Ελληνικά, ένα.", en: "English, two."}}
  goodbye: {{el: "Αντίο.", en: "Goodbye."}}
  callback_number: {{el: "Πείτε μας τον αριθμό σας.", en: "Your number, please."}}
  callback_confirmed: {{el: "Θα σας καλέσουμε.", en: "We will call you back."}}
ivr:
  entry: language
  timeout: 1
  retries: 1
  agent_queue: qa
  prompts_dir: {prompts}
  sounds: {{invalid: goodbye, no_input: goodbye, goodbye: goodbye}}
  closed: {{prompt: goodbye, exit: goodbye}}
  callback: {{prompt: callback_number, confirm: callback_confirmed, min_digits: 8, max_digits: 14,
              dial: "PJSIP/citizens/sip:{{number}}@127.0.0.1:{citizen_port}"}}
  nodes:
    language:
      prompt: [choose_language@el, choose_language@en]
      default: "1"
      options:
        "1": {{language: el, queue: qa}}
        "2": {{language: en, queue: qa}}
daemon: {{ami_host: 127.0.0.1, ami_port: {ami_port}, ami_username: {ami_user}, ami_secret: '{ami_secret}',
         agi_host: 127.0.0.1, agi_port: {agi_port}, queue_log: {var}/queue_log, recordings_dir: {var}/rec,
         database_url: 'sqlite+aiosqlite:///{var}/acd.sqlite3'}}
"""


def configure(tmp_path: Path, asterisk: AsteriskSandbox, citizen_port: int, ami_port: int) -> tuple[Path, Any]:
    """The config file (AMI at ``ami_port``: Asterisk's, or a proxy's) and its prompts."""
    prompts = tmp_path / "prompts"
    (tmp_path / "var").mkdir()
    config_path = tmp_path / "acd.yaml"
    config_path.write_text(CONFIG.format(
        agent=AGENT, prompts=prompts, citizen_port=citizen_port, ami_port=ami_port,
        ami_user=asterisk.ami_username, ami_secret=asterisk.ami_secret, agi_port=free_port(14700),
        var=tmp_path / "var"), encoding="utf-8")
    config = load_config(config_path)
    build(config_texts(config), prompts)
    return config_path, config


@pytest.fixture
async def daemon(asterisk: AsteriskSandbox, phones: Phones, tmp_path: Path) -> AsyncIterator[Any]:
    from acd.daemon.app import Daemon

    agent_phone = phones.agents(talk=1.0, name="agent-phone")
    citizen_phone: SippProcess = phones.agents(talk=None, name="citizen-phone")   # answers the callback
    config_path, config = configure(tmp_path, asterisk, citizen_phone.port, asterisk.ami_port)
    running = Daemon(config_path, extras=False, book=True)
    await running.start()
    try:
        asterisk.apply(generate(config, Options(agi_port=running.agi_port,
                                                agents_at=f"127.0.0.1:{agent_phone.port}")))
        await eventually(lambda: running.ami.connected and running.book._sweeper is not None)
        running.citizen_phone = citizen_phone
        yield running
    finally:
        await running.stop()


def queue_log(daemon: Any) -> list[list[str]]:
    daemon.queue_log._file.flush()
    return [row.split("|") for row in daemon.queue_log.path.read_text().splitlines()]


async def test_a_callback_left_after_the_max_wait_is_kept_and_made(daemon: Any, phones: Phones,
                                                                   tmp_path: Path) -> None:
    live = daemon.live
    citizen = phones.citizens("q-qa", caller_prefix="2105550", hold=14.0, name="waits-out")
    assert (await asyncio.to_thread(citizen.wait, 40)).all_successful
    (call_id,) = {f[1] for f in queue_log(daemon) if f[4] == "ENTERQUEUE"}
    # entered, waited out the max wait, entered again as a callback: one exit, not two
    assert [f[4] for f in queue_log(daemon) if f[1] == call_id] == ["ENTERQUEUE", "EXITWITHTIMEOUT", "ENTERQUEUE"]
    call = live.engine.calls.get(call_id)
    assert call is not None and call.callback == CALLER, "the confirmed callback was dropped"
    database = create_engine(f"sqlite:///{tmp_path / 'var' / 'acd.sqlite3'}")
    with database.connect() as conn:
        assert conn.execute(text("SELECT status, number FROM callbacks")).all() == [("pending", CALLER)]

    notes: list[list[str]] = []
    forget = daemon.book.finished

    async def read_then_forget(done: str) -> None:       # the AstDB note, as the next daemon would ask it
        found = await daemon.ami.action_list("DBGet", Family="acd-callback", Key=done)
        notes.append([str(item.get("Val")) for item in found])
        await forget(done)

    daemon.book.finished = read_then_forget
    live.feed(e.AgentLoggedIn(live.now(), AGENT))
    await eventually(lambda: any(ev.event == "answer" and ev.phone == CALLER
                                 for ev in daemon.citizen_phone.events()), timeout=20,
                     what="the citizen's phone answered the callback")

    def outcome() -> list:
        with database.connect() as conn:
            return conn.execute(text("SELECT status, attempts FROM callbacks")).all()
    await eventually(lambda: outcome() == [("answered", 1)], timeout=20, what="the callback recorded answered")
    assert call_id not in live.engine.calls
    # the dialplan noted the answer in AstDB (Dial's U()); deleted once the outcome was written
    await eventually(lambda: notes == [["answered"]], timeout=5, what="the answer note read")
    with pytest.raises(AMIActionError, match="Database entry not found"):
        await daemon.ami.action_list("DBGet", Family="acd-callback", Key=call_id)


async def test_ami_blackholed_pauses_callbacks_without_burning_agents_then_they_are_made(
        asterisk: AsteriskSandbox, phones: Phones, tmp_path: Path) -> None:
    """Issue 9 item 8 and the keepalive: AMI through a proxy that goes silent (half-open)
    with a callback at the head of the line and an agent free. The dead link is noticed
    within 10 s; no Originate is tried and no RINGNOANSWER is logged meanwhile; a caller
    is served by the free agent; once AMI is back the callback is made."""
    from acd.daemon.app import Daemon
    from rig.tcp_proxy import TcpProxy

    agent_phone = phones.agents(talk=1.0, name="agent-phone")
    citizen_phone = phones.agents(talk=None, name="citizen-phone")
    proxy = TcpProxy("127.0.0.1", asterisk.ami_port)
    await proxy.start()
    config_path, config = configure(tmp_path, asterisk, citizen_phone.port, proxy.port)
    daemon = Daemon(config_path, extras=False, book=True)
    await daemon.start()
    live = daemon.live
    loop = asyncio.get_running_loop()
    try:
        asterisk.apply(generate(config, Options(agi_port=daemon.agi_port, agents_at=f"127.0.0.1:{agent_phone.port}")))
        await eventually(lambda: daemon.ami.connected and daemon.book._sweeper is not None)
        proxy.blackhole()
        silent_at = loop.time()
        await eventually(lambda: not daemon.ami.connected, timeout=10, what="the half-open AMI link noticed")
        noticed = loop.time() - silent_at
        route = type("Route", (), {"queue": "qa", "callback": CALLER, "requirements": {}, "priority": None,
                                   "language": "el", "caller_type": "citizen"})()
        await daemon.promise_callback("cb-1", route, live.now() - 60)        # at the head of the line
        live.feed(e.AgentLoggedIn(live.now(), AGENT))
        caller = phones.citizens("q-qa", caller_prefix="served-", name="served")   # until the agent hangs up
        assert (await asyncio.to_thread(caller.wait, 30)).all_successful
        assert any(ev.event == "answer" for ev in agent_phone.events())      # the free agent took the caller
        events = [f[4] for f in queue_log(daemon)]
        assert "RINGNOANSWER" not in events and "CONNECT" in events
        assert live.engine.calls["cb-1"].callback == CALLER and live.engine.agents[AGENT].misses == 0
        proxy.resume()
        await eventually(lambda: daemon.ami.connected, timeout=20, what="AMI reconnected")
        await eventually(lambda: any(ev.event == "answer" and ev.phone == CALLER for ev in citizen_phone.events()),
                         timeout=30, what="the callback made once AMI is back")
        assert noticed < 10
    finally:
        await daemon.stop()
        await proxy.stop()
