"""The demo's load and staffing, without running it: the default load makes callers wait,
and the agents it logs in cover every queue in the topic mix."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from acd.config import load_config
from acd.demo import DEFAULT_CONFIG, DEFAULT_LOAD, demo_staff, offered_erlangs, queue_shares
from acd.engine.lines import qualifies

CONFIG = load_config(DEFAULT_CONFIG)
SHARES = queue_shares(CONFIG)


def test_the_default_load_is_more_than_the_default_agents_can_take_so_callers_wait() -> None:
    options = DEFAULT_LOAD
    load = offered_erlangs(CONFIG, SHARES, options["rate"], options["talk"])
    staff = demo_staff(CONFIG, SHARES, int(options["agents"]))
    assert load > 1.2 * len(staff), (load, len(staff))
    # and the patient callers still get answered: not so much that nobody ever is
    assert load < 3 * len(staff)
    assert 0 < options["patience"] < options["seconds"]


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=len(CONFIG.agents) + 5))
def test_the_agents_logged_in_are_distinct_and_cover_every_queue_they_can(count: int) -> None:
    staff = demo_staff(CONFIG, SHARES, count)
    assert len(staff) == len(set(staff)) == min(count, len(CONFIG.agents))
    assert set(staff) <= set(CONFIG.agents)
    if count >= len(SHARES):
        for queue in SHARES:
            assert any(qualifies(CONFIG.agents[a].skills, CONFIG.queues[queue].requirements) for a in staff), queue
