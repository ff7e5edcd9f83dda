"""The optional ``back_office:`` section: where the calls agents cannot solve go.

The 1555 line helps 85 % of callers at first contact; the rest become tickets for a
back-office unit, and every unit has a primary and an alternate owner so a ticket never
waits on one person's holiday. Which unit takes a call's ticket is decided here, from
the call's queue (on the 1555 line a queue is a topic), so the agent escalating at the
end of a hard call does not have to know the organisation chart, and a queue whose
max-wait exit is ``ticket`` always has somewhere to send its callers.

Shape (see examples/1555.yaml)::

    back_office:
      default: general                 # optional: the unit of queues no unit lists
      units:
        pensions:
          title: "Insurance and pensions back office"    # optional
          primary: team:bo-pensions    # owner ids of the back office's own directory
          alternate: person:e.markou
          queues: [pensions]           # tickets of these queues come here by default

An owner is an id such as ``team:<name>``, ``person:<id>`` or ``agent:<id>`` (an
``agent:`` owner must be an agent of this file). Primary and alternate must differ, and
a queue belongs to one unit at most. Checked when the file loads, with file and line,
like every other section.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from acd.config.errors import ConfigError
from acd.config.limits import OWNER_ID, UNIT_NAME, check_length
from acd.config.located import Fields, Located

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
#: ``kind:id`` or a bare id; no spaces or commas, so an owner can be routed by any ticket system
_OWNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]*(:[A-Za-z0-9][A-Za-z0-9_.@+-]*)?$")


def is_owner_id(text: str) -> bool:
    """Whether ``text`` has the shape of an owner id; the back office's ticket desk signs
    claims and resolutions with the same kind of id the config names owners with."""
    return bool(_OWNER.match(text))


@dataclass(frozen=True, slots=True)
class Unit:
    """One back-office unit and the two people or teams answerable for its tickets."""

    name: str
    primary: str
    alternate: str
    queues: tuple[str, ...] = ()
    title: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class BackOffice:
    units: Mapping[str, Unit]
    #: queue -> unit name, from each unit's ``queues``
    by_queue: Mapping[str, str] = field(default_factory=dict)
    #: the unit of a queue no unit lists (None: such a ticket has no unit)
    default: str | None = None

    def unit_for(self, queue: str) -> Unit | None:
        """The unit that takes the tickets of ``queue`` by default."""
        name = self.by_queue.get(queue, self.default)
        return self.units.get(name) if name is not None else None


def back_office_of(config: Any) -> BackOffice | None:
    """The config's back office, or None when the file has no ``back_office`` section."""
    office = getattr(config, "back_office", None)
    return office if isinstance(office, BackOffice) else None


def parse_back_office(node: Located, partial: Mapping[str, Any]) -> BackOffice:
    """The ``back_office`` section's parser, registered with the loader."""
    queues: Mapping[str, Any] = partial["queues"]
    agents: Mapping[str, Any] = partial["agents"]
    f = Fields(node, ("units", "default"))
    units_node = f.require("units")
    units: dict[str, Unit] = {}
    by_queue: dict[str, str] = {}
    for name, value in units_node.items():
        if not _NAME.match(name):
            raise value.error(f"unit name {name!r} must be letters, digits, '-' or '_'")
        check_length(value, "unit name", name, UNIT_NAME)
        unit = _unit(name, value, queues, agents)
        for queue, where in zip(unit.queues, _queue_nodes(value)):
            if queue in by_queue:
                raise where.error(f"queue {queue!r} already belongs to unit {by_queue[queue]!r}; "
                                  "a queue's tickets go to one unit")
            by_queue[queue] = name
        units[name] = unit
    if not units:
        raise units_node.error("no units: declare at least one (name: {primary, alternate, queues})")
    default = f.str("default", None)
    if default is not None and default not in units:
        raise f.require("default").error(f"default unit {default!r} is not under 'units'")
    office = BackOffice(units=units, by_queue=by_queue, default=default)
    _check_ticket_exits(node, office, queues)
    return office


def _unit(name: str, node: Located, queues: Mapping[str, Any], agents: Mapping[str, Any]) -> Unit:
    f = Fields(node, ("title", "primary", "alternate", "queues"))
    primary = _owner(f.require("primary"), agents)
    alternate = _owner(f.require("alternate"), agents)
    if primary == alternate:
        raise f.require("alternate").error(f"the alternate owner is the primary ({primary!r}); "
                                           "name someone else, who covers when the primary is away")
    names: list[str] = []
    for where in _queue_nodes(node):
        queue = where.as_str()
        if queue not in queues:
            import difflib

            hint = difflib.get_close_matches(queue, list(queues), n=1)
            more = f"; did you mean {hint[0]!r}?" if hint else "; declare it under 'queues'"
            raise where.error(f"unknown queue {queue!r}{more}")
        if queue in names:
            raise where.error(f"queue {queue!r} is listed twice")
        names.append(queue)
    return Unit(name=name, primary=primary, alternate=alternate, queues=tuple(names),
                title=f.str("title", ""), line=node.line)


def _queue_nodes(unit: Located) -> list[Located]:
    """The unit's ``queues`` entries (one name or a list of names), each with its line."""
    node = Fields(unit, ("title", "primary", "alternate", "queues")).get("queues")
    if node is None:
        return []
    return list(node.elements()) if node.is_sequence() else [node]


def _owner(node: Located, agents: Mapping[str, Any]) -> str:
    text = node.as_str().strip()
    if not _OWNER.match(text):
        raise node.error(f"owner {text!r} must be an id like 'team:bo-pensions' or 'person:e.markou' "
                         "(letters, digits, '.', '_', '-', '@', one ':' at most)")
    check_length(node, "owner", text, OWNER_ID)
    kind, _, ident = text.partition(":")
    if kind == "agent" and ident not in agents:
        raise node.error(f"owner {text!r} names agent {ident!r}, who is not an agent of this file")
    return text


def _check_ticket_exits(node: Located, office: BackOffice, queues: Mapping[str, Any]) -> None:
    """Refuse a file whose max-wait ``ticket`` exit would make tickets nobody owns.

    Without this the caller hears "your request is recorded" and the ticket sits with no
    unit; a typo in the mapping would only show when someone asks why nobody called back.
    """
    for name, queue in queues.items():
        action = getattr(queue, "on_max_wait", None)
        if getattr(action, "kind", None) == "ticket" and office.unit_for(name) is None:
            raise ConfigError(f"back_office: queue {name!r} exits to 'ticket' after max_wait but no unit "
                              "lists it and there is no 'default' unit", node.file, queue.line or node.line)
