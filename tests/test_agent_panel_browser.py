"""The agent panel in a real browser (Debian's Chromium): agent 11 logs in to the page and
to the line with its PIN, a citizen who called before (an abandoned call, an open
ticket) chooses English and employer in the IVR and is connected to it; the panel shows
the number, topic, language, caller type, wait, a state timer that ticks, the earlier
call and the ticket, and escalates the call to a unit with a note. Selenium is
synchronous, so it runs in a thread while the API serves on this test's event loop."""
from __future__ import annotations

import asyncio
import time

from aiohttp.test_utils import TestServer
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from acd.api import make_app
from acd.config import load_config_text
from acd.config.back_office import back_office_of
from acd.pin_guard import PinGuard
from acd.daemon.escalation import Escalations
from acd.daemon.live_engine import LiveEngine
from acd.engine import events as e
from acd.records import CallRecords, TicketDesk
from acd.records.ticket import new_ticket
from tests.auth_helpers import PASSWORD, PLAIN_HTTP, people

CONFIG = """\
service: {name: test, languages: [el, en]}
skills: {topic:a: A, lang:en: English, type:employer: Employers}
queues:
  pensions:
    title: {el: Ασφάλιση και συντάξεις, en: Insurance and pensions}
    requires: {topic:a: 1}
    wrapup: 60
agents:
  '11': {pin: '1234', name: Ελένη Μάρκου, skills: {topic:a: 3, lang:en: 3, type:employer: 3}}
routing:
  pause_reasons: {break: false, lunch: false, training: true}
back_office:
  units:
    pensions: {title: Pensions back office, primary: team:bo-pensions, alternate: person:bo-head, queues: [pensions]}
    inspections: {title: Labour inspectorate, primary: team:bo-labour, alternate: person:bo-labour-head}
"""
CITIZEN = "2107654321"


def _click(browser, text: str) -> None:
    buttons = [b for b in browser.driver.find_elements(By.TAG_NAME, "button") if b.text.strip() == text]
    assert buttons, f"no button {text!r}"
    buttons[0].click()


async def test_an_agent_takes_a_call_sees_the_callers_facts_and_history_and_escalates_it(tmp_path, browser):
    config = load_config_text(CONFIG, "<panel>")
    live = LiveEngine(config)
    numbers = {"before": CITIZEN, "now": CITIZEN}
    records = CallRecords(f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}", interval=0.05,
                          back_office=back_office_of(config), caller_number=numbers.get)
    await records.start()
    live.subscribe(records)
    escalations = Escalations(live, records.open_ticket, numbers.get)
    live.subscribe(escalations)
    start = live.now()
    live.feed(e.CallArrived(start, "before", "pensions", enqueued_at=start - 95, language="el"))   # gave up
    live.feed(e.CallerHungUp(start, "before"))
    records.open_ticket(new_ticket(back_office_of(config), call_id="before", queue="pensions", at=start - 3500,
                                   source="max_wait", caller=CITIZEN, note="Ζητά επανυπολογισμό σύνταξης"))
    await records.flush()
    server = TestServer(make_app(live, PinGuard(), escalations, desk=TicketDesk(records.db, now=live.now),
                                 auth=await people(tmp_path), settings=PLAIN_HTTP, caller_numbers=numbers.get))
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    try:
        await asyncio.to_thread(browser.log_in, base, "a11", PASSWORD, "/agent")
        await asyncio.to_thread(browser.wait_for_text, "Αποσυνδεδεμένος", "#state")

        def log_in_to_the_line() -> None:
            browser.driver.find_element(By.ID, "pin").send_keys("1234")
            _click(browser, "Σύνδεση")
            browser.wait_for_text("Διαθέσιμος", "#state")
        await asyncio.to_thread(log_in_to_the_line)
        assert live.engine.agents["11"].state.value == "available"

        live.feed(e.CallArrived(live.now(), "now", "pensions", enqueued_at=live.now() - 42, language="en",
                                caller_type="employer"))
        await asyncio.to_thread(browser.wait_for_text, CITIZEN, "#number")
        await asyncio.sleep(1.2)
        live.feed(e.OfferAnswered(live.now(), "now", "11"))

        def on_call() -> dict[str, str]:
            browser.wait_for_text("Σε κλήση", "#state")
            browser.wait_for_text("εγκαταλείφθηκε", "#calls")
            assert "1:35" in browser.text("#calls") and "Ασφάλιση" in browser.text("#calls")
            browser.wait_for_text("επανυπολογισμό", "#tickets")
            first = browser.text("#timer")
            time.sleep(2.2)
            seen = {k: browser.text(f"#{k}") for k in ("number", "topic", "language", "caller-type", "waited", "timer")}
            seen["first_timer"] = first
            browser.screenshot("agent_panel_on_call_el")
            _click(browser, "English")
            browser.wait_for_text("On call", "#state")
            browser.screenshot("agent_panel_on_call_en")
            return seen
        seen = await asyncio.to_thread(on_call)
        assert seen["number"] == CITIZEN and seen["topic"] == "Ασφάλιση και συντάξεις"
        assert (seen["language"], seen["caller-type"]) == ("Αγγλικά", "Εργοδότης")
        assert seen["waited"] in ("0:43", "0:44", "0:45")        # 42 s before the offer, about 1.2 s ringing
        assert seen["timer"] != seen["first_timer"] and seen["timer"].startswith("0:0")

        def escalate() -> str:
            Select(browser.driver.find_element(By.ID, "unit")).select_by_value("inspections")
            browser.driver.find_element(By.ID, "note").send_keys("Employer asks about an inspection")
            _click(browser, "Escalate")
            return browser.wait_for_text(r"ticket \w+ → Labour inspectorate", "#escalated")
        await asyncio.to_thread(escalate)
        await records.flush()
        ticket = escalations.taken("now").ticket
        stored = await TicketDesk(records.db).ticket(ticket)
        assert (stored["unit"], stored["note"], stored["caller"], stored["agent_id"]) == \
            ("inspections", "Employer asks about an inspection", CITIZEN, "11")
        assert await asyncio.to_thread(browser.javascript_errors) == []
    finally:
        await server.close()
        await records.close()
        live.clock.cancel()
