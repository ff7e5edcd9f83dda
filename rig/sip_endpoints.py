"""PJSIP sections for the rig's own tests: sipp agents and the citizens' trunk.

The real endpoints are generated from the ACD config by ``dialplan/``; these builders
write the same shape (an ``[agent-<id>]`` endpoint and AOR with a static contact at the
sipp agents' port, and a ``[citizens]`` endpoint identified by 127.0.0.1), so rig
tests exercise what production uses without depending on the generator.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

_AGENT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


def agent_endpoint(agent_id: str, phone_port: int, *, context: str = "acd-agents") -> str:
    """One agent's softphone, reached at ``sip:agent-<id>@127.0.0.1:<phone_port>``.

    ``dtmf_mode=rfc4733`` as the generator writes it (sipp's SIP INFO is accepted with
    any mode, res_pjsip_dtmf_info.c); ``direct_media=no`` or
    Asterisk would re-INVITE both legs to talk directly once bridged.
    """
    if not _AGENT_ID.match(agent_id):
        raise ValueError(f"agent id {agent_id!r}: use 1 to 40 letters, digits, '_', '.', '-'")
    if not 0 < phone_port < 65536:
        raise ValueError(f"port {phone_port} is not a UDP port")
    name = f"agent-{agent_id}"
    return (
        f"[{name}]\ntype = endpoint\ncontext = {context}\ndisallow = all\nallow = alaw,ulaw\n"
        f"aors = {name}\ndtmf_mode = rfc4733\ndirect_media = no\n\n"
        f"[{name}]\ntype = aor\ncontact = sip:{name}@127.0.0.1:{phone_port}\n\n"
    )


def citizens_trunk(*, context: str = "acd-inbound", match: str = "127.0.0.1") -> str:
    """The citizens' side: every call from ``match`` lands in ``context``."""
    return (
        f"[citizens]\ntype = endpoint\ncontext = {context}\ndisallow = all\nallow = alaw,ulaw\n"
        f"dtmf_mode = auto\ndirect_media = no\n\n"
        f"[citizens]\ntype = identify\nendpoint = citizens\nmatch = {match}\n\n"
    )


def pjsip_for(agent_ids: Iterable[str], phone_port: int) -> str:
    """A whole ``pjsip_generated.conf``: the citizens' trunk and the given agents."""
    return citizens_trunk() + "".join(agent_endpoint(agent, phone_port) for agent in agent_ids)
