"""Wrong-PIN limits that slow a guesser without handing anyone a way to lock agents out.

The first guard counted wrong PINs per agent, shared by the web panel and the phones,
and a success cleared the address's count. Both were weapons: 72 addresses typing four
wrong PINs each locked 72 agents out of their own phones, and one insider who knew a
valid PIN locked a whole team by mixing two wrong PINs for each colleague with one
right one of their own. So each attempt is counted where it came from:

- **own phone**: a feature code from the agent's own registered endpoint (the channel's
  PJSIP endpoint is the agent's, as Asterisk authenticated it) has its own budget,
  ``pin_max_failures``, which nothing else touches: no web request and no other phone
  can lock an agent out of their own phone.
- **anything else** (the web panel from an address, a hot desk or a colleague's phone):
  three counters, all within ``pin_window`` seconds, each locking for ``pin_lockout``:

  - per (source, agent), ``pin_max_failures``: cleared by that pair's own success;
  - per source, ``pin_source_max_failures``: one address guessing many agents; never
    cleared by a success (an insider's valid PIN buys no more guesses);
  - per agent, ``pin_agent_max_failures``: many addresses guessing one agent; locks
    that agent's web and hot-desk logins (the own phone still works), cleared when the
    agent gets their PIN right.

A locked attempt is refused before any hash is computed, and a check in progress counts
against the budgets until its answer is known (``started``/``ended``): twenty requests
sent at once get no more guesses than twenty in a row. Counters live in memory (a
restart clears them) and prune themselves, so a flood of addresses cannot grow them
without bound.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from acd.config.model import DaemonSettings

#: counters kept before expired ones are swept out
_PRUNE_AT = 10_000


@dataclass(frozen=True, slots=True)
class Attempt:
    """Who types a PIN for which agent, from where. ``source`` is ``web:<address>`` or
    ``phone:<endpoint>``; ``own_phone`` when the phone is the agent's own endpoint."""

    agent_id: str | None
    source: str
    own_phone: bool = False


@dataclass
class _Counter:
    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0
    #: checks started and not yet answered
    pending: int = 0


@dataclass
class PinGuard:
    max_failures: int = 3
    window: float = 300.0
    lockout: float = 300.0
    source_max_failures: int = 10
    agent_max_failures: int = 10
    now: Callable[[], float] = time.monotonic
    _counters: dict[tuple[str, ...], _Counter] = field(default_factory=dict)

    def configure(self, settings: DaemonSettings) -> None:
        """The config's limits (at start and on each reload); counts and locks already
        running stay, so a reload is no way around a lockout."""
        self.max_failures = settings.pin_max_failures
        self.window = settings.pin_window
        self.lockout = settings.pin_lockout
        self.source_max_failures = settings.pin_source_max_failures
        self.agent_max_failures = settings.pin_agent_max_failures

    def _keys(self, attempt: Attempt) -> list[tuple[tuple[str, ...], int]]:
        """The counters this attempt is checked against and counts towards, each with its budget."""
        agent = attempt.agent_id or "?"
        if attempt.own_phone and attempt.agent_id is not None:
            return [(("own", agent), self.max_failures)]
        keys: list[tuple[tuple[str, ...], int]] = [(("source", attempt.source), self.source_max_failures)]
        if attempt.agent_id is not None:
            keys += [(("pair", attempt.source, agent), self.max_failures),
                     (("agent", agent), self.agent_max_failures)]
        return keys

    def locked(self, attempt: Attempt) -> bool:
        """Refused now: a lock runs, or the failures and the checks in progress already
        fill a budget."""
        now = self.now()
        for key, budget in self._keys(attempt):
            counter = self._counters.get(key)
            if counter is not None and (counter.locked_until > now or counter.pending + sum(
                    1 for t in counter.failures if now - t < self.window) >= budget):
                return True
        return False

    def started(self, attempt: Attempt) -> None:
        """A check begins (its answer is awaited): it holds a place in every budget."""
        for key, _ in self._keys(attempt):
            self._counters.setdefault(key, _Counter()).pending += 1

    def ended(self, attempt: Attempt) -> None:
        for key, _ in self._keys(attempt):
            counter = self._counters.get(key)
            if counter is not None and counter.pending > 0:
                counter.pending -= 1

    def failed(self, attempt: Attempt) -> None:
        now = self.now()
        if len(self._counters) >= _PRUNE_AT:
            self._prune(now)
        for key, budget in self._keys(attempt):
            counter = self._counters.setdefault(key, _Counter())
            counter.failures = [t for t in counter.failures if now - t < self.window]
            counter.failures.append(now)
            if len(counter.failures) >= budget:
                counter.locked_until = now + self.lockout
                counter.failures = []

    def succeeded(self, attempt: Attempt) -> None:
        """Clears what this success proves: the pair's count, and the agent's own (phone,
        and remote guesses against it). Never the source's: a valid PIN of one's own
        buys no guesses at others'."""
        agent = attempt.agent_id or "?"
        if attempt.own_phone:
            self._counters.pop(("own", agent), None)
        else:
            self._counters.pop(("pair", attempt.source, agent), None)
        agent_counter = self._counters.get(("agent", agent))
        if agent_counter is not None and agent_counter.locked_until <= self.now():
            agent_counter.failures = []

    def _prune(self, now: float) -> None:
        self._counters = {key: c for key, c in self._counters.items()
                          if c.pending or c.locked_until > now or any(now - t < self.window for t in c.failures)}
