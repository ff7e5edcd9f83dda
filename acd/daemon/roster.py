"""Who is logged in and paused, kept on disk so a restarted daemon does not log every
agent out.

Callers survive a restart through their channel variables; agents have no channel
while idle, so their state (logged in, paused with which reason) is written to a small
JSON file on every change and read back at start. The file is replaced atomically
(write, then rename) so a crash mid-write leaves the previous roster, never half of one.
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from acd.engine import decisions as d
from acd.engine import events as e

log = logging.getLogger(__name__)


class AgentRoster:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.states: dict[str, dict[str, str | None]] = {}

    def load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as error:
            log.error("agent roster unreadable; agents must log in again", extra={"path": str(self.path),
                                                                                  "reason": str(error)})
            return
        if isinstance(data, dict):
            self.states = {str(k): v for k, v in data.items() if isinstance(v, dict)}

    def take_live(self, agents: Mapping[str, Mapping[str, Any]]) -> None:
        """Take the agents' states from the live state in Redis (``LiveState.agents``)
        instead of the file: a standby taking over on another host has only a stale
        file, while the active daemon kept Redis current."""
        states: dict[str, dict[str, str | None]] = {}
        for agent_id, state in agents.items():
            name = str(state.get("state", "logged_out"))
            if name == "logged_out":
                states[agent_id] = {"state": "logged_out", "reason": None}
            elif name == "paused":
                states[agent_id] = {"state": "paused", "reason": state.get("reason")}
            else:
                states[agent_id] = {"state": "logged_in", "reason": None}
        self.states = states

    def restore_events(self, at: float, known_agents: Sequence[str]) -> list[e.Event]:
        """Events that bring a fresh engine back to the saved logins and pauses."""
        events: list[e.Event] = []
        for agent_id, state in self.states.items():
            if agent_id not in known_agents or state.get("state") in (None, "logged_out"):
                continue
            events.append(e.AgentLoggedIn(at, agent_id))
            if state.get("state") == "paused":
                events.append(e.AgentPaused(at, agent_id, state.get("reason") or "break"))
        return events

    def __call__(self, decisions: Sequence[d.Decision]) -> None:
        changed = False
        for decision in decisions:
            if isinstance(decision, d.AgentStatus):
                logged_in = decision.state != "logged_out"
                paused = decision.state == "paused"
                entry = {"state": "paused" if paused else ("logged_in" if logged_in else "logged_out"),
                         "reason": decision.reason if paused else None}
                if self.states.get(decision.agent_id) != entry:
                    self.states[decision.agent_id] = entry
                    changed = True
        if changed:
            self._save()

    def _save(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.states, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            log.exception("agent roster not saved", extra={"path": str(self.path)})
