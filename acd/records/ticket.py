"""A back-office ticket: a call the line could not solve at first contact.

Two things open one: an agent escalating a call it took (feature code or web panel), and
a caller reaching a queue's max wait when its exit is ``ticket``. Both go through
``new_ticket`` so the unit and its owners are chosen by one rule (the call's queue, or
the unit the agent names) and copied into the ticket, so a later change of owners in
the config does not silently re-route tickets already promised to someone.

What the back office then does with a ticket is a small state machine, and everything
that affects it lives here (like h11's ``_state.py``): ``TRANSITIONS`` says which move
is allowed from which status, and ``move`` says what each move writes. The ticket desk
(``acd.records.desk``) only reads and writes rows; it decides nothing::

    open --claim--> claimed --resolve--> resolved --reopen--> open
      ^               |                     ^
      +---release-----+                     |
      +----------------resolve--------------+   (a ticket solved without a claim)
"""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from acd.config.back_office import BackOffice, is_owner_id
from acd.config.limits import OWNER_ID

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


# -- the back office's state machine -------------------------------------------------------------

#: a ticket's statuses, in the order a ticket normally goes through them
STATUSES: tuple[str, ...] = ("open", "claimed", "resolved")
#: longest owner id that signs a move (the ``tickets`` table's owner columns)
MAX_WHO = OWNER_ID


@dataclass(frozen=True, slots=True)
class Transition:
    """One move of the back office: the statuses it is allowed from, the status after."""

    action: str
    allowed_from: frozenset[str]
    to: str
    #: a resolution must say what was done: whoever reopens it, or the citizen asking
    #: again, needs more than "resolved"
    needs_note: bool = False


#: every move there is; nothing else changes a ticket's status
TRANSITIONS: Mapping[str, Transition] = {t.action: t for t in (
    # someone of the unit takes it, so two people do not call the same citizen back
    Transition("claim", frozenset({"open"}), "claimed"),
    # the one who claimed it cannot finish it (holiday, wrong desk): back to the unit
    Transition("release", frozenset({"claimed"}), "open"),
    # from open too: a quick case needs no separate claim
    Transition("resolve", frozenset({"open", "claimed"}), "resolved", needs_note=True),
    # the citizen calls again about the same thing, or the resolution was wrong
    Transition("reopen", frozenset({"resolved"}), "open"),
)}


class TicketRefused(Exception):
    """Why a move was not made; ``kind`` lets the API answer precisely: ``unknown_ticket``,
    ``not_allowed`` (the ticket's status does not allow the move), ``changed`` (someone
    else moved it meanwhile)."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def move(ticket_id: str, status: str, action: str, *, who: str, note: str | None, at: float) -> dict[str, Any]:
    """The columns a ticket in ``status`` gets from ``action`` by ``who`` at ``at``.

    Raises ValueError for a bad request (unknown action, malformed ``who``, a note too
    long or missing) and TicketRefused when the status does not allow the move.
    ``claimed_by`` and ``resolution`` always describe the ticket as it is now; the
    history table keeps what they were.
    """
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise ValueError(f"unknown action {action!r}; use one of {', '.join(TRANSITIONS)}")
    if not who or len(who) > MAX_WHO or not is_owner_id(who):
        raise ValueError(f"who must be an owner id like 'person:e.markou' or 'team:bo-pensions' "
                         f"(at most {MAX_WHO} characters), got {who!r}")
    if note is not None and len(note) > MAX_NOTE:
        raise ValueError(f"a note is at most {MAX_NOTE} characters, got {len(note)}")
    if transition.needs_note and not (note and note.strip()):
        raise ValueError(f"{action} needs a note saying what was done")
    if status not in transition.allowed_from:
        allowed = " or ".join(sorted(transition.allowed_from))
        raise TicketRefused("not_allowed", f"ticket {ticket_id} is {status}; {action} is allowed from {allowed} only")
    changes: dict[str, Any] = {"status": transition.to, "updated_at": at}
    if action == "claim":
        changes["claimed_by"] = who
    elif action in ("release", "reopen"):
        changes["claimed_by"] = None
    if action == "resolve":
        changes["resolution"] = note.strip() if note else None
    elif action == "reopen":
        changes["resolution"] = None
    return changes
