"""sipp as citizens' phones (UAC) and agents' softphones (UAS).

Each ``SippProcess`` runs one sipp on loopback with its own ports and files, and hands
back what the phones saw: sipp's own counts of successful and failed calls, and a
timestamped event per step of each call (``PhoneEvent``: which agent got which
INVITE and when, when a citizen was answered, who hung up). The events come from the
scenarios' ``<log>`` actions, so a benchmark measures "agent hangs up -> next INVITE"
on the phones' side of the wire, never from the code under test.
"""
from __future__ import annotations

import csv
import itertools
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

from rig.ports import free_port, udp_port_taken

SCENARIOS = Path(__file__).resolve().parent / "scenarios"

AgentBehaviour = Literal["answers", "never_answers", "busy", "transfers_attended"]
_AGENT_SCENARIOS: dict[str, str] = {
    "answers": "agent_answers.xml",
    "never_answers": "agent_never_answers.xml",
    "busy": "agent_busy.xml",
    "transfers_attended": "agent_attended_transfer.xml",
}
DTMF_DIGITS = frozenset("0123456789*#ABCD")
_DTMF_MARKER = "<!-- dtmf -->"
_MAX_DIGITS = 64  # INFO CSeqs run 2..65, below the BYE's fixed CSeq 100
_names = itertools.count(1)
# sipp's exit codes for a run that happened (all calls fine, some failed, ended by a
# command, no calls at all), as opposed to 255/254: it could not run at all.
_FINISHED = (0, 1, 97, 99)


class SippError(RuntimeError):
    """sipp could not start or did not finish in time."""


@dataclass(frozen=True, slots=True)
class PhoneEvent:
    """One step of one call, as a phone logged it.

    ``event`` is one of: invite (citizen dialled / agent's phone got the INVITE),
    answer (agent picked up), answered (citizen got the 200), dtmf, hangup (this phone
    sent BYE), bye (the far end hung up), cancel (ringing stopped unanswered), busy.
    ``peer`` is the other side: the caller's SIP user for an agent, the number dialled
    for a citizen, the digit for a dtmf event.
    """

    at: float
    event: str
    phone: str
    peer: str
    call_id: str


@dataclass(frozen=True, slots=True)
class SippResult:
    """How a sipp run ended: its exit code and its own call counts."""

    returncode: int
    created: int
    successful: int
    failed: int

    @property
    def all_successful(self) -> bool:
        """Every call sipp started (or took) ran its scenario to the end."""
        return self.failed == 0 and self.successful == self.created and self.returncode == 0


def find_sipp() -> str | None:
    return shutil.which("sipp")


def parse_events(text: str) -> list[PhoneEvent]:
    """The scenarios' log lines: ``<seconds> <microseconds> <event> <phone> <peer> <call-id>``.

    sipp prints its numbers as doubles (``1700000000.000000 5123.000000``), so the
    microseconds are added as a number, never glued on as a string.
    """
    events = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 6:
            raise ValueError(f"sipp event log line {number}: expected 6 fields, got {line!r}")
        seconds, micros, event, phone, peer, call_id = fields
        events.append(PhoneEvent(float(seconds) + float(micros) / 1e6, event, phone, peer, call_id))
    events.sort(key=lambda e: e.at)
    return events


def parse_stats(text: str) -> dict[str, str]:
    """The last row of sipp's ``-trace_stat`` CSV (cumulative counts), by column name."""
    rows = [row for row in csv.reader(text.splitlines(), delimiter=";") if row]
    if len(rows) < 2:
        return {}
    return dict(zip(rows[0], rows[-1]))


