"""The supervisor's view in a real browser (Debian's Chromium under selenium): a caller
placed in the engine shows on the view with its queue and growing wait, the supervisor
unpauses the agent from the view, and the agent's row shows the call; the big-screen mode
of the 1555 line's floor at 1400x900 and 1920x1080, screenshots kept in test-artifacts/.
Selenium is synchronous, so it runs in a thread while the API serves on this loop."""
from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from selenium.webdriver.common.by import By

from acd.api import make_app
from acd.api.app import TODAY
from acd.api.floor import local_midnight, queue_members
from acd.config import load_config
from acd.pin_guard import PinGuard
from acd.daemon.live_engine import LiveEngine
from acd.engine import AgentState
from acd.engine import events as e
from acd.metrics import CallOutcome
from tests.auth_helpers import PASSWORD, PLAIN_HTTP, people
from tests.engine_helpers import make_config

QUEUES = """\
q:
  title: {el: 'Συντάξεις', en: Pensions}
  requires: {topic:a: 1}
  service_level: {threshold: 20, target: 0.8}
v:
  title: {el: 'Καταγγελίες βίας', en: Violence}
  requires: {topic:b: 1}
  service_level: {threshold: 10, target: 0.9}
"""
AGENTS = """\
'11': {name: Ελένη Μάρκου, pin: '1234', skills: {topic:a: 3}}
'12': {name: Νίκος Παππάς, pin: '9999', skills: {topic:b: 3}}
"""


async def serve(live: LiveEngine, tmp_path: Any) -> AsyncIterator[str]:
    settings = replace(PLAIN_HTTP, supervisor_phones={"sup": "PJSIP/sup-1"})
    app = make_app(live, PinGuard(), auth=await people(tmp_path), settings=settings)
    server = TestServer(app)
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def row_text(browser: Any, css: str) -> str:
    """Found and read in one step: the page rebuilds its rows every second."""
    return " ".join(browser.driver.execute_script("return document.querySelector(arguments[0]).innerText", css).split())


def click(browser: Any, css: str) -> None:
    browser.driver.execute_script("document.querySelector(arguments[0]).click()", css)


async def test_a_waiting_caller_and_the_agent_who_takes_it_show_on_the_supervisor_view(tmp_path, browser):
    live = LiveEngine(make_config(QUEUES, AGENTS))
    live.feed(e.AgentLoggedIn(live.now(), "11"))
    live.feed(e.AgentPaused(live.now(), "11", "break"))
    async for base in serve(live, tmp_path):
        await asyncio.to_thread(browser.log_in, base, "sup", PASSWORD, "/supervisor")
        await asyncio.to_thread(browser.wait_for_text, r"Ελένη Μάρκου", "#agents")
        live.feed(e.CallArrived(live.now(), "c1", "q"))
        # the caller on the queue's row, its wait growing on the page's clock
        await asyncio.to_thread(browser.wait_for_text, r"Συντάξεις 1 0:0[2-9]", "tr[data-queue=q]")
        agent = await asyncio.to_thread(row_text, browser, "tr[data-agent='11']")
        assert "paused" in agent and "break" in agent
        browser.screenshot("supervisor_caller_waiting")
        # the supervisor ends the agent's pause from the view; the call is offered to 11
        await asyncio.to_thread(click, browser, "tr[data-agent='11'] button[data-act=unpause]")
        await asyncio.to_thread(browser.wait_for_text, r"ringing", "tr[data-agent='11']")
        assert live.engine.agents["11"].state is AgentState.RINGING
        live.feed(e.OfferAnswered(live.now(), "c1", "11"))
        text = await asyncio.to_thread(browser.wait_for_text, r"on call", "tr[data-agent='11']")
        assert "Συντάξεις" in text and re.search(r"0:0\d", text)           # its queue and the caller's wait
        assert re.search(r"listen\s*whisper\s*barge", text)
        queue = await asyncio.to_thread(row_text, browser, "tr[data-queue=q]")
        assert queue.startswith("Συντάξεις 0 – 1")                         # nobody waiting, one talking
        assert await asyncio.to_thread(browser.javascript_errors) == []


async def test_the_wallboard_login_sees_the_queues_and_no_agent_or_action(tmp_path, browser):
    live = LiveEngine(make_config(QUEUES, AGENTS))
    live.feed(e.AgentLoggedIn(live.now(), "12"))
    live.feed(e.CallArrived(live.now(), "c1", "v", enqueued_at=live.now() - 12))
    async for base in serve(live, tmp_path):
        await asyncio.to_thread(browser.log_in, base, "kiosk", PASSWORD, "/")
        text = await asyncio.to_thread(browser.wait_for_text, r"Καταγγελίες βίας", "#queues")
        assert "Νίκος" not in await asyncio.to_thread(browser.text)
        assert await asyncio.to_thread(lambda: browser.driver.find_element(By.ID, "agents-section").is_displayed()) is False
        assert "Europe/Athens" in await asyncio.to_thread(browser.text, "#date")
        assert text


# -- the 1555 line's floor, big screen -----------------------------------------------------------

