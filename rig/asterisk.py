"""A real Asterisk in a sandbox: its own config, run, log, spool and db directories,
loopback only, ports nobody else uses, started and stopped by its own pid.

Tests, benchmarks and the demo all need a PBX that behaves like production (the same
base config from ``asterisk-config/``, the same modules) but never touches a system
Asterisk, ``/etc/asterisk`` or ``/var``, and can run next to another sandbox. Only
the generated files (``*_generated.conf``) differ per use; they come in as text.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from rig.asterisk_conf import get_option, set_option
from rig.ports import free_port, udp_port_taken

BASE_CONFIG = Path(__file__).resolve().parent.parent / "asterisk-config"
"""The base configuration shipped with the project (production and sandbox alike)."""

GENERATED_FILES = ("pjsip_generated.conf", "extensions_generated.conf", "queues_generated.conf")
"""Files the base config ``#include``s; written empty when not given, so Asterisk boots."""

# The module that reads each generated file, for apply().
_RELOADED_BY = {
    "pjsip_generated.conf": "res_pjsip.so",
    "extensions_generated.conf": "pbx_config.so",
    "queues_generated.conf": "app_queue.so",
}
# Writable directories move into the sandbox; read-only ones (modules, sounds, music
# on hold, AGI scripts) stay the package's, as the base config names them.
_SANDBOX_DIRS = {
    "astetcdir": "etc",
    "astvarlibdir": "lib",
    "astdbdir": "lib",
    "astkeydir": "lib",
    "astspooldir": "spool",
    "astlogdir": "log",
    "astcachedir": "cache",
}
# A unix socket path (the control socket asterisk.ctl) must fit in sun_path (108
# bytes); deep pytest tmp dirs may not, so the run dir then moves to a short one.
_MAX_SOCKET_PATH = 100
# Asterisk's logger writes from its own thread: give it a moment after a reload
# before reading what the reload logged.
_LOGGER_LAG = 0.05


class AsteriskError(RuntimeError):
    """Asterisk did not do what the rig asked (start, a CLI command, a reload)."""


def find_binary(name: str = "asterisk") -> str | None:
    """The Asterisk executable, also where ``PATH`` lacks /usr/sbin (non-root shells)."""
    found = shutil.which(name)
    if found:
        return found
    candidate = Path("/usr/sbin") / name
    return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None