class SippProcess:
    """One sipp process with its files in ``workdir`` (``<name>.events``, ``.csv``, ...)."""

    def __init__(self, scenario: Path, args: Sequence[str] = (), *, workdir: Path, name: str | None = None,
                 remote: str | None = None, port: int | None = None) -> None:
        self.binary = find_sipp()
        if self.binary is None:
            raise SippError("sipp is not installed (Debian package sip-tester; run scripts/install-system-deps)")
        if not Path(scenario).is_file():
            raise SippError(f"no sipp scenario at {scenario}")
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.name = name or f"sipp-{next(_names)}"
        self.port = port if port is not None else free_port(16000, socket.SOCK_DGRAM)
        # sipp binds the media port and the ones after it (RTCP, video): keep 4 free.
        self.media_port = free_port(self.port + 1000, socket.SOCK_DGRAM, span=4)
        base = self.workdir / self.name
        self.events_path = base.with_suffix(".events")
        self.stats_path = base.with_suffix(".csv")
        self.errors_path = base.with_suffix(".errors")
        self.output_path = base.with_suffix(".out")
        self.command = [
            self.binary, *([remote] if remote else []), "-sf", str(scenario),
            "-i", "127.0.0.1", "-p", str(self.port), "-mi", "127.0.0.1", "-mp", str(self.media_port),
            "-nostdin", "-trace_logs", "-log_file", str(self.events_path),
            "-trace_stat", "-stf", str(self.stats_path), "-fd", "1",
            "-trace_err", "-error_file", str(self.errors_path), *args,
        ]
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, ready_timeout: float = 5.0) -> SippProcess:
        """Start sipp and return once it listens on its port (or raise with its output)."""
        for path in (self.events_path, self.stats_path, self.errors_path):
            path.unlink(missing_ok=True)
        with open(self.output_path, "wb") as output:
            self._process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=output,
                                             stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                if self._process.returncode in _FINISHED:
                    return self  # a short UAC run may be over already
                raise SippError(f"{self.name} exited with {self._process.returncode} at start:\n{self.diagnostics()}")
            if udp_port_taken(self.port):
                return self
            time.sleep(0.02)
        self.stop()
        raise SippError(f"{self.name} did not bind UDP port {self.port} within {ready_timeout} s")

    def wait(self, timeout: float) -> SippResult:
        """Wait for sipp to finish on its own (a UAC after its ``calls``)."""
        if self._process is None:
            raise SippError(f"{self.name} was never started")
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired as error:
            self.stop()
            raise SippError(f"{self.name} still running after {timeout} s:\n{self.diagnostics()}") from error
        return self.result()

    def stop(self, timeout: float = 10.0) -> SippResult:
        """End sipp cleanly: no new calls, let the calls in progress finish, then exit.

        SIGUSR1 is sipp's smooth exit; a sipp still busy after ``timeout`` gets
        SIGTERM, then SIGKILL. Only this process is signalled.
        """
        process = self._process
        if process is None:
            raise SippError(f"{self.name} was never started")
        for sig, grace in ((signal.SIGUSR1, timeout), (signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0)):
            if process.poll() is not None:
                break
            process.send_signal(sig)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                continue
        return self.result()

    def result(self) -> SippResult:
        if self._process is None or self._process.returncode is None:
            raise SippError(f"{self.name} has not finished")
        stats = parse_stats(self.stats_path.read_text(errors="replace")) if self.stats_path.is_file() else {}

        def count(column: str) -> int:
            return int(stats.get(column, "0") or 0)

        return SippResult(self._process.returncode, count("TotalCallCreated"),
                          count("SuccessfulCall(C)"), count("FailedCall(C)"))

    def events(self) -> list[PhoneEvent]:
        """Every step logged so far (sipp writes the log as the calls go)."""
        if not self.events_path.is_file():
            return []
        return parse_events(self.events_path.read_text(encoding="utf-8", errors="replace"))

    def diagnostics(self, lines: int = 30) -> str:
        """The tail of sipp's output and error file, for failure messages."""
        parts = []
        for path in (self.output_path, self.errors_path):
            if path.is_file():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path}\n" + "\n".join(tail))
        return "\n".join(parts)

    def __enter__(self) -> SippProcess:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self.running:
            self.stop()


