"""``python -m dialplan secrets --config FILE --out FILE``: the phones' SIP passwords file.

``python -m dialplan --secrets FILE`` gives every registering phone a digest password
from ``<agent id> <password>`` lines (``read_secrets``); this writes that file: one strong
random password per agent of the config and per supervisor's generated phone
(``supervisor:<endpoint>``, ``access.supervisor_phones``), the file readable by its owner only (0600),
written whole or not at all. A password already in the file is a phone already set up
with it, so it is never replaced unless asked (``--rotate ID`` or ``--rotate-all``); a
new run adds only the agents that are new. Lines of agents no longer in the config are
kept (and reported), so a config mistake cannot silently lose a phone's password.
"""
from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from acd.config import ConfigError, load_config
from acd.config.access import access_of, supervisor_secret_key
from acd.config.model import Config
from acd.config.telephony import SECRET_PREFIX
from dialplan.generate import GenerateError, read_secrets

#: 18 random bytes: 24 URL-safe characters (letters, digits, ``-``, ``_``), 144 bits,
#: all of them characters ``read_secrets`` and Asterisk's pjsip.conf take as they are
PASSWORD_BYTES = 18
MODE = 0o600
HEADER = ("# The phones' SIP passwords: <agent id> <password> (a supervisor's phone: supervisor:<endpoint>),\n"
          "# one line each, for `python -m dialplan --secrets`. Written by `python -m dialplan secrets`; keep it 0600.\n")


def phone_keys(config: Config) -> list[str]:
    """The secrets file's keys of every phone the generator makes register: each agent's
    id, then each supervisor's generated phone's ``supervisor:<endpoint>``."""
    return [*config.agents, *map(supervisor_secret_key, access_of(config).supervisor_endpoints)]


def new_password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)


@dataclass
class SecretsReport:
    """What one run did to the file."""

    added: list[str] = field(default_factory=list)
    rotated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    #: agents in the file but not in the config (kept)
    stale: list[str] = field(default_factory=list)
    written: bool = False


def update_secrets(path: Path, phones: Sequence[str], rotate: Collection[str] = (),
                   rotate_all: bool = False) -> SecretsReport:
    """Give every phone of ``phones`` (``phone_keys``: agents' ids, supervisors'
    ``supervisor:<endpoint>``) a password in ``path``: new ones get a new one,
    those in ``rotate`` (or all, ``rotate_all``) a fresh one, the others keep theirs.
    GenerateError for a malformed existing file (nothing written) or a rotated agent that
    the config does not have."""
    unknown = sorted(set(rotate) - set(phones))
    if unknown:
        raise GenerateError(f"--rotate {unknown[0]}: no such agent or supervisor's phone in the config")
    existing = read_secrets(path) if path.exists() else {}
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else HEADER.splitlines()
    renew = set(existing) & set(phones) if rotate_all else set(rotate) & set(existing)
    # a trunk's password (``trunk:<name>``, acd.config.telephony) is the engineer's, never an agent gone
    report = SecretsReport(stale=sorted(key for key in set(existing) - set(phones)
                                        if not key.startswith(SECRET_PREFIX)))
    for index, line in enumerate(lines):
        code, hash_, comment = line.partition("#")
        parts = code.split()
        if parts and parts[0] in renew:
            lines[index] = f"{parts[0]} {new_password()}" + (f"  {hash_}{comment}" if hash_ else "")
    report.rotated = sorted(renew)
    for phone in phones:
        if phone not in existing:
            lines.append(f"{phone} {new_password()}")
            report.added.append(phone)
        elif phone not in renew:
            report.kept.append(phone)
    if report.added or report.rotated or not path.exists():
        _write_private(path, "\n".join(lines) + "\n")
        report.written = True
    elif path.stat().st_mode & 0o777 != MODE:
        path.chmod(MODE)
    return report


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` at once, the new file 0600 from its first byte (a
    crash leaves the old file or the new one, never half of it, never readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dialplan secrets", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, type=Path, help="the ACD config (YAML): its agents")
    parser.add_argument("--out", required=True, type=Path, help="the passwords file (created or completed)")
    parser.add_argument("--rotate", action="append", default=[], metavar="AGENT",
                        help="give this agent (or supervisor:<endpoint>) a new password (repeat for more); "
                             "its phone must be set up again")
    parser.add_argument("--rotate-all", action="store_true", help="give every agent a new password")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        report = update_secrets(args.out, phone_keys(config), args.rotate, args.rotate_all)
    except (ConfigError, GenerateError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{args.out}: {len(report.added)} added, {len(report.rotated)} rotated, {len(report.kept)} kept"
          + (f"; {len(report.stale)} not in the config, kept (first: {report.stale[0]})" if report.stale else ""))
    return 0
