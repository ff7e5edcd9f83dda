"""The optional ``access:`` and ``privacy:`` sections: how people log in to the API's
pages, and how long citizens' personal data is kept.

Shape::

    access:
      secure_cookies: true     # false only for plain-http development on loopback
      session_hours: 12        # a page session ends after this long unused
      trusted_proxies: [127.0.0.1]   # the TLS reverse proxy: its X-Forwarded-For is believed
      access_log: false        # one line per HTTP request (off: the daemon logs what people did)
      remember_seconds: 2      # a login or token is looked up again after this (see docs/access.md)
    privacy:
      retention_days: 90       # caller numbers and notes erased after this (none: kept)

Both are read once at load, with file and line on a mistake, like every other section.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from acd.config.located import Fields, Located


@dataclass(frozen=True, slots=True)
class AccessSettings:
    #: the session cookie's ``Secure`` flag: browsers then send it over HTTPS only (the
    #: reverse proxy's TLS); turn off only for a demo on http://127.0.0.1
    secure_cookies: bool = True
    #: a page session idle this long has to log in again
    session_hours: float = 12.0
    #: addresses of reverse proxies whose ``X-Forwarded-For`` names the real client (for
    #: the audit log and the password throttle); from anyone else the header is ignored
    trusted_proxies: tuple[str, ...] = ()
    #: aiohttp's line per request; off by default: at a wallboard's poll a second it
    #: drowns the lines that say what agents did and where calls went
    access_log: bool = False
    #: seconds a session's or token's identity is kept in memory once looked up, so a
    #: polling reader is not a database query a request; a change made with ``acd users``
    #: (another process) takes effect within this (0: every request asks the database)
    remember_seconds: float = 2.0


@dataclass(frozen=True, slots=True)
class PrivacySettings:
    #: days after which caller numbers and notes are erased (None: never)
    retention_days: int | None = None


def access_of(config: Any) -> AccessSettings:
    """The config's access settings, the defaults when it has no ``access`` section."""
    found = getattr(config, "access", None)
    return found if isinstance(found, AccessSettings) else AccessSettings()


def privacy_of(config: Any) -> PrivacySettings:
    """The config's privacy settings, the defaults (keep everything) when it has none."""
    found = getattr(config, "privacy", None)
    return found if isinstance(found, PrivacySettings) else PrivacySettings()


def parse_access(node: Located, partial: Mapping[str, Any]) -> AccessSettings:
    f = Fields(node, ("secure_cookies", "session_hours", "trusted_proxies", "access_log", "remember_seconds"))
    d = AccessSettings()
    proxies: list[str] = []
    listed = f.get("trusted_proxies")
    if listed is not None:
        if not listed.is_sequence():
            raise listed.error("trusted_proxies is a list of IP addresses")
        proxies = [item.as_ip_address() for item in listed.elements()]
    return AccessSettings(secure_cookies=f.bool("secure_cookies", d.secure_cookies),
                          session_hours=f.float("session_hours", d.session_hours, minimum=0.05, maximum=24.0 * 90),
                          trusted_proxies=tuple(proxies), access_log=f.bool("access_log", d.access_log),
                          remember_seconds=f.float("remember_seconds", d.remember_seconds, minimum=0.0,
                                                   maximum=60.0))


def parse_privacy(node: Located, partial: Mapping[str, Any]) -> PrivacySettings:
    f = Fields(node, ("retention_days",))
    return PrivacySettings(retention_days=f.int("retention_days", None, minimum=1, maximum=36500))
