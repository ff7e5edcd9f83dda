"""The wrong-PIN guard's counters, one rule per test (the attacks over TCP are in
tests/test_pin_attacks.py)."""
from __future__ import annotations

from acd import pin_guard
from acd.pin_guard import Attempt, PinGuard


class Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


def guard() -> tuple[PinGuard, Clock]:
    clock = Clock()
    return PinGuard(max_failures=3, window=60, lockout=300, source_max_failures=5, agent_max_failures=4,
                    now=clock), clock


def test_a_success_clears_its_pair_but_not_the_sources_count():
    g, _ = guard()
    web = Attempt("11", "web:10.0.0.1")
    for _ in range(2):
        g.failed(web)
    g.succeeded(web)
    for _ in range(2):
        g.failed(web)
    assert not g.locked(web)                       # the pair starts again after its success
    g.failed(Attempt("12", "web:10.0.0.1"))
    assert g.locked(Attempt("13", "web:10.0.0.1"))  # 5 failures from the address, whatever the successes
    assert not g.locked(Attempt("13", "web:10.0.0.2"))


def test_the_agents_own_phone_is_counted_apart():
    g, _ = guard()
    own = Attempt("11", "phone:agent-11", own_phone=True)
    for n in range(4):
        g.failed(Attempt("11", f"web:10.0.0.{n}"))
    assert g.locked(Attempt("11", "web:10.0.0.9"))   # the agent's remote budget is spent
    assert not g.locked(own)
    for _ in range(3):
        g.failed(own)
    assert g.locked(own) and g.locked(Attempt("11", "web:10.0.0.9"))


def test_the_agents_remote_count_is_cleared_by_their_success_unless_locked():
    g, _ = guard()
    for n in range(3):
        g.failed(Attempt("11", f"web:10.0.0.{n}"))
    g.succeeded(Attempt("11", "phone:agent-11", own_phone=True))
    g.failed(Attempt("11", "web:10.0.0.7"))
    assert not g.locked(Attempt("11", "web:10.0.0.8"))


def test_locks_end_after_the_lockout_and_failures_age_out_of_the_window():
    g, clock = guard()
    web = Attempt("11", "web:10.0.0.1")
    for _ in range(3):
        g.failed(web)
    clock.t = 299
    assert g.locked(web)
    clock.t = 301
    assert not g.locked(web)
    g.failed(web)
    g.failed(web)
    clock.t += 61
    g.failed(web)
    assert not g.locked(web)


def test_a_check_in_progress_holds_its_place():
    g, _ = guard()
    web = Attempt("11", "web:10.0.0.1")
    for _ in range(3):
        assert not g.locked(web)
        g.started(web)
    assert g.locked(web)
    g.ended(web)
    assert not g.locked(web)


def test_a_flood_of_addresses_is_pruned_but_locks_stay(monkeypatch):
    monkeypatch.setattr(pin_guard, "_PRUNE_AT", 50)
    g, clock = guard()
    locked = Attempt("11", "web:10.0.0.1")
    for _ in range(3):
        g.failed(locked)
    for n in range(60):
        g.failed(Attempt(None, f"web:10.1.0.{n}"))
    clock.t = 100                                   # past the window, inside the lockout
    g.failed(Attempt(None, "web:10.2.0.1"))
    assert len(g._counters) < 10 and g.locked(locked)
