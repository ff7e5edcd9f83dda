"""Agents' PINs: one per agent, generated at random, kept only as an argon2 hash.

A PIN is what stands between a phone on a desk (or anyone on the network with the
agents' web panel) and an agent's identity, so it is never shared by a team, never
written in clear in the config, and a leaked pins file gives no PIN back without a
costly search. The pins file (``daemon.pins_file``) holds one ``<agent id> <argon2
hash>`` line per agent and must be readable by its owner only (mode 0600, as ssh wants
of a private key): ``acd pins generate`` writes it and shows the clear PINs once, to be
handed out.

Transition: an agent's ``pin:`` in the config may still be clear digits (accepted with a
warning, ``acd check`` prints it) or an argon2 hash; a team's shared ``pin:`` is refused.

Hashing: argon2id at OWASP's minimum for interactive logins (19 MiB, 2 passes, 1 lane),
a few tens of ms per check. Checks run in a worker thread (``acd.agent_desk.pin_checked``), so
the daemon's event loop keeps routing while one runs; the guard refuses a locked source
before hashing anything.
"""
from __future__ import annotations

import functools
import hmac
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from acd.config.errors import ConfigError

HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_HASH_PREFIX = "$argon2"
_AGENT_ID = re.compile(r"^[0-9]{2,8}$")


def is_pin_hash(text: str) -> bool:
    return text.startswith(_HASH_PREFIX)


def hash_pin(pin: str) -> str:
    return HASHER.hash(pin)


def new_pin(digits: int = 6) -> str:
    """A random PIN of ``digits`` digits (leading zeros kept)."""
    return "".join(str(secrets.randbelow(10)) for _ in range(digits))


def pin_verifies(stored: str, typed: str) -> bool:
    """Whether ``typed`` is the PIN ``stored`` (an argon2 hash, or clear digits from an old
    config). Constant-time for clear digits; an empty ``stored`` (no PIN issued) never
    matches but costs a hash check all the same."""
    if not stored or not is_pin_hash(stored):
        matches = bool(stored) and bool(typed) and hmac.compare_digest(stored.encode(), typed.encode())
        if not stored:
            _verify(_dummy_hash(), typed)
        return matches
    return _verify(stored, typed)


@functools.cache
def _dummy_hash() -> str:
    """Checked when the agent is unknown or has no PIN, so the answer takes as long either
    way (made on first use: importing the config loader costs no hash)."""
    return HASHER.hash("not a pin")


def _verify(stored: str, typed: str) -> bool:
    try:
        return HASHER.verify(stored, typed)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def read_pins_file(path: Path, agents: Mapping[str, object]) -> dict[str, str]:
    """``<agent id> <argon2 hash>`` lines (``#`` comments and blank lines allowed); a
    mistake raises ``ConfigError`` with the file and line. Refused when others than its
    owner may read it."""
    mode = path.stat().st_mode
    if mode & 0o077:
        raise ConfigError(f"the pins file is readable by others (mode {mode & 0o777:o}); "
                          f"chmod 600 {path}", path)
    result: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or not _AGENT_ID.match(parts[0]) or not is_pin_hash(parts[1]):
            raise ConfigError("a line is '<agent id> <argon2 hash>' (write the file with 'acd pins generate')",
                              path, number)
        agent_id, stored = parts
        if agent_id not in agents:
            raise ConfigError(f"agent {agent_id!r} is not in the config", path, number)
        if agent_id in result:
            raise ConfigError(f"agent {agent_id!r} has two lines", path, number)
        result[agent_id] = stored
    return result


def write_pins_file(path: Path, hashes: Mapping[str, str]) -> None:
    """Write the file readable by its owner only, replacing it whole (never half-written)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("# agent id, argon2 hash of the agent's PIN (acd pins generate)\n")
        for agent_id in sorted(hashes, key=lambda a: (len(a), a)):
            out.write(f"{agent_id} {hashes[agent_id]}\n")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
