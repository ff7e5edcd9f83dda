"""Who may do what: the rights there are, the roles that hold them, and the identity a
request carries once it is authenticated.

One table (``ROLES``) says what each role may do; every route of the API names the
rights it needs (``acd.api.access``), and a program's token carries a subset of its
user's rights (its scopes). Rights are coarse on purpose: a right names a kind of data
or action, and the finer rules (an agent acts only on itself, a back-office person only
on their units' tickets) are checked where the data is, with the identity's
``agent_id`` and ``units``.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

# user names are checked where the config names them too (access.supervisor_phones)
from acd.config.access import USER_NAME, check_user_name  # noqa: F401

#: queue figures without personal data: waiting, talking, today's service level (the wallboard)
FIGURES = "figures"
#: the agents' states and names
AGENTS_READ = "agents:read"
#: the waiting calls (ids, queue, position; no caller numbers)
CALLS_READ = "calls:read"
#: the engine's decisions as they happen (callback numbers among them)
EVENTS = "events"
#: an agent's own panel: its own state, pause, log in and out, escalate its own calls
AGENT_SELF = "agent:self"
#: act on any agent (log out, pause) and escalate for any agent
AGENTS_ACT = "agents:act"
#: the back-office units and their owners
UNITS = "units:read"
#: read and move tickets (caller numbers, notes) of the identity's own units
TICKETS_READ = "tickets:read"
TICKETS_ACT = "tickets:act"
#: the tickets of every unit, not only the identity's own
ALL_UNITS = "tickets:all-units"
#: the audit log
AUDIT = "audit:read"
#: listen to, whisper to or barge into an agent's call from one's own phone (ChanSpy)
CALLS_LISTEN = "calls:listen"
#: Prometheus' scrape of ``/metrics`` (figures and agents by state, no names)
METRICS = "metrics:scrape"

RIGHTS: tuple[str, ...] = (FIGURES, AGENTS_READ, CALLS_READ, EVENTS, AGENT_SELF, AGENTS_ACT, UNITS, TICKETS_READ,
                           TICKETS_ACT, ALL_UNITS, AUDIT, METRICS, CALLS_LISTEN)

#: every role and its rights; nothing else grants a right
ROLES: Mapping[str, frozenset[str]] = {
    # acts only on itself (linked to one agent id); sees the wallboard's figures
    "agent": frozenset({FIGURES, AGENT_SELF}),
    # sees all, acts on agents and queues, reads the audit log
    "supervisor": frozenset({FIGURES, AGENTS_READ, CALLS_READ, EVENTS, AGENTS_ACT, UNITS, TICKETS_READ, TICKETS_ACT,
                             ALL_UNITS, AUDIT, METRICS, CALLS_LISTEN}),
    # its units' tickets (linked to unit names)
    "backoffice": frozenset({FIGURES, UNITS, TICKETS_READ, TICKETS_ACT}),
    # the telephony side: everything live, read-only, no tickets
    "engineer": frozenset({FIGURES, AGENTS_READ, CALLS_READ, EVENTS, UNITS, METRICS}),
    # read-only figures and staffing
    "planner": frozenset({FIGURES, AGENTS_READ, CALLS_READ}),
    # a kiosk: figures without personal data
    "wallboard": frozenset({FIGURES}),
}

#: a user name: it signs ticket moves as ``person:<name>`` (an owner id, acd.config.back_office)


def check_scopes(role: str, scopes: tuple[str, ...] | list[str]) -> frozenset[str]:
    """The scopes a token of a ``role`` user may carry: known rights its role holds."""
    held = ROLES[role]
    for scope in scopes:
        if scope not in RIGHTS:
            raise ValueError(f"unknown scope {scope!r}; use some of {', '.join(RIGHTS)}")
        if scope not in held:
            raise ValueError(f"a {role} does not hold {scope!r}, so its token cannot either")
    return frozenset(scopes)


@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated person or program, as one request sees it."""

    name: str
    role: str
    rights: frozenset[str]
    #: how it proved itself: ``session`` or ``token:<id>``
    via: str
    agent_id: str | None = None
    units: tuple[str, ...] = ()
    #: the session's CSRF token (None for a bearer token: no cookie rides along)
    csrf: str | None = field(default=None, repr=False)

    @property
    def who(self) -> str:
        """The owner id that signs what this identity does (tickets, audit)."""
        return f"person:{self.name}"

    def may(self, right: str) -> bool:
        return right in self.rights

    def may_see_unit(self, unit: str | None) -> bool:
        """Whether the tickets of ``unit`` are this identity's (every unit with ALL_UNITS)."""
        return self.may(ALL_UNITS) or (unit is not None and unit in self.units)

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "role": self.role, "rights": sorted(self.rights), "agent_id": self.agent_id,
                "units": list(self.units), "via": self.via, "csrf": self.csrf}
