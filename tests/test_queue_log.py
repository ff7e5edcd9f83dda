"""The queue_log lines match app_queue's layout (apps/app_queue.c, main/logger.c of
Asterisk 16), driven by the real engine's decisions."""
from __future__ import annotations

from pathlib import Path

from acd.daemon.queue_log import QueueLogFormatter, QueueLogWriter, serving_queues
from acd.engine import Engine
from acd.engine import events as e
from tests.engine_helpers import make_config

QUEUES = """
q:
  requires: {topic:a: 1}
  wrapup: 0
  ring_timeout: 15
  announcements: {first_after: 0, every: 0}
other:
  requires: {topic:b: 1}
  announcements: {first_after: 0, every: 0}
timed:
  requires: {topic:a: 1}
  max_wait: 30
  announcements: {first_after: 0, every: 0}
"""
AGENTS = "'11': {pin: '1234', skills: {topic:a: 3}}\n'12': {pin: '1234', skills: {topic:a: 3, topic:b: 1}}\n"


class Harness:
    def __init__(self) -> None:
        self.config = make_config(QUEUES, AGENTS)
        self.engine = Engine(self.config)
        self.formatter = QueueLogFormatter(self.config)
        self.lines: list[str] = []

    def __call__(self, event: e.Event) -> list[str]:
        new = [line for decision in self.engine.handle(event) for line in self.formatter.lines(decision)]
        self.lines.extend(new)
        return new


def fields(line: str) -> list[str]:
    return line.split("|")


def test_agent_login_adds_the_member_to_every_queue_it_can_serve():
    h = Harness()
    lines = h(e.AgentLoggedIn(1000.7, "11"))
    assert lines == ["1000|MANAGER|q|PJSIP/agent-11|ADDMEMBER|", "1000|MANAGER|timed|PJSIP/agent-11|ADDMEMBER|"]


def test_answered_call_writes_enterqueue_connect_and_completeagent():
    h = Harness()
    h.formatter.note_caller("c1", "2101234567")
    h(e.AgentLoggedIn(1000, "11"))
    assert h(e.CallArrived(1002, "c1", "q")) == ["1002|c1|q|NONE|ENTERQUEUE||2101234567|1"]
    h.formatter.note_peer("c1", "1700000000.42")
    assert h(e.OfferAnswered(1005, "c1", "11")) == ["1005|c1|q|PJSIP/agent-11|CONNECT|3|1700000000.42|3"]
    # holdtime | calltime | origposition
    assert h(e.AgentHungUp(1065, "c1")) == ["1065|c1|q|PJSIP/agent-11|COMPLETEAGENT|3|60|1"]


def test_caller_hang_up_after_talking_is_completecaller():
    h = Harness()
    h(e.AgentLoggedIn(1000, "11"))
    h(e.CallArrived(1000, "c1", "q"))
    h(e.OfferAnswered(1001, "c1", "11"))
    assert fields(h(e.CallerHungUp(1031, "c1"))[0])[4:] == ["COMPLETECALLER", "1", "30", "1"]


def test_caller_who_leaves_the_line_is_abandon_with_position_original_position_and_wait():
    h = Harness()
    h(e.CallArrived(1000, "c1", "q"))
    h(e.CallArrived(1001, "c2", "q"))
    h(e.CallArrived(1002, "c3", "q"))
    h(e.CallerHungUp(1003, "c1"))
    # c3 entered at position 3 and leaves from position 2 after 8 s
    assert h(e.CallerHungUp(1010, "c3")) == ["1010|c3|q|NONE|ABANDON|2|3|8"]


def test_ring_no_answer_reports_ring_time_in_milliseconds():
    h = Harness()
    h(e.AgentLoggedIn(1000, "11"))
    h(e.CallArrived(1000, "c1", "q"))
    assert h(e.OfferFailed(1015.25, "c1", "11", "no_answer")) == ["1015|c1|q|PJSIP/agent-11|RINGNOANSWER|15250"]


