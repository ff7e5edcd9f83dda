"""``GET /api/openapi.json``: the API described as an OpenAPI 3.1 document, built from
the router and the routes' access rules, never written by hand.

Each route is declared once (``acd.api.access.route``, from ``make_app``'s table and the
modules it registers), and this document is read off those declarations: the method
and path from the router, who may use it from its rule (``x-access``, and the security
schemes it accepts), what it does from the handler's docstring, path parameters from
the path, what it answers from the rule (a page), the handler's return type (a
WebSocket) or ``acd.api.access.produces`` (anything else that is not JSON). A route added
without a rule is refused to everyone, and so is left out here; a test checks that the
document and the router hold the same routes.

Who may read it: any logged-in person or program (``access.ANYONE``). The paths are no
secret (the project is open source), but a deployment need not list its surface and
its version to anonymous scanners.
"""
from __future__ import annotations

import inspect
import re
from importlib import metadata
from typing import Any

from aiohttp import web

from acd.api.access import ANYONE, CSRF_HEADER, RULES, SESSION_COOKIE, Rule, route

PATH = "/api/openapi.json"
DOCUMENT: web.AppKey[dict[str, Any]] = web.AppKey("openapi", dict)
_PARAMETER = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


def _version() -> str:
    try:
        return metadata.version("acd-1555")
    except metadata.PackageNotFoundError:
        return "0"


def access_text(rule: Rule) -> str:
    """A rule as a person reads it."""
    if rule.open:
        return "open: anyone, without logging in"
    who = "any logged-in person or program" if not rule.rights else "rights: " + " or ".join(sorted(rule.rights))
    if rule.self_param is not None:
        who += f"; without agents:act only for one's own agent id ({{{rule.self_param}}})"
    if rule.page:
        who += "; a browser without a login is sent to /login"
    return who


def _responses(handler: Any, rule: Rule, method: str) -> dict[str, Any]:
    returns = str(inspect.signature(handler).return_annotation)
    content_type = getattr(handler, "content_type", None) or ("text/html" if rule.page else None)
    if "WebSocketResponse" in returns:
        answers: dict[str, Any] = {"101": {"description": "switched to a WebSocket (messages in docs/api.md)"}}
    elif content_type is not None:
        answers = {"200": {"description": "OK", "content": {content_type: {}}}}
    else:
        answers = {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}}
        answers["400"] = {"description": "a bad request, with the reason"}
    if not rule.open:
        if rule.page:
            answers["302"] = {"description": "not logged in: to the login page"}
        answers["401"] = {"description": "not logged in (no or bad session or token)"}
        answers["403"] = {"description": "logged in, not allowed (role, own agent only, CSRF token)"}
    return answers


def _operation(path: str, method: str, handler: Any, rule: Rule) -> dict[str, Any]:
    doc = inspect.getdoc(handler) or ""
    first = " ".join(doc.split("\n\n")[0].split())
    summary = re.split(r"(?<=[.;])\s", first, maxsplit=1)[0].rstrip(".;")
    operation: dict[str, Any] = {
        # from the route, not the handler: one handler may serve two paths (the wallboard's page)
        "operationId": f"{method.lower()}_{re.sub(r'[^A-Za-z0-9]+', '_', path).strip('_') or 'root'}",
        "summary": summary or handler.__name__.replace("_", " "),
        "description": (doc + "\n\n" if doc else "") + f"Access: {access_text(rule)}.",
        "tags": [_tag(path)],
        "x-access": {"open": rule.open, "rights": sorted(rule.rights), "page": rule.page,
                     "self_param": rule.self_param},
        "security": [] if rule.open else [{"session": []}, {"bearer": []}],
        "responses": _responses(handler, rule, method),
    }
    parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in _PARAMETER.findall(path)]
    if parameters:
        operation["parameters"] = parameters
    if method in ("POST", "PUT", "PATCH"):
        operation["requestBody"] = {"required": False, "content": {"application/json": {"schema": {"type": "object"}}}}
    return operation


def _tag(path: str) -> str:
    parts = [p for p in path.split("/") if p and not p.startswith("{")]
    if not parts or parts[0] != "api":
        return "pages"
    return parts[1] if len(parts) > 1 else "api"


def document(app: web.Application) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``app``'s routes that have a rule."""
    rules = app[RULES]
    paths: dict[str, dict[str, Any]] = {}
    for resource in app.router.resources():
        path = resource.canonical
        for found in resource:
            method = found.method
            rule = rules.get((path, method))
            if method == "HEAD" or rule is None:      # HEAD: its GET's twin; no rule: refused to all
                continue
            paths.setdefault(path, {})[method.lower()] = _operation(path, method, found.handler, rule)
    return {
        "openapi": "3.1.0",
        "info": {"title": "ACD API", "version": _version(),
                 "description": "The ACD daemon's REST and WebSocket API; see docs/api.md and docs/access.md. "
                                f"A page session's changes carry the {CSRF_HEADER} header."},
        "paths": paths,
        "components": {"securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
            "bearer": {"type": "http", "scheme": "bearer"},
        }},
    }


async def openapi(request: web.Request) -> web.Response:
    """This API as an OpenAPI 3.1 document, with each route's access rule (``x-access``)."""
    built = request.app[DOCUMENT]
    if not built:       # built once: the router is frozen once the app serves
        built.update(document(request.app))
    return web.json_response(built)


def register(app: web.Application) -> None:
    app[DOCUMENT] = {}
    route(app, "GET", PATH, openapi, ANYONE)
