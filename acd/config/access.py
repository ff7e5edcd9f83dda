"""The optional ``access:`` and ``privacy:`` sections: how people log in to the API's
pages, and how long citizens' personal data is kept.

Shape::

    access:
      secure_cookies: true     # false only for plain-http development on loopback
      session_hours: 12        # a page session ends after this long unused
      trusted_proxies: [127.0.0.1]   # the TLS reverse proxy: its X-Forwarded-For is believed
      access_log: false        # one line per HTTP request (off: the daemon logs what people did)
      remember_seconds: 2      # a login or token is looked up again after this (see docs/access.md)
      supervisor_phones:       # the phone a supervisor's listen / whisper / barge rings (docs/api.md)
        e.markou: PJSIP/sup-101
    privacy:
      retention_days: 90       # caller numbers and notes erased after this (none: kept)

Both are read once at load, with file and line on a mistake, like every other section.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
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
    #: user name -> the Asterisk channel (``PJSIP/<endpoint>``) Originate rings when that
    #: supervisor listens to, whispers to or barges into an agent's call; the request
    #: cannot name another, so nobody makes Asterisk dial a number of their choosing
    supervisor_phones: Mapping[str, str] = field(default_factory=dict)


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


#: a channel Originate can ring: technology / resource, nothing that would end the field
_PHONE = re.compile(r"^[A-Za-z0-9]+/[A-Za-z0-9_.@+-]{1,80}$")


#: a person's user name (``acd users add``, and where the config names a user)
USER_NAME = re.compile(r"^[a-z0-9][a-z0-9_.@-]{0,63}$")


def check_user_name(name: str) -> str:
    if not USER_NAME.match(name):
        raise ValueError(f"a user name is 1 to 64 of a-z 0-9 _ . @ - (starting with a letter or digit), got {name!r}")
    return name


def _supervisor_phones(node: Located | None) -> dict[str, str]:
    if node is None:
        return {}
    if not node.is_mapping():
        raise node.error("supervisor_phones maps user names to their phone's channel, e.g. {e.markou: PJSIP/sup-101}")
    phones: dict[str, str] = {}
    for name, value in node.items():
        try:
            check_user_name(name)
        except ValueError as error:
            raise value.error(str(error)) from None
        phone = value.as_str()
        if not _PHONE.match(phone):
            raise value.error(f"{phone!r} is not a channel to ring; write it as Asterisk does, e.g. PJSIP/sup-101")
        phones[name] = phone
    return phones


def parse_access(node: Located, partial: Mapping[str, Any]) -> AccessSettings:
    f = Fields(node, ("secure_cookies", "session_hours", "trusted_proxies", "access_log", "remember_seconds",
                      "supervisor_phones"))
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
                                                   maximum=60.0),
                          supervisor_phones=_supervisor_phones(f.get("supervisor_phones")))


def parse_privacy(node: Located, partial: Mapping[str, Any]) -> PrivacySettings:
    f = Fields(node, ("retention_days",))
    return PrivacySettings(retention_days=f.int("retention_days", None, minimum=1, maximum=36500))
