"""The callers a restarted (or newly active) daemon waits for before it offers anyone.

After a crash each waiting caller's FastAGI session is gone and the generated dialplan
loops it back into ``wait`` (``acd-waiting``: a try, ``Wait(1)``, the next try), where
the daemon re-queues it at its original place (``ACD_ENQUEUED_AT``). The callers do not
come back at once: each at its own next try, and on a loaded machine a round of the
loop took over 2 s (bench.failover: an older caller's place is no use to it if the agents
went to the callers back first). A fixed settle time guessed how long that takes; this
module knows instead: AMI's ``CoreShowChannels`` at the resync lists every channel in
the waiting room's dialplan, and the daemon holds every offer until each of them has
come back into ``wait``, or hung up, or ``RETURN_BOUND`` seconds have passed (a caller
that does not come back must not hold the whole line up: its retry loop may have taken
the fallback queue). Which channels count: ``awaited_channels``.

The hold itself is the AMI bridge's (restored agents stay out of routing until this says
the line is whole, ``AMIBridge._confirm_restored``); this module only keeps the list.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from acd import call_contract as c

log = logging.getLogger(__name__)

#: seconds the daemon waits, at most, for the callers the resync saw in the waiting room
#: to come back into ``wait``; past it those still away hold nobody up
RETURN_BOUND = 5.0
#: applications a waiting room channel runs and does not come back from into ``wait``:
#: an agent's phone ringing (``Dial``; unanswered it comes back, but only after the ring
#: timeout) and the end of the call (``Hangup``)
NOT_COMING_BACK = frozenset({"Dial", "AppDial", "Hangup"})


def awaited_channels(channels: Iterable[Mapping[str, Any]]) -> set[str]:
    """The Uniqueids of the channels (``CoreShowChannel`` items: main/manager.c
    ``action_coreshowchannels``, Asterisk 16: ``Context``, ``Uniqueid``, ``Application``,
    ``ApplicationData``, ``BridgeId``) that the waiting room's dialplan will bring back
    into ``wait``: in ``acd-waiting``, in no bridge (talking), not ringing an agent, and
    if in a FastAGI, in the ``wait`` one (not the ``survey`` after an answered call).
    A FastAGI to ``wait`` counts even so: it may be the dead daemon's, whose session
    Asterisk has not found closed yet (a sentence it streams plays to its end)."""
    awaited = set()
    for message in channels:
        uniqueid = str(message.get("Uniqueid") or "")
        if not uniqueid or message.get("Context") != c.WAITING_CONTEXT or message.get("BridgeId"):
            continue
        application = str(message.get("Application") or "")
        if application in NOT_COMING_BACK:
            continue
        if application == "AGI" and agi_handler(str(message.get("ApplicationData") or "")) != c.WAIT_HANDLER:
            continue
        awaited.add(uniqueid)
    return awaited


def agi_handler(data: str) -> str:
    """The handler an ``AGI(agi://host:port/<handler>?query,args)`` names."""
    url = data.split(",", 1)[0]
    return url.rsplit("/", 1)[-1].split("?", 1)[0] if "/" in url else ""


class ReturningCallers:
    """The waiting room's callers still to come back after a restart or a takeover.

    ``begin`` when the daemon starts routing (before any caller can be queued), the room
    calls ``came_back`` for every ``wait`` session, ``gone`` for every channel that hangs
    up, the resync calls ``expect`` with the channels it found; ``when_back`` runs its
    callback once nobody is awaited any more."""

    def __init__(self, bound: float = RETURN_BOUND) -> None:
        self.bound = bound
        #: between ``begin`` and ``expect``: the callers back so far, not to be awaited
        self._seen: set[str] | None = None
        self._awaited: set[str] = set()
        self._callbacks: list[Callable[[], None]] = []
        self._timer: asyncio.TimerHandle | None = None

    @property
    def awaited(self) -> frozenset[str]:
        """The channels' Uniqueids still awaited."""
        return frozenset(self._awaited)

    def begin(self) -> None:
        """The daemon starts routing after a restart or takes over: note who comes back
        until the resync says who is in the waiting room."""
        self._seen = set()
        self._awaited.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def expect(self, channels: Iterable[Mapping[str, Any]], present: Iterable[str] = ()) -> int:
        """The resync's channels: await those of the waiting room not back yet (nor
        ``present``, the room's sessions now), for ``bound`` seconds at most. Returns
        how many. Only once after ``begin``: a later resync (an AMI reconnect) finds the
        line whole already."""
        if self._seen is None:
            return 0
        self._awaited = awaited_channels(channels) - self._seen - set(present)
        self._seen = None
        if self._awaited:
            log.info("holding offers until the waiting callers are back in line",
                     extra={"callers": len(self._awaited), "bound": self.bound})
            self._timer = asyncio.get_running_loop().call_later(self.bound, self._give_up)
        else:
            self._release()
        return len(self._awaited)

    def came_back(self, uniqueid: str) -> None:
        """A ``wait`` session of channel ``uniqueid`` began (its variables read)."""
        if self._seen is not None:
            self._seen.add(uniqueid)
        self.gone(uniqueid)

    def gone(self, uniqueid: str) -> None:
        """Channel ``uniqueid`` hung up, or came back: it holds nobody up any more."""
        if uniqueid in self._awaited:
            self._awaited.discard(uniqueid)
            if not self._awaited:
                self._release()

    def when_back(self, callback: Callable[[], None]) -> bool:
        """Run ``callback`` once nobody is awaited; False when nobody is now (the
        callback is not kept)."""
        if not self._awaited:
            return False
        self._callbacks.append(callback)
        return True

    def _give_up(self) -> None:
        self._timer = None
        if self._awaited:
            log.warning("waiting callers not back in line within the bound; offers go on without them",
                        extra={"callers": len(self._awaited), "bound": self.bound})
            self._awaited.clear()
            self._release()

    def _release(self) -> None:
        """Run the callbacks on the next turn of the loop, not now: the caller whose
        session just came back is put in line by the same turn (the waiting room
        queues it before its first await), and must be in line when the agents are."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        callbacks, self._callbacks = self._callbacks, []
        if callbacks:
            loop = asyncio.get_running_loop()
            for callback in callbacks:
                loop.call_soon(callback)
