"""Citizens' phone numbers by call id, for the tickets the back office calls back on.

The engine never sees a caller's number (routing does not need it), and the waiting
room hands it only to the queue_log line at entry. A ticket needs it later, after the
call. AMI's ``Newchannel`` event carries ``CallerIDNum`` and the channel's ``Uniqueid``,
which the dialplan makes the call id (``ACD_CALLID=${UNIQUEID}`` in ``acd-inbound``),
so listening to it is enough, with no change to the call path. Only channels created in
the citizens' context count (agents' phones and callback legs are not citizens), and the
memory is bounded: a number older than ``memory`` calls is forgotten, and a ticket then
simply has no number.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Protocol

#: what Asterisk writes when a channel has no caller id
_NO_NUMBER = ("", "<unknown>", "anonymous")


class EventSource(Protocol):
    def on_event(self, name: str, callback: Any) -> None: ...


class CallerNumbers:
    def __init__(self, context: str = "acd-inbound", memory: int = 50_000) -> None:
        self.context = context
        self.memory = memory
        self._numbers: OrderedDict[str, str] = OrderedDict()

    def install(self, ami: EventSource) -> None:
        ami.on_event("Newchannel", self.on_newchannel)

    def on_newchannel(self, message: Any) -> None:
        if (message.get("Context") or "") != self.context:
            return
        call_id, number = message.get("Uniqueid") or "", (message.get("CallerIDNum") or "").strip()
        if call_id and number.lower() not in _NO_NUMBER:
            self.note(call_id, number)

    def note(self, call_id: str, number: str) -> None:
        self._numbers[call_id] = number
        self._numbers.move_to_end(call_id)
        while len(self._numbers) > self.memory:
            self._numbers.popitem(last=False)

    def number(self, call_id: str) -> str | None:
        return self._numbers.get(call_id)
