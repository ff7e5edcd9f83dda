"""Access control for every route of the API: one declaration per route, one middleware.

Each route is added with ``route(app, method, path, handler, rule)``, which records who
may use it; the middleware refuses a request whose route has no rule, so a route added
without one is closed, never forgotten open. Health and login are ``OPEN``; the pages
send an anonymous browser to the login page; the API answers 401 (no or bad
credentials) or 403 (authenticated, not allowed).

Two ways in: a page session (cookie ``acd_session``: HttpOnly, SameSite=Strict, Secure
unless ``access.secure_cookies`` is off) whose every change must carry the session's
CSRF token in ``X-CSRF-Token`` (the pages read it from the ``acd_csrf`` cookie or
``/api/me``); or a program's ``Authorization: Bearer acd_...`` token, which needs no
CSRF token since no browser sends it by itself.
"""
from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from acd.api.bodies import json_object
from acd.auth import AuditLog, AuthStore, Identity
from acd.auth.roles import AGENTS_ACT, AGENT_SELF
from acd.auth.throttle import LoginThrottle
from acd.config.access import AccessSettings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SESSION_COOKIE = "acd_session"
CSRF_COOKIE = "acd_csrf"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_PAGE = Path(__file__).with_name("login.html")
AUTH_SCRIPT = Path(__file__).with_name("auth.js")
#: methods that change nothing, so need no CSRF token
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})

AUTH: web.AppKey[AuthStore | None] = web.AppKey("auth", object)  # type: ignore[arg-type]
AUDIT: web.AppKey[AuditLog | None] = web.AppKey("audit", object)  # type: ignore[arg-type]
ACCESS: web.AppKey[AccessSettings] = web.AppKey("access", AccessSettings)
RULES: web.AppKey[dict[tuple[str, str], Rule]] = web.AppKey("rules", dict)
THROTTLE: web.AppKey[LoginThrottle] = web.AppKey("throttle", LoginThrottle)
IDENTITY: web.RequestKey[Identity] = web.RequestKey("identity", Identity)


@dataclass(frozen=True, slots=True)
class Rule:
    """Who may use one route: anyone (``open``), any authenticated identity (no
    ``rights``), or one holding any of ``rights``. ``page``: a browser page (anonymous:
    redirect to the login page). ``self_param``: the path parameter naming an agent,
    which an identity without AGENTS_ACT may only use for its own agent id."""

    rights: frozenset[str] = frozenset()
    open: bool = False
    page: bool = False
    self_param: str | None = None


OPEN = Rule(open=True)
#: any authenticated identity (``/api/me``, ``/api/logout``)
ANYONE = Rule()


def needs(*rights: str, page: bool = False, self_param: str | None = None) -> Rule:
    return Rule(frozenset(rights), page=page, self_param=self_param)


def produces(content_type: str) -> Callable[[Handler], Handler]:
    """Declare what a handler answers with when it is not JSON (the OpenAPI document,
    ``acd.api.openapi``, says so); a page's HTML and a WebSocket are known from the rule
    and the handler's return type."""
    def mark(handler: Handler) -> Handler:
        handler.content_type = content_type  # type: ignore[attr-defined]
        return handler
    return mark


def route(app: web.Application, method: str, path: str, handler: Handler, rule: Rule) -> None:
    """Add a route and its rule (a GET route's HEAD twin follows the same rule)."""
    resource = app.router.add_resource(path)
    resource.add_route(method, handler)
    app[RULES][(resource.canonical, method)] = rule


def rule_of(request: web.Request) -> Rule | None:
    resource = request.match_info.route.resource
    if resource is None:
        return None
    method = "GET" if request.method == "HEAD" else request.method
    return request.app[RULES].get((resource.canonical, method))


def identity_of(request: web.Request) -> Identity:
    """The request's authenticated identity (routes other than OPEN always have one)."""
    found = request.get(IDENTITY)
    if not isinstance(found, Identity):
        raise web.HTTPUnauthorized(text="log in first")
    return found


def remote_of(request: web.Request) -> str | None:
    """The client's address: the peer's, or behind a trusted reverse proxy (``access.
    trusted_proxies``) the last address in ``X-Forwarded-For`` that is not a trusted proxy
    (the ones before it are whatever the client chose to send)."""
    trusted = request.app[ACCESS].trusted_proxies
    peer = request.remote
    if peer not in trusted:
        return peer
    for hop in reversed(request.headers.get("X-Forwarded-For", "").split(",")):
        hop = hop.strip()
        if hop and hop not in trusted:
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:          # not an address: the proxy did not write it
                return peer
    return peer


