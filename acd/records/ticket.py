"""A back-office ticket: a call the line could not solve at first contact.

Two things open one: an agent escalating a call it took (feature code or web panel), and
a caller reaching a queue's max wait when its exit is ``ticket``. Both go through
``new_ticket`` so the unit and its owners are chosen by one rule (the call's queue, or
the unit the agent names) and copied into the ticket, so a later change of owners in
the config does not silently re-route tickets already promised to someone.
"""
from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import Any

from acd.config.back_office import BackOffice

#: who opened a ticket
SOURCES: tuple[str, ...] = ("agent", "max_wait")
#: longest note an agent may attach (a summary for the back office, not a transcript)
MAX_NOTE = 2000


class UnknownUnit(ValueError):
    """The unit named for a ticket is not a unit of the config's back office."""


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    call_id: str
    created_at: float
    queue: str
    source: str
    unit: str | None = None
    primary_owner: str | None = None
    alternate_owner: str | None = None
    agent_id: str | None = None
    caller: str | None = None
    note: str | None = None
    status: str = "open"

    def row(self) -> dict[str, Any]:
        """The ``tickets`` table's row (and the API's answer)."""
        return asdict(self)


def new_ticket(office: BackOffice | None, *, call_id: str, queue: str, at: float, source: str,
               agent_id: str | None = None, caller: str | None = None, note: str | None = None,
               unit: str | None = None) -> Ticket:
    """Open a ticket for ``call_id``: the unit is ``unit`` when given, else the queue's.

    Without a back office in the config the ticket is still made, with no unit: a
    citizen promised a follow-up must not be dropped because the mapping is missing.
    """
    if source not in SOURCES:
        raise ValueError(f"ticket source {source!r} is not one of {SOURCES}")
    if note is not None and len(note) > MAX_NOTE:
        raise ValueError(f"a note is at most {MAX_NOTE} characters, got {len(note)}")
    if unit is not None:
        chosen = office.units.get(unit) if office is not None else None
        if chosen is None:
            known = ", ".join(office.units) if office is not None else "none configured"
            raise UnknownUnit(f"unknown back-office unit {unit!r} (units: {known})")
    else:
        chosen = office.unit_for(queue) if office is not None else None
    return Ticket(
        id=uuid.uuid4().hex, call_id=call_id, created_at=at, queue=queue, source=source,
        unit=chosen.name if chosen else None,
        primary_owner=chosen.primary if chosen else None,
        alternate_owner=chosen.alternate if chosen else None,
        agent_id=agent_id, caller=caller or None, note=note or None,
    )
