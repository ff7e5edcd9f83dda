"""The served OpenAPI document holds exactly the router's routes, each with its access
rule, and is well formed enough for OpenAPI 3.1 tools (ids unique, path parameters
declared, security schemes defined)."""
from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from acd.api import make_app
from acd.api.access import RULES
from acd.api.openapi import PATH, access_text
from acd.daemon.live_engine import LiveEngine
from tests.auth_helpers import PLAIN_HTTP, log_in, people
from tests.engine_helpers import make_config

QUEUE = "q:\n  requires: {topic:a: 1}\n"
AGENTS = "'11': {pin: '1234', skills: {topic:a: 3}}\n"


@pytest.fixture
async def served(tmp_path):
    live = LiveEngine(make_config(QUEUE, AGENTS))
    client = TestClient(TestServer(make_app(live, auth=await people(tmp_path), settings=PLAIN_HTTP)))
    await client.start_server()
    yield client
    await client.close()
    live.clock.cancel()


async def test_the_document_and_the_router_hold_the_same_routes_each_with_its_rule(served):
    assert (await served.get(PATH)).status == 401          # for logged-in people and programs
    await log_in(served, "kiosk")                          # the least of the roles is enough
    r = await served.get(PATH)
    assert r.status == 200
    document = await r.json()
    assert document["openapi"].startswith("3.1")
    listed = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    router = {(route.method, route.resource.canonical) for route in served.app.router.routes()
              if route.resource is not None and route.method != "HEAD"}
    assert listed == router, f"only in the router: {router - listed}; only in the document: {listed - router}"
    rules = served.app[RULES]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            rule = rules[(path, method.upper())]
            access = operation["x-access"]
            assert (access["open"], set(access["rights"]), access["page"], access["self_param"]) == \
                (rule.open, set(rule.rights), rule.page, rule.self_param), (method, path)
            assert operation["description"].endswith(f"Access: {access_text(rule)}.")
            assert operation["security"] == ([] if rule.open else [{"session": []}, {"bearer": []}])
            assert operation["summary"] and operation["responses"]


async def test_the_document_is_well_formed(served):
    await log_in(served, "sup")
    document = await (await served.get(PATH)).json()
    schemes = document["components"]["securitySchemes"]
    ids = []
    for path, item in document["paths"].items():
        assert path.startswith("/")
        for method, operation in item.items():
            assert method in ("get", "post", "put", "patch", "delete")
            ids.append(operation["operationId"])
            named = set(re.findall(r"\{(\w+)\}", path))
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert named == declared and all(p["required"] for p in operation.get("parameters", [])), path
            for requirement in operation["security"]:
                assert set(requirement) <= set(schemes)
            assert all(re.fullmatch(r"[1-5]\d\d", code) for code in operation["responses"])
    assert len(ids) == len(set(ids))
    pages = document["paths"]["/agent"]["get"]["responses"]
    assert "text/html" in pages["200"]["content"] and "302" in pages
    assert "101" in document["paths"]["/api/events"]["get"]["responses"]
    assert "text/plain; version=0.0.4" in document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]


async def test_a_route_added_without_a_rule_is_missing_from_the_document_so_the_check_fails(tmp_path):
    live = LiveEngine(make_config(QUEUE, AGENTS))
    app = make_app(live, auth=await people(tmp_path), settings=PLAIN_HTTP)

    async def forgotten(request):
        raise AssertionError("never served: it has no rule")

    app.router.add_get("/api/forgotten", forgotten, allow_head=False)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        await log_in(client, "sup")
        document = await (await client.get(PATH)).json()
        assert "/api/forgotten" not in document["paths"]
    finally:
        await client.close()
        live.clock.cancel()
