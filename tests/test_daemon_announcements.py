"""Waiting-room announcements in the caller's language (acd.daemon.waiting_room), from
the config's number prompts, and a missing sound file that never ends a wait."""
from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from acd.config import load_config
from acd.daemon.waiting_room import RoomSettings, WaitingRoom
from acd.engine import decisions as d
from acd.protocol import FastAGIServer
from tests.daemon_fakes import Room, config_with, ringing, settle

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "1555.yaml"

PROMPTS = """\
prompts:
  announce_position:
    up_to: 20
    el: {one: "Είστε επόμενοι.", other: "Η θέση σας είναι {n}.", over: "Μετά τη θέση {n}."}
    en: {one: "You are next.", other: "You are number {n}.", over: "Behind number {n}."}
  announce_wait:
    up_to: 30
    el: {one: "Περίπου ένα λεπτό.", other: "Περίπου {n} λεπτά.", over: "Πάνω από {n} λεπτά."}
    en: {one: "About one minute.", other: "About {n} minutes.", over: "More than {n} minutes."}
"""


def heard(session) -> list[tuple[str, ...]]:
    return [c for c in session.commands if c[0] in ("STREAM FILE", "SAY NUMBER")]


async def test_greek_caller_hears_the_greek_sentences_for_its_place_and_wait(tmp_path):
    r = Room(tmp_path, config=config_with(PROMPTS))
    session = await r.arrive("1.1", ACD_LANG="el")
    r.room.announce(d.Announce(r.clock.now, "1.1", 1, 200.0))       # 200 s: 4 minutes
    await settle()
    assert heard(session) == [("STREAM FILE", "acd/el/announce_position-1", ""),
                              ("STREAM FILE", "acd/el/announce_wait-4", "")]
    assert session.commands[-1] == ("SET MUSIC", "ON", "default")


async def test_english_caller_hears_the_english_sentences(tmp_path):
    r = Room(tmp_path, config=config_with(PROMPTS))
    session = await r.arrive("1.1", ACD_LANG="en")
    r.room.announce(d.Announce(r.clock.now, "1.1", 7, 30.0))        # under a minute says one minute
    await settle()
    assert heard(session) == [("STREAM FILE", "acd/en/announce_position-7", ""),
                              ("STREAM FILE", "acd/en/announce_wait-1", "")]


async def test_caller_without_a_language_hears_the_default_one_and_numbers_past_the_maximum_say_over(tmp_path):
    r = Room(tmp_path, config=config_with(PROMPTS))
    session = await r.arrive("1.1")                                  # no ACD_LANG: the service's first, el
    r.room.announce(d.Announce(r.clock.now, "1.1", 21, 31 * 60.0))
    await settle()
    assert heard(session) == [("STREAM FILE", "acd/el/announce_position-over", ""),
                              ("STREAM FILE", "acd/el/announce_wait-over", "")]


async def test_no_estimate_means_only_the_position_is_said(tmp_path):
    r = Room(tmp_path, config=config_with(PROMPTS))
    session = await r.arrive("1.1", ACD_LANG="en")
    r.room.announce(d.Announce(r.clock.now, "1.1", 2, None))
    await settle()
    assert heard(session) == [("STREAM FILE", "acd/en/announce_position-2", "")]


async def test_files_come_from_the_configs_prompts_dir(tmp_path):
    example = load_config(EXAMPLE)
    config = dataclasses.replace(example, ivr=dataclasses.replace(example.ivr, prompts_dir="sounds/1555/"))
    r = Room(tmp_path, config=config)
    session = await r.arrive("1.1", ACD_QUEUE="pensions", ACD_LANG="en")
    r.room.announce(d.Announce(r.clock.now, "1.1", 3, 90.0))
    await settle()
    assert heard(session) == [("STREAM FILE", "sounds/1555/en/announce_position-3", ""),
                              ("STREAM FILE", "sounds/1555/en/announce_wait-2", "")]


