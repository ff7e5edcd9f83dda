"""What the daemon's log lines look like: one line an event, its fields with it, as
text (key=value) or JSON (``acd --log-format json``), so the decision log can be grepped
or shipped as it is."""
from __future__ import annotations

import io
import json
import logging

import pytest

from acd.cli import FORMATS, build_parser
from acd.daemon.decision_log import DecisionLog
from acd.engine import Engine
from acd.engine import events as e
from tests.engine_helpers import make_config

QUEUE = "q:\n  requires: {topic:a: 2}\n  wrapup: 0\n  max_wait: 60\n  announcements: {first_after: 0, every: 0}\n"
AGENTS = "'11': {pin: '1234', skills: {topic:a: 3}}\n"


@pytest.fixture
def written():
    """The ``acd.decisions`` lines as the daemon writes them, in each format."""
    streams = {}
    logger = logging.getLogger("acd.decisions")
    handlers = []
    for name, make in FORMATS.items():
        streams[name] = io.StringIO()
        handler = logging.StreamHandler(streams[name])
        handler.setFormatter(make())
        logger.addHandler(handler)
        handlers.append(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield streams
    logger.setLevel(level)
    for handler in handlers:
        logger.removeHandler(handler)


def test_each_decision_is_one_line_with_its_fields_in_text_and_in_json(written):
    engine = Engine(make_config(QUEUE, AGENTS))
    log = DecisionLog(engine)
    for event in (e.AgentLoggedIn(0, "11"), e.AgentPaused(1, "11", "break"), e.AgentUnpaused(2, "11"),
                  e.CallArrived(3, "c1", "q"), e.CallArrived(4, "c2", "q"), e.CallerHungUp(9, "c2")):
        log(engine.handle(event))
    text = written["text"].getvalue().splitlines()
    objects = [json.loads(line) for line in written["json"].getvalue().splitlines()]
    assert [o["message"] for o in objects] == ["agent logged in", "agent paused", "agent unpaused", "call routed",
                                               "caller abandoned"]
    assert len(text) == len(objects)
    paused = objects[1]
    assert (paused["agent"], paused["reason"], paused["logger"], paused["level"]) == \
        ("11", "break", "acd.decisions", "INFO")
    routed = objects[3]
    assert (routed["call"], routed["agent"], routed["needs"], routed["levels"], routed["score"]) == \
        ("c1", "11", {"topic:a": 2}, {"topic:a": 3}, 3)
    assert objects[4]["call"] == "c2" and objects[4]["waited"] == 5
    assert "agent='11'" in text[0] and "call='c1'" in next(line for line in text if "call routed" in line)


def test_the_command_takes_a_log_format():
    assert build_parser().parse_args(["--log-format", "json", "check", "--config", "x"]).log_format == "json"
    assert build_parser().parse_args(["check", "--config", "x"]).log_format == "text"


def test_a_json_line_stays_one_line_whatever_its_message_and_fields_hold(written):
    logging.getLogger("acd.decisions").info("two\nlines", extra={"note": "a\nb", "odd": object()})
    lines = written["json"].getvalue().splitlines()
    assert len(lines) == 1
    found = json.loads(lines[0])
    assert (found["message"], found["note"]) == ("two\nlines", "a\nb") and found["odd"].startswith("<object")
