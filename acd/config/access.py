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
        e.markou: {endpoint: sup-101}   # a phone of its own: the generator writes PJSIP endpoint sup-101
        a.nikolaou: PJSIP/agent-2001     # a channel Asterisk has already (here agent 2001's phone)
    privacy:
      retention_days: 90       # caller numbers and notes erased after this (none: kept)

Both are read once at load, with file and line on a mistake, like every other section.
A supervisor's phone of its own (``{endpoint: NAME}``) is generated as the agents' phones
are (same codecs, DTMF, media and NAT settings; its password the secrets file's
``supervisor:NAME`` line), in a context that reaches nothing (``SUPERVISORS_CONTEXT``):
it is only ever rung. Its name may be no agent's endpoint and no trunk's.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from acd.config.located import Fields, Located
from acd.config.telephony import AGENT_ENDPOINT_PREFIX, DEFAULT_TRUNK, ENDPOINT_NAME, Trunks

#: secrets file key prefix of a supervisor's phone's SIP password (``supervisor:sup-101``)
SUPERVISOR_SECRET_PREFIX = "supervisor:"
#: the dialplan context of the supervisors' generated phones: empty, so a call from one
#: reaches nothing (no trunk, no feature code); they are only rung (AMI Originate runs
#: ChanSpy on the answered channel itself, no dialplan involved)
SUPERVISORS_CONTEXT = "acd-supervisors"


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
    #: the endpoints of ``supervisor_phones`` given as ``{endpoint: NAME}``, in the config's
    #: order, each once: the dialplan generator writes them (``PJSIP/NAME`` above)
    supervisor_endpoints: tuple[str, ...] = ()


def supervisor_secret_key(endpoint: str) -> str:
    """The secrets file's key of a supervisor's generated phone's SIP password."""
    return SUPERVISOR_SECRET_PREFIX + endpoint


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


def _supervisor_phones(node: Located | None) -> tuple[dict[str, str], tuple[str, ...]]:
    """user name -> channel, and the endpoints the generator is to write."""
    if node is None:
        return {}, ()
    if not node.is_mapping():
        raise node.error("supervisor_phones maps user names to their phone: {e.markou: {endpoint: sup-101}} "
                         "(generated) or {e.markou: PJSIP/sup-101} (a channel Asterisk has already)")
    phones: dict[str, str] = {}
    endpoints: dict[str, None] = {}
    for name, value in node.items():
        try:
            check_user_name(name)
        except ValueError as error:
            raise value.error(str(error)) from None
        if value.is_mapping():
            endpoint = _endpoint_name(Fields(value, ("endpoint",)).require("endpoint"))
            endpoints[endpoint] = None
            phones[name] = f"PJSIP/{endpoint}"
            continue
        phone = value.as_str()
        if not _PHONE.match(phone):
            raise value.error(f"{phone!r} is not a channel to ring; write it as Asterisk does, e.g. PJSIP/sup-101, "
                              "or {endpoint: sup-101} for a phone the generator writes")
        phones[name] = phone
    return phones, tuple(endpoints)


def _endpoint_name(node: Located) -> str:
    name = node.as_str()
    if "/" in name:
        raise node.error(f"{name!r}: the generator writes PJSIP endpoints only; give the endpoint's name "
                         "(e.g. sup-101), or write another technology's channel as a string instead of "
                         "{endpoint: ...}")
    if not ENDPOINT_NAME.match(name) or name.startswith(AGENT_ENDPOINT_PREFIX):
        raise node.error(f"endpoint name {name!r} must start with a letter, then letters, digits, '-' or '_' "
                         f"(at most 40; and not '{AGENT_ENDPOINT_PREFIX}': the agents' endpoints' names)")
    return name


def check_supervisor_endpoints(access: Located | None, trunks: Trunks | None) -> None:
    """A supervisor's generated endpoint is named as no trunk is (with no ``trunks:``
    section, the generator's own ``citizens``): two PJSIP sections of one name would be
    one phone for Asterisk. Run once the whole file is parsed (``trunks`` comes later)."""
    if access is None or not access.is_mapping():
        return
    phones = access.mapping().get("supervisor_phones")
    if phones is None or not phones.is_mapping():
        return
    taken = set(trunks.trunks) if trunks is not None else {DEFAULT_TRUNK}
    for _, value in phones.items():
        if value.is_mapping() and (endpoint := value.mapping()["endpoint"]).as_str() in taken:
            raise endpoint.error(f"endpoint {endpoint.as_str()!r} is a trunk's name; give the supervisor's phone "
                                 "another")


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
    phones, endpoints = _supervisor_phones(f.get("supervisor_phones"))
    return AccessSettings(secure_cookies=f.bool("secure_cookies", d.secure_cookies),
                          session_hours=f.float("session_hours", d.session_hours, minimum=0.05, maximum=24.0 * 90),
                          trusted_proxies=tuple(proxies), access_log=f.bool("access_log", d.access_log),
                          remember_seconds=f.float("remember_seconds", d.remember_seconds, minimum=0.0,
                                                   maximum=60.0),
                          supervisor_phones=phones, supervisor_endpoints=endpoints)


def parse_privacy(node: Located, partial: Mapping[str, Any]) -> PrivacySettings:
    f = Fields(node, ("retention_days",))
    return PrivacySettings(retention_days=f.int("retention_days", None, minimum=1, maximum=36500))
