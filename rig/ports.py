"""Loopback ports for the rig's processes.

Scanning up from a fixed base (rather than asking the kernel for any port) keeps each
kind of process on recognisable, non-default ports (Asterisk SIP 15060+, AMI 15038+,
sipp phones 16000+) that are easy to spot in ``ss`` output and packet captures.
"""
from __future__ import annotations

import socket


# Ports handed out by this process: a port is chosen when a sandbox or phone is
# built (its config must name it) but bound only when it starts, so without this two
# phones built one after the other would get the same port.
_handed_out: set[tuple[int, int]] = set()


class NoFreePort(RuntimeError):
    """Every port in the scanned range is taken."""


def free_port(start: int, kind: int = socket.SOCK_STREAM, host: str = "127.0.0.1", tries: int = 2000,
              span: int = 1) -> int:
    """The first port from ``start`` up such that ``span`` ports from it can be bound
    for ``kind`` on ``host`` and none was handed out before by this process."""
    for port in range(start, min(start + tries, 65536 - span)):
        block = [(kind, p) for p in range(port, port + span)]
        if any(item in _handed_out for item in block):
            continue
        if not all(_bindable(p, kind, host) for p in range(port, port + span)):
            continue
        _handed_out.update(block)
        return port
    raise NoFreePort(f"no {span} free {'UDP' if kind == socket.SOCK_DGRAM else 'TCP'} port(s) on {host} from {start}")


def _bindable(port: int, kind: int, host: str) -> bool:
    with socket.socket(socket.AF_INET, kind) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def udp_port_taken(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something (the process we started, we hope) has bound this UDP port."""
    return not _bindable(port, socket.SOCK_DGRAM, host)
