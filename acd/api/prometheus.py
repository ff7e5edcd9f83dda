"""``GET /metrics``: the live floor for Prometheus (prometheus-client's text format).

Read at each scrape from the same places the wallboard reads (the engine's state and
today's running figures, ``acd.api.floor``), so a scrape costs the same whatever the
hour; the routing latency histogram is the engine's time per event, observed as each
event is fed. Each app has its own registry (several apps in one test process must not
share series). Only figures and counts: no agent names, no call ids.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from acd.api.access import produces
from acd.api.floor import QueuesView
from acd.engine import AgentState

#: engine seconds per event: the buckets span the compiled engine's tens of microseconds
#: to a stalled loop's tenths of a second
LATENCY_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class FloorCollector(Collector):
    def __init__(self, view: QueuesView) -> None:
        self.view = view

    def collect(self) -> Iterator[GaugeMetricFamily]:
        body: dict[str, Any] = json.loads(self.view.body())
        waiting = GaugeMetricFamily("acd_queue_waiting", "Callers waiting in the queue", labels=["queue"])
        longest = GaugeMetricFamily("acd_queue_longest_wait_seconds", "Longest current wait in the queue",
                                    labels=["queue"])
        level = GaugeMetricFamily("acd_queue_service_level", "Today's service level (answered within the "
                                  "threshold / answered + abandoned after the grace + exited)", labels=["queue"])
        today = GaugeMetricFamily("acd_queue_calls_today", "Today's calls by outcome (reset at local midnight)",
                                  labels=["queue", "outcome"])
        for name, queue in body["queues"].items():
            waiting.add_metric([name], queue["waiting"])
            longest.add_metric([name], queue["longest_wait"])
            figures = queue.get("today")
            if figures is None:
                continue
            if figures["service_level"] is not None:
                level.add_metric([name], figures["service_level"])
            for outcome in ("offered", "answered", "abandoned", "exited"):
                today.add_metric([name, outcome], figures[outcome])
        agents = GaugeMetricFamily("acd_agents", "Agents by state", labels=["state"])
        for state in AgentState:
            agents.add_metric([state.value], body["agents"].get(state.value, 0))
        unregistered = GaugeMetricFamily("acd_unregistered_phones", "Logged-in agents whose phone is not registered",
                                         value=body["unregistered_phones"])
        yield from (waiting, longest, level, today, agents, unregistered)


class Exporter:
    """One app's registry: the floor's gauges and the routing latency histogram."""

    def __init__(self, view: QueuesView) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(FloorCollector(view))
        self.routing = Histogram("acd_routing_seconds", "Engine time per event fed (routing decisions)",
                                 buckets=LATENCY_BUCKETS, registry=self.registry)

    def observe(self, seconds: float) -> None:
        self.routing.observe(seconds)

    def text(self) -> bytes:
        return generate_latest(self.registry)


EXPORTER: web.AppKey[Exporter] = web.AppKey("exporter", Exporter)


@produces("text/plain; version=0.0.4")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus' scrape: waiting, longest wait, service level, agents by state, routing latency."""
    return web.Response(body=request.app[EXPORTER].text(),
                        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})
