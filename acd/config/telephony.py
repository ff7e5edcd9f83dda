"""The optional ``trunks:`` and ``phones:`` sections: how the line meets the telephone
network (the carriers' trunks) and how the agents' phones talk to Asterisk.

Why in the config: the dialled numbers, the carrier's addresses, its DTMF and codecs
are facts about the line like its queues, and the dialplan generator writes the PJSIP
sections from them (docs/telephony.md has the choices and Asterisk 16's behaviour).

Shape (see examples/1555.yaml)::

    trunks:
      carrier:                         # the PJSIP endpoint's name
        server: sip.carrier.example    # host[:port]: calls out (callbacks) and the registration go here
        match: [192.0.2.0/24, 198.51.100.7]   # the carrier's addresses (default: the server's host)
        username: "302101555000"       # digest user; the password is the secrets file's
                                       # 'trunk:carrier <password>' line, never in this file
        register: true                 # outbound REGISTER to the server (needs username)
        dids: ["1555", "+302101555000"]   # dialled numbers that reach the service's IVR
        dtmf_mode: auto                # rfc4733 | auto | auto_info | inband | info
        codecs: [alaw, ulaw]
        trust_caller_id: true          # caller id from P-Asserted-Identity (trust_id_inbound)
        callbacks: true                # callbacks dial out through this trunk (default: the first)
    phones:
      dtmf_mode: rfc4733
      codecs: [alaw, ulaw]

Checked when the file loads, with file and line, like every other section.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from acd.config.located import Fields, Located

#: res_pjsip's ``dtmf_mode`` values (Asterisk 16: ast_sip_str_to_dtmf, res/res_pjsip.c)
DTMF_MODES = ("rfc4733", "auto", "auto_info", "inband", "info", "none")
#: codecs Debian's Asterisk 16 both knows and can translate (codec_* modules); a plain
#: call is transcoding-free when both legs share the first one
CODECS = ("alaw", "ulaw", "gsm")
#: the defaults: a trunk negotiates RFC 4733 and hears in-band tones when the carrier
#: offers no telephone-event; phones send RFC 4733; G.711 A-law (Europe's) first
DEFAULT_TRUNK_DTMF_MODE = "auto"
DEFAULT_PHONE_DTMF_MODE = "rfc4733"
DEFAULT_CODECS = ("alaw", "ulaw")
#: secrets file key of a trunk's password
SECRET_PREFIX = "trunk:"
#: a generated PJSIP endpoint's name (a trunk's, a supervisor's phone's)
ENDPOINT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")
#: every agent's endpoint is this and its id; no other endpoint's name starts so
AGENT_ENDPOINT_PREFIX = "agent-"
#: the trunk the generator writes for a config without ``trunks:`` (the sandbox's citizens)
DEFAULT_TRUNK = "citizens"
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")
_SERVER = re.compile(r"^(?P<host>[A-Za-z0-9.-]+)(:(?P<port>[0-9]{1,5}))?$")
_DID = re.compile(r"^\+?[0-9]{2,20}$")
_USER = re.compile(r"^[A-Za-z0-9_.+-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Trunk:
    """One carrier's trunk: a PJSIP endpoint (plus identify, aor, auth, registration)."""

    name: str
    #: the carrier's addresses (IP, CIDR or host name): calls from them are this trunk's
    match: tuple[str, ...]
    dids: tuple[str, ...] = ()
    dtmf_mode: str = DEFAULT_TRUNK_DTMF_MODE
    codecs: tuple[str, ...] = DEFAULT_CODECS
    #: ``host[:port]`` where calls out and the registration go (None: inbound only)
    server: str | None = None
    username: str | None = None
    register: bool = False
    trust_caller_id: bool = True
    line: int = 0

    @property
    def secret_key(self) -> str:
        """The secrets file's key of this trunk's password."""
        return SECRET_PREFIX + self.name

    @property
    def dial(self) -> str:
        """The dial string of a call out through this trunk, ``{number}`` to replace."""
        return f"PJSIP/{{number}}@{self.name}"


@dataclass(frozen=True, slots=True)
class Trunks:
    trunks: Mapping[str, Trunk]
    #: the trunk callbacks dial out through
    callbacks: str


@dataclass(frozen=True, slots=True)
class Phones:
    """The agents' endpoints: how their phones send DTMF and which codecs, in order."""

    dtmf_mode: str = DEFAULT_PHONE_DTMF_MODE
    codecs: tuple[str, ...] = DEFAULT_CODECS


def trunks_of(config: Any) -> Trunks | None:
    """The config's trunks, or None when the file has no ``trunks`` section."""
    trunks = getattr(config, "trunks", None)
    return trunks if isinstance(trunks, Trunks) else None


def phones_of(config: Any) -> Phones:
    """The config's ``phones`` settings, the defaults when the file has none."""
    phones = getattr(config, "phones", None)
    return phones if isinstance(phones, Phones) else Phones()


