"""The agents' panel, run in node: its state comes from the live feed (a snapshot, then
deltas), and it no longer fetches the whole roster on a timer."""
from __future__ import annotations

import json
import re
from pathlib import Path

from tests.test_pages_auth import node

PANEL = Path(__file__).resolve().parent.parent / "acd" / "api" / "agent.html"

#: a browser's globals, enough for the panel: elements by id, a WebSocket the test drives
PAGE = """
const elements = {};
const element = (id) => (elements[id] = elements[id] || { id, value: '', textContent: '', innerHTML: '',
                                                          readOnly: false, addEventListener() {} });
globalThis.document = { getElementById: element, querySelectorAll: () => [] };
globalThis.location = { protocol: 'http:', host: 'acd.example:8080' };
const fetched = [], timers = [], sockets = [];
globalThis.setInterval = (f, ms) => timers.push(ms);
globalThis.setTimeout = (f, ms) => timers.push(ms);
globalThis.WebSocket = class { constructor(url) { this.url = url; sockets.push(this); } };
globalThis.api = async (url) => { fetched.push(url); return { json: async () => (
  url === '/api/me' ? { agent_id: '11' } : { reasons: ['break'], productive: [] }) }; };
"""


def test_the_panel_shows_its_state_from_the_feed_without_polling_the_roster():
    script = re.findall(r"<script>(.*?)</script>", PANEL.read_text(encoding="utf-8"), re.S)[0]
    snapshot = {"type": "snapshot", "view": "agent", "agent": {"id": "11", "state": "paused", "reason": "break"}}
    delta = {"type": "delta", "at": 1.0, "agent": {"id": "11", "state": "available", "reason": None,
                                                    "phone": {"registered": False}}}
    result = node(PAGE + script + f"""
setImmediate(async () => {{
  await new Promise((r) => setImmediate(r));
  const socket = sockets[0];
  socket.onmessage({{ data: {json.dumps(json.dumps(snapshot))} }});
  const first = element('state').textContent;
  socket.onmessage({{ data: {json.dumps(json.dumps(delta))} }});
  console.log(JSON.stringify({{ url: socket.url, first, then: element('state').textContent, fetched, timers }}));
}});
""")
    assert result["url"] == "ws://acd.example:8080/api/events"
    assert (result["first"], result["then"]) == ("paused (break)", "available - phone not registered")
    assert "/api/agents" not in result["fetched"] and result["timers"] == []
