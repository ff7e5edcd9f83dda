"""The files that run the daemon as a service: what they start is a command the daemon
has, a reload is the SIGHUP the daemon reloads and reopens its queue_log on, and the
logrotate file is one logrotate accepts."""
from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
from pathlib import Path

from acd.cli import build_parser
from tests.needs import missing

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]   # systemd keys are case-sensitive
    parser.read(DEPLOY / "acd.service", encoding="utf-8")
    return parser


def test_the_service_starts_the_daemon_with_a_config_and_reloads_it_with_sighup() -> None:
    service = unit()["Service"]
    program, *args = shlex.split(service["ExecStart"])
    assert program.endswith("/.venv/bin/acd")
    parsed = build_parser().parse_args(args)
    assert parsed.command == "run" and parsed.config.endswith(".yaml")
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    # the daemon writes its queue_log and records under the working directory
    assert service["WorkingDirectory"] in service["ReadWritePaths"].split()


def test_logrotate_reloads_the_daemon_after_moving_the_queue_log(tmp_path: Path) -> None:
    text = (DEPLOY / "logrotate.conf").read_text(encoding="utf-8")
    assert "systemctl reload acd.service" in text and "/var/log/acd/queue_log" in text
    # Asterisk appends to the same file (docs/records.md, "The queue_log"): it reopens it too
    assert "asterisk -rx 'logger reload'" in text and "create 0660 acd acd" in text
    logrotate = shutil.which("logrotate") or shutil.which("logrotate", path="/usr/sbin")
    if logrotate is None:
        missing("logrotate is not installed (scripts/install-system-deps)")
    conf = tmp_path / "acd"
    conf.write_text(text.replace("/var/log/acd/queue_log", str(tmp_path / "queue_log"))
                    .replace("create 0660 acd acd", "create 0660"), encoding="utf-8")
    (tmp_path / "queue_log").write_text("1|NONE|NONE|NONE|QUEUESTART|\n")
    done = subprocess.run([logrotate, "--debug", "--state", str(tmp_path / "state"), str(conf)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "error" not in (done.stdout + done.stderr).lower()


def test_asterisk_is_pointed_at_the_daemons_queue_log_relative_to_its_log_directory() -> None:
    # main/logger.c opens <astlogdir>/<queue_log_name>: one file for app_queue and the daemon
    from acd.install_service import shared_queue_log_name

    assert shared_queue_log_name(Path("/var/log/acd/queue_log")) == "../acd/queue_log"
