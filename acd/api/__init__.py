"""The REST and WebSocket API: the agents' web panel, wallboards and supervisors."""
from acd.api.app import make_app

__all__ = ["make_app"]
