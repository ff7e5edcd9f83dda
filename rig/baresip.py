"""baresip as an agent's softphone: a real SIP client, not a scripted one.

sipp plays the phones everywhere else, but sipp sends what its scenario says whatever
the other side negotiated. baresip behaves like the softphones agents use: it
registers with digest credentials, sends DTMF as RFC 4733 events only when the SDP
answer carries ``telephone-event``, answers by itself (``answermode=auto``) and
sends and receives RTP with the codecs it was given (A-law first here).

Debian 12 ships baresip 1.0. What this rig relies on from that build (its
``/usr/lib/baresip/modules``): ``g711`` (PCMA, PCMU), ``aufile`` as the microphone
(a WAV file; it must match ``ausrc_srate``/``ausrc_channels``, so the rig writes an
8 kHz mono tone itself), ``aubridge`` as the loudspeaker (no sound card on a server;
``ausine`` would need 48 kHz stereo or the call closes right after the 200 OK),
``account`` for the ``accounts`` file, ``menu`` for the commands (``dial``,
``hangup``, ``sndcode`` for DTMF) and ``ctrl_tcp`` to drive it: JSON in netstrings
(``{"command": ..., "params": ..., "token": ...}``), which answers each command
(``"response": true``) and reports every registration and call event
(``"event": true``, ``"type": "CALL_ESTABLISHED"``...). It binds to ``127.0.0.1``
(``-n 127.0.0.1``; ``-n lo`` fails). One process per phone, stopped by its own pid.
"""
from __future__ import annotations

import json
import math
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from rig.ports import NoFreePort, free_port

#: the modules this rig loads, all in Debian's baresip-core 1.0
MODULES = ("g711.so", "aufile.so", "aubridge.so")
APP_MODULES = ("menu.so", "ctrl_tcp.so")
_SAMPLE_RATE = 8000
_UNSAFE = set(' \t\r\n;<>"')


class SoftphoneError(RuntimeError):
    """baresip could not start, refused a command, or did not report an event in time."""


@dataclass(frozen=True, slots=True)
class SoftphoneEvent:
    """One event baresip reported: ``type`` as ctrl_tcp names it (``REGISTER_OK``,
    ``REGISTER_FAIL``, ``CALL_INCOMING``, ``CALL_ESTABLISHED``, ``CALL_CLOSED``...),
    ``peer`` the other side's URI (calls) and ``param`` its detail (the reason a
    call closed, the status of a failed registration)."""

    at: float
    type: str
    peer: str
    param: str


def find_baresip() -> str | None:
    return shutil.which("baresip")


def netstring(payload: bytes) -> bytes:
    """``<length>:<payload>,``: how ctrl_tcp frames each message both ways."""
    return str(len(payload)).encode("ascii") + b":" + payload + b","


def split_netstrings(buffer: bytes) -> tuple[list[bytes], bytes]:
    """The complete netstrings at the start of ``buffer`` and what is left over (a
    message cut by the TCP stream). A malformed frame is an error, never skipped."""
    messages = []
    while buffer:
        length, colon, rest = buffer.partition(b":")
        if not colon:
            if not length.isdigit() and length:
                raise SoftphoneError(f"ctrl_tcp sent a malformed netstring: {buffer[:40]!r}")
            break
        if not length.isdigit():
            raise SoftphoneError(f"ctrl_tcp sent a malformed netstring: {buffer[:40]!r}")
        size = int(length)
        if len(rest) < size + 1:
            break
        if rest[size:size + 1] != b",":
            raise SoftphoneError(f"ctrl_tcp netstring of {size} bytes not closed by a comma: {buffer[:40]!r}")
        messages.append(rest[:size])
        buffer = rest[size + 1:]
    return messages, buffer


def account_line(user: str, password: str | None, registrar: str, *, codecs: tuple[str, ...] = ("PCMA", "PCMU"),
                 register: bool = True, answer: str = "auto") -> str:
    """One line of baresip's ``accounts`` file: ``<sip:user@registrar>`` and its
    parameters (digest password, auto-answer, codec order, registration interval;
    ``regint=0`` never registers, for a phone called directly)."""
    for what, value in (("user", user), ("registrar", registrar), *((("password", password),) if password else ())):
        if not value or _UNSAFE & set(value):
            raise ValueError(f"softphone {what} {value!r}: no spaces, quotes, ';', '<' or '>'")
    if answer not in ("auto", "manual", "early"):
        raise ValueError(f"answer mode {answer!r}: auto, manual or early")
    if not codecs or any(not c.isalnum() for c in codecs):
        raise ValueError(f"codecs {codecs!r}: names like PCMA, PCMU")
    params = [f"answermode={answer}", f"audio_codecs={','.join(codecs)}", f"regint={300 if register else 0}"]
    if password:
        params.insert(0, f"auth_pass={password}")
    return f"<sip:{user}@{registrar}>;" + ";".join(params) + "\n"


