"""The rig's media pieces: the A-law encoder, sipp's A-law recording read from its pcap,
two RTP peers hearing each other over loopback, and sipp scenarios turned to A-law."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from rig.rtp import PCMA, SIPP_ALAW_PCAP, RtpError, RtpPeer, alaw, alaw_tone, pcap_rtp_payloads
from rig.sipp import SCENARIOS, SippError, alaw_scenario, playing_scenario
from tests.needs import missing


@pytest.mark.parametrize("sample, code", [(0, 0xD5), (-1, 0x55), (32767, 0xAA), (-32768, 0x2A), (1000, 0xFA)])
def test_alaw_encodes_as_g711_says(sample: int, code: int) -> None:
    assert alaw(sample) == code


def test_sipps_alaw_recording_is_read_from_its_pcap(tmp_path: Path) -> None:
    if not SIPP_ALAW_PCAP.is_file():
        missing("sip-tester's g711a.pcap is not installed (Debian package sip-tester)")
    audio = pcap_rtp_payloads()
    assert len(audio) == 236 * 240             # 236 packets of 30 ms
    assert len(set(audio)) > 50                # speech, not silence
    (tmp_path / "not.pcap").write_bytes(b"hello world, not a capture")
    with pytest.raises(RtpError, match="not a pcap"):
        pcap_rtp_payloads(tmp_path / "not.pcap")


def test_two_peers_hear_each_other_and_tell_their_audio_apart() -> None:
    tone = alaw_tone(seconds=1.0)
    other = alaw_tone(seconds=1.0, frequency=440.0)
    with RtpPeer(tone) as answering:
        calling = RtpPeer(other).start(remote=("127.0.0.1", answering.port))
        deadline = time.monotonic() + 5
        while (answering.heard(calling) < 20 or calling.heard(answering) < 20) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert answering.heard(calling) >= 20 and calling.heard(answering) >= 20
        assert answering.remote == ("127.0.0.1", calling.port)      # learned from the first packet
        assert {p.payload_type for p in answering.received()} == {PCMA}
        assert answering.heard(answering) == 0
        calling.stop()


def test_a_silent_peer_only_listens() -> None:
    with RtpPeer() as silent:
        talking = RtpPeer(alaw_tone(seconds=1.0)).start(remote=("127.0.0.1", silent.port))
        deadline = time.monotonic() + 5
        while len(silent.received()) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(silent.received()) >= 10
        assert silent.sent == [] and talking.received() == []
        talking.stop()


def test_scenarios_turn_to_alaw_at_a_given_media_port(tmp_path: Path) -> None:
    for name in ("citizen.xml", "agent_answers.xml"):
        text = alaw_scenario(SCENARIOS / name, tmp_path / name, rtp_port=18600).read_text(encoding="iso-8859-1")
        assert "m=audio 18600 RTP/AVP 8 0\na=rtpmap:8 PCMA/8000\na=rtpmap:0 PCMU/8000" in text
    own_port = alaw_scenario(SCENARIOS / "citizen.xml", tmp_path / "own.xml").read_text(encoding="iso-8859-1")
    assert "m=audio [media_port] RTP/AVP 8 0" in own_port
    with pytest.raises(SippError, match="no PCMU"):
        alaw_scenario(SCENARIOS / "register.xml", tmp_path / "register.xml")


def test_a_playing_citizen_plays_its_pcap_again_until_the_far_end_hangs_up(tmp_path: Path) -> None:
    pcap = tmp_path / "audio.pcap"
    pcap.write_bytes(b"\xd4\xc3\xb2\xa1")
    scenario = alaw_scenario(SCENARIOS / "citizen.xml", tmp_path / "citizen.xml")
    text = playing_scenario(scenario, pcap, seconds=7).read_text(encoding="iso-8859-1")
    loop = text.index('<label id="play" />')
    assert text.index("ACK [$remote_contact]") < loop < text.index(f'play_pcap_audio="{pcap}"')
    assert '<recv request="BYE" timeout="7000" ontimeout="play" next="far_end_hung_up" />' in text
    with pytest.raises(SippError, match="no pcap"):
        playing_scenario(scenario, tmp_path / "missing.pcap")
