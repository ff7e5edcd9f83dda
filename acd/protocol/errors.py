"""The protocol layer's failure modes, as exceptions callers are expected to catch."""
from __future__ import annotations


class AMIError(Exception):
    """Base of every AMI failure."""


class AMIAuthError(AMIError):
    """Asterisk refused the Login (wrong username or secret, or the user has no access)."""


class AMIConnectionLost(AMIError, ConnectionError):
    """The AMI link dropped (or was never up) while an action waited for its answer."""


class AMIActionError(AMIError):
    """An action Asterisk answered with ``Response: Error`` where a list was expected."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"{action}: {message}")
        self.action = action
        self.message = message


class AGIHangup(ConnectionError):
    """The caller's channel is gone: Asterisk said HANGUP, refused a command with 511,
    answered result=-1, or closed the connection. Handlers expect it; the server logs it
    at info level."""


class AGICommandError(Exception):
    """Asterisk did not understand a command (510 unknown, 520 wrong usage): a bug in
    the script, not in the call."""

    def __init__(self, code: int, text: str, command: str) -> None:
        super().__init__(f"AGI {code} for {command!r}: {text.splitlines()[0] if text else ''}")
        self.code = code
        self.text = text
        self.command = command
