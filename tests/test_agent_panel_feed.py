"""The agents' panel, run in node: its state and its caller come from the live feed (a
snapshot, then deltas); it reads the caller's history once per answered call, and its
only timer is the clock that makes the state and wait timers tick (no polling)."""
from __future__ import annotations

import json
import re
from pathlib import Path

from tests.test_pages_auth import node

PANEL = Path(__file__).resolve().parent.parent / "acd" / "api" / "agent.html"

#: a browser's globals, enough for the panel: elements by id, a WebSocket the test drives
PAGE = """
const elements = {};
const element = (id) => (elements[id] = elements[id] || { id, value: '', textContent: '', innerHTML: '', className: '',
                                                          style: {}, dataset: {}, readOnly: false, addEventListener() {} });
globalThis.document = { getElementById: element, querySelectorAll: () => [], documentElement: {} };
globalThis.localStorage = { getItem: () => 'en', setItem() {} };
globalThis.location = { protocol: 'http:', host: 'acd.example:8080' };
const fetched = [], intervals = [], sockets = [];
let ticks = [];
globalThis.setInterval = (f, ms) => { intervals.push(ms); ticks.push(f); };
globalThis.setTimeout = (f, ms) => intervals.push(ms);
globalThis.WebSocket = class { constructor(url) { this.url = url; sockets.push(this); } };
Date.now = () => 5000 * 1000;       // the page's clock: 5000 s, while the server's is 1000 s
globalThis.api = async (url) => { fetched.push(url); return { ok: true, json: async () => (
  url === '/api/me' ? { agent_id: '11', name: 'a11' } :
  url === '/api/pause-reasons' ? { reasons: ['break'], productive: [] } :
  url === '/api/escalation-units' ? { units: [{ name: 'a-desk', title: 'Pensions desk' }] } :
  { ok: true, caller: { call: 'c1' }, history: { calls: [{ call_id: 'c0', queue: 'q', enqueued_at: 900, outcome: 'abandoned',
                                                           waited: 30, agent_id: null }], tickets: [] } }) }; };
const settle = () => new Promise((r) => setImmediate(r));
"""


def test_the_panel_shows_its_state_and_caller_from_the_feed_and_reads_history_once_answered():
    script = re.findall(r"<script>(.*?)</script>", PANEL.read_text(encoding="utf-8"), re.S)[0]
    snapshot = {"type": "snapshot", "view": "agent", "at": 1000.0,
                "agent": {"id": "11", "state": "paused", "reason": "break", "since": 940.0}, "caller": None}
    ringing = {"type": "delta", "at": 1010.0, "caller": {
        "call": "c1", "number": "2101234567", "queue": "q", "topic": {"el": "Συντάξεις", "en": "Pensions"},
        "language": "el", "caller_type": "employer", "enqueued_at": 990.0, "answered_at": None, "ended_at": None,
        "waited": 20.0, "callback": False, "unit": "a-desk"},
        "agent": {"id": "11", "state": "ringing", "reason": None, "since": 1010.0, "phone": {"registered": False}}}
    answered = json.loads(json.dumps(ringing))
    answered["caller"].update(answered_at=1012.0, waited=22.0)
    answered["agent"].update(state="on_call", since=1012.0)
    result = node(PAGE + script + f"""
setImmediate(async () => {{
  for (let i = 0; i < 5; i++) await settle();
  const socket = sockets[0];
  socket.onmessage({{ data: {json.dumps(json.dumps(snapshot))} }});
  ticks.forEach((f) => f());
  const paused = [element('state').textContent, element('reason').textContent, element('timer').textContent,
                  element('caller').className];
  socket.onmessage({{ data: {json.dumps(json.dumps(ringing))} }});
  await settle();
  const rang = [element('state').textContent, element('number').textContent, element('topic').textContent,
                element('language').textContent, element('caller-type').textContent, element('phone').textContent,
                element('unit').value, fetched.filter((u) => u.endsWith('/caller')).length];
  socket.onmessage({{ data: {json.dumps(json.dumps(answered))} }});
  for (let i = 0; i < 5; i++) await settle();
  socket.onmessage({{ data: {json.dumps(json.dumps(answered))} }});
  for (let i = 0; i < 5; i++) await settle();
  ticks.forEach((f) => f());
  console.log(JSON.stringify({{ url: socket.url, paused, rang, fetched, intervals, waited: element('waited').textContent,
                                calls: element('calls').innerHTML }}));
}});
""")
    assert result["url"] == "ws://acd.example:8080/api/events"
    # 60 s in the state by the server's clock, whatever the page's clock says
    assert result["paused"] == ["Paused", "Break", "1:00", "empty"]
    assert result["rang"] == ["Ringing", "2101234567", "Pensions", "Greek", "Employer", "Phone not registered",
                              "a-desk", 0]
    assert result["waited"] == "0:22" and "abandoned" in result["calls"]
    assert result["fetched"].count("/api/agents/11/caller") == 1          # once per answered call
    assert "/api/agents" not in result["fetched"] and result["intervals"] == [1000]
