"""Which address a web request comes from, when a reverse proxy (TLS) stands in front.

Behind a proxy every request arrives from the proxy's address, so per-address limits
(the wrong-PIN guard) would count the whole call centre as one guesser and lock it out
together. ``daemon.trusted_proxies`` names the proxies whose ``X-Forwarded-For`` is
believed; from them the client is the last address the header lists (the one the
proxy itself appended: earlier ones are the client's own word). From anyone else the
header is ignored, so it cannot be used to pose as many addresses.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Collection


def client_address(remote: str | None, forwarded_for: str | None, trusted: Collection[str]) -> str:
    """The client's address for ``remote`` (the TCP peer) and its ``X-Forwarded-For``."""
    peer = remote or ""
    if peer not in trusted or not forwarded_for:
        return peer
    last = forwarded_for.split(",")[-1].strip()
    try:
        return str(ipaddress.ip_address(last))
    except ValueError:
        return peer
