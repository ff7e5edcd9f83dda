"""The pure routing engine: ``Engine.handle(event) -> decisions``; no I/O, no clock."""
from acd.engine import decisions, events
from acd.engine.engine import AUTO_PAUSE_REASON, Engine
from acd.engine.states import AgentState, CallState

__all__ = ["AUTO_PAUSE_REASON", "AgentState", "CallState", "Engine", "decisions", "events"]
