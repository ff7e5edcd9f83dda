"""The DTMF senders of the live tests: the RTP captures rig.dtmf_pcap writes (checked
against sox's G.711 decoder and sipp's own RFC 4733 captures) and the sipp scenarios
rig.dtmf_calls writes from them."""
from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from rig import dtmf_calls
from rig.dtmf_pcap import (
    FRAME,
    Codec,
    KEYS,
    RATE,
    event_packets,
    events_pcap,
    read_rtp,
    tone_samples,
    tones_pcap,
)
from tests.needs import missing

SIPP_CAPTURE = Path("/usr/share/sip-tester/dtmf_2833_1.pcap")


def decoded_by_sox(payload: bytes, codec: str, tmp_path: Path) -> np.ndarray:
    if shutil.which("sox") is None:
        missing("sox is not installed")
    kind = {"alaw": "al", "ulaw": "ul"}[codec]
    raw = tmp_path / f"audio.{kind}"
    raw.write_bytes(payload)
    out = subprocess.run(["sox", "-t", kind, "-r", str(RATE), "-c", "1", str(raw), "-t", "s16", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype=np.int16).astype(float)


def strongest(segment: np.ndarray) -> list[float]:
    """The two strongest frequencies of a segment (Hz, 1 Hz resolution)."""
    spectrum = np.abs(np.fft.rfft(segment * np.hanning(len(segment)), n=RATE))
    low = float(np.argmax(spectrum[:1100]))
    high = 1100 + float(np.argmax(spectrum[1100:2000]))
    return [low, high]


@pytest.mark.parametrize("codec", ["alaw", "ulaw"])
def test_tones_carry_each_keys_two_frequencies_in_g711(codec: Codec, tmp_path: Path) -> None:
    digits = "26#9"
    packets = read_rtp(tones_pcap(digits, tmp_path / "tones.pcap", codec=codec, lead=0.2, tone=0.1, gap=0.2))
    assert {p.payload_type for p in packets} == {8 if codec == "alaw" else 0}
    assert [p.sequence for p in packets] == list(range(len(packets)))
    assert [p.timestamp for p in packets] == [i * FRAME for i in range(len(packets))]
    assert all(len(p.payload) == FRAME for p in packets) and packets[0].marker and not packets[1].marker
    audio = decoded_by_sox(b"".join(p.payload for p in packets), codec, tmp_path)
    assert np.max(np.abs(audio[:1600])) < 16                         # the lead is silence
    for index, digit in enumerate(digits):
        start = round((0.2 + index * 0.3) * RATE)
        heard = strongest(audio[start:start + 800])
        assert heard == pytest.approx(list(KEYS[digit]), abs=3), digit
    per_tone_rms = np.sqrt(np.mean(audio[1600:2400] ** 2) / 2)
    zero_dbm0_rms = 32767 * 10 ** (-3.17 / 20) / np.sqrt(2)          # G.711's 0 dBm0 sine
    assert 20 * np.log10(per_tone_rms / zero_dbm0_rms) == pytest.approx(-10, abs=0.5)


def test_pcap_frames_are_ethernet_ipv4_udp_with_valid_checksums(tmp_path: Path) -> None:
    data = tones_pcap("1", tmp_path / "t.pcap").read_bytes()
    assert struct.unpack("<IHHiIII", data[:24])[::6] == (0xA1B2C3D4, 1)
    length = struct.unpack("<I", data[32:36])[0]
    frame = data[40:40 + length]
    assert frame[12:14] == b"\x08\x00"
    ip_header = frame[14:34]
    assert sum(struct.unpack("!10H", ip_header)) % 0xFFFF == 0       # the IPv4 header checksum holds
    assert ip_header[9] == 17 and struct.unpack("!H", ip_header[2:4])[0] == len(frame) - 14
    assert struct.unpack("!H", frame[38:40])[0] == len(frame) - 34  # UDP length
    assert frame[42] == 0x80                                          # RTP version 2


def test_events_follow_rfc4733_in_one_rising_stream_like_sipps_capture(tmp_path: Path) -> None:
    ours = read_rtp(events_pcap("4141#", tmp_path / "e.pcap", lead=0.1, tone=0.1, gap=0.1))
    events = [p for p in ours if p.payload_type == 101]
    assert [p.sequence for p in ours] == list(range(len(ours)))
    assert all(b.at > a.at for a, b in zip(ours, ours[1:]))
    starts = [p.timestamp for p in events if p.marker]
    assert len(starts) == 5 and starts == sorted(set(starts))         # each key later than the last
    ends = [p for p in events if p.payload[1] & 0x80]
    assert [p.payload[0] for p in ends] == [4] * 3 + [1] * 3 + [4] * 3 + [1] * 3 + [11] * 3
    assert {p.payload[1] & 0x3F for p in events} == {10}
    durations = [struct.unpack("!H", p.payload[2:])[0] for p in events if p.timestamp == starts[0]]
    assert durations == [160, 320, 480, 640, 800, 800, 800]
    if not SIPP_CAPTURE.is_file():
        missing("sipp's captures are not installed (sip-tester)")
    theirs = read_rtp(SIPP_CAPTURE)
    assert {p.payload_type for p in theirs} == {101} and theirs[0].marker
    assert theirs[0].payload[0] == 1 and theirs[-1].payload[1] & 0x80   # key 1, ended


def test_bad_keys_and_timings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="DTMF digits"):
        tone_samples("12x")
    with pytest.raises(ValueError, match="40 ms"):
        event_packets("1", tone=0.02)


def test_a_caller_sends_keys_only_after_telephone_event_was_answered(tmp_path: Path) -> None:
    pcap = events_pcap("26", tmp_path / "k.pcap")
    text = dtmf_calls.scenario(digits="26", how="rfc4733", keys_pcap=pcap)
    assert "RTP/AVP 8 0 101" in text and "a=rtpmap:101 telephone-event/8000" in text
    check = text.index('telephone-event/8000" search_in="body" check_it="true"')
    branch = text.index('<nop test="te_pt" next="send_keys" />')
    assert check < branch < text.index(f'play_pcap_audio="{pcap}"')
    tones = dtmf_calls.scenario(digits="26", how="inband", offer=("ulaw",), telephone_event=False,
                                expect_telephone_event=False, keys_pcap=pcap)
    assert "RTP/AVP 0\n" in tones and "telephone-event" not in tones and "te_pt" not in tones
    with pytest.raises(ValueError, match="need telephone-event"):
        dtmf_calls.scenario(digits="1", how="rfc4733", telephone_event=False, keys_pcap=pcap)
    with pytest.raises(ValueError, match="capture"):
        dtmf_calls.scenario(digits="1", how="inband")