class AsteriskSandbox:
    """One sandboxed Asterisk process.

    ``start()`` returns once Asterisk is fully booted and AMI accepts connections;
    ``stop()`` ends exactly the process it started. Use as a context manager.
    """

    ami_username = "acd"

    def __init__(
        self,
        workdir: Path,
        *,
        base_config: Path = BASE_CONFIG,
        extra_files: Mapping[str, str] | None = None,
        sip_port: int | None = None,
        ami_port: int | None = None,
        rtp_ports: tuple[int, int] | None = None,
        binary: str | None = None,
        start_timeout: float = 30.0,
        keep_ami_secret: bool = False,
    ) -> None:
        """``base_config``: the directory the config is built from (an installed one, with
        its own *_generated.conf files, works too); ``keep_ami_secret``: keep the AMI
        secret that config has (an install whose daemon config holds the same one) rather
        than a fresh random one."""
        self.workdir = Path(workdir).resolve()
        self.base_config = Path(base_config)
        if not (self.base_config / "asterisk.conf").is_file():
            raise AsteriskError(f"{self.base_config} holds no asterisk.conf: not an Asterisk base config")
        self.extra_files = dict(extra_files or {})
        for name in self.extra_files:
            _check_file_name(name)
        self.sip_port = sip_port if sip_port is not None else free_port(15060, socket.SOCK_DGRAM)
        self.ami_port = ami_port if ami_port is not None else free_port(15038, socket.SOCK_STREAM)
        if rtp_ports is not None and not (1024 <= rtp_ports[0] < rtp_ports[1] <= 65535):
            raise ValueError(f"rtp_ports must be an increasing pair of ports above 1023, not {rtp_ports}")
        self.rtp_ports = rtp_ports
        self.keep_ami_secret = keep_ami_secret
        self.ami_secret = (get_option((self.base_config / "manager.conf").read_text(), self.ami_username, "secret")
                           if keep_ami_secret else secrets.token_hex(16))
        found = binary or find_binary()
        if found is None:
            raise AsteriskError("asterisk is not installed (run scripts/install-system-deps)")
        self.binary: str = found
        self.start_timeout = start_timeout
        self.conf_dir = self.workdir / "etc"
        self.log_dir = self.workdir / "log"
        self.run_dir = self.workdir / "run"
        self._short_run_dir: str | None = None
        self._process: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------------ config
    @property
    def asterisk_conf(self) -> Path:
        return self.conf_dir / "asterisk.conf"

    def _build_config(self) -> None:
        for sub in set(_SANDBOX_DIRS.values()) | {"run"}:
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        if len(str(self.run_dir / "asterisk.ctl")) > _MAX_SOCKET_PATH:
            self._short_run_dir = tempfile.mkdtemp(prefix="ast-run-")
            self.run_dir = Path(self._short_run_dir)
        for source in sorted(self.base_config.glob("*.conf")):
            (self.conf_dir / source.name).write_text(self._adapt(source.name, source.read_text()))
        for name in GENERATED_FILES:
            if name not in self.extra_files and not (self.base_config / name).is_file():
                (self.conf_dir / name).write_text("; nothing generated for this sandbox\n")
        for name, text in self.extra_files.items():
            (self.conf_dir / name).write_text(text)

    def _adapt(self, name: str, text: str) -> str:
        """The base file ``name`` with the sandbox's ports, secret and directories."""
        if name == "asterisk.conf":
            for key, sub in _SANDBOX_DIRS.items():
                text = set_option(text, "directories", key, str(self.workdir / sub))
            text = set_option(text, "directories", "astrundir", str(self.run_dir))
        elif name == "pjsip.conf":
            text = set_option(text, "transport-udp", "bind", f"127.0.0.1:{self.sip_port}")
        elif name == "manager.conf":
            text = set_option(text, "general", "port", str(self.ami_port))
            text = set_option(text, "general", "bindaddr", "127.0.0.1")
            if not self.keep_ami_secret:
                text = set_option(text, self.ami_username, "secret", self.ami_secret)
        elif name == "rtp.conf" and self.rtp_ports is not None:
            text = set_option(text, "general", "rtpstart", str(self.rtp_ports[0]))
            text = set_option(text, "general", "rtpend", str(self.rtp_ports[1]))
        return text

    def write_file(self, name: str, text: str) -> Path:
        """Write a config file into the sandbox; call ``reload`` for Asterisk to read it.

        The file is also kept for a restart, which rebuilds the config directory.
        """
        _check_file_name(name)
        self.extra_files[name] = text
        path = self.conf_dir / name
        path.write_text(text)
        return path

    def apply(self, files: Mapping[str, str]) -> None:
        """Write generated files and reload what reads them, so the next call sees them.

        Tests share one Asterisk per session and bring their own endpoints and
        dialplan this way instead of restarting it.
        """
        unknown = set(files) - set(_RELOADED_BY)
        if unknown:
            raise ValueError(f"apply() knows {', '.join(sorted(_RELOADED_BY))}; write {sorted(unknown)} "
                             "with write_file() and reload the module yourself")
        for name, text in files.items():
            self.write_file(name, text)
        for name in sorted(files):
            self.reload(_RELOADED_BY[name])

    # ------------------------------------------------------------------ lifecycle
    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> AsteriskSandbox:
        if self.running:
            return self
        self._build_config()
        console = open(self.log_dir / "console.log", "ab")
        try:
            # -f: stay in the foreground so the pid we hold is Asterisk itself; its own
            # session so that a stray child (System(), AGI scripts) dies with it.
            self._process = subprocess.Popen(
                [self.binary, "-C", str(self.asterisk_conf), "-f", "-n"],
                stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                start_new_session=True, cwd=self.workdir)
        finally:
            console.close()
        try:
            self._wait_booted()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_booted(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        booted = False
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                code = self._process.returncode if self._process is not None else None
                raise AsteriskError(f"asterisk exited with code {code} while starting"
                                    f"{self._log_excerpt()}")
            if not booted:
                booted = self._try_cli("core waitfullybooted", timeout=max(0.5, deadline - time.monotonic()))
            if booted and self._ami_answers():
                if not udp_port_taken(self.sip_port):
                    raise AsteriskError(f"asterisk booted but does not listen on SIP port {self.sip_port}"
                                        f"{self._log_excerpt()}")
                return
            time.sleep(0.05)
        raise AsteriskError(f"asterisk did not finish booting within {self.start_timeout:.0f} s"
                            f"{self._log_excerpt()}")

    def _try_cli(self, command: str, timeout: float) -> bool:
        if not (self.run_dir / "asterisk.ctl").exists():
            return False
        try:
            done = subprocess.run([self.binary, "-C", str(self.asterisk_conf), "-rx", command],
                                  capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return done.returncode == 0

    def _ami_answers(self) -> bool:
        """This sandbox's AMI takes this sandbox's login: a banner alone could be another
        Asterisk's that took the port first (two test runs at once pick ports alike)."""
        try:
            with socket.create_connection(("127.0.0.1", self.ami_port), timeout=1.0) as ami:
                if not ami.recv(64).startswith(b"Asterisk Call Manager/"):
                    return False
                ami.sendall(f"Action: Login\r\nUsername: {self.ami_username}\r\nSecret: {self.ami_secret}\r\n"
                            "Events: off\r\n\r\n".encode())
                reply = b""
                while b"\r\n\r\n" not in reply:
                    chunk = ami.recv(1024)
                    if not chunk:
                        return False
                    reply += chunk
                return b"Response: Success" in reply
        except OSError:
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """End the process this sandbox started (TERM, then KILL), and only that one."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout)
            # Children in the session Asterisk led (its pgid is its pid), if any remain.
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self._short_run_dir is not None:
            shutil.rmtree(self._short_run_dir, ignore_errors=True)
            self._short_run_dir = None
            self.run_dir = self.workdir / "run"

    def __enter__(self) -> AsteriskSandbox:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    # ------------------------------------------------------------------ control
    def cli(self, command: str, timeout: float = 30.0) -> str:
        """Run a CLI command in this Asterisk (``asterisk -rx``) and return its output."""
        if not self.running:
            raise AsteriskError(f"asterisk is not running; cannot run {command!r}")
        try:
            done = subprocess.run([self.binary, "-C", str(self.asterisk_conf), "-rx", command],
                                  capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired as error:
            raise AsteriskError(f"{command!r} took more than {timeout} s") from error
        output = done.stdout.decode("utf-8", "replace")
        if done.returncode != 0:
            raise AsteriskError(f"{command!r} failed (exit {done.returncode}): "
                                f"{output}{done.stderr.decode('utf-8', 'replace')}")
        return output

    def channel_formats(self, channel: str) -> dict[str, str]:
        """``core show channel``'s format lines (main/cli.c ``handle_showchan``):
        NativeFormats, WriteFormat, ReadFormat, and WriteTranscode/ReadTranscode, ``No`` or
        ``Yes`` with the translation path: how a test sees that a call is not transcoded."""
        keys = ("NativeFormats", "WriteFormat", "ReadFormat", "WriteTranscode", "ReadTranscode")
        fields = {}
        for line in self.cli(f"core show channel {channel}").splitlines():
            key, _, value = line.strip().partition(":")
            if key in keys:
                fields[key] = value.strip()
        return fields

    def bridge_technologies(self) -> list[str]:
        """The technology of each bridge ``bridge show all`` lists (main/bridge.c:
        Bridge-ID, Chans, Type, Technology, Duration)."""
        rows = self.cli("bridge show all").splitlines()[1:]
        return [row.split()[3] for row in rows if len(row.split()) >= 5]

    def reload(self, module: str) -> str:
        """Reload one module's config (``res_pjsip.so``, ``pbx_config.so``, ``app_queue.so``).

        The CLI says "reloaded successfully" even when the new file has errors (the
        module keeps what it could parse), so the ERROR lines the reload logged are
        checked too: a test that loads a dialplan must not go on with half of it.
        """
        messages = self.log_dir / "messages"
        offset = messages.stat().st_size if messages.is_file() else 0
        output = self.cli(f"module reload {module}")
        if "reloaded successfully" not in output and "queued" not in output.lower():
            raise AsteriskError(f"reload of {module} failed: {output.strip()}")
        time.sleep(_LOGGER_LAG)
        if messages.is_file():
            with open(messages, "rb") as log:
                log.seek(offset)
                errors = [line for line in log.read().decode("utf-8", "replace").splitlines() if " ERROR[" in line]
            if errors:
                raise AsteriskError(f"reload of {module} logged errors:\n" + "\n".join(errors))
        return output

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of Asterisk's messages log and console output."""
        parts = []
        for name in ("messages", "console.log"):
            path = self.log_dir / name
            if path.is_file():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path}\n" + "\n".join(tail))
        return "\n".join(parts)

    def _log_excerpt(self) -> str:
        tail = self.log_tail()
        return f"\n{tail}" if tail else f" (no log in {self.log_dir})"


def _check_file_name(name: str) -> None:
    if "/" in name or "\\" in name or name.startswith(".") or not name.endswith(".conf"):
        raise ValueError(f"config file names are plain *.conf names, not {name!r}")

