"""The local Redis and PostgreSQL that integration tests and the demo use.

Starting them is ``scripts/ensure-services``' job (plain shell, because it runs before
the virtualenv exists); this module runs that script when a server does not answer,
then checks each server by its own protocol, so a test is told "Redis is not running"
rather than failing later with a confusing driver error.
"""
from __future__ import annotations

import os
import socket
import struct
import subprocess
from pathlib import Path

ENSURE_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "ensure-services"
REDIS_ADDRESS = ("127.0.0.1", 6379)
POSTGRES_ADDRESS = ("127.0.0.1", 5432)
TEST_DATABASE = os.environ.get("ACD_TEST_DB", "acd_test")
REDIS_URL = f"redis://{REDIS_ADDRESS[0]}:{REDIS_ADDRESS[1]}/0"
POSTGRES_URL = f"postgresql+asyncpg://postgres@{POSTGRES_ADDRESS[0]}:{POSTGRES_ADDRESS[1]}/{TEST_DATABASE}"
_SSL_REQUEST = struct.pack("!ii", 8, 80877103)  # PostgreSQL's SSLRequest: length 8, magic code


class ServiceUnavailable(RuntimeError):
    """A server the tests need is not running and could not be started."""


def redis_answers(address: tuple[str, int] = REDIS_ADDRESS, timeout: float = 1.0) -> bool:
    """Whether a Redis server replies +PONG to PING (inline command) at ``address``."""
    try:
        with socket.create_connection(address, timeout=timeout) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def postgres_answers(address: tuple[str, int] = POSTGRES_ADDRESS, timeout: float = 1.0) -> bool:
    """Whether a PostgreSQL server answers an SSLRequest ('S' or 'N') at ``address``.

    A bare TCP connect would also succeed on a server still starting up or on some
    other program holding the port; the SSLRequest reply is PostgreSQL's own.
    """
    try:
        with socket.create_connection(address, timeout=timeout) as connection:
            connection.sendall(_SSL_REQUEST)
            return connection.recv(1) in (b"S", b"N")
    except OSError:
        return False


def ensure_services(script: Path = ENSURE_SCRIPT, timeout: float = 300.0) -> None:
    """Start Redis and PostgreSQL (and create the test database) unless already done.

    The script is idempotent and cheap when all is up; it is run every time because
    only it checks that the test database exists.
    """
    problems = []
    if script.is_file():
        try:
            done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            problems.append(f"{script} did not finish in {timeout:.0f} s")
        else:
            if done.returncode != 0:
                problems.append(f"{script} failed ({done.returncode}): {(done.stdout + done.stderr).strip()}")
    else:
        problems.append(f"{script} is missing")
    down = [name for name, up in (("Redis", redis_answers()), ("PostgreSQL", postgres_answers())) if not up]
    if down:
        problems.insert(0, f"{' and '.join(down)} not answering on loopback")
    if problems:
        raise ServiceUnavailable("; ".join(problems))


def redis_url() -> str:
    """The URL of a running Redis (started if needed)."""
    if not redis_answers():
        ensure_services()
    return REDIS_URL


def postgres_url() -> str:
    """The SQLAlchemy URL of the test database in a running PostgreSQL (started if needed)."""
    ensure_services()
    return POSTGRES_URL
