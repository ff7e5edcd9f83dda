"""A queue_log in Asterisk's own format, written from the engine's decisions.

Existing reporting tools (QueueMetrics, Asternic, home-grown SQL loaders) read the file
app_queue writes, so we write the same lines, into the same file (docs/records.md, "The
queue_log", says why one file, and how a rig test compares the two writers). Every
layout below was checked against Asterisk 16.28's source, not remembered:

- main/logger.c ``ast_queue_log``: ``"%ld|%s|%s|%s|%s|" time, callid, queuename, agent,
  event`` followed by the event's own fields, ``|``-separated, one line per event.
- apps/app_queue.c (tag 16.28.0):

  ========================  ============================================  ==============
  event                     data fields                                   callid / agent
  ========================  ============================================  ==============
  ENTERQUEUE                url|callerid|position                         uniqueid / NONE
  CONNECT                   holdtime|peer uniqueid|ringtime (s)           uniqueid / member
  COMPLETECALLER/-AGENT     holdtime|calltime|origposition                uniqueid / member
  BLINDTRANSFER             exten|context|holdtime|calltime|origposition  uniqueid / member
  ATTENDEDTRANSFER          BRIDGE|id, APP|app or LINK|chan1|chan2,        uniqueid / member
                            then holdtime|calltime|origposition
  ABANDON                   position|origposition|waittime                uniqueid / NONE
  EXITWITHTIMEOUT           position|origposition|waittime                uniqueid / NONE
  RINGNOANSWER              ringtime (ms)                                 uniqueid / member
  RINGCANCELED              ringtime (ms)                                 uniqueid / member
  ADDMEMBER                 "" (or PAUSED)                                MANAGER / member
  REMOVEMEMBER              ""                                            MANAGER / member
  PAUSEALL/UNPAUSEALL       reason                                        NONE (queue NONE) / member
  PAUSE/UNPAUSE             reason                                        NONE / member
  ========================  ============================================  ==============

The member is app_queue's *member name*, not its interface: with ``log_membername_as_agent``
(asterisk-config/queues.conf) app_queue writes ``mem->membername`` in every line above,
and the generated fallback queues name each member by ``member_name`` (the agent's
``name``), so a report joins both paths on one name per person. The engine's automatic
pause is written with app_queue's reason ``Auto-Pause``. The degraded path's app_queue
queues are named as the config's wherever the caller's topic is known; only a caller of
unknown topic is logged under ``acd-fallback`` (docs/records.md).

Agents are not members of one queue here but hold skills; a log-in, log-out or pause is
written once per queue the agent can ever serve (as app_queue writes one line per queue
for a member of several queues), so per-queue reports of staffed time stay right.

Not written, because the daemon never does what they report: EXITEMPTY (app_queue's
``leavewhenempty``: the engine keeps a caller until ``max_wait`` whoever is logged in),
EXITWITHKEY (a waiting caller here has no key to leave by) and AGENTDUMP (app_queue's
agent hanging up during its announcement before the bridge: the daemon bridges at
answer). A transfer replaces the COMPLETE line, as in app_queue: a blind one is read from
the caller's channel when its Dial returns (``WaitingRoom._note_blind_transfer``), an
attended one comes from AMI (``attended_transfer_from_ami``) and ends the call at once
(``WaitingRoom.attended_transfer``): the caller's Dial returns only when its talk with
the colleague ends.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from acd.config.model import Config, member_name
from acd.engine import decisions as d
from acd.engine.engine import AUTO_PAUSE_REASON
from acd.engine.lines import qualifies, requirements_at

log = logging.getLogger(__name__)

#: callid and agent fields when the line is not about one call or one member
NONE = "NONE"
#: callid of membership changes not tied to a call (app_queue writes this for AMI QueueAdd)
MANAGER = "MANAGER"


#: the engine's pause reasons app_queue has its own word for (``rna()`` pauses with "Auto-Pause")
APP_QUEUE_REASONS: Mapping[str, str] = {AUTO_PAUSE_REASON: "Auto-Pause"}


def attended_transfer_from_ami(message: Any) -> tuple[tuple[str, ...], str, tuple[str, ...]] | None:
    """A successful AMI ``AttendedTransfer`` (main/stasis_bridges.c, Asterisk 16.28) as
    (the uniqueids one of which may be a queue's caller, ``ATTENDEDTRANSFER``, the fields
    app_queue writes before holdtime|calltime|origposition); None for anything else, and
    for the kinds app_queue does not log (Threeway, Fail). The caller is the transferee
    when the agent's phone sends its REFER on the caller's dialog, and the transfer
    target when it sends it on the consultation's (main/bridge.c
    ``ast_bridge_transfer_attended`` names the peers of its two arguments), so both
    are given, as app_queue's ``handle_attended_transfer`` matches either bridge. A blind
    transfer is not taken from AMI's ``BlindTransfer``: the caller's channel says it
    before that event arrives (``WaitingRoom._note_blind_transfer``)."""
    def get(key: str) -> str:
        return str(message.get(key, "") or "")

    if get("Event") != "AttendedTransfer" or get("Result") != "Success":
        return None
    dest = {"Bridge": ("BRIDGE", get("DestBridgeUniqueid")), "App": ("APP", get("DestApp")),
            "Link": ("LINK", get("LocalOneChannel"), get("LocalTwoChannel"))}.get(get("DestType"))
    uniqueids = tuple(u for u in (get("TransfereeUniqueid"), get("TransferTargetUniqueid")) if u)
    return (uniqueids, "ATTENDEDTRANSFER", dest) if dest is not None and uniqueids else None


def _clean(value: object) -> str:
    """A field never carries the separator or a line break: one event is one line."""
    return str(value).replace("|", "/").replace("\n", " ").replace("\r", " ")


def _seconds(end: float, duration: float) -> int:
    """A duration as app_queue writes it: the difference of two whole-second clocks
    (``time(NULL) - qe->start``), not the duration rounded down, so both paths round alike."""
    return int(end) - int(end - duration)


def serving_queues(config: Config) -> dict[str, list[str]]:
    """Agent id -> the queues whose requirements it meets at the widest stage (those it can
    ever be offered), in config order."""
    result: dict[str, list[str]] = {agent_id: [] for agent_id in config.agents}
    for queue in config.queues.values():
        widest = requirements_at(queue.requirements, queue, len(queue.widening))
        for agent in config.agents.values():
            if qualifies(agent.skills, widest):
                result[agent.id].append(queue.name)
    return result


class QueueLogFormatter:
    """Turns decisions into queue_log lines (without I/O, so it is tested line by line).

    Keeps the little per-call memory the lines need and the decisions do not carry: the
    original position (for COMPLETE*), when each offer started (for RINGCANCELED), the
    caller id given at entry and the agent channel's uniqueid (for CONNECT).
    """

    def __init__(self, config: Config) -> None:
        self.reconfigure(config)
        self._original_position: dict[str, int] = {}
        self._offered_at: dict[str, tuple[float, str]] = {}
        self._caller_id: dict[str, str] = {}
        self._peer: dict[str, str] = {}
        self._requeued: set[str] = set()
        self._resumed: set[str] = set()
        self._transferred: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._restoring: frozenset[str] = frozenset()

    def reconfigure(self, config: Config) -> None:
        """Follow a reloaded config (new agents, queues or skills)."""
        self._members = {agent.id: member_name(agent) for agent in config.agents.values()}
        self._queues_of = serving_queues(config)

    def note_caller(self, call_id: str, caller_id: str) -> None:
        """Remember the caller's number for the ENTERQUEUE line (the engine does not know it)."""
        self._caller_id[call_id] = caller_id

    def note_requeued(self, call_id: str) -> None:
        """The call's next CallQueued is a restarted daemon taking back a caller whose
        ENTERQUEUE an earlier one wrote: no second line (app_queue writes one per wait)."""
        self._requeued.add(call_id)

    def note_resumed(self, call_id: str) -> None:
        """The call's next CallQueued and CallConnected resume a call an earlier daemon
        connected (``CallResumed``): their ENTERQUEUE and CONNECT are written already."""
        self._resumed.add(call_id)

    def note_peer(self, call_id: str, peer_uniqueid: str) -> None:
        """Remember the agent channel's uniqueid for the CONNECT line."""
        self._peer[call_id] = peer_uniqueid

    def note_transfer(self, call_id: str, event: str, fields: tuple[str, ...]) -> None:
        """The agent transferred the call (blind or attended): its end is written as
        that transfer instead of COMPLETECALLER/COMPLETEAGENT, as app_queue does."""
        self._transferred[call_id] = (event, fields)

    @contextmanager
    def restoring(self, agent_ids: Iterable[str]) -> Iterator[None]:
        """While a restarted daemon logs the saved roster back in: those agents' logins and
        pauses were written by the daemon before, and app_queue writes no ADDMEMBER for a
        member it already has, so none are written again."""
        self._restoring = frozenset(agent_ids)
        try:
            yield
        finally:
            self._restoring = frozenset()

    def lines(self, decision: d.Decision) -> list[str]:
        at = int(decision.at)
        match decision:
            case d.CallQueued():
                self._original_position[decision.call_id] = decision.position
                caller = self._caller_id.pop(decision.call_id, "")
                if decision.call_id in self._requeued or decision.call_id in self._resumed:
                    self._requeued.discard(decision.call_id)
                    return []
                return [self._line(at, decision.call_id, decision.queue, NONE, "ENTERQUEUE",
                                   "", caller, decision.position)]
            case d.OfferCall():
                self._offered_at[decision.call_id] = (decision.at, decision.queue)
                return []
            case d.CallConnected():
                self._offered_at.pop(decision.call_id, None)
                peer = self._peer.pop(decision.call_id, "")
                if decision.call_id in self._resumed:
                    self._resumed.discard(decision.call_id)
                    return []
                return [self._line(at, decision.call_id, decision.queue, self._member(decision.agent_id),
                                   "CONNECT", _seconds(decision.at, decision.waited), peer, int(decision.ring_time))]
            case d.CallEnded():
                event, fields = self._transferred.pop(decision.call_id, (
                    "COMPLETECALLER" if decision.by == "caller" else "COMPLETEAGENT", ()))
                position = self._original_position.pop(decision.call_id, 0)
                return [self._line(at, decision.call_id, decision.queue, self._member(decision.agent_id), event,
                                   *fields, _seconds(decision.at - decision.talk_time, decision.waited),
                                   _seconds(decision.at, decision.talk_time), position)]
            case d.CallAbandoned():
                self._forget(decision.call_id)
                return [self._line(at, decision.call_id, decision.queue, NONE, "ABANDON",
                                   decision.position, decision.original_position, _seconds(decision.at, decision.waited))]
            case d.ExitCall():
                original = self._original_position.get(decision.call_id, decision.position)
                self._forget(decision.call_id)
                return [self._line(at, decision.call_id, decision.queue, NONE, "EXITWITHTIMEOUT",
                                   decision.position, original, _seconds(decision.at, decision.waited))]
            case d.CallbackCancelled() if decision.made_before:
                self._forget(decision.call_id)          # the earlier daemon's queue_log has it
                return []
            case d.CallbackCancelled():
                # a callback given up (its window passed): it left the queue by timeout
                original = self._original_position.get(decision.call_id, 1)
                self._forget(decision.call_id)
                return [self._line(at, decision.call_id, decision.queue, NONE, "EXITWITHTIMEOUT",
                                   1, original, _seconds(decision.at, decision.waited))]
            case d.OfferWithdrawn():
                self._offered_at.pop(decision.call_id, None)   # nothing rang: no RINGNOANSWER
                return []
            case d.OfferMissed():
                self._offered_at.pop(decision.call_id, None)
                return [self._line(at, decision.call_id, decision.queue, self._member(decision.agent_id),
                                   "RINGNOANSWER", round(decision.ring_time * 1000))]
            case d.CancelOffer() if decision.reason == "ring_deadline":
                return []     # the OfferMissed that follows writes its RINGNOANSWER
            case d.CancelOffer():
                started, queue = self._offered_at.pop(decision.call_id, (decision.at, NONE))
                return [self._line(at, decision.call_id, queue, self._member(decision.agent_id),
                                   "RINGCANCELED", round((decision.at - started) * 1000))]
            case d.AgentStatus():
                return self._agent_lines(at, decision)
        return []

    def _agent_lines(self, at: int, status: d.AgentStatus) -> list[str]:
        if status.agent_id in self._restoring:
            return []
        member = self._member(status.agent_id)
        queues = self._queues_of.get(status.agent_id, [])
        if status.previous == "logged_out" and status.state != "logged_out":
            return [self._line(at, MANAGER, q, member, "ADDMEMBER", "") for q in queues]
        if status.state == "logged_out":
            return [self._line(at, MANAGER, q, member, "REMOVEMEMBER", "") for q in queues]
        if status.state == "paused":
            reason = APP_QUEUE_REASONS.get(status.reason or "", status.reason or "")
            return ([self._line(at, NONE, NONE, member, "PAUSEALL", reason)]
                    + [self._line(at, NONE, q, member, "PAUSE", reason) for q in queues])
        if status.previous == "paused":
            return ([self._line(at, NONE, NONE, member, "UNPAUSEALL", "")]
                    + [self._line(at, NONE, q, member, "UNPAUSE", "") for q in queues])
        return []

    def _member(self, agent_id: str) -> str:
        return self._members.get(agent_id, agent_id)

    def _forget(self, call_id: str) -> None:
        self._original_position.pop(call_id, None)
        self._offered_at.pop(call_id, None)
        self._peer.pop(call_id, None)
        self._caller_id.pop(call_id, None)
        self._transferred.pop(call_id, None)

    @staticmethod
    def _line(at: int, call_id: str, queue: str, agent: str, event: str, *data: object) -> str:
        return "|".join([str(at), _clean(call_id), _clean(queue), _clean(agent), event,
                         *(_clean(value) for value in data)])