async def test_room_settings_override_the_prompts_dir(tmp_path):
    r = Room(tmp_path, config=config_with(PROMPTS), settings=RoomSettings(prompts_dir="/srv/sounds"))
    session = await r.arrive("1.1", ACD_LANG="el")
    r.room.announce(d.Announce(r.clock.now, "1.1", 2, None))
    await settle()
    assert heard(session) == [("STREAM FILE", "/srv/sounds/el/announce_position-2", "")]


async def test_a_missing_announcement_file_is_skipped_and_the_caller_keeps_waiting(tmp_path):
    r = Room(tmp_path, config=config_with(PROMPTS))
    session = await r.arrive("1.1", ACD_LANG="el", missing_files={"acd/el/announce_position-1"})
    r.room.announce(d.Announce(r.clock.now, "1.1", 1, 200.0))
    await settle()
    assert heard(session)[-1] == ("STREAM FILE", "acd/el/announce_wait-4", "")   # the rest still played
    assert session.commands[-1] == ("SET MUSIC", "ON", "default")
    assert "1.1" in r.live.engine.calls and r.of(d.CallAbandoned) == []
    r.login("11")
    target, _ = await ringing(session)               # still served by the next free agent
    assert target.startswith("PJSIP/agent-11,")


# ----------------------------------------------------------- against the real AGI session
async def _asterisk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, missing: set[str],
                    variables: dict[str, str], seen: list[str], dialled: asyncio.Event) -> None:
    """The Asterisk side of the ``wait`` session as res_agi answers: a file it cannot
    open gets ``200 result=-1 endpos=0`` and the channel stays up."""
    writer.write(b"agi_network: yes\nagi_network_script: wait\nagi_request: agi://127.0.0.1/wait\n"
                 b"agi_channel: PJSIP/citizens-00000001\nagi_uniqueid: 1.1\n\n")
    while line := (await reader.readline()).decode():
        seen.append(line.rstrip("\n"))
        words = line.split()
        if line.startswith("GET VARIABLE"):
            value = variables.get(words[2])
            reply = f"200 result=1 ({value})" if value else "200 result=0"
        elif line.startswith("STREAM FILE"):
            reply = "200 result=-1 endpos=0" if words[2] in missing else "200 result=0 endpos=16000"
        elif line.startswith("EXEC Dial"):
            dialled.set()
            return                                   # the caller was rung: enough
        elif line.startswith("GET FULL VARIABLE"):
            reply = "200 result=0"                   # the handler then asks variable by variable
        else:
            reply = "200 result=1"
        writer.write(f"{reply}\n".encode())
        await writer.drain()


async def test_over_real_agi_a_file_asterisk_cannot_open_does_not_end_the_wait(tmp_path):
    r = Room(tmp_path, config=config_with(PROMPTS))
    room: WaitingRoom = r.room
    server = FastAGIServer({"wait": room.handle}, port=0)
    await server.start()
    seen: list[str] = []
    dialled = asyncio.Event()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    peer = asyncio.create_task(_asterisk(reader, writer, missing={"acd/el/announce_position-1"},
                                         variables={"ACD_QUEUE": "q", "ACD_LANG": "el", "UNIQUEID": "1.1"},
                                         seen=seen, dialled=dialled))
    try:
        for _ in range(200):
            if "SET MUSIC ON default" in seen:
                break
            await asyncio.sleep(0.01)
        room.announce(d.Announce(r.clock.now, "1.1", 1, 200.0))
        for _ in range(200):
            if seen.count("SET MUSIC ON default") == 2:
                break
            await asyncio.sleep(0.01)
        assert 'STREAM FILE acd/el/announce_position-1 ""' in seen
        assert 'STREAM FILE acd/el/announce_wait-4 ""' in seen
        assert seen.count("SET MUSIC ON default") == 2, seen
        assert "1.1" in r.live.engine.calls and r.of(d.CallAbandoned) == []
        r.login("11")
        await asyncio.wait_for(dialled.wait(), 2)    # the session still serves the caller
    finally:
        writer.close()
        peer.cancel()
        await server.stop()
