"""A waiting-room announcement whose file is missing, through a real (sandboxed) Asterisk 16.

res_agi.c answers STREAM FILE of a file it cannot open with ``200 result=-1 endpos=0``
and keeps the AGI running; this checks that the ``wait`` session reads it that way too:
the caller stays queued, the next file plays, and the queue's exit still reaches the
dialplan (``ACD_WAIT_RESULT=exit``) instead of an empty result from a session that died.
"""
from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from acd.config.model import ExitAction
from acd.daemon.live_engine import LiveEngine
from acd.daemon.waiting_room import RoomSettings, WaitingRoom
from acd.engine import decisions as d
from acd.protocol import AMIClient, AMIMessage, FastAGIServer
from rig.asterisk import AsteriskSandbox
from tests.daemon_fakes import config_with

pytestmark = pytest.mark.asterisk

DIALPLAN = """\
[announce]
exten => wait,1,Set(ACD_QUEUE=q)
 same => n,Set(ACD_LANG=el)
 same => n,AGI(agi://127.0.0.1:{port}/wait)
 same => n,UserEvent(WaitDone,Result: ${{ACD_WAIT_RESULT}},Exit: ${{ACD_EXIT}})
 same => n,Hangup()
exten => hold,1,Answer()
 same => n,Wait(20)
 same => n,Hangup()
"""

PROMPTS = """\
prompts:
  announce_position:
    up_to: 5
    el: {other: "Η θέση σας είναι {n}.", over: "Μετά τη θέση {n}."}
    en: {other: "You are number {n}.", over: "Behind number {n}."}
  announce_wait:
    up_to: 5
    el: {other: "Περίπου {n} λεπτά.", over: "Πάνω από {n} λεπτά."}
    en: {other: "About {n} minutes.", over: "More than {n} minutes."}
"""


def _free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def ami(asterisk: AsteriskSandbox) -> AsyncIterator[tuple[AMIClient, int]]:
    port = _free_tcp_port()
    asterisk.apply({"extensions_generated.conf": DIALPLAN.format(port=port)})
    client = AMIClient("127.0.0.1", asterisk.ami_port, asterisk.ami_username, asterisk.ami_secret,
                       action_timeout=5.0)
    await client.connect()
    yield client, port
    await client.close()


async def test_missing_announcement_file_leaves_the_real_call_waiting(ami: tuple[AMIClient, int],
                                                                      tmp_path: Path) -> None:
    client, port = ami
    sounds = tmp_path / "sounds"
    (sounds / "el").mkdir(parents=True)
    # only the wait sentence exists (a short silence will do); the position file was never built
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(sounds / "el" / "announce_wait-4.wav"),
                    "trim", "0", "0.2"], check=True)
    live = LiveEngine(config_with(PROMPTS))
    room = WaitingRoom(live, RoomSettings(prompts_dir=str(sounds)))
    live.commands = room
    server = FastAGIServer({"wait": room.handle}, port=port)
    await server.start()
    done: asyncio.Queue[AMIMessage] = asyncio.Queue()
    client.on_event("UserEvent", lambda m: done.put_nowait(m) if m.get("UserEvent") == "WaitDone" else None)
    try:
        answer = await client.action("Originate", Channel="Local/wait@announce", Context="announce", Exten="hold",
                                     Priority="1", Async="true", Timeout="10000")
        assert answer.name == "Success"
        for _ in range(100):
            if room.callers:
                break
            await asyncio.sleep(0.05)
        (call_id,) = room.callers
        await asyncio.sleep(0.3)                      # the session has started the music
        room.announce(d.Announce(live.now(), call_id, 1, 200.0))
        await asyncio.sleep(1.0)                      # played (or skipped) before the exit arrives
        assert call_id in room.callers
        room.exit(d.ExitCall(live.now(), call_id, "q", ExitAction("callback"), 200.0, 1))
        event = await asyncio.wait_for(done.get(), 10)
        assert (event.get("Result"), event.get("Exit")) == ("exit", "callback")
    finally:
        await server.stop()
