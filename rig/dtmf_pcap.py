"""DTMF as phones and carriers send it, written as RTP captures that sipp's
``play_pcap_audio`` replays: in-band tones in the G.711 audio, or RFC 4733 events.

sipp ships RFC 4733 captures (``/usr/share/sip-tester/dtmf_2833_<digit>.pcap``), one per
key with its own fixed timestamp, and no in-band ones. A test of Asterisk's in-band
detection (``dtmf_mode=auto`` on a trunk that offers no telephone-event) needs tones:
each key is its two ITU-T Q.23 frequencies at -10 dBm0 each for ``tone`` seconds, then
silence. A PIN needs events in one stream (``event_packets``). 20 ms packets of G.711
A-law (payload type 8) or u-law (0), in a classic pcap file (Ethernet, IPv4, UDP, RTP:
what sipp's pcap reader expects).
"""
from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

Codec = Literal["alaw", "ulaw"]
RATE = 8000
FRAME = 160                           # samples per 20 ms packet
PAYLOAD_TYPES: dict[str, int] = {"alaw": 8, "ulaw": 0}
#: ITU-T Q.23 (row, column) frequencies of each key
KEYS: dict[str, tuple[float, float]] = {
    key: (row, col)
    for row, keys_row in zip((697.0, 770.0, 852.0, 941.0), ("123A", "456B", "789C", "*0#D"))
    for col, key in zip((1209.0, 1336.0, 1477.0, 1633.0), keys_row)
}
#: -10 dBm0 per frequency (G.711's 0 dBm0 sine peaks at 3.17 dB below full scale)
_AMPLITUDE = 32767 * 10 ** (-3.17 / 20) * 10 ** (-10 / 20)


def tone_samples(digits: str, *, lead: float = 0.5, tone: float = 0.12, gap: float = 0.6) -> np.ndarray:
    """16-bit linear audio: ``lead`` seconds of silence, then per key ``tone`` seconds of
    its two frequencies and ``gap`` seconds of silence."""
    _check(digits, lead, tone, gap)
    parts = [np.zeros(round(lead * RATE))]
    t = np.arange(round(tone * RATE)) / RATE
    for digit in digits:
        low, high = KEYS[digit]
        parts += [_AMPLITUDE * (np.sin(2 * np.pi * low * t) + np.sin(2 * np.pi * high * t)),
                  np.zeros(round(gap * RATE))]
    samples = np.concatenate(parts)
    samples = np.concatenate([samples, np.zeros(-len(samples) % FRAME)])
    return np.round(samples).astype(np.int16)


def _check(digits: str, lead: float, tone: float, gap: float) -> None:
    bad = set(digits) - set(KEYS)
    if bad or not digits:
        raise ValueError(f"DTMF digits {digits!r}: one or more of {''.join(KEYS)}")
    if tone < 0.04 or gap < 0.04 or lead < 0:
        raise ValueError("a tone and the gap after it must last at least 40 ms (ITU-T Q.24)")


def encode(samples: np.ndarray, codec: Codec) -> bytes:
    """G.711 (ITU-T G.711 segment encoding) of 16-bit linear samples."""
    if codec == "ulaw":
        return _ulaw(samples.astype(np.int32))
    if codec == "alaw":
        return _alaw(samples.astype(np.int32))
    raise ValueError(f"codec {codec!r}: alaw or ulaw")


def _ulaw(x: np.ndarray) -> bytes:
    sign = np.where(x < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(x), 32635) + 0x84
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 7
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def _alaw(x: np.ndarray) -> bytes:
    sign = np.where(x >= 0, 0x80, 0)
    shifted = x >> 3                                       # 13-bit, as G.711's reference coder
    magnitude = np.where(shifted >= 0, shifted, -shifted - 1)
    exponent = np.where(magnitude < 32, 0, np.floor(np.log2(np.maximum(magnitude, 1))).astype(np.int32) - 4)
    mantissa = np.where(exponent == 0, magnitude >> 1, magnitude >> exponent) & 0x0F
    return ((sign | (exponent << 4) | mantissa) ^ 0x55).astype(np.uint8).tobytes()


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    marker: bool
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    at: float                   # capture time, seconds