def parse_trunks(node: Located, partial: Mapping[str, Any]) -> Trunks:
    """The ``trunks`` section's parser, registered with the loader."""
    trunks: dict[str, Trunk] = {}
    dids: dict[str, str] = {}
    callbacks: list[tuple[str, Located]] = []
    for name, value in node.items():
        if not ENDPOINT_NAME.match(name) or name.startswith(AGENT_ENDPOINT_PREFIX):
            raise value.error(f"trunk name {name!r} must start with a letter, then letters, digits, '-' or '_' "
                              f"(and not '{AGENT_ENDPOINT_PREFIX}': the agents' endpoints' names)")
        trunk, wants_callbacks = _trunk(name, value)
        for did, where in zip(trunk.dids, Fields(value, _TRUNK_KEYS).require("dids").elements()):
            if did in dids:
                raise where.error(f"number {did!r} is already a number of trunk {dids[did]!r}")
            dids[did] = name
        if wants_callbacks is not None and wants_callbacks.as_bool():
            callbacks.append((name, wants_callbacks))
        trunks[name] = trunk
    if not trunks:
        raise node.error("no trunks: declare at least one, or leave the section out")
    if len(callbacks) > 1:
        raise callbacks[1][1].error(f"callbacks already go out through trunk {callbacks[0][0]!r}; one trunk only")
    chosen = callbacks[0][0] if callbacks else next(iter(trunks))
    if trunks[chosen].server is None:
        raise node.error(f"callbacks dial out through trunk {chosen!r}, which has no 'server' to send them to")
    return Trunks(trunks=trunks, callbacks=chosen)


_TRUNK_KEYS = ("server", "match", "username", "register", "dids", "dtmf_mode", "codecs", "trust_caller_id",
               "callbacks")


def _trunk(name: str, node: Located) -> tuple[Trunk, Located | None]:
    f = Fields(node, _TRUNK_KEYS)
    server = f.str("server", None)
    if server is not None:
        found = _SERVER.match(server)
        if not found or not _is_host(found["host"]) or not 0 < int(found["port"] or 5060) < 65536:
            raise f.require("server").error(f"server {server!r} must be host or host:port")
    match = _match(f.get("match"), server, node)
    dids = tuple(_did(where) for where in f.require("dids").elements())
    if not dids:
        raise f.require("dids").error("no numbers: list the numbers (DIDs) citizens dial on this trunk")
    username = f.str("username", None)
    if username is not None and not _USER.match(username):
        raise f.require("username").error(f"username {username!r}: use letters, digits, '_', '.', '+', '-'")
    register = f.bool("register", False)
    if register and (username is None or server is None):
        raise f.require("register").error("registering needs 'server' and 'username'")
    trunk = Trunk(name=name, match=match, dids=dids, dtmf_mode=f.choice("dtmf_mode", DTMF_MODES, DEFAULT_TRUNK_DTMF_MODE),
                  codecs=_codecs(f.get("codecs")), server=server, username=username, register=register,
                  trust_caller_id=f.bool("trust_caller_id", True), line=node.line)
    return trunk, f.get("callbacks")


def _is_host(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return bool(_HOST.match(text)) and not text.replace(".", "").isdigit()


def _match(node: Located | None, server: str | None, trunk: Located) -> tuple[str, ...]:
    """The carrier's addresses: IPs, CIDR ranges or host names (Asterisk resolves those)."""
    if node is None:
        if server is None:
            raise trunk.error("no 'match': list the carrier's addresses (IPs, CIDR ranges or hosts), "
                              "or give its 'server'")
        return (server.rsplit(":", 1)[0] if server.count(":") == 1 else server,)
    result = []
    for where in node.elements():
        text = where.as_str()
        try:
            result.append(str(ipaddress.ip_network(text, strict=False)) if "/" in text else str(ipaddress.ip_address(text)))
            continue
        except ValueError:
            pass
        if "/" in text or not _is_host(text):
            raise where.error(f"{text!r} is not an IP address, a CIDR range (192.0.2.0/24) or a host name")
        result.append(text)
    if not result:
        raise node.error("no addresses: list the carrier's addresses")
    return tuple(result)


def _did(node: Located) -> str:
    text = node.as_str()
    if not _DID.match(text):
        raise node.error(f"number {text!r} must be 2 to 20 digits, optionally after '+'")
    return text


def _codecs(node: Located | None) -> tuple[str, ...]:
    if node is None:
        return DEFAULT_CODECS
    codecs = tuple(where.as_choice(CODECS) for where in node.elements())
    if not codecs:
        raise node.error("no codecs: list at least one, the preferred first")
    if len(set(codecs)) != len(codecs):
        raise node.error("a codec is listed twice")
    return codecs


def parse_phones(node: Located, partial: Mapping[str, Any]) -> Phones:
    """The ``phones`` section's parser, registered with the loader."""
    f = Fields(node, ("dtmf_mode", "codecs"))
    return Phones(dtmf_mode=f.choice("dtmf_mode", DTMF_MODES, DEFAULT_PHONE_DTMF_MODE), codecs=_codecs(f.get("codecs")))


def check_callback_dial(ivr: Located | None) -> None:
    """With trunks, callbacks dial out through a trunk: an ``ivr.callback.dial`` as well
    would be a second place for one rule, so it is refused."""
    if ivr is None or not ivr.is_mapping():
        return
    callback = ivr.mapping().get("callback")
    if callback is None or not callback.is_mapping():
        return
    dial = callback.mapping().get("dial")
    if dial is not None and not dial.is_null():
        raise dial.error("with a 'trunks' section callbacks dial out through a trunk "
                         "(its 'callbacks: true'); remove ivr.callback.dial")
