"""Waiting-room announcements in the caller's language (acd.daemon.waiting_room), from
the config's number prompts, and a missing sound file that never ends a wait."""
from __future__ import annotations

import asyncio
import dataclasses
import logging
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


# ----------------------------------------------------------- an offer cuts the sentence playing
POSITION_1 = "acd/el/announce_position-1"


async def test_an_offer_stops_the_sentence_playing_and_the_agent_is_rung_at_once(tmp_path):
    """The reserved agent must not idle while a 1.5-3 s sentence finishes: the offer sends
    ControlPlayback's stop to the caller's channel, and the Dial follows the cut sentence."""
    r = Room(tmp_path, config=config_with(PROMPTS))
    session = await r.arrive("1.1", ACD_LANG="el", long_files={POSITION_1})
    r.room.announce(d.Announce(r.clock.now, "1.1", 1, 200.0))
    await settle()
    assert session.now_playing is not None and r.stops == []      # the first sentence is playing
    r.login("11")                                                 # the offer arrives mid-sentence
    target, _ = await ringing(session)
    assert r.stops == ["PJSIP/citizens-1.1"]                      # the caller's own channel (agi_channel)
    assert session.stopped == [POSITION_1]
    assert heard(session) == [("STREAM FILE", POSITION_1, "")]     # the wait sentence never started
    assert target.startswith("PJSIP/agent-11,")
    after = session.commands[session.commands.index(("STREAM FILE", POSITION_1, "")) + 1:]
    assert after[0] == ("SET MUSIC", "ON", "default") and after[-1][:2] == ("EXEC", "Dial")


async def test_no_stop_is_sent_when_no_sentence_is_playing(tmp_path):
    r = Room(tmp_path, config=config_with(PROMPTS))
    session = await r.arrive("1.1", ACD_LANG="el")
    r.room.announce(d.Announce(r.clock.now, "1.1", 1, 200.0))
    await settle()                                                # the announcement played through
    r.login("11")                                                 # the offer finds the caller on hold music
    await ringing(session)
    assert r.stops == [] and session.stopped == []


async def test_a_stop_that_fails_is_logged_and_the_sentence_finishes_first(tmp_path, caplog):
    r = Room(tmp_path, config=config_with(PROMPTS))
    r.stop_error = ConnectionError("no AMI link")
    session = await r.arrive("1.1", ACD_LANG="el", long_files={POSITION_1})
    r.room.announce(d.Announce(r.clock.now, "1.1", 1, 200.0))
    await settle()
    with caplog.at_level(logging.WARNING, logger="acd.daemon.waiting_room"):
        r.login("11")
        await settle()
    assert r.stops == ["PJSIP/citizens-1.1"] and session.dials.empty()   # still in the sentence
    failed = [x for x in caplog.records if "not cut" in x.getMessage()]
    assert failed and failed[0].channel == "PJSIP/citizens-1.1" and failed[0].file == POSITION_1
    session.finish_playback()                                     # as before: the sentence ends, then the Dial
    target, _ = await ringing(session)
    assert target.startswith("PJSIP/agent-11,")
    assert heard(session) == [("STREAM FILE", POSITION_1, "")]


async def test_without_a_way_to_stop_the_sentence_finishes_and_then_the_agent_is_rung(tmp_path):
    r = Room(tmp_path, config=config_with(PROMPTS), stops=False)
    session = await r.arrive("1.1", ACD_LANG="el", long_files={POSITION_1})
    r.room.announce(d.Announce(r.clock.now, "1.1", 1, 200.0))
    await settle()
    r.login("11")
    await settle()
    assert session.dials.empty() and session.now_playing is not None
    session.finish_playback()
    await ringing(session)
    assert heard(session) == [("STREAM FILE", POSITION_1, "")]


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
