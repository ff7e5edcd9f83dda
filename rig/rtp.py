"""A phone's media side in the tests: an RTP endpoint on loopback that sends real A-law
audio and counts what arrives.

One-way audio is the fault callers notice first, and neither sipp's scenarios nor the
SIP signalling show it: a call can be answered, bridged and hung up cleanly while one
side hears nothing. So a test gives each phone an ``RtpPeer`` (the phone's SDP names
its port) and asserts on the packets that really arrived, from where, with which
payload type, and whether their audio is the other phone's.

The peer answers like a symmetric-RTP phone: it sends to where the far end's RTP comes
from (Asterisk always sends to the port in the SDP, and with ``strictrtp`` learns ours
from the first packets), so it needs no SDP parsing. What it sends is the A-law audio of
sipp's ``g711a.pcap`` (the audio of a real call), or an A-law tone, in 20 ms packets.
"""
from __future__ import annotations

import math
import random
import socket
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from rig.ports import free_port

#: the A-law recording sipp ships (Debian package sip-tester)
SIPP_ALAW_PCAP = Path("/usr/share/sip-tester/g711a.pcap")
PCMA = 8
PTIME = 0.02
_SAMPLES = 160                      # 20 ms at 8 kHz, one byte per sample in G.711
_RTP_HEADER = struct.Struct("!BBHII")


class RtpError(RuntimeError):
    """The audio to send could not be read."""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """One RTP packet as it arrived."""

    at: float
    source: tuple[str, int]
    payload_type: int
    payload: bytes


def pcap_rtp_payloads(path: Path = SIPP_ALAW_PCAP) -> bytes:
    """The RTP payloads of a pcap of one RTP stream (Ethernet, IPv4, UDP), joined: the
    audio as it was sent, whatever its packet size (g711a.pcap has 30 ms packets)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RtpError(f"cannot read {path}: {error}") from error
    if len(data) < 24 or data[:4] not in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4"):
        raise RtpError(f"{path} is not a pcap file")
    order = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
    if struct.unpack(order + "I", data[20:24])[0] != 1:
        raise RtpError(f"{path}: only Ethernet captures are read")
    audio = bytearray()
    offset = 24
    while offset + 16 <= len(data):
        length = struct.unpack(order + "IIII", data[offset:offset + 16])[2]
        frame = data[offset + 16:offset + 16 + length]
        offset += 16 + length
        ip = frame[14:]
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != socket.IPPROTO_UDP:
            continue
        rtp = ip[(ip[0] & 0x0F) * 4 + 8:]
        if len(rtp) < 12 or rtp[0] >> 6 != 2:
            continue
        audio += rtp[12 + 4 * (rtp[0] & 0x0F):]
    if not audio:
        raise RtpError(f"{path} holds no RTP")
    return bytes(audio)


def alaw(sample: int) -> int:
    """One 16-bit linear sample as G.711 A-law (ITU-T G.711: segment and 4-bit mantissa
    of the 13-bit magnitude, negative values one's complement, even bits inverted)."""
    sign = 0x80 if sample >= 0 else 0x00
    scaled = sample >> 3
    magnitude = min(scaled if scaled >= 0 else -scaled - 1, 0x0FFF)
    if magnitude < 32:
        code = magnitude >> 1
    else:
        segment = magnitude.bit_length() - 5
        code = (segment << 4) | ((magnitude >> segment) & 0x0F)
    return (sign | code) ^ 0x55


def alaw_tone(seconds: float = 8.0, frequency: float = 1000.0) -> bytes:
    """A-law audio of a sine tone: a phone's audio that cannot be mistaken for the pcap's."""
    return bytes(alaw(round(12000 * math.sin(2 * math.pi * frequency * i / 8000)))
                 for i in range(round(seconds * 8000)))


class RtpPeer:
    """A phone's RTP socket: counts every packet that arrives and, once the far end's
    first packet says where it is, sends ``audio`` (A-law, looped) in 20 ms packets."""

    def __init__(self, audio: bytes | None = None, *, port: int | None = None) -> None:
        if audio is not None and len(audio) < _SAMPLES:
            raise ValueError("the audio to send must hold at least one 20 ms packet")
        self.port = port if port is not None else free_port(18500, socket.SOCK_DGRAM, span=2)
        self._frames = ([audio[i:i + _SAMPLES] for i in range(0, len(audio) - _SAMPLES + 1, _SAMPLES)]
                        if audio else [])
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._received: list[RtpPacket] = []
        self.sent: list[bytes] = []
        self.remote: tuple[str, int] | None = None

    @property
    def sent_frames(self) -> frozenset[bytes]:
        """Every distinct payload this peer can send (what the far end should hear)."""
        return frozenset(self._frames)

    def start(self, remote: tuple[str, int] | None = None) -> RtpPeer:
        """Open the socket; send to ``remote`` at once if given, else once the far end's
        first packet arrives."""
        self.remote = remote
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", self.port))
        self._socket.settimeout(PTIME / 2)
        self._thread = threading.Thread(target=self._run, name=f"rtp-{self.port}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        rtp = self._socket
        assert rtp is not None
        sequence, timestamp, ssrc = random.randrange(1 << 16), random.randrange(1 << 32), random.randrange(1 << 32)
        next_send = time.monotonic()
        index = 0
        while not self._stopping.is_set():
            try:
                data, source = rtp.recvfrom(2048)
            except (TimeoutError, socket.timeout):
                data = b""
            except OSError:
                return
            if len(data) >= 12 and data[0] >> 6 == 2:
                header = 12 + 4 * (data[0] & 0x0F)
                with self._lock:
                    self._received.append(RtpPacket(time.monotonic(), source, data[1] & 0x7F, data[header:]))
                    if self.remote is None:
                        self.remote = source
                        next_send = time.monotonic()
            if self.remote is None or not self._frames:
                continue
            now = time.monotonic()
            while next_send <= now:
                frame = self._frames[index % len(self._frames)]
                packet = _RTP_HEADER.pack(0x80, PCMA | (0x80 if index == 0 else 0), sequence & 0xFFFF,
                                          timestamp & 0xFFFFFFFF, ssrc) + frame
                try:
                    rtp.sendto(packet, self.remote)
                except OSError:
                    return
                self.sent.append(frame)
                index, sequence, timestamp = index + 1, sequence + 1, timestamp + _SAMPLES
                next_send += PTIME
                if now - next_send > 1.0:      # stalled (machine busy): do not burst a backlog
                    next_send = now

    def received(self, since: float = 0.0) -> list[RtpPacket]:
        """The packets that arrived at or after ``since`` (``time.monotonic()``)."""
        with self._lock:
            return [packet for packet in self._received if packet.at >= since]

    def heard(self, other: RtpPeer, since: float = 0.0) -> int:
        """How many A-law packets since ``since`` carried ``other``'s audio unchanged."""
        theirs = other.sent_frames
        return sum(1 for packet in self.received(since) if packet.payload_type == PCMA and packet.payload in theirs)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> RtpPeer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()
