"""How long a name from the config may be: no longer than the record column that keeps it.

A pause reason, a queue, a back-office unit or owner named in the config ends up in the
call records (``acd.records.schema`` sizes its columns from these numbers). A name the
loader accepted but a column cannot hold used to pass ``acd check`` and then jam the
records at the first row that carried it; now the loader refuses it with file and line,
and the one number both sides read is here.
"""
from __future__ import annotations

from acd.config.located import Located

#: queue names (``calls.queue``, ``tickets.queue``)
QUEUE_NAME = 64
#: agent ids (the loader allows 2 to 8 digits; the columns leave room)
AGENT_ID = 16
#: pause reason codes (``agent_events.reason``)
PAUSE_REASON = 32
#: back-office unit names (``tickets.unit``)
UNIT_NAME = 64
#: owner ids of the back office (``tickets.primary_owner``, ``ticket_events.who``)
OWNER_ID = 128


def check_length(node: Located, what: str, text: str, limit: int) -> None:
    """Refuse ``text`` (a ``what``, say "pause reason") longer than ``limit`` characters."""
    if len(text) > limit:
        raise node.error(f"{what} {text!r} is {len(text)} characters; the records hold at most {limit}")
