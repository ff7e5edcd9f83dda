"""Calls that ended while no daemon ran: their records and COMPLETE lines.

A call an earlier daemon connected whose talk ended before the next daemon came (a
crash, a takeover) leaves nothing on Asterisk: the caller's channel, back in the
dialplan answered, hung up with no daemon to tell. The live state in Redis still holds
it as connected, with its connect time (``LiveState.connected_calls``). After the first
resync, the calls there that this daemon did not resume and whose agent's phone is not
on a call are over: each gets its CallQueued, CallConnected and CallEnded published to
the subscribers (the records build the row from them; the queue_log is told not to
write ENTERQUEUE and CONNECT again). When it ended is not known: the talk time runs to
now (an upper bound) and ``by`` is ``unknown``.
"""
from __future__ import annotations

import logging
from typing import Any

from acd.daemon.ami_bridge import AMIBridge
from acd.daemon.live_engine import LiveEngine
from acd.engine.decisions import CallConnected, CallEnded, CallQueued

log = logging.getLogger(__name__)


async def record_calls_ended_away(live: LiveEngine, bridge: AMIBridge, live_state: Any, formatter: Any) -> int:
    """Publish the end of every such call; returns how many. ``formatter``: the
    queue_log's (None without one)."""
    try:
        calls = await live_state.connected_calls()
    except Exception as error:
        log.warning("calls of the last daemon not read from the live state", extra={"reason": repr(error)})
        return 0
    now, busy, ended = live.now(), bridge.busy_elsewhere, 0
    for call in calls:
        call_id, agent_id, queue = call["call_id"], str(call.get("agent") or ""), call["queue"]
        if not agent_id or agent_id in busy or call_id in live.engine.calls or call_id in bridge.resumed_calls:
            continue
        connected_at = call.get("connected_at") or now
        waited = call.get("waited")
        waited = connected_at - call["enqueued_at"] if waited is None else waited
        if formatter is not None:
            formatter.note_resumed(call_id)
        live.publish([
            CallQueued(now, call_id, queue, 1, call["requirements"], call["priority"], call["enqueued_at"]),
            CallConnected(now, call_id, agent_id, queue, waited, 0.0),
            CallEnded(now, call_id, agent_id, queue, "unknown", waited, max(0.0, now - connected_at))])
        log.warning("call ended while no daemon ran: recorded now, its talk time an upper bound",
                    extra={"call_id": call_id, "agent_id": agent_id})
        ended += 1
    return ended
