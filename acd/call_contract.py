"""The call contract: the ACD_* channel variables the dialplan, the IVR and the waiting
room share, their result values, and what a caller's re-entry into the waiting room keeps.

The routing attributes live on the channel so that a restarted daemon rebuilds its line
from them; every party reads the names from here. Issue 14 moves the remaining literal
names here; the rule below is the one that must never be written twice.

Re-entry after a max-wait exit (``ACD_EXIT``): the same call id always; the place in
line (``ACD_ENQUEUED_AT``) only where the caller keeps it:

- ``queue``: another queue, with its own max wait: a fresh place (reset), else that
  queue's max wait would end at once;
- ``callback``: the caller leaves a number and keeps the place earned by waiting; the
  engine applies no max wait to a callback (its window is kept by the daemon), so the
  original time is safe to keep.
"""
from __future__ import annotations

from collections.abc import Mapping

CALLID = "ACD_CALLID"
QUEUE = "ACD_QUEUE"
ENQUEUED_AT = "ACD_ENQUEUED_AT"
CALLBACK = "ACD_CALLBACK"
WAIT_RESULT = "ACD_WAIT_RESULT"
EXIT = "ACD_EXIT"
EXIT_TARGET = "ACD_EXIT_TARGET"
IVR_RESULT = "ACD_IVR_RESULT"

#: ``ACD_WAIT_RESULT`` values (empty: the daemon went away, loop back into ``wait``)
WAIT_ANSWERED, WAIT_EXIT, WAIT_ERROR = "answered", "exit", "error"
#: ``ACD_IVR_RESULT`` values
IVR_QUEUE, IVR_GOODBYE = "queue", "goodbye"

#: exit kind -> the variables emptied before the caller goes back into ``wait``
REENTRY_RESETS: Mapping[str, tuple[str, ...]] = {"queue": (ENQUEUED_AT,), "callback": ()}


def reentry_resets(exit_kind: str) -> tuple[str, ...]:
    """The channel variables a re-entry after ``exit_kind`` resets (none for an exit
    that does not come back to the waiting room)."""
    return REENTRY_RESETS.get(exit_kind, ())
