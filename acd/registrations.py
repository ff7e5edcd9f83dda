"""Agents' phones as Asterisk's PJSIP registrar sees them: which contacts it holds for
each agent's endpoint, with their URI, user agent and status, and since when.

Why the daemon keeps this: an agent whose softphone is not registered cannot be rung, and
supervisors want to see that before a caller waits for nothing. The facts come from AMI
(the bridge, ``acd.daemon.ami_bridge``, feeds them in); what they mean for routing is
decided in one place, the bridge's reachability rule, which turns them into the engine's
``AgentReachability`` like a device going UNAVAILABLE. This module only remembers.

Contact statuses, as Asterisk 16.28 spells them (``status_map`` in
res/res_pjsip/pjsip_options.c, the labels of ``enum ast_sip_contact_status_type`` in
include/asterisk/res_pjsip.h):

- ``NonQualified``: the contact exists and is not qualified (CREATED: a phone just
  registered, or ``qualify_frequency=0``); Asterisk 13 called the same state ``Created``;
- ``Reachable`` / ``Unreachable``: the last qualify (OPTIONS) was answered / was not;
- ``Unknown``: no status known yet (what the list actions print for a contact without one);
- ``Removed``: the contact is gone (un-REGISTER, expiry, ``remove_existing``, reload).

``Updated`` is documented for the ``ContactStatus`` event (main/stasis_endpoints.c) but
16.28 never sends it: a refreshed registration re-publishes the current status instead
(``sip_options_contact_update_task``, only with ``send_contact_status_on_update_registration``).
It is taken as "still there".

A static contact (``contact=`` in the AOR) counts like a registration: Asterisk holds it,
publishes its status the same way and dials it the same way.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

log = logging.getLogger(__name__)

REMOVED = "Removed"
UNREACHABLE = "Unreachable"
#: keeps the contact and its last status (see the module's docstring)
UPDATED = "Updated"
#: the status of a contact first heard of without one
UNKNOWN = "Unknown"

Listener = Callable[[str, "PhoneRegistration"], None]


@dataclass(frozen=True, slots=True)
class Contact:
    """One contact Asterisk holds for an agent's phone."""

    uri: str
    status: str
    user_agent: str | None = None

    @property
    def usable(self) -> bool:
        """Can Asterisk ring it? Every status but ``Unreachable`` (qualify failed): an
        unqualified contact is dialled, as app_queue and Dial would."""
        return self.status != UNREACHABLE


@dataclass(frozen=True, slots=True)
class PhoneRegistration:
    """What AMI told us of one agent's phone. ``known`` is False until Asterisk said
    anything (an event, or the endpoint found at resync): then ``registered`` is None,
    "no opinion", and routing goes on as before registrations were tracked."""

    known: bool = False
    contacts: tuple[Contact, ...] = ()
    #: daemon clock time of the last change (a contact came, went or changed status)
    since: float | None = None

    @property
    def registered(self) -> bool | None:
        return bool(self.contacts) if self.known else None

    @property
    def usable(self) -> bool | None:
        """Holds at least one contact Asterisk can ring (None: nothing known)."""
        return any(c.usable for c in self.contacts) if self.known else None

    @property
    def contact(self) -> Contact | None:
        """The contact to show: the first usable one, else the first one."""
        usable = [c for c in self.contacts if c.usable]
        shown = usable or list(self.contacts)
        return shown[0] if shown else None

    def as_dict(self) -> dict[str, Any]:
        """The API's and the live state's shape (JSON-ready)."""
        shown = self.contact
        return {"registered": self.registered, "reachable": self.usable,
                "uri": shown.uri if shown else None, "user_agent": shown.user_agent if shown else None,
                "status": shown.status if shown else None, "contacts": len(self.contacts), "since": self.since}


class Registrations:
    """Every agent's ``PhoneRegistration``, kept by agent id; listeners hear each change
    (the Redis live state), and a failing listener never stops the AMI bridge."""

    def __init__(self) -> None:
        self._phones: dict[str, PhoneRegistration] = {}
        self._listeners: list[Listener] = []

    def get(self, agent_id: str) -> PhoneRegistration:
        return self._phones.get(agent_id, PhoneRegistration())

    def all(self) -> Mapping[str, PhoneRegistration]:
        return dict(self._phones)

    def subscribe(self, listener: Listener, *, replay: bool = True) -> None:
        """``replay``: tell the newcomer what is already known, so a writer started after
        the AMI link came up still has every phone."""
        self._listeners.append(listener)
        if replay:
            for agent_id, phone in list(self._phones.items()):
                self._tell(listener, agent_id, phone)

    def contact_status(self, agent_id: str, uri: str, status: str, at: float) -> bool:
        """A ``ContactStatus`` event for one contact. True when the contact is new to us
        (the event carries no user agent: the bridge asks for it once)."""
        phone = self.get(agent_id)
        contacts = {c.uri: c for c in phone.contacts}
        old = contacts.get(uri)
        if status == REMOVED:
            contacts.pop(uri, None)
        elif status == UPDATED:
            contacts[uri] = old or Contact(uri, UNKNOWN)
        else:
            contacts[uri] = replace(old, status=status) if old else Contact(uri, status)
        self._store(agent_id, phone, tuple(contacts.values()), at)
        return old is None and status != REMOVED

    def replace_contacts(self, agent_id: str, contacts: Iterable[Contact], at: float) -> bool:
        """The whole picture of one phone (resync): True when it changed."""
        return self._store(agent_id, self.get(agent_id), tuple(contacts), at)

    def forget(self, agent_id: str, at: float) -> bool:
        """Asterisk does not know the agent's endpoint: back to "no opinion"."""
        phone = self.get(agent_id)
        if not phone.known:
            return False
        self._set(agent_id, PhoneRegistration(since=at))
        return True

    def learn_user_agents(self, agent_id: str, user_agents: Mapping[str, str]) -> None:
        """Fill in the user agents of contacts we hold (never adds or drops a contact:
        the answer may be older than the events that came in meanwhile)."""
        phone = self.get(agent_id)
        contacts = tuple(replace(c, user_agent=user_agents[c.uri] or None) if c.uri in user_agents else c
                         for c in phone.contacts)
        if contacts != phone.contacts:
            self._set(agent_id, replace(phone, contacts=contacts))

    def _store(self, agent_id: str, phone: PhoneRegistration, contacts: tuple[Contact, ...], at: float) -> bool:
        if phone.known and _same(contacts, phone.contacts):
            user_agents = {c.uri: c.user_agent for c in phone.contacts}
            merged = tuple(c if c.user_agent else replace(c, user_agent=user_agents.get(c.uri)) for c in contacts)
            if merged != phone.contacts:       # only user agents learnt: no change of registration
                self._set(agent_id, replace(phone, contacts=merged))
            return False
        self._set(agent_id, PhoneRegistration(known=True, contacts=contacts, since=at))
        return True

    def _set(self, agent_id: str, phone: PhoneRegistration) -> None:
        self._phones[agent_id] = phone
        for listener in list(self._listeners):
            self._tell(listener, agent_id, phone)

    @staticmethod
    def _tell(listener: Listener, agent_id: str, phone: PhoneRegistration) -> None:
        try:
            listener(agent_id, phone)
        except Exception:  # a broken report must never stop the AMI bridge
            log.exception("registration listener failed", extra={"agent_id": agent_id})


def _same(new: tuple[Contact, ...], old: tuple[Contact, ...]) -> bool:
    """Same contacts with the same statuses (a user agent learnt later is no change of
    registration, so ``since`` stays)."""
    return {(c.uri, c.status) for c in new} == {(c.uri, c.status) for c in old}
