"""REST + WebSocket API over the live engine (aiohttp).

Read side: queues (waiting, longest wait, agents staffed and free, logged-in agents whose
phone is not registered), agents (state, reason, since, and their phone's registration as
AMI reported it, ``acd.registrations``), waiting calls (position, estimated wait),
``/api/events``, a WebSocket that pushes a snapshot then deltas cut to the reader's role
(``acd.api.feed``, docs/api.md), and ``/metrics`` for Prometheus. Write side:
the agents' web panel (login, logout, pause with a reason, unpause, ready), each with the
agent's PIN and the same wrong-PIN lockout as the phone's feature codes, and escalation
of a call the agent took to the back office (``POST /api/calls/{call_id}/escalate``, a
ticket). All writes become engine events or go through the daemon's rules
(``acd.daemon.escalation``); the API decides nothing itself.

The back office's side of those tickets (``/backoffice``, ``/api/tickets``) reads and
moves them in the SQL store through ``acd.records.desk``, under the state machine of
``acd.records.ticket``, each move signed by the person logged in.

Who may use which route is declared with the route (``acd.api.access``: one table in
``make_app``, a middleware that refuses any route without a rule); every change is kept
in the audit log (``GET /api/audit``, supervisors).
"""
from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from aiohttp import WSCloseCode, WSMsgType, web
from sqlalchemy.exc import SQLAlchemyError

from acd.agent_desk import ACTIONS, ActionRefused, EscalationRefused, Escalator, action_event, pin_checked
from acd.api import access, agent_desk, openapi, prometheus, supervise
from acd.api.access import ACCESS, AUDIT, AUTH, OPEN, RULES, audited, identity_of, needs, route
from acd.api.bodies import json_object as _json_object
from acd.api.feed import Feed, Reader, agent_row, view_for
from acd.api.floor import QueuesView
from acd.auth import AuditLog, AuthStore
from acd.auth.roles import (AGENT_SELF, AGENTS_ACT, AGENTS_READ, AUDIT as AUDIT_READ, CALLS_READ, FIGURES,
                            METRICS, TICKETS_ACT, TICKETS_READ, UNITS)
from acd.config.access import AccessSettings
from acd.config.back_office import back_office_of
from acd.engine import Engine
from acd.engine import decisions as d
from acd.engine import events as e
from acd.live_figures import LiveFigures
from acd.pin_guard import Attempt, PinGuard
from acd.records.desk import TicketDesk
from acd.records.ticket import STATUSES, TRANSITIONS, TicketRefused
from acd.registrations import Registrations

log = logging.getLogger(__name__)

WALLBOARD = Path(__file__).with_name("wallboard.html")
AGENT_PANEL = Path(__file__).with_name("agent.html")
BACK_OFFICE = Path(__file__).with_name("backoffice.html")


class Live(Protocol):
    """What the API needs of the daemon's live engine (acd.daemon.live_engine.LiveEngine)."""

    engine: Engine
    now: Callable[[], float]

    def feed(self, event: e.Event) -> list[d.Decision]: ...
    def subscribe(self, subscriber: Callable[[Sequence[d.Decision]], None]) -> None: ...


LIVE: web.AppKey[Live] = web.AppKey("live", Live)  # type: ignore[arg-type]
GUARD: web.AppKey[PinGuard] = web.AppKey("guard", PinGuard)
FEED: web.AppKey[Feed] = web.AppKey("feed", Feed)
ESCALATIONS: web.AppKey[Escalator | None] = web.AppKey("escalations", object)  # type: ignore[arg-type]
REGISTRATIONS: web.AppKey[Registrations] = web.AppKey("registrations", Registrations)
DESK: web.AppKey[TicketDesk | None] = web.AppKey("desk", object)  # type: ignore[arg-type]
TODAY: web.AppKey[LiveFigures] = web.AppKey("today", LiveFigures)
QUEUES_VIEW: web.AppKey[QueuesView] = web.AppKey("queues_view", QueuesView)
#: HTTP status of each refusal of an escalation
_REFUSED_STATUS = {"unknown_call": 404, "no_call": 404, "not_your_call": 403, "unknown_unit": 400, "already": 409}
#: HTTP status of each refusal of a ticket's move
_TICKET_REFUSED_STATUS = {"unknown_ticket": 404, "not_allowed": 409, "changed": 409}