def test_busy_and_unreachable_agents_are_ringnoanswer_as_app_queue_logs_them():
    # app_queue.c (16): AST_CONTROL_BUSY and CONGESTION go through rna(), which logs
    # RINGNOANSWER with the ring time; there is no separate busy event in 16
    h = Harness()
    h(e.AgentLoggedIn(1000, "11"))
    h(e.AgentLoggedIn(1000, "12"))
    h(e.CallArrived(1000, "c1", "q"))
    busy = h(e.OfferFailed(1000.4, "c1", h.engine.calls["c1"].agent_id, "busy"))
    unreachable = h(e.OfferFailed(1000.5, "c1", h.engine.calls["c1"].agent_id, "unreachable"))
    assert [fields(line)[4:] for line in busy + unreachable] == [["RINGNOANSWER", "400"], ["RINGNOANSWER", "100"]]


def test_caller_leaving_while_agent_rings_writes_ringcanceled_then_abandon():
    h = Harness()
    h(e.AgentLoggedIn(1000, "11"))
    h(e.CallArrived(1000, "c1", "q"))
    lines = h(e.CallerHungUp(1002.5, "c1"))
    assert [fields(line)[4] for line in lines] == ["RINGCANCELED", "ABANDON"]
    assert fields(lines[0])[2:4] == ["q", "PJSIP/agent-11"] and fields(lines[0])[5] == "2500"


def test_max_wait_is_exitwithtimeout():
    h = Harness()
    h(e.CallArrived(1000, "c1", "timed"))
    assert h(e.Tick(1031)) == ["1030|c1|timed|NONE|EXITWITHTIMEOUT|1|1|30"]


def test_pause_and_unpause_write_pauseall_then_one_line_per_queue_with_the_reason():
    h = Harness()
    h(e.AgentLoggedIn(1000, "12"))
    assert h(e.AgentPaused(1001, "12", "backoffice")) == [
        "1001|NONE|NONE|PJSIP/agent-12|PAUSEALL|backoffice",
        "1001|NONE|q|PJSIP/agent-12|PAUSE|backoffice",
        "1001|NONE|other|PJSIP/agent-12|PAUSE|backoffice",
        "1001|NONE|timed|PJSIP/agent-12|PAUSE|backoffice",
    ]
    assert [fields(line)[4] for line in h(e.AgentUnpaused(1002, "12"))] == ["UNPAUSEALL", "UNPAUSE", "UNPAUSE", "UNPAUSE"]
    assert [fields(line)[4] for line in h(e.AgentLoggedOut(1003, "12"))] == ["REMOVEMEMBER"] * 3


def test_wrap_up_and_ringing_are_not_membership_changes():
    h = Harness()
    h(e.AgentLoggedIn(1000, "11"))
    h(e.CallArrived(1000, "c1", "q"))
    h(e.OfferAnswered(1001, "c1", "11"))
    ended = h(e.CallerHungUp(1002, "c1"))
    assert [fields(line)[4] for line in ended] == ["COMPLETECALLER"]


def test_a_separator_in_a_field_cannot_split_the_line():
    h = Harness()
    h.formatter.note_caller("c1", "evil|NONE\nline")
    line = h(e.CallArrived(1000, "c1", "q"))[0]
    assert "\n" not in line and fields(line)[6] == "evil/NONE line"


def test_serving_queues_counts_widening_so_a_widened_queue_lists_lower_level_agents():
    config = make_config("w:\n  requires: {topic:a: 4}\n  widening: [{after: 10, min_level: 1}]\n",
                         "'11': {pin: '1234', skills: {topic:a: 1}}\n")
    assert serving_queues(config) == {"11": ["w"]}


def test_writer_appends_whole_lines_and_survives_a_restart(tmp_path: Path):
    config = make_config(QUEUES, AGENTS)
    path = tmp_path / "log" / "queue_log"
    engine = Engine(config)
    writer = QueueLogWriter(path, config)
    writer.started(999)
    writer(engine.handle(e.AgentLoggedIn(1000, "11")))
    writer.close()
    again = QueueLogWriter(path, config)
    again(engine.handle(e.AgentLoggedOut(1001, "11")))
    again.close()
    events = [fields(line)[4] for line in path.read_text().splitlines()]
    assert events == ["QUEUESTART", "ADDMEMBER", "ADDMEMBER", "REMOVEMEMBER", "REMOVEMEMBER"]