# ---------------------------------------------------------------------- helpers
def agent_phones(workdir: Path, *, behaviour: AgentBehaviour = "answers", ring: float = 0.2,
                 talk: float | None = 1.0, port: int | None = None, name: str = "agents",
                 alaw: bool = False, rtp_port: int | None = None, echo: bool = False) -> SippProcess:
    """One sipp UAS playing every agent whose contact is ``sip:agent-<id>@127.0.0.1:<port>``.

    ``answers``: rings ``ring`` seconds, answers, hangs up after ``talk`` seconds
    (``talk=None``: waits for the caller to hang up). ``never_answers``: rings until
    Asterisk cancels. ``busy``: 486 at once. ``transfers_attended``: answers, then
    answers its consultation call (From user ``consult``) and transfers the first call
    to it with REFER and Replaces (scenarios/agent_attended_transfer.xml). ``alaw``/``rtp_port``: see
    ``alaw_scenario``; ``echo``: sipp sends every RTP packet back where it came from
    (``-rtp_echo``), so each agent talks as loud as its caller. Not started: call
    ``start()`` or use ``with``.
    """
    if behaviour not in _AGENT_SCENARIOS:
        raise ValueError(f"agent behaviour {behaviour!r}: one of {', '.join(_AGENT_SCENARIOS)}")
    if ring < 0 or (talk is not None and talk <= 0):
        raise ValueError(f"ring ({ring}) must be >= 0 and talk ({talk}) > 0 seconds")
    args: list[str] = []
    if behaviour == "answers":
        args += ["-set", "ring_ms", str(round(ring * 1000))]
        if talk is not None:
            args += ["-recv_timeout", str(round(talk * 1000))]
    if echo:
        args.append("-rtp_echo")
    scenario = SCENARIOS / _AGENT_SCENARIOS[behaviour]
    if alaw or rtp_port is not None:
        scenario = alaw_scenario(scenario, Path(workdir) / f"{name}-alaw.xml", rtp_port)
    return SippProcess(scenario, args, workdir=workdir, name=name, port=port)


def citizens(workdir: Path, sip_port: int, number: str, *, calls: int = 1, rate: float = 10.0,
             concurrency: int | None = None, caller_name: str = "Πολίτης", caller_prefix: str = "citizen-",
             digits: str = "", first_digit_after: float = 1.0, digit_gap: float = 0.3,
             hold: float | None = None, name: str = "citizens", alaw: bool = False,
             rtp_port: int | None = None, play: Path | None = None) -> SippProcess:
    """A sipp UAC placing ``calls`` calls to ``number`` at the sandbox's SIP port.

    Each call waits as long as it takes to be answered, sends ``digits`` as SIP INFO
    (the first ``first_digit_after`` seconds after the answer, then one every
    ``digit_gap``), holds for ``hold`` seconds and hangs up (``hold=None``: until the
    far end hangs up). ``caller_name`` goes into From as UTF-8. ``alaw``/``rtp_port``:
    see ``alaw_scenario``; ``play``: a pcap of A-law RTP sipp plays from the answer
    until the far end hangs up, again and again (``playing_scenario``). Not started.
    """
    if calls < 1 or rate <= 0 or (concurrency is not None and concurrency < 1):
        raise ValueError(f"calls ({calls}), rate ({rate}) and concurrency ({concurrency}) must be positive")
    if hold is not None and hold <= 0:
        raise ValueError(f"hold must be positive seconds or None, not {hold}")
    if not number or any(c.isspace() or c in "@:;<>\"" for c in number):
        raise ValueError(f"{number!r} is not a number to dial")
    if any(c in '"\\\r\n' for c in caller_name) or any(c.isspace() or c in "@:;<>\"" for c in caller_prefix):
        raise ValueError(f"caller name {caller_name!r} / prefix {caller_prefix!r} would break the From header")
    workdir = Path(workdir)
    scenario = SCENARIOS / "citizen.xml"
    if digits:
        scenario = workdir / f"{name}.xml"
        workdir.mkdir(parents=True, exist_ok=True)
        scenario.write_text(citizen_scenario_with_dtmf(digits, first_digit_after, digit_gap), encoding="iso-8859-1")
    if play is not None and hold is not None:
        raise ValueError("a citizen playing audio holds until the far end hangs up: no hold time")
    if alaw or rtp_port is not None or play is not None:
        scenario = alaw_scenario(scenario, workdir / f"{name}-alaw.xml", rtp_port)
    if play is not None:
        scenario = playing_scenario(scenario, play)
    # -l always: sipp's default concurrency limit (3 x rate x scenario length) would
    # silently hold back citizens who wait long.
    args = ["-s", number, "-key", "name", caller_name, "-key", "caller", caller_prefix,
            "-m", str(calls), "-r", f"{rate:g}", "-l", str(concurrency or calls)]
    if hold is not None:
        args += ["-recv_timeout", str(round(hold * 1000))]
    return SippProcess(scenario, args, workdir=workdir, name=name, remote=f"127.0.0.1:{sip_port}")


_PCMU_MEDIA = "m=audio [media_port] RTP/AVP 0\na=rtpmap:0 PCMU/8000"