def make_app(live: Live, guard: PinGuard | None = None, escalations: Escalator | None = None,
             registrations: Registrations | None = None, desk: TicketDesk | None = None, *,
             auth: AuthStore | None = None, settings: AccessSettings | None = None,
             caller_numbers: Callable[[str], str | None] | None = None) -> web.Application:
    """``escalations``: the daemon's back-office escalation (None: that route answers 503).
    ``registrations``: the AMI bridge's view of the agents' phones (None: every phone is
    reported as unknown, ``registered: null``). ``desk``: the back office's tickets in the
    call records' database (None: no records, the ticket routes answer 503). ``auth``:
    the users, sessions and tokens (None: nobody can log in, only the open routes answer);
    ``settings``: the config's ``access`` section. ``caller_numbers``: the citizen's
    number of a call id (``acd.daemon.caller_numbers``), for the agent's caller card."""
    app = web.Application(middlewares=[access.access_control])
    app[AUTH] = auth
    app[AUDIT] = AuditLog(auth.db, now=auth.now) if auth is not None else None
    app[ACCESS] = settings or AccessSettings()
    app[RULES] = {}
    app[access.THROTTLE] = access.LoginThrottle()
    app[LIVE] = live
    app[GUARD] = guard or PinGuard()
    app[ESCALATIONS] = escalations
    app[REGISTRATIONS] = registrations if registrations is not None else Registrations()
    app[DESK] = desk
    # every route and who may use it (acd.auth.roles); a route added without a rule is refused
    own_agent = needs(AGENT_SELF, AGENTS_ACT, self_param="agent_id")
    for method, path, handler, rule in (
        ("GET", "/login", access.login_page, OPEN),
        ("GET", "/auth.js", access.auth_script, OPEN),
        ("POST", "/api/login", access.login, OPEN),
        ("POST", "/api/logout", access.logout, access.ANYONE),
        ("GET", "/api/me", access.me, access.ANYONE),
        ("GET", "/api/health", health, OPEN),
        ("GET", "/", wallboard, needs(FIGURES, page=True)),
        ("GET", "/agent", agent_panel, needs(AGENT_SELF, AGENTS_ACT, page=True)),
        ("GET", "/backoffice", back_office_page, needs(TICKETS_READ, page=True)),
        ("GET", "/api/pause-reasons", pause_reasons, needs(AGENT_SELF, AGENTS_ACT)),
        ("GET", "/api/queues", queues, needs(FIGURES)),
        ("GET", "/api/agents", agents, needs(AGENTS_READ, AGENT_SELF)),
        ("GET", "/api/calls", calls, needs(CALLS_READ)),
        ("POST", "/api/agents/{agent_id}/escalate", escalate_own_call, own_agent),   # before the generic route
        ("POST", "/api/agents/{agent_id}/{action}", agent_action, own_agent),
        ("POST", "/api/calls/{call_id}/escalate", escalate, needs(AGENT_SELF, AGENTS_ACT)),
        ("GET", "/api/back-office", back_office_units, needs(UNITS)),
        ("GET", "/api/tickets", ticket_list, needs(TICKETS_READ)),
        ("GET", "/api/tickets/{ticket_id}", ticket_one, needs(TICKETS_READ)),
        ("POST", "/api/tickets/{ticket_id}/{action}", ticket_action, needs(TICKETS_ACT)),
        ("GET", "/api/events", events, needs(FIGURES, AGENTS_READ, AGENT_SELF)),
        ("GET", "/api/audit", audit_entries, needs(AUDIT_READ)),
        ("GET", "/metrics", prometheus.metrics, needs(METRICS)),
    ):
        route(app, method, path, handler, rule)
    supervise.add_routes(app, wallboard)     # /supervisor and listen / whisper / barge (acd.api.supervise)
    app[TODAY] = LiveFigures(live.engine.config)     # follows reloads: LiveEngine tells it
    live.subscribe(app[TODAY])
    app[QUEUES_VIEW] = QueuesView(live, app[TODAY], app[REGISTRATIONS])
    live.subscribe(app[QUEUES_VIEW])
    app[FEED] = Feed(live, app[REGISTRATIONS], app[QUEUES_VIEW])
    live.subscribe(app[FEED])
    # -- the agent panel's caller card, history and escalation units (acd.api.agent_desk)
    app[FEED].cards = agent_desk.register(app, live, caller_numbers, desk.db if desk is not None else None).card
    # -- the OpenAPI document of every route above (acd.api.openapi)
    openapi.register(app)
    app[prometheus.EXPORTER] = prometheus.Exporter(app[QUEUES_VIEW])
    timings = getattr(live, "timings", None)
    if isinstance(timings, list):
        timings.append(app[prometheus.EXPORTER].observe)
    app.on_shutdown.append(_close_sockets)
    return app