def rtp_packets(audio: bytes, payload_type: int, *, ssrc: int = 0x1555D7F0, start: float = 1_700_000_000.0
                ) -> Iterator[RtpPacket]:
    for index in range(0, len(audio) // FRAME):
        yield RtpPacket(payload_type, index == 0, index & 0xFFFF, (index * FRAME) & 0xFFFFFFFF, ssrc,
                        audio[index * FRAME:(index + 1) * FRAME], start + index * FRAME / RATE)


def write_pcap(packets: Iterator[RtpPacket], path: Path, *, src: tuple[str, int] = ("127.0.0.1", 6000),
               dst: tuple[str, int] = ("127.0.0.1", 6002)) -> Path:
    """A classic pcap (microsecond times, link type Ethernet) of the RTP packets in UDP."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for packet in packets:
        rtp = struct.pack("!BBHII", 0x80, (0x80 if packet.marker else 0) | packet.payload_type,
                          packet.sequence, packet.timestamp, packet.ssrc) + packet.payload
        udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(rtp), 0) + rtp
        ip_header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                                _ipv4(src[0]), _ipv4(dst[0]))
        ip_header = ip_header[:10] + struct.pack("!H", _checksum(ip_header)) + ip_header[12:]
        frame = b"\x00\x00\x00\x00\x00\x02" + b"\x00\x00\x00\x00\x00\x01" + b"\x08\x00" + ip_header + udp
        seconds = int(packet.at)
        out.append(struct.pack("<IIII", seconds, round((packet.at - seconds) * 1e6), len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))
    return path


def _ipv4(text: str) -> bytes:
    return bytes(int(part) for part in text.split("."))


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


#: RFC 4733 event codes of the keys (section 3.2: 0-9, * = 10, # = 11, A-D = 12-15)
EVENT_CODES: dict[str, int] = {**{str(n): n for n in range(10)}, "*": 10, "#": 11, "A": 12, "B": 13, "C": 14, "D": 15}
#: the event packets' volume field: -10 dBm0
_EVENT_VOLUME = 10


def event_packets(digits: str, *, codec: Codec = "alaw", payload_type: int = 101, lead: float = 0.5,
                  tone: float = 0.12, gap: float = 0.6, ssrc: int = 0x1555D7F1,
                  start: float = 1_700_000_000.0) -> list[RtpPacket]:
    """One RTP stream: silence in ``codec``, and each key as RFC 4733 events instead of
    audio for ``tone`` seconds (RFC 4733 2.5: the first packet marked, the duration
    growing by 20 ms a packet, the end packet sent three times), ``gap`` seconds apart.

    One stream with rising sequence numbers and timestamps, as a phone sends it:
    Asterisk drops an event whose timestamp is not above the last one's
    (``process_dtmf_rfc2833`` in res/res_rtp_asterisk.c), so sipp's per-key captures,
    each with its own fixed timestamp, cannot type a PIN such as 4141."""
    _check(digits, lead, tone, gap)
    silence = encode(np.zeros(FRAME, dtype=np.int16), codec)
    lead_frames, tone_frames, gap_frames = (round(x * RATE / FRAME) for x in (lead, tone, gap))
    packets: list[RtpPacket] = []

    def add(payload_type_: int, marker: bool, timestamp: int, payload: bytes) -> None:
        index = len(packets)
        packets.append(RtpPacket(payload_type_, marker, index & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc, payload,
                                 start + index * FRAME / RATE))

    frame = 0
    for _ in range(lead_frames):
        add(PAYLOAD_TYPES[codec], frame == 0, frame * FRAME, silence)
        frame += 1
    for digit in digits:
        began = frame * FRAME
        for step in range(1, tone_frames + 1):
            end = step == tone_frames
            payload = struct.pack("!BBH", EVENT_CODES[digit], (0x80 if end else 0) | _EVENT_VOLUME, step * FRAME)
            for _ in range(3 if end else 1):
                add(payload_type, step == 1, began, payload)
            frame += 1
        for _ in range(gap_frames):
            add(PAYLOAD_TYPES[codec], False, frame * FRAME, silence)
            frame += 1
    return packets


def events_pcap(digits: str, path: Path, *, codec: Codec = "alaw", payload_type: int = 101, lead: float = 0.5,
                tone: float = 0.12, gap: float = 0.6) -> Path:
    """The keys ``digits`` as RFC 4733 events in one RTP stream, written to ``path``."""
    return write_pcap(iter(event_packets(digits, codec=codec, payload_type=payload_type, lead=lead, tone=tone,
                                         gap=gap)), path)


def tones_pcap(digits: str, path: Path, *, codec: Codec = "alaw", lead: float = 0.5, tone: float = 0.12,
               gap: float = 0.6) -> Path:
    """The keys ``digits`` as in-band tones in one RTP stream of ``codec``, written to ``path``."""
    audio = encode(tone_samples(digits, lead=lead, tone=tone, gap=gap), codec)
    return write_pcap(rtp_packets(audio, PAYLOAD_TYPES[codec]), path)


def read_rtp(path: Path) -> list[RtpPacket]:
    """The RTP packets of a pcap written as above (or sipp's own captures)."""
    data = path.read_bytes()
    magic, _, _, _, _, _, link = struct.unpack("<IHHiIII", data[:24])
    if magic != 0xA1B2C3D4 or link != 1:
        raise ValueError(f"{path}: not a microsecond pcap of Ethernet frames")
    packets, offset = [], 24
    while offset < len(data):
        seconds, micros, length, _ = struct.unpack("<IIII", data[offset:offset + 16])
        frame = data[offset + 16:offset + 16 + length]
        offset += 16 + length
        header_length = (frame[14] & 0x0F) * 4
        rtp = frame[14 + header_length + 8:]
        first, second, sequence, timestamp, ssrc = struct.unpack("!BBHII", rtp[:12])
        packets.append(RtpPacket(second & 0x7F, bool(second & 0x80), sequence, timestamp, ssrc, rtp[12:],
                                 seconds + micros / 1e6))
    return packets