def alaw_scenario(scenario: Path, out: Path, rtp_port: int | None = None) -> Path:
    """``scenario`` written to ``out`` with G.711 A-law first in its SDP, then PCMU, as a
    European carrier offers them, instead of the shipped files' PCMU alone (so the
    codec Asterisk picks is its endpoint's choice), with its media at ``rtp_port`` when
    given (a phone's media played by ``rig.rtp.RtpPeer``), else at sipp's own port."""
    text = Path(scenario).read_text(encoding="iso-8859-1")
    out.parent.mkdir(parents=True, exist_ok=True)
    if _PCMU_MEDIA not in text:
        raise SippError(f"{scenario} has no PCMU media line to turn into A-law")
    port = "[media_port]" if rtp_port is None else str(rtp_port)
    out.write_text(text.replace(_PCMU_MEDIA, f"m=audio {port} RTP/AVP 8 0\na=rtpmap:8 PCMA/8000\n"
                                             "a=rtpmap:0 PCMU/8000"), encoding="iso-8859-1")
    return out


_HOLD = '<recv request="BYE" ontimeout="citizen_hangs_up" next="far_end_hung_up" />'
_PCAP_SECONDS = 7


def playing_scenario(scenario: Path, pcap: Path, seconds: float = _PCAP_SECONDS) -> Path:
    """The citizen ``scenario`` (rewritten in place) playing ``pcap`` (sipp's
    ``play_pcap_audio``: its RTP, sent to the media address of the far end's SDP) from
    the answer on, again every ``seconds`` (the recording's length) until the far end's
    BYE."""
    if not Path(pcap).is_file():
        raise SippError(f"no pcap to play at {pcap}")
    text = Path(scenario).read_text(encoding="iso-8859-1")
    if _HOLD not in text:
        raise SippError(f"{scenario} has no hold to play audio in")
    loop = (f'<label id="play" />\n  <nop><action><exec play_pcap_audio="{pcap}" /></action></nop>\n'
            f'  <recv request="BYE" timeout="{round(seconds * 1000)}" ontimeout="play" next="far_end_hung_up" />\n  ')
    Path(scenario).write_text(text.replace(_HOLD, loop + _HOLD), encoding="iso-8859-1")
    return Path(scenario)


def citizen_scenario_with_dtmf(digits: str, first_digit_after: float, digit_gap: float) -> str:
    """citizen.xml with one SIP INFO (application/dtmf-relay) per digit after the answer.

    The digits are written into the scenario because sipp cannot loop over the
    characters of a string; everything else stays as in the shipped file.
    """
    bad = set(digits) - DTMF_DIGITS
    if bad or len(digits) > _MAX_DIGITS:
        raise ValueError(f"DTMF digits {digits!r}: up to {_MAX_DIGITS} of 0-9 * # A-D")
    if first_digit_after < 0 or digit_gap < 0:
        raise ValueError("DTMF pauses must be >= 0 seconds")
    text = (SCENARIOS / "citizen.xml").read_text(encoding="iso-8859-1")
    if _DTMF_MARKER not in text:
        raise SippError(f"citizen.xml lost its {_DTMF_MARKER} marker")
    blocks = [_info_block(digit, cseq=2 + index,
                          pause_ms=round((first_digit_after if index == 0 else digit_gap) * 1000))
              for index, digit in enumerate(digits)]
    return text.replace(_DTMF_MARKER, "".join(blocks).strip())


def _info_block(digit: str, *, cseq: int, pause_ms: int) -> str:
    return f"""
  <pause milliseconds="{pause_ms}" />
  <nop>
    <action>
      <gettimeofday assign_to="sec,usec" />
      <log message="[$sec] [$usec] dtmf [caller][call_number] {digit} [call_id]" />
    </action>
  </nop>
  <send retrans="500"><![CDATA[
INFO [$remote_contact] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "[name]" <sip:[caller][call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: {cseq} INFO
Contact: <sip:[caller][call_number]@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/dtmf-relay
Content-Length: [len]

Signal={digit}
Duration=160
]]></send>
  <recv response="200" timeout="32000" />
"""



