"""The pages in a real browser (Debian's Chromium): a person logs in through the login
page and sees live figures; the page's JavaScript raises no error. Selenium is
synchronous, so it runs in a thread while the API serves on this test's event loop."""
from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestServer

from acd.api import make_app
from acd.pin_guard import PinGuard
from acd.daemon.live_engine import LiveEngine
from acd.engine import events as e
from tests.auth_helpers import PASSWORD, PLAIN_HTTP, people
from tests.engine_helpers import make_config

QUEUE = "q:\n  title: {el: 'Συντάξεις', en: Pensions}\n  requires: {topic:a: 1}\n"
AGENTS = "'11': {pin: '1234', skills: {topic:a: 3}}\n'12': {pin: '9999', skills: {topic:b: 3}}\n"


async def test_a_supervisor_logs_in_and_sees_a_waiting_caller_on_the_wallboard(tmp_path, browser):
    live = LiveEngine(make_config(QUEUE, AGENTS))
    server = TestServer(make_app(live, PinGuard(), auth=await people(tmp_path), settings=PLAIN_HTTP))
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    try:
        live.feed(e.CallArrived(live.now(), "c1", "q"))
        await asyncio.to_thread(browser.log_in, base, "sup", PASSWORD, "/")
        text = await asyncio.to_thread(browser.wait_for_text, r"Συντάξεις|Pensions")
        assert "q" in text or "Pensions" in text or "Συντάξεις" in text
        assert "AHT" in text            # today's average handle time, beside the ASA
        assert await asyncio.to_thread(browser.javascript_errors) == []
    finally:
        await server.close()