def busy_floor(live: LiveEngine, seed: int = 7) -> None:
    """A mid-morning floor on the 1555 line: most agents logged in, most on calls, a few
    paused or in wrap-up, callers waiting where a team is short (labour), and the morning's
    finished calls in today's figures (``LiveFigures.add``, as each call would have)."""
    rng = random.Random(seed)
    config = live.engine.config
    now = live.now()
    members = queue_members(config)
    for agent_id in config.agents:
        if rng.random() < 0.8 and not agent_id.startswith("22") or agent_id in ("2201", "2202", "2203", "2204"):
            live.feed(e.AgentLoggedIn(now, agent_id))
    for agent_id, reason in (("2005", "break"), ("2017", "lunch"), ("2102", "training"), ("2301", "backoffice")):
        if agent_id in live.engine.agents:
            live.feed(e.AgentPaused(now, agent_id, reason))
    waits = {"labour": [95, 71, 48, 33, 12, 5], "pensions": [14, 6], "violence": [4], "unemployment": [23]}
    n = 0
    for queue, agents in members.items():
        free = [a for a in agents if live.engine.agents[a].state is AgentState.AVAILABLE]
        for agent_id in free[: max(0, len(free) - rng.randint(1, 3))]:
            n += 1
            live.feed(e.CallArrived(now, f"t{n}", queue, enqueued_at=now - rng.uniform(3, 40)))
            call = live.engine.calls[f"t{n}"]
            if call.agent_id is not None:
                live.feed(e.OfferAnswered(now, call.id, call.agent_id))
    for queue, ages in waits.items():
        for age in ages:
            n += 1
            live.feed(e.CallArrived(now, f"w{n}", queue, enqueued_at=now - age))
    for call in list(live.engine.calls.values())[:6]:
        if call.agent_id is not None and live.engine.agents[call.agent_id].state is AgentState.ON_CALL:
            live.feed(e.AgentHungUp(now, call.id))
    start = max(local_midnight(now, config.daemon.timezone) + 8 * 3600, now - 3 * 3600)
    today = live.today                                      # type: ignore[attr-defined]
    for i in range(2400):
        queue = rng.choices(list(config.queues), weights=[30, 18, 14, 16, 6, 4, 3])[0]
        offered = rng.uniform(start, now - 600)
        wait = rng.expovariate(1 / (35 if queue == "labour" else 9))
        fate = rng.random()
        if fate < (0.12 if queue == "labour" else 0.03):
            today.add(CallOutcome(f"d{i}", queue, offered, None, offered + wait, abandoned=True))
        elif fate < 0.135 and queue == "labour":
            today.add(CallOutcome(f"d{i}", queue, offered, None, offered + 600, exited=True))
        else:
            today.add(CallOutcome(f"d{i}", queue, offered, offered + wait, offered + wait + 270, handle_time=290))


@pytest.fixture
async def floor_1555(tmp_path) -> AsyncIterator[tuple[LiveEngine, str]]:
    live = LiveEngine(load_config("examples/1555.yaml"))
    settings = replace(PLAIN_HTTP, supervisor_phones={"sup": "PJSIP/sup-1"})
    app = make_app(live, PinGuard(), auth=await people(tmp_path), settings=settings)
    live.today = app[TODAY]                                  # type: ignore[attr-defined]
    busy_floor(live)
    server = TestServer(app)
    await server.start_server()
    try:
        yield live, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()
        live.clock.cancel()


async def test_big_screen_mode_fills_the_screen_with_each_queues_figures(floor_1555, browser):
    live, base = floor_1555
    await asyncio.to_thread(browser.log_in, base, "sup", PASSWORD, "/supervisor?big=1")
    text = await asyncio.to_thread(browser.wait_for_text, r"Εργασιακά", "#tiles")
    assert "Καταγγελίες βίας" in text and "longest wait" in text.lower()
    tile, wait, text, size = await asyncio.to_thread(browser.driver.execute_script, """
        const tile = document.querySelector('.tile[data-queue=labour]'), wait = tile.querySelector('.n.w');
        return [tile.className, wait.className, wait.innerText, parseFloat(getComputedStyle(wait).fontSize)];""")
    assert "t-bad" in tile and "bad" in wait and re.match(r"1:\d\d", text)   # over a minute against labour's 20 s: red
    assert size >= 60, f"the longest wait is {size}px: not readable across a room (the old page: 16 px)"
    tiles = await asyncio.to_thread(browser.driver.execute_script,
                                    "const r = document.getElementById('tiles').getBoundingClientRect();"
                                    "return [r.bottom, window.innerHeight, document.documentElement.scrollHeight];")
    assert tiles[0] >= 0.9 * tiles[1] and tiles[2] <= tiles[1] + 1     # fills the screen, no scrolling
    browser.screenshot("supervisor_big_1400x900")
    await asyncio.to_thread(browser.driver.set_window_size, 1920, 1080)
    await asyncio.sleep(1.5)
    browser.screenshot("supervisor_big_1920x1080")
    assert await asyncio.to_thread(browser.javascript_errors) == []


async def test_the_supervisor_view_of_the_1555_floor(floor_1555, browser):
    _, base = floor_1555
    await asyncio.to_thread(browser.log_in, base, "sup", PASSWORD, "/supervisor")
    await asyncio.to_thread(browser.wait_for_text, r"the line", "#queues")
    await asyncio.to_thread(browser.wait_for_text, r"\d+ shown", "#agentCount")
    browser.screenshot("supervisor_view_1555")
    assert await asyncio.to_thread(browser.javascript_errors) == []
