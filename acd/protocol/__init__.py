"""Our own AMI client and FastAGI server: sans-I/O parsers plus thin asyncio transports.

Why not panoramisk or pyst2: panoramisk 1.4 (no release since 2021) freezes the event
loop when a FastAGI client closes before its headers, desynchronises AGI replies after
a hang-up, corrupts UTF-8 split across reads (Greek caller names) and never returns
from QueueAdd; pyst2's FastAGI does not import on Python 3. The API keeps panoramisk's
pleasant shape (``on_event``, ``await action(...)``, handlers by script name).

This package imports nothing else of the project: the daemon depends on it, never the
other way round.
"""
from acd.protocol.agi import (
    AGIEnvironment,
    AGIParser,
    AGIProtocolError,
    AGIResponse,
    HangupNotice,
    encode_command,
)
from acd.protocol.agi_server import AGISession, FastAGIServer, Handler
from acd.protocol.ami import AMIMessage, AMIParser, encode_action
from acd.protocol.ami_client import AMIClient
from acd.protocol.errors import (
    AGICommandError,
    AGIHangup,
    AMIActionError,
    AMIAuthError,
    AMIConnectionLost,
    AMIError,
)

__all__ = [
    "AGICommandError", "AGIEnvironment", "AGIHangup", "AGIParser", "AGIProtocolError", "AGIResponse",
    "AGISession", "AMIActionError", "AMIAuthError", "AMIClient", "AMIConnectionLost", "AMIError",
    "AMIMessage", "AMIParser", "FastAGIServer", "Handler", "HangupNotice", "encode_action", "encode_command",
]
