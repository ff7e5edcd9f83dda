"""``acd run`` as a process: SIGHUP reloads (a bad file is refused with file, line and
reason, the running config stays), SIGTERM stops it cleanly. No Asterisk needed: the
daemon serves FastAGI and keeps retrying AMI in the background."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from rig.ports import free_port

CONFIG = """\
service: {{name: test, languages: [el]}}
skills: {{topic:a: A}}
queues:
  q: {{requires: {{topic:a: 1}}, wrapup: {wrapup}}}
agents:
  '11': {{pin: '1234', skills: {{topic:a: 3}}}}
daemon: {{ami_port: {ami}, agi_port: {agi}, api_port: {api}, queue_log: {dir}/queue_log,
         database_url: 'sqlite+aiosqlite:///{dir}/acd.sqlite3'}}
"""


def wait_for(process: subprocess.Popen, log: Path, text: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = log.read_text()
        if text in content:
            return content
        assert process.poll() is None, content
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not logged:\n{log.read_text()}")


def test_sighup_reloads_refuses_a_bad_file_and_sigterm_stops_cleanly(tmp_path):
    config = tmp_path / "acd.yaml"
    ports = {"ami": free_port(25038), "agi": free_port(24573), "api": free_port(28080)}
    config.write_text(CONFIG.format(wrapup=5, dir=tmp_path, **ports))
    log = tmp_path / "daemon.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "acd.cli", "run", "--config", str(config)],
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(process, log, "FastAGI listening")
        config.write_text(CONFIG.format(wrapup=-1, dir=tmp_path, **ports))
        process.send_signal(signal.SIGHUP)
        refused = wait_for(process, log, "config reload refused")
        assert f"file='{config}'" in refused and "line=4" in refused and "wrapup" in refused
        config.write_text(CONFIG.format(wrapup=30, dir=tmp_path, **ports))
        process.send_signal(signal.SIGHUP)
        wait_for(process, log, "config reloaded")
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert "Traceback" not in log.read_text()
