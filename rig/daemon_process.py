"""The ACD daemon as its own process (``python -m acd.cli run``), for tests and benches
that kill it the way an operator's bad day does: SIGKILL (a crash), SIGTERM (a stop or
``systemctl restart``). Its log goes to a file the caller can wait on."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


class DaemonProcess:
    def __init__(self, config: Path, log: Path, *, extra_env: dict[str, str] | None = None) -> None:
        self.config = Path(config)
        self.log = Path(log)
        self.extra_env = dict(extra_env or {})
        self.process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    def start(self) -> DaemonProcess:
        """Start it and return once FastAGI listens (it serves callers from then on)."""
        env = {**os.environ, **self.extra_env}
        self._log_offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "acd.cli", "run", "--config", str(self.config)],
                                            stdout=out, stderr=subprocess.STDOUT, env=env)
        self.wait_logged("FastAGI listening", 60.0)    # a loaded machine starts Python slowly
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def text(self) -> str:
        """What this run logged so far (not earlier runs into the same file)."""
        try:
            with open(self.log, "rb") as log:
                log.seek(self._log_offset)
                return log.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_logged(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            content = self.text()
            if text in content:
                return content
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"daemon exited ({self.process.returncode}) before logging {text!r}:\n{content}")
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not logged within {timeout} s:\n{self.text()[-4000:]}")

    def kill(self) -> None:
        """SIGKILL: a crash; nothing is handed over."""
        self._signal(signal.SIGKILL)

    def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait for the exit code."""
        self._signal(signal.SIGTERM)
        assert self.process is not None
        return self.process.wait(timeout)

    def _signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            if sig == signal.SIGKILL:
                self.process.wait(10)

    def stop(self) -> None:
        """Whatever state it is in, make sure it is gone (a test's finally)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
