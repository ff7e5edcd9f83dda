"""The daemon's AMI login as a fresh install meets it: the secret read from
``daemon.ami_secret_file`` (beside the config file), and a login that fails says what to
fix: a wrong secret is an ERROR naming the secret's file and manager.conf's section,
distinct from a connection refused. ``acd run`` runs as a process against the session's
sandboxed Asterisk, as the service would."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from acd.config import ConfigError, load_config, load_config_text
from acd.daemon.ami_login import ami_secret
from rig.asterisk import AsteriskSandbox
from rig.ports import free_port
from tests.test_daemon_process import wait_for

CONFIG = """\
service: {{name: test, languages: [el]}}
skills: {{topic:a: A}}
queues:
  q: {{requires: {{topic:a: 1}}}}
agents:
  '11': {{pin: '1234', skills: {{topic:a: 3}}}}
daemon: {{ami_port: {ami}, ami_username: acd, ami_secret_file: ami.secret, agi_port: {agi}, api_port: {api},
         queue_log: {dir}/queue_log, database_url: ''}}
"""


def write_config(directory: Path, ami_port: int, secret: str | None) -> Path:
    config = directory / "acd.yaml"
    config.write_text(CONFIG.format(ami=ami_port, agi=free_port(24600), api=free_port(28600), dir=directory))
    if secret is not None:
        (directory / "ami.secret").write_text(secret + "\n")
    return config


@pytest.fixture
def daemon_log(tmp_path: Path) -> Iterator[tuple[list[subprocess.Popen[bytes]], Path]]:
    """Where ``start`` puts the daemon's log; the daemons started are stopped after the test."""
    started: list[subprocess.Popen[bytes]] = []
    yield started, tmp_path / "daemon.log"
    for process in started:
        if process.poll() is None:
            process.terminate()
            process.wait(15)


def start(started: list[subprocess.Popen[bytes]], log: Path, config: Path) -> subprocess.Popen[bytes]:
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "acd.cli", "run", "--config", str(config)],
                                   stdout=out, stderr=subprocess.STDOUT)
    started.append(process)
    return process


def test_the_secret_file_is_read_beside_the_config_and_cannot_come_with_a_clear_secret(tmp_path: Path) -> None:
    config = write_config(tmp_path, 5038, "s3cret-from-file  ")
    settings = load_config(config).daemon
    assert settings.ami_secret_file == str(tmp_path / "ami.secret")
    assert ami_secret(settings) == "s3cret-from-file"
    (tmp_path / "ami.secret").write_text("\n")
    with pytest.raises(ConfigError, match="empty") as empty:
        ami_secret(settings)
    assert empty.value.file == str(tmp_path / "ami.secret")
    text = "service: {name: t, languages: [el]}\nskills: {a: A}\nqueues: {q: {requires: {a: 1}}}\n" \
           "agents: {'11': {pin: '1234', skills: {a: 1}}}\ndaemon:\n  ami_secret: x\n  ami_secret_file: f\n"
    with pytest.raises(ConfigError, match="not both") as both:
        load_config_text(text, "acd.yaml")
    assert both.value.line == 7


def test_a_missing_secret_file_stops_the_daemon_naming_the_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, free_port(25100), None)
    done = subprocess.run([sys.executable, "-m", "acd.cli", "run", "--config", str(config)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert f"{tmp_path / 'ami.secret'}: daemon.ami_secret_file: cannot read it" in done.stderr


@pytest.mark.asterisk
def test_a_wrong_secret_is_an_error_saying_what_to_fix_and_the_right_one_logs_in(
        asterisk: AsteriskSandbox, tmp_path: Path, daemon_log: tuple[list[subprocess.Popen[bytes]], Path]) -> None:
    started, log = daemon_log
    config = write_config(tmp_path, asterisk.ami_port, "not-the-secret")
    process = start(started, log, config)
    text = wait_for(process, log, "AMI login refused")
    line = next(line for line in text.splitlines() if "AMI login refused" in line)
    assert " ERROR " in line
    assert f"the file {tmp_path / 'ami.secret'} (daemon.ami_secret_file in {config})" in line
    assert "[acd] section of Asterisk's manager.conf" in line and "manager reload" in line
    assert "AMI connected" not in text
    process.terminate()
    assert process.wait(15) == 0

    (tmp_path / "ami.secret").write_text(asterisk.ami_secret + "\n")
    process = start(started, log, config)
    text = wait_for(process, log, "AMI connected")
    assert "AMI login refused" not in text and "connection refused" not in text and " ERROR " not in text


def test_no_asterisk_listening_is_a_refused_connection_naming_the_port_not_a_login_error(
        tmp_path: Path, daemon_log: tuple[list[subprocess.Popen[bytes]], Path]) -> None:
    started, log = daemon_log
    port = free_port(25200)
    process = start(started, log, write_config(tmp_path, port, "whatever"))
    text = wait_for(process, log, "AMI connection refused")
    line = next(line for line in text.splitlines() if "AMI connection refused" in line)
    assert " WARNING " in line and f"daemon.ami_port (127.0.0.1:{port})" in line and "manager.conf" in line
    assert "login refused" not in text
