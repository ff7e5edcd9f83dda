"""bench.routing compares strategies the config accepts, on the same day otherwise."""
from __future__ import annotations

from acd.config import load_config
from acd.engine import strategies
from bench.routing import COMPARED, DEFAULT_CONFIG, with_strategy


def test_each_compared_strategy_routes_every_queue_and_changes_nothing_else():
    config = load_config(DEFAULT_CONFIG)
    for strategy, best_match in COMPARED.values():
        assert strategy in strategies.NAMES
        changed = with_strategy(config, strategy, best_match)
        assert {q.strategy for q in changed.queues.values()} == {strategy}
        for name, queue in changed.queues.items():
            assert queue.prefer_best_match is best_match
            assert (queue.requirements, queue.widening, queue.wrapup) == (
                config.queues[name].requirements, config.queues[name].widening, config.queues[name].wrapup)
        assert (changed.agents, changed.sim) == (config.agents, config.sim)
