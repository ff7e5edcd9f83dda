"""Every bad request gets a 4xx with a reason, never a 500: hypothesis sends every route
of the router every method with bodies of the wrong shape, wrong types, huge values and
deep nesting, as a supervisor (who gets furthest into the handlers) and as an agent."""
from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.test_access import world  # noqa: F401  (the fixture)

KEYS = ("pin", "reason", "note", "agent_id", "unit", "who", "name", "password", "status")
scalars = (st.none() | st.booleans() | st.integers(min_value=-(10 ** 30), max_value=10 ** 30)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40) | st.just("x" * 100_000))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                            max_size=4), max_leaves=12)


def deep(n: int, opener: str = "[", closer: str = "]") -> bytes:
    return (opener * n + closer * n).encode()


bodies = st.one_of(
    st.dictionaries(st.sampled_from(KEYS), values, max_size=5).map(lambda d: json.dumps(d).encode()),
    values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    st.integers(min_value=1, max_value=200_000).map(deep),
    st.integers(min_value=2000, max_value=200_000).map(deep),
    st.integers(min_value=1, max_value=50_000).map(lambda n: ('{"a":' * n + "1" + "}" * n).encode()),
    st.integers(min_value=4000, max_value=20_000).map(lambda n: b'{"pin": ' + b"9" * n + b"}"),
    st.just(b""),
)
segments = st.one_of(st.sampled_from(["11", "12", "77", "c1", "c2", "claim", "login", "pause", "escalate"]),
                     st.text(min_size=1, max_size=30))
queries = st.dictionaries(st.sampled_from(("unit", "status", "limit", "since", "who", "next")),
                          st.one_of(st.text(max_size=20), st.integers().map(str), st.just("1e999"), st.just("nan")),
                          max_size=3)


def fill(path: str, params: list[str], tickets: dict[str, str]) -> str:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    chosen = {name: quote(params[i % len(params)], safe="") for i, name in enumerate(names)}
    if "ticket_id" in chosen and params[0] == "11":
        chosen["ticket_id"] = tickets["a"]
    return path.format(**chosen)


@pytest.mark.parametrize("who", ["sup", "a11"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(data=st.data())
async def test_no_request_gets_a_500(world, who, data):  # noqa: F811
    client = await world.as_(who)
    routes = [r for r in client.app.router.routes() if r.resource is not None]
    route = data.draw(st.sampled_from(routes))
    method = data.draw(st.sampled_from([route.method] * 4 + ["GET", "POST", "PUT", "DELETE"]))
    url = fill(route.resource.canonical, data.draw(st.lists(segments, min_size=1, max_size=3)), world.tickets)
    body = data.draw(bodies)
    r = await client.request(method, url, data=body, params=data.draw(queries),
                             headers={"Content-Type": "application/json"}, allow_redirects=False)
    text = await r.text()
    assert r.status < 500, (method, url, body[:200], r.status, text[:300])
    if r.status >= 400 and method != "HEAD":
        assert text.strip(), "a refusal says why"


@pytest.mark.parametrize("body", [deep(100_000), deep(100_000, '{"a":', "}"), b'{"note": ' + deep(50_000) + b"}"])
async def test_deeply_nested_json_is_a_400_not_a_500(world, body):  # noqa: F811
    client = await world.as_("sup")
    for url in ("/api/agents/11/pause", "/api/calls/c1/escalate", f"/api/tickets/{world.tickets['a']}/claim",
                "/api/login"):
        r = await client.post(url, data=body, headers={"Content-Type": "application/json"})
        assert r.status == 400 and "JSON object" in await r.text(), url