class QueueLogWriter:
    """Appends the formatter's lines to the queue_log file, Asterisk's own when the config
    points there (docs/records.md, "The queue_log"), one write per batch of decisions (an event's
    decisions), like Asterisk's fflush after every line but without a system call per
    line under load.

    The file is opened unbuffered in append mode (``O_APPEND``), so each batch is one
    ``write()`` at the file's end: Asterisk's logger appends its lines to the same file
    the same way, and neither can land inside the other's line."""

    def __init__(self, path: str | os.PathLike[str], config: Config) -> None:
        self.path = Path(path)
        self.formatter = QueueLogFormatter(config)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self._open()

    def _open(self) -> Any:
        return open(self.path, "ab", buffering=0)

    def reconfigure(self, config: Config) -> None:
        self.formatter.reconfigure(config)

    def __call__(self, decisions: Iterable[d.Decision]) -> None:
        self._write([line for decision in decisions for line in self.formatter.lines(decision)])

    def _write(self, lines: list[str]) -> None:
        if lines:
            data = ("\n".join(lines) + "\n").encode("utf-8")
            try:
                while data:     # a short write (disk nearly full) goes on where it stopped
                    data = data[self._file.write(data):]
            except OSError:
                log.exception("queue_log write failed", extra={"path": str(self.path)})

    def reopen(self) -> None:
        """Close and open the file again by its name: after logrotate has moved it, new
        lines go to a new file (Asterisk's own queue_log does this on ``logger reload``).
        If the new file cannot be opened, the old handle stays and lines are not lost."""
        try:
            fresh = self._open()
        except OSError:
            log.exception("queue_log not reopened; writing on to the old file", extra={"path": str(self.path)})
            return
        old, self._file = self._file, fresh
        old.close()

    def close(self) -> None:
        self._file.close()