def config_text(sip_port: int, ctrl_port: int, microphone: Path) -> str:
    """baresip's ``config``: loopback only, no sound card, the rig's modules."""
    lines = ["poll_method epoll", f"sip_listen 127.0.0.1:{sip_port}",
             "audio_player aubridge,nil", "audio_alert aubridge,nil", f"audio_source aufile,{microphone}",
             f"ausrc_srate {_SAMPLE_RATE}", "ausrc_channels 1", "call_local_timeout 120",
             "module_path /usr/lib/baresip/modules",
             *(f"module {name}" for name in MODULES), "module_tmp account.so",
             *(f"module_app {name}" for name in APP_MODULES), f"ctrl_tcp_listen 127.0.0.1:{ctrl_port}"]
    return "\n".join(lines) + "\n"


def write_tone(path: Path, seconds: float = 120.0, frequency: float = 440.0) -> Path:
    """An 8 kHz mono 16-bit WAV tone: the softphone's microphone (aufile plays it once)."""
    frames = round(seconds * _SAMPLE_RATE)
    samples = (round(8000 * math.sin(2 * math.pi * frequency * i / _SAMPLE_RATE)) for i in range(frames))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(_SAMPLE_RATE)
        out.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return path


def _sip_port() -> int:
    """A port P free for UDP and TCP with P + 1 free for TCP: baresip listens for SIP
    on UDP and TCP at P and for SIP over TLS at P + 1, and fails to start when any is
    taken."""
    start = 19000
    while True:
        port = free_port(start, socket.SOCK_DGRAM)
        try:
            return free_port(port, socket.SOCK_STREAM, span=2, tries=1)
        except NoFreePort:
            start = port + 1


