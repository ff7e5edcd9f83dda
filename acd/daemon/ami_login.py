"""The daemon's AMI login as the engineer installing it meets it: where the secret comes
from, and what a failed login tells them to fix.

The secret is Asterisk's (``secret`` in the ``[acd]`` section of manager.conf) and the
daemon's (``daemon.ami_secret``, or ``daemon.ami_secret_file`` so that the YAML, which
planners and reviewers read, holds no secret). A fresh install whose two copies differ
used to retry the login forever with a warning that named neither: Asterisk answers a
wrong secret with ``Response: Error`` / ``Authentication failed`` (main/manager.c
``action_login``), which the AMI client raises as ``AMIAuthError``. The daemon still
retries (an engineer who fixes manager.conf and runs ``manager reload`` should not have
to restart it too), but each refusal is an error naming the files and settings to make
agree, distinct from a connection refused (Asterisk down, or the port or address wrong).
"""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from acd.config import ConfigError
from acd.config.model import DaemonSettings
from acd.protocol.errors import AMIAuthError


def ami_secret(settings: DaemonSettings) -> str:
    """The AMI secret: the first line of ``daemon.ami_secret_file`` when set (surrounding
    blanks dropped), else ``daemon.ami_secret``. ConfigError naming the file when it
    cannot be read or is empty."""
    if settings.ami_secret_file is None:
        return settings.ami_secret
    path = Path(settings.ami_secret_file)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise ConfigError(f"daemon.ami_secret_file: cannot read it: {error.strerror or error}", path) from error
    secret = lines[0].strip() if lines else ""
    if not secret:
        raise ConfigError("daemon.ami_secret_file: empty; its first line is the AMI secret", path)
    return secret


def secret_source(settings: DaemonSettings, config_path: Path) -> str:
    """Where the daemon took its secret from, as the engineer edits it."""
    if settings.ami_secret_file is not None:
        return f"the file {settings.ami_secret_file} (daemon.ami_secret_file in {config_path})"
    return f"daemon.ami_secret in {config_path}"


def login_failure(error: BaseException, settings: DaemonSettings, config_path: Path, port: int
                  ) -> tuple[int, str, dict[str, Any]]:
    """How to log a failed AMI connect: level, message and fields, the ``fix`` field
    saying which file and setting to change."""
    where = f"{settings.ami_host}:{port}"
    if isinstance(error, AMIAuthError):
        return logging.ERROR, "AMI login refused: wrong user or secret", {
            "reason": str(error),
            "fix": (f"the secret in {secret_source(settings, config_path)} must equal `secret` in the "
                    f"[{settings.ami_username}] section of Asterisk's manager.conf (daemon.ami_username "
                    f"names the section); after editing manager.conf: asterisk -rx 'manager reload'")}
    if isinstance(error, ConnectionRefusedError):
        return logging.WARNING, "AMI connection refused", {
            "reason": str(error),
            "fix": (f"is Asterisk running? daemon.ami_host and daemon.ami_port ({where}) in {config_path} "
                    f"must match `bindaddr` and `port` in the [general] section of manager.conf "
                    f"(with enabled = yes)")}
    if isinstance(error, (asyncio.TimeoutError, TimeoutError)):
        return logging.WARNING, "AMI did not answer", {
            "reason": repr(error),
            "fix": f"something at {where} accepts connections but is not Asterisk's AMI, or Asterisk is stuck"}
    return logging.WARNING, "AMI connect failed", {"reason": repr(error), "at": where}