async def authenticate(request: web.Request) -> Identity | None:
    """The identity of the request's bearer token or session cookie; None when it has
    neither. A token that is presented and wrong is a 401 at once (a program's mistake
    should not turn into a redirect)."""
    auth = request.app[AUTH]
    header = request.headers.get("Authorization", "")
    cookie = request.cookies.get(SESSION_COOKIE)
    if not header and not cookie:
        return None
    if auth is None:
        raise web.HTTPServiceUnavailable(text="no user database: the API needs daemon.database_url to log anyone in")
    try:
        if header:
            scheme, _, token = header.partition(" ")
            found = await auth.token(token.strip()) if scheme.lower() == "bearer" else None
            if found is None:
                raise web.HTTPUnauthorized(text="unknown, expired or revoked token",
                                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
            return found
        return await auth.session(cookie or "")
    except (SQLAlchemyError, OSError):
        raise web.HTTPServiceUnavailable(text="the user database is not answering; try again shortly") from None


@web.middleware
async def access_control(request: web.Request, handler: Handler) -> web.StreamResponse:
    rule = rule_of(request)
    if rule is None:
        if request.match_info.http_exception is not None:       # no such path or method: 404 / 405
            return await handler(request)
        raise web.HTTPForbidden(text="this route declares no access rule, so nobody may use it")
    identity = await authenticate(request)
    if identity is not None:
        request[IDENTITY] = identity
    if rule.open:
        return await handler(request)
    if identity is None:
        if rule.page:
            raise web.HTTPFound(f"/login?next={quote(request.path_qs, safe='')}")
        raise web.HTTPUnauthorized(text="log in first (a session cookie or an Authorization: Bearer token)",
                                   headers={"WWW-Authenticate": "Bearer"})
    if request.method not in SAFE and identity.csrf is not None:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), identity.csrf.encode()):
            raise web.HTTPForbidden(text=f"missing or wrong {CSRF_HEADER} header (the page's session token)")
    if rule.rights and not rule.rights & identity.rights:
        raise web.HTTPForbidden(text=f"the {identity.role} role may not use this")
    if rule.self_param is not None and not identity.may(AGENTS_ACT):
        target = request.match_info.get(rule.self_param)
        if not identity.may(AGENT_SELF) or target != identity.agent_id:
            raise web.HTTPForbidden(text="an agent acts only on itself")
    return await handler(request)


# -- logging in and out ----------------------------------------------------------------------------

@produces("text/html")
async def login_page(request: web.Request) -> web.StreamResponse:
    """The login form; it sends the person back to ``next`` once logged in."""
    return web.FileResponse(LOGIN_PAGE)


@produces("text/javascript")
async def auth_script(request: web.Request) -> web.StreamResponse:
    """The pages' shared fetch wrapper: sends the CSRF token, goes to login on a 401."""
    return web.FileResponse(AUTH_SCRIPT, headers={"Content-Type": "text/javascript; charset=utf-8"})


def _set_cookies(request: web.Request, response: web.StreamResponse, secret: str, csrf: str) -> None:
    secure = request.app[ACCESS].secure_cookies
    response.set_cookie(SESSION_COOKIE, secret, httponly=True, samesite="Strict", secure=secure, path="/")
    # readable by the pages' script (that is the point): it is worthless without the session cookie
    response.set_cookie(CSRF_COOKIE, csrf, httponly=False, samesite="Strict", secure=secure, path="/")


async def login(request: web.Request) -> web.Response:
    """``{"name": ..., "password": ...}``: a session cookie and the CSRF token, or 401."""
    body = await json_object(request, '{"name": "e.markou", "password": "..."}')
    auth = request.app[AUTH]
    if auth is None:
        raise web.HTTPServiceUnavailable(text="no user database: the API needs daemon.database_url to log anyone in")
    name, password = body.get("name"), body.get("password")
    if not isinstance(name, str) or not isinstance(password, str) or not name or not password:
        raise web.HTTPBadRequest(text='send {"name": "...", "password": "..."}')
    if len(name) > 64 or len(password) > 1024:
        raise web.HTTPBadRequest(text="name or password too long")
    audit = request.app[AUDIT]
    source = remote_of(request) or "?"
    wait = request.app[THROTTLE].retry_after(source)
    if wait:
        raise web.HTTPTooManyRequests(text=f"too many wrong passwords from this address; try again in {wait:.0f} s",
                                      headers={"Retry-After": str(int(wait) + 1)})
    try:
        user = await auth.check_password(name, password)
        if user is None:
            request.app[THROTTLE].failed(source)
            if audit is not None:
                await audit.record(who=f"person:{name}" if name.isprintable() else "?", via="session",
                                   action="login.failed", remote=remote_of(request))
            raise web.HTTPUnauthorized(text="wrong name or password, or the user is disabled")
        secret, csrf = await auth.open_session(user, remote_of(request))
    except (SQLAlchemyError, OSError):
        raise web.HTTPServiceUnavailable(text="the user database is not answering; try again shortly") from None
    identity = user.identity("session", csrf=csrf)
    if audit is not None:
        await audit.record(who=identity.who, via="session", action="login", remote=remote_of(request))
    response = web.json_response({"ok": True, "me": identity.as_dict()})
    _set_cookies(request, response, secret, csrf)
    return response


async def logout(request: web.Request) -> web.Response:
    """End the page session (a token ends with ``acd users revoke``)."""
    identity = identity_of(request)
    auth = request.app[AUTH]
    secret = request.cookies.get(SESSION_COOKIE)
    if auth is not None and secret:
        await auth.close_session(secret)
    audit = request.app[AUDIT]
    if audit is not None:
        await audit.record(who=identity.who, via=identity.via, action="logout", remote=remote_of(request))
    response = web.json_response({"ok": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    response.del_cookie(CSRF_COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    """Who is logged in: name, role, rights, agent id, units, the session's CSRF token."""
    return web.json_response(identity_of(request).as_dict())


async def audited(request: web.Request, action: str, target: str | None, before: Any = None,
                  after: Any = None, detail: str | None = None) -> None:
    """Keep an audit entry for a change the request's identity made."""
    audit = request.app[AUDIT]
    if audit is None:
        return
    identity = identity_of(request)
    await audit.record(who=identity.who, via=identity.via, action=action, target=target, remote=remote_of(request),
                       before=before, after=after, detail=detail)