async def wallboard(request: web.Request) -> web.StreamResponse:
    """The wallboard: each queue's waiting callers, longest wait and today's figures."""
    return web.FileResponse(WALLBOARD)


async def agent_panel(request: web.Request) -> web.StreamResponse:
    """The agents' web panel: log in, pause with a reason, end wrap-up, escalate."""
    return web.FileResponse(AGENT_PANEL)


async def back_office_page(request: web.Request) -> web.StreamResponse:
    """The back office's page: a unit's open and claimed tickets, claim and resolve."""
    return web.FileResponse(BACK_OFFICE)


async def pause_reasons(request: web.Request) -> web.Response:
    """The config's pause reason codes (what the panel offers), productive or not."""
    reasons = request.app[LIVE].engine.config.routing.pause_reasons
    return web.json_response({"reasons": list(reasons), "productive": [r for r, p in reasons.items() if p]})


async def health(request: web.Request) -> web.Response:
    """Whether the daemon answers: ``status``, its clock, how many calls it holds."""
    live = request.app[LIVE]
    return web.json_response({"status": "ok", "now": live.now(), "calls": len(live.engine.calls)})


async def queues(request: web.Request) -> web.Response:
    """The wallboard's figures (``acd.api.floor.queues_body``), built once per change."""
    return web.Response(body=request.app[QUEUES_VIEW].body(), content_type="application/json")


async def agents(request: web.Request) -> web.Response:
    """Every agent's state; an agent sees only itself."""
    engine = request.app[LIVE].engine
    phones = request.app[REGISTRATIONS]
    identity = identity_of(request)
    return web.json_response({"agents": [
        agent_row(request.app[LIVE], phones, a.id)
        for a in engine.agents.values() if identity.may(AGENTS_READ) or a.id == identity.agent_id
    ]})


async def calls(request: web.Request) -> web.Response:
    """The waiting calls: queue, wait, position, estimated wait, skills needed now (no numbers)."""
    live = request.app[LIVE]
    engine = live.engine
    now = live.now()
    waiting = [{"id": c.id, "queue": c.queue.name, "waited": now - c.enqueued_at,
                "position": engine.position(c), "estimated_wait": engine.estimated_wait(c),
                "requirements": c.line.stages[c.stage]}
               for c in engine.waiting_calls()]
    return web.json_response({"waiting": waiting})


async def _check_pin(request: web.Request, agent_id: str, pin: object) -> None:
    """The agent's PIN, under the guard's limits for this address (acd.pin_guard):
    web failures never lock the agent's own phone."""
    config = request.app[LIVE].engine.config
    agent = config.agents.get(agent_id)
    source = access.remote_of(request) or ""
    attempt = Attempt(agent_id if agent is not None else None, f"web:{source}")
    matched = await pin_checked(request.app[GUARD], attempt, agent, str(pin or ""))
    if matched is None:
        raise web.HTTPTooManyRequests(text="too many wrong PINs; try again later")
    if not matched:
        raise web.HTTPForbidden(text="unknown agent or wrong PIN")


