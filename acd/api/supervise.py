"""The supervisor's side of the API: the floor page and listening in on agents' calls.

``/supervisor`` is the floor page (``wallboard.html``, the same page as ``/``: a
wallboard's login sees the queues, a supervisor's also every agent and the actions;
``?big=1`` is the big-screen mode for a room). Pausing and logging an agent out reuse
``POST /api/agents/{id}/{pause|unpause|logout}``, which a supervisor may use on any agent.

``POST /api/agents/{agent_id}/spy/{listen|whisper|barge}`` rings the supervisor's own
phone (``access.supervisor_phones``: one per user name; a request cannot name another,
so nobody makes Asterisk dial a number of their choosing) and, once it answers, joins the
agent's call with ChanSpy. Facts used (Asterisk 16.28's own documentation of ChanSpy,
``core-en_US.xml``; ``app_chanspy.so``, which ``asterisk-config/modules.conf`` loads):

- ``ChanSpy(chanprefix,options)`` spies on channels whose name begins with ``chanprefix``.
  An agent's leg is named ``PJSIP/<endpoint>-<8 hex digits>``, so the prefix is the
  endpoint *with its dash*: ``PJSIP/agent-41-`` never matches ``PJSIP/agent-410-...``.
- options: ``q`` no beep and no channel name spoken (the agent and the citizen hear
  nothing of it), ``b`` only a channel in a bridged call (the conversation, not a phone
  still ringing), ``E`` exit when the spied-on channel hangs up, ``S`` stop when there is
  nothing left to spy on (so the supervisor's phone is hung up rather than left waiting);
  then ``w`` (whisper: the supervisor talks to the agent only) or ``B`` (barge: both
  parties hear the supervisor); listening adds nothing.
- AMI ``Originate`` (main/manager.c; class ``originate``, which the daemon's AMI user has)
  with ``Application``/``Data`` runs that application on the new channel once it
  answers; ``Async: true`` answers at once, the phone's fate comes later in
  ``OriginateResponse``. ``ChannelId`` names the supervisor's channel's Uniqueid, which
  the answer returns so it can be followed (``ChanSpyStart`` carries it as the spyer).

Every listen, whisper and barge is kept in the audit log (who, which agent, which call,
which phone; never the caller's number).
"""
from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from acd.api.access import ACCESS, Handler, audited, identity_of, needs, route
from acd.auth.roles import AGENTS_READ, CALLS_LISTEN
from acd.engine import AgentState
from acd.protocol.errors import AMIError

#: the daemon's AMI client (``acd.protocol.AMIClient``); None: listening answers 503
AMI_LINK: web.AppKey[Any] = web.AppKey("ami_link", object)

#: spy mode -> ChanSpy options (see the module's docstring)
SPY_OPTIONS: dict[str, str] = {"listen": "qbES", "whisper": "qbESw", "barge": "qbESB"}
#: how long the supervisor's phone rings before Originate gives up (ms)
RING_MS = 30000
#: seconds the AMI answer to Originate may take
ORIGINATE_TIMEOUT = 5.0


def add_routes(app: web.Application, page: Handler) -> None:
    """The supervisor's routes, with their access rules; ``page``: the floor page's
    handler (the wallboard's, ``acd.api.app``)."""
    app.setdefault(AMI_LINK, None)
    route(app, "GET", "/supervisor", page, needs(AGENTS_READ, page=True))
    route(app, "POST", "/api/agents/{agent_id}/spy/{mode}", spy, needs(CALLS_LISTEN))


def originate_fields(mode: str, endpoint: str, phone: str, channel_id: str, agent_id: str) -> dict[str, str]:
    """The AMI ``Originate`` that rings ``phone`` and spies on ``endpoint``'s call."""
    return {"Channel": phone, "Application": "ChanSpy", "Data": f"PJSIP/{endpoint}-,{SPY_OPTIONS[mode]}",
            "Timeout": str(RING_MS), "Async": "true", "ChannelId": channel_id,
            "CallerID": f'"{mode} {agent_id}" <{agent_id}>'}


async def spy(request: web.Request) -> web.Response:
    """202 once Asterisk accepted the Originate (the supervisor's phone is ringing)."""
    from acd.api.app import LIVE

    mode = request.match_info["mode"]
    if mode not in SPY_OPTIONS:
        raise web.HTTPNotFound(text=f"unknown mode {mode!r}; use one of {', '.join(SPY_OPTIONS)}")
    live = request.app[LIVE]
    agent_id = request.match_info["agent_id"]
    agent = live.engine.agents.get(agent_id)
    if agent is None:
        raise web.HTTPNotFound(text=f"no agent {agent_id!r}")
    if agent.state is not AgentState.ON_CALL or agent.call_id is None:
        return web.json_response({"ok": False, "reason": f"agent {agent_id} is {agent.state.value}, not on a call"},
                                 status=409)
    identity = identity_of(request)
    phone = request.app[ACCESS].supervisor_phones.get(identity.name)
    if phone is None:
        return web.json_response({"ok": False, "reason": f"no phone for {identity.name}: add it to the config's "
                                                         "access.supervisor_phones"}, status=409)
    ami = request.app[AMI_LINK]
    if ami is None or not getattr(ami, "connected", False):
        raise web.HTTPServiceUnavailable(text="no AMI link to Asterisk: nothing can ring your phone now")
    channel_id = f"acd-spy-{uuid.uuid4().hex[:16]}"
    fields = originate_fields(mode, agent.config.endpoint, phone, channel_id, agent_id)
    try:
        answer = await ami.action("Originate", timeout=ORIGINATE_TIMEOUT, **fields)
    except (AMIError, ConnectionError, TimeoutError, OSError) as error:
        raise web.HTTPServiceUnavailable(text=f"Asterisk did not take the call: {error!r}") from None
    if answer.get("Response") != "Success":
        return web.json_response({"ok": False, "reason": str(answer.get("Message", "Originate refused"))}, status=502)
    await audited(request, f"agent.{mode}", agent_id, None, {"call": agent.call_id, "phone": phone,
                                                             "channel": channel_id})
    return web.json_response({"ok": True, "mode": mode, "agent": agent_id, "call": agent.call_id, "phone": phone,
                              "channel_id": channel_id}, status=202)