class Softphone:
    """One baresip process as the agent ``user`` (``agent-<id>``) registering at
    ``registrar`` (``host:port``) with ``password``. ``start()`` returns once ctrl_tcp
    answers; ``events()`` is everything baresip reported since."""

    def __init__(self, workdir: Path, user: str, registrar: str, *, password: str | None = None,
                 register: bool = True, codecs: tuple[str, ...] = ("PCMA", "PCMU"), answer: str = "auto") -> None:
        binary = find_baresip()
        if binary is None:
            raise SoftphoneError("baresip is not installed (Debian package baresip; run scripts/install-system-deps)")
        self.binary = binary
        self.user = user
        self.workdir = Path(workdir)
        self.sip_port = _sip_port()
        self.ctrl_port = free_port(19400)
        self.account = account_line(user, password, registrar, codecs=codecs, register=register, answer=answer)
        self.output_path = self.workdir / "baresip.out"
        self._process: subprocess.Popen[bytes] | None = None
        self._socket: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._changed = threading.Condition()
        self._events: list[SoftphoneEvent] = []
        self._responses: dict[str, dict[str, Any]] = {}
        self._tokens = 0

    @property
    def uri(self) -> str:
        """Where this phone takes calls directly (without a registrar)."""
        return f"sip:{self.user}@127.0.0.1:{self.sip_port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10.0) -> Softphone:
        self.workdir.mkdir(parents=True, exist_ok=True)
        microphone = write_tone(self.workdir / "microphone.wav")
        (self.workdir / "config").write_text(config_text(self.sip_port, self.ctrl_port, microphone))
        # no account at start: it is created over ctrl_tcp once connected (``uanew``), so
        # its first REGISTER's outcome is reported as an event, not lost before we listen
        (self.workdir / "accounts").write_text("")
        with open(self.output_path, "wb") as output:
            self._process = subprocess.Popen([self.binary, "-f", str(self.workdir), "-n", "127.0.0.1"],
                                             stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                             start_new_session=True, cwd=self.workdir)
        deadline = time.monotonic() + timeout
        while self._socket is None:
            if self._process.poll() is not None:
                raise SoftphoneError(f"baresip exited with {self._process.returncode} at start:\n{self.output()}")
            try:
                self._socket = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=0.5)
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise SoftphoneError(f"baresip's ctrl_tcp did not answer on {self.ctrl_port}:\n{self.output()}")
                time.sleep(0.05)
        self._socket.settimeout(None)
        self._reader = threading.Thread(target=self._read, name=f"baresip-{self.user}", daemon=True)
        self._reader.start()
        self.command("uanew", self.account.strip())
        return self

    def _read(self) -> None:
        control = self._socket
        assert control is not None
        buffer = b""
        while True:
            try:
                chunk = control.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                with self._changed:
                    self._changed.notify_all()
                return
            messages, buffer = split_netstrings(buffer + chunk)
            with self._changed:
                for raw in messages:
                    message = json.loads(raw)
                    if message.get("event"):
                        self._events.append(SoftphoneEvent(time.time(), str(message.get("type", "")),
                                                           str(message.get("peeruri", "")),
                                                           str(message.get("param", ""))))
                    elif message.get("response"):
                        self._responses[str(message.get("token", ""))] = message
                self._changed.notify_all()

    # ------------------------------------------------------------------ commands
    def command(self, name: str, params: str = "", timeout: float = 5.0) -> str:
        """Run one of baresip's commands and return what it printed (``data``)."""
        if self._socket is None:
            raise SoftphoneError("the softphone is not started")
        with self._changed:
            self._tokens += 1
            token = str(self._tokens)
        request = {"command": name, "params": params, "token": token}
        self._socket.sendall(netstring(json.dumps(request).encode("utf-8")))
        with self._changed:
            if not self._changed.wait_for(lambda: token in self._responses or not self.running, timeout):
                raise SoftphoneError(f"baresip did not answer {name} {params!r} within {timeout} s")
            answer = self._responses.pop(token, None)
        if answer is None:
            raise SoftphoneError(f"baresip exited during {name}:\n{self.output()}")
        if not answer.get("ok"):
            raise SoftphoneError(f"baresip refused {name} {params!r}: {answer.get('data', '')}")
        return str(answer.get("data", ""))

    def dial(self, target: str) -> None:
        """Call ``target``: a number at the registrar (``*11``) or a whole SIP URI."""
        self.command("dial", target)

    def hangup(self) -> None:
        self.command("hangup")

    def send_digits(self, digits: str) -> None:
        """DTMF on the current call, as this phone sends it: RFC 4733 events (``sndcode``
        queues them one after the other, then the key release)."""
        if not digits or set(digits) - set("0123456789*#ABCD"):
            raise ValueError(f"DTMF digits {digits!r}: 0-9 * # A-D")
        self.command("sndcode", digits)

    # ------------------------------------------------------------------ events
    def events(self) -> list[SoftphoneEvent]:
        with self._changed:
            return list(self._events)

    def wait_for(self, kind: str, timeout: float = 10.0, after: int = 0, count: int = 1) -> SoftphoneEvent:
        """The ``count``-th ``kind`` event from the ``after``-th event on (take
        ``len(events())`` before an action to wait for what the action caused)."""
        def found() -> list[SoftphoneEvent]:
            return [ev for ev in self._events[after:] if ev.type == kind]

        with self._changed:
            self._changed.wait_for(lambda: len(found()) >= count or not self.running, timeout)
            matching = found()
        if len(matching) < count:
            seen = [f"{ev.type} {ev.param}".strip() for ev in self.events()[after:]]
            raise SoftphoneError(f"{self.user}: {len(matching)} of {count} {kind} within {timeout} s "
                                 f"(saw {seen}):\n{self.output()}")
        return matching[count - 1]

    def output(self, lines: int = 30) -> str:
        """The tail of baresip's own output, for failure messages."""
        if not self.output_path.is_file():
            return "(no output)"
        return "\n".join(self.output_path.read_text(errors="replace").splitlines()[-lines:])

    # ------------------------------------------------------------------ lifecycle
    def stop(self, timeout: float = 5.0) -> None:
        """End the process this phone started (``quit``, then TERM, then KILL), only that one."""
        process, self._process = self._process, None
        if self._socket is not None:
            try:
                self._socket.sendall(netstring(json.dumps({"command": "quit", "token": "quit"}).encode()))
            except OSError:
                pass
        if process is not None:
            for sig in (None, signal.SIGTERM, signal.SIGKILL):
                if process.poll() is not None:
                    break
                if sig is not None:
                    process.send_signal(sig)
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    continue
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._reader is not None:
            self._reader.join(timeout)
            self._reader = None

    def __enter__(self) -> Softphone:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()