def registering_phone(workdir: Path, sip_port: int, endpoint: str, contact: str, *, expires: int = 300,
                      user_agent: str = "acd-rig-softphone/1.0", password: str | None = None,
                      username: str | None = None, name: str | None = None) -> SippProcess:
    """A sipp UAC sending one REGISTER for ``endpoint`` with ``contact`` as its Contact, for
    ``expires`` seconds; ``expires=0`` un-registers that contact. The contact may point at
    another sipp (``agent_phones``), which then takes the calls Asterisk sends to the
    registered phone. Not started.

    Without ``password``: no digest (register.xml), and ``wait`` tells whether Asterisk
    answered 200. With ``password``: the phone expects Asterisk's 401 challenge and answers
    it with digest credentials (register_auth.xml; ``username`` defaults to ``endpoint``);
    either outcome is a complete run, and the phone's events say which: ``registered``,
    or ``refused`` with the code as the peer (``registration_outcome``)."""
    if expires < 0:
        raise ValueError(f"expires must be >= 0 seconds, not {expires}")
    for what, value in (("endpoint", endpoint), ("contact", contact), ("user agent", user_agent),
                        *((("username", username),) if username is not None else ()),
                        *((("password", password),) if password is not None else ())):
        if not value or any(c.isspace() or c in "<>\"" for c in value):
            raise ValueError(f"{what} {value!r} would break the REGISTER")
    args = ["-s", endpoint, "-key", "contact", contact, "-key", "expires", str(expires),
            "-key", "user_agent", user_agent, "-m", "1", "-timeout", "30s"]
    scenario = "register.xml"
    if password is not None:
        scenario = "register_auth.xml"
        args += ["-au", username or endpoint, "-ap", password]
    return SippProcess(SCENARIOS / scenario, args, workdir=workdir, name=name or f"{endpoint}-register-{expires}",
                       remote=f"127.0.0.1:{sip_port}")


def feature_code_phone(workdir: Path, sip_port: int, endpoint: str, code: str, pin: str) -> SippProcess:
    """An agent's phone (not started) that dials ``code`` as ``endpoint`` (exactly: Asterisk
    identifies the agent by the From user) and types a 4-digit ``pin`` by SIP INFO."""
    if len(pin) != 4 or not pin.isdigit():
        raise ValueError(f"the feature-code phone types a 4-digit PIN, not {pin!r}")
    digits = [arg for i, digit in enumerate(pin, 1) for arg in ("-key", f"d{i}", digit)]
    return SippProcess(SCENARIOS / "agent_feature_code.xml",
                       ["-s", code, "-key", "agent", endpoint, *digits, "-m", "1", "-timeout", "60s"],
                       workdir=workdir, name=f"{endpoint}-{code.lstrip('*')}", remote=f"127.0.0.1:{sip_port}")


def registration_outcome(phone: SippProcess) -> str | None:
    """What Asterisk answered a digest REGISTER (register_auth.xml): ``registered``,
    ``refused 401`` / ``refused 403``, or None while no answer is logged."""
    for event in reversed(phone.events()):
        if event.event == "registered":
            return "registered"
        if event.event == "refused":
            return f"refused {event.peer}"
    return None


class Phones:
    """The sipp phones of one test or run, all against one sandbox: each helper starts
    its sipp at once, and ``stop_all()`` ends whatever is still running, so a failed
    test leaves no sipp behind."""

    def __init__(self, workdir: Path, sip_port: int) -> None:
        self.workdir = Path(workdir)
        self.sip_port = sip_port
        self.started: list[SippProcess] = []

    def agents(self, **options: object) -> SippProcess:
        """``agent_phones(...)`` started; see there for the options."""
        options.setdefault("name", f"agents-{len(self.started) + 1}")
        return self._start(agent_phones(self.workdir, **options))  # type: ignore[arg-type]

    def citizens(self, number: str, **options: object) -> SippProcess:
        """``citizens(...)`` calling ``number`` at the sandbox, started."""
        options.setdefault("name", f"citizens-{len(self.started) + 1}")
        return self._start(citizens(self.workdir, self.sip_port, number, **options))  # type: ignore[arg-type]

    def registration(self, endpoint: str, contact: str, **options: object) -> SippProcess:
        """``registering_phone(...)`` for ``endpoint`` at the sandbox, started."""
        options.setdefault("name", f"register-{len(self.started) + 1}")
        return self._start(registering_phone(self.workdir, self.sip_port, endpoint, contact,
                                             **options))  # type: ignore[arg-type]

    def _start(self, process: SippProcess) -> SippProcess:
        self.started.append(process)
        return process.start()

    def stop_all(self) -> None:
        for process in self.started:
            if process.running:
                process.stop(timeout=2.0)