async def _authorise_agent(request: web.Request, agent_id: str, pin: object) -> None:
    """An agent acts on itself with its PIN (the phone's rule); a supervisor acts on any
    agent without one, by its role, and the audit log says who it was."""
    identity = identity_of(request)
    if identity.may(AGENTS_ACT):
        if agent_id not in request.app[LIVE].engine.config.agents:
            raise web.HTTPNotFound(text=f"no agent {agent_id!r}")
        return
    if not identity.may(AGENT_SELF) or identity.agent_id != agent_id:
        raise web.HTTPForbidden(text="an agent acts only on itself")
    await _check_pin(request, agent_id, pin)


async def agent_action(request: web.Request) -> web.Response:
    """``login``, ``logout``, ``pause`` (``{"reason": ...}``, a configured pause reason),
    ``unpause`` or ``ready`` (end wrap-up) for one agent: an agent on itself with its
    PIN (``{"pin": ...}``), a supervisor on anyone; 409 when the state does not allow it."""
    live = request.app[LIVE]
    agent_id = request.match_info["agent_id"]
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise web.HTTPNotFound(text=f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    body = await _json_object(request, '{"pin": "1234"[, "reason": "break"]}')
    reason = body.get("reason", "")
    if action == "pause" and not isinstance(reason, str):
        raise web.HTTPBadRequest(text='"reason" must be a string')
    await _authorise_agent(request, agent_id, body.get("pin"))
    try:
        event = action_event(live.engine.config, action, live.now(), agent_id, reason)
    except ActionRefused as refused:
        return web.json_response({"ok": False, "reason": str(refused)}, status=409)
    before = live.engine.agents[agent_id].state.value
    out = live.feed(event)
    ignored = [x.reason for x in out if isinstance(x, d.Ignored)]
    if ignored:
        return web.json_response({"ok": False, "reason": ignored[0]}, status=409)
    after = live.engine.agents[agent_id].state.value
    await audited(request, f"agent.{action}", agent_id, {"state": before},
                  {"state": after, "reason": live.engine.agents[agent_id].reason})
    return web.json_response({"ok": True, "state": after})


async def escalate(request: web.Request) -> web.Response:
    """Open a back-office ticket for a call the agent took; 201 with the ticket."""
    body = await _json_object(request, '{"agent_id": "2001", "pin": "1234"[, "note": "...", "unit": "pensions"]}')
    agent_id = body.get("agent_id")
    if not isinstance(agent_id, str) or not agent_id:
        raise web.HTTPBadRequest(text='"agent_id" (a string) is required')
    return await _escalate(request, agent_id, request.match_info["call_id"], body)


async def escalate_own_call(request: web.Request) -> web.Response:
    """The phone's rule from the web panel: the call the agent is on, or in wrap-up the
    one it just ended (the panel does not know the call's id once it has ended)."""
    body = await _json_object(request, '{"pin": "1234"[, "note": "...", "unit": "pensions"]}')
    return await _escalate(request, request.match_info["agent_id"], None, body)


async def _escalate(request: web.Request, agent_id: str, call_id: str | None, body: dict[str, Any]) -> web.Response:
    note, unit = body.get("note"), body.get("unit")
    if note is not None and not isinstance(note, str):
        raise web.HTTPBadRequest(text='"note" must be a string')
    if unit is not None and not isinstance(unit, str):
        raise web.HTTPBadRequest(text='"unit" must be a string')
    await _authorise_agent(request, agent_id, body.get("pin"))
    escalations = request.app[ESCALATIONS]
    if escalations is None:
        raise web.HTTPServiceUnavailable(text="escalation is not set up in this daemon")
    try:
        ticket = escalations.escalate(agent_id, call_id, note=note, unit=unit)
    except EscalationRefused as refused:
        return web.json_response({"ok": False, "error": refused.kind, "reason": refused.reason},
                                 status=_REFUSED_STATUS.get(refused.kind, 409))
    except ValueError as error:    # a note too long
        raise web.HTTPBadRequest(text=str(error)) from None
    await audited(request, "ticket.open", ticket.id, None,
                  {"call_id": ticket.call_id, "agent_id": agent_id, "unit": ticket.unit, "status": ticket.status})
    return web.json_response({"ok": True, "ticket": ticket.row()}, status=201)


def _desk(request: web.Request) -> TicketDesk:
    desk = request.app[DESK]
    if desk is None:
        raise web.HTTPServiceUnavailable(text="the ticket desk needs the call records (daemon.database_url)")
    return desk


def _refused(refused: TicketRefused) -> web.Response:
    return web.json_response({"ok": False, "error": refused.kind, "reason": refused.reason},
                             status=_TICKET_REFUSED_STATUS.get(refused.kind, 409))


def _database_down(error: Exception) -> web.HTTPServiceUnavailable:
    """The records database did not answer: say so (a 500 would read as a bug here)."""
    log.warning("ticket desk: records database unavailable: %r", error)
    return web.HTTPServiceUnavailable(text="the records database is not answering; try again shortly")


async def back_office_units(request: web.Request) -> web.Response:
    """The running config's back-office units and owners (what the page offers to pick)."""
    office = back_office_of(request.app[LIVE].engine.config)
    units = [{"name": u.name, "title": u.title, "primary": u.primary, "alternate": u.alternate,
              "queues": list(u.queues)} for u in (office.units.values() if office is not None else ())]
    return web.json_response({"units": units, "default": office.default if office is not None else None})


async def ticket_list(request: web.Request) -> web.Response:
    """``?unit=pensions&status=open,claimed&limit=100``: tickets newest first, from the
    records database (every unit and status when not given), with the server's ``now``
    so a page shows ages by the clock tickets are stamped with, not the browser's."""
    desk = _desk(request)
    identity = identity_of(request)
    unit = request.query.get("unit") or None
    if unit is not None and not identity.may_see_unit(unit):
        raise web.HTTPForbidden(text=f"the tickets of unit {unit!r} are not yours")
    statuses = [s for s in request.query.get("status", "").split(",") if s]
    limit = _whole_number(request, "limit", 100)
    # without a unit: every unit for a supervisor, the person's own units for the back office
    units = None if unit is not None or identity.may_see_unit(None) else list(identity.units)
    try:
        found = await desk.tickets(unit=unit, units=units, statuses=statuses, limit=limit)
    except ValueError as error:
        raise web.HTTPBadRequest(text=str(error)) from None
    except (SQLAlchemyError, OSError) as error:
        raise _database_down(error) from None
    return web.json_response({"now": desk.now(), "statuses": list(STATUSES), "tickets": found})


async def ticket_one(request: web.Request) -> web.Response:
    """One ticket with its history (who did what, when)."""
    desk = _desk(request)
    try:
        found = await desk.ticket(request.match_info["ticket_id"])
    except TicketRefused as refused:
        return _refused(refused)
    except (SQLAlchemyError, OSError) as error:
        raise _database_down(error) from None
    _check_unit(request, found)
    return web.json_response({"now": desk.now(), "ticket": found})


def _check_unit(request: web.Request, ticket: dict[str, Any]) -> None:
    """The back office works its own units' tickets only (a supervisor, every unit's)."""
    if not identity_of(request).may_see_unit(ticket.get("unit")):
        raise web.HTTPForbidden(text=f"ticket {ticket['id']} belongs to unit {ticket.get('unit')!r}, not yours")


def _whole_number(request: web.Request, name: str, default: int) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be a whole number, got {text!r}") from None


async def ticket_action(request: web.Request) -> web.Response:
    """``claim``, ``release``, ``resolve`` (with a note saying what was done) or
    ``reopen`` a ticket, signed by the person logged in (``person:<name>``); 200 with the
    ticket and its history."""
    desk = _desk(request)
    action = request.match_info["action"]
    if action not in TRANSITIONS:
        raise web.HTTPNotFound(text=f"unknown action {action!r}; use one of {', '.join(TRANSITIONS)}")
    body = await _json_object(request, '{["note": "..."]}')
    note = body.get("note")
    if "who" in body:
        raise web.HTTPBadRequest(text='a move is signed by the person logged in; do not send "who"')
    if note is not None and not isinstance(note, str):
        raise web.HTTPBadRequest(text='"note" must be a string')
    who = identity_of(request).who
    ticket_id = request.match_info["ticket_id"]
    try:
        before = await desk.ticket(ticket_id)
        _check_unit(request, before)
        found = await desk.act(ticket_id, action, who=who, note=note)
    except TicketRefused as refused:
        return _refused(refused)
    except ValueError as error:     # a malformed who, a note too long or missing
        raise web.HTTPBadRequest(text=str(error)) from None
    except (SQLAlchemyError, OSError) as error:
        raise _database_down(error) from None
    log.info("ticket moved", extra={"ticket": found["id"], "action": action, "who": who, "status": found["status"]})
    await audited(request, f"ticket.{action}", ticket_id, {"status": before["status"], "claimed_by": before["claimed_by"]},
                  {"status": found["status"], "claimed_by": found["claimed_by"]})
    return web.json_response({"ok": True, "ticket": found})


async def audit_entries(request: web.Request) -> web.Response:
    """``?since=<epoch>&who=person:e.markou&limit=100``: the audit log, newest first."""
    audit = request.app[AUDIT]
    if audit is None:
        raise web.HTTPServiceUnavailable(text="the audit log needs the user database")
    since_text = request.query.get("since")
    since: float | None = None
    if since_text is not None:
        try:
            since = float(since_text)
        except ValueError:
            since = math.nan
        if not math.isfinite(since):
            raise web.HTTPBadRequest(text=f"since is a time in seconds since the epoch, got {since_text!r}")
    limit = _whole_number(request, "limit", 100)
    try:
        found = await audit.entries(since=since, who=request.query.get("who") or None, limit=limit)
    except ValueError as error:
        raise web.HTTPBadRequest(text=str(error)) from None
    except (SQLAlchemyError, OSError) as error:
        raise _database_down(error) from None
    return web.json_response({"entries": found})


async def events(request: web.Request) -> web.WebSocketResponse:
    """The live feed (``acd.api.feed``): a snapshot of the reader's view, then deltas."""
    identity = identity_of(request)
    view = view_for(identity)
    if view is None:
        raise web.HTTPForbidden(text=f"the {identity.role} role has no live view")
    # no compression: the same text goes to every reader, compressing it for each would cost more
    socket = web.WebSocketResponse(heartbeat=30, compress=False)
    await socket.prepare(request)
    feed = request.app[FEED]
    reader = Reader(socket, view, identity.agent_id)
    await socket.send_str(feed.snapshot(reader))
    feed.readers.add(reader)
    recheck = asyncio.get_running_loop().create_task(_close_when_logged_out(request, socket, view))
    try:
        async for message in socket:
            if message.type == WSMsgType.ERROR:
                break
    finally:
        feed.readers.discard(reader)
        recheck.cancel()
    return socket


#: how often an open event stream checks that its login still holds
RECHECK_EVERY = 30.0


async def _close_when_logged_out(request: web.Request, socket: web.WebSocketResponse, view: str) -> None:
    """A stream outlives the request that opened it: once its session ends (logout, idle,
    new password) or its user or token is disabled, it is closed, not left streaming."""
    while not socket.closed:
        await asyncio.sleep(RECHECK_EVERY)
        try:
            still = await access.authenticate(request)
        except web.HTTPException:
            still = None
        if still is None or view_for(still) != view:
            await socket.close(code=WSCloseCode.POLICY_VIOLATION, message=b"logged out")


async def _close_sockets(app: web.Application) -> None:
    for reader in list(app[FEED].readers):
        await reader.socket.close()
