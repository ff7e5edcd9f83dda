"""The queue_log lines match app_queue's layout (apps/app_queue.c, main/logger.c of
Asterisk 16), driven by the real engine's decisions."""
from __future__ import annotations

from pathlib import Path

from acd.daemon.queue_log import (QueueLogFormatter, QueueLogWriter, attended_transfer_from_ami,
                                  serving_queues)
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
AGENTS = ("'11': {name: Anna Pappa, pin: '1234', skills: {topic:a: 3}}\n"
          "'12': {name: Nikos K, pin: '1234', skills: {topic:a: 3, topic:b: 1}}\n")
ANNA, NIKOS = "Anna Pappa", "Nikos K"


class Harness:
    def __init__(self, config=None) -> None:
        self.config = config or make_config(QUEUES, AGENTS)
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
    assert lines == [f"1000|MANAGER|q|{ANNA}|ADDMEMBER|", f"1000|MANAGER|timed|{ANNA}|ADDMEMBER|"]


def test_answered_call_writes_enterqueue_connect_and_completeagent():
    h = Harness()
    h.formatter.note_caller("c1", "2101234567")
    h(e.AgentLoggedIn(1000, "11"))
    assert h(e.CallArrived(1002, "c1", "q")) == ["1002|c1|q|NONE|ENTERQUEUE||2101234567|1"]
    h.formatter.note_peer("c1", "1700000000.42")
    assert h(e.OfferAnswered(1005, "c1", "11")) == [f"1005|c1|q|{ANNA}|CONNECT|3|1700000000.42|3"]
    # holdtime | calltime | origposition
    assert h(e.AgentHungUp(1065, "c1")) == [f"1065|c1|q|{ANNA}|COMPLETEAGENT|3|60|1"]


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


def test_durations_are_differences_of_whole_second_clocks_as_app_queue_computes_them():
    # app_queue: time(NULL) - qe->start, both whole seconds: 1000.9 -> 1003.1 is 3, not 2.2 -> 2
    h = Harness()
    h(e.AgentLoggedIn(1000, "11"))
    h(e.CallArrived(1000.9, "c1", "q"))
    h(e.CallArrived(1000.9, "c2", "q"))
    assert fields(h(e.OfferAnswered(1002.1, "c1", "11"))[0])[5] == "2"
    assert fields(h(e.CallerHungUp(1003.1, "c2"))[0])[4:] == ["ABANDON", "1", "2", "3"]
    # holdtime 1000.9 -> 1002.1 (2), calltime 1002.1 -> 1004.0 (2)
    assert fields(h(e.AgentHungUp(1004.0, "c1"))[0])[4:] == ["COMPLETEAGENT", "2", "2", "1"]


def test_a_caller_whose_agent_rings_is_still_ahead_in_the_queue_as_in_app_queue():
    # app_queue leaves a ringing caller in its queue until the bridge (found by the parity rig)
    h = Harness()
    h(e.AgentLoggedIn(1000, "11"))
    h(e.CallArrived(1001, "c1", "q"))           # rings agent 11
    assert fields(h(e.CallArrived(1002, "c2", "q"))[0])[4:] == ["ENTERQUEUE", "", "", "2"]
    assert fields(h(e.CallerHungUp(1005, "c2"))[0])[4:] == ["ABANDON", "2", "2", "3"]


def test_ring_no_answer_reports_ring_time_in_milliseconds():
    h = Harness()
    h(e.AgentLoggedIn(1000, "11"))
    h(e.CallArrived(1000, "c1", "q"))
    assert h(e.OfferFailed(1015.25, "c1", "11", "no_answer")) == [f"1015|c1|q|{ANNA}|RINGNOANSWER|15250"]


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
    assert fields(lines[0])[2:4] == ["q", ANNA] and fields(lines[0])[5] == "2500"


def test_max_wait_is_exitwithtimeout():
    h = Harness()
    h(e.CallArrived(1000, "c1", "timed"))
    assert h(e.Tick(1031)) == ["1030|c1|timed|NONE|EXITWITHTIMEOUT|1|1|30"]


def test_pause_and_unpause_write_pauseall_then_one_line_per_queue_with_the_reason():
    h = Harness()
    h(e.AgentLoggedIn(1000, "12"))
    assert h(e.AgentPaused(1001, "12", "backoffice")) == [
        f"1001|NONE|NONE|{NIKOS}|PAUSEALL|backoffice",
        f"1001|NONE|q|{NIKOS}|PAUSE|backoffice",
        f"1001|NONE|other|{NIKOS}|PAUSE|backoffice",
        f"1001|NONE|timed|{NIKOS}|PAUSE|backoffice",
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


def test_the_agent_field_is_the_member_name_the_fallback_queues_give_the_agent():
    # app_queue (log_membername_as_agent) writes mem->membername: the third field of the
    # generated ``member =>`` lines; both paths must name one person the same
    from dialplan.generate import queues

    h = Harness()
    members = {line.split(",")[2] for line in queues(h.config).splitlines() if line.startswith("member =>")}
    h(e.AgentLoggedIn(1000, "11"))
    h(e.AgentLoggedIn(1000, "12"))
    assert {fields(line)[3] for line in h.lines} == members == {ANNA, NIKOS}


def test_the_engines_automatic_pause_is_app_queues_auto_pause():
    config = make_config(QUEUES, AGENTS, routing="auto_pause_after: 1\nmissed_offer_rest: 0")
    h = Harness(config)
    h(e.AgentLoggedIn(1000, "11"))
    h(e.CallArrived(1000, "c1", "q"))
    lines = h(e.OfferFailed(1015, "c1", "11", "no_answer"))
    # rna(): RINGNOANSWER, then set_member_paused(..., "Auto-Pause", 1)
    assert [fields(line)[2:] for line in lines] == [
        ["q", ANNA, "RINGNOANSWER", "15000"], ["NONE", ANNA, "PAUSEALL", "Auto-Pause"],
        ["q", ANNA, "PAUSE", "Auto-Pause"], ["timed", ANNA, "PAUSE", "Auto-Pause"]]


def test_a_restarted_daemon_restoring_its_roster_writes_no_second_addmember_or_pause():
    h = Harness()
    with h.formatter.restoring(["11", "12"]):
        assert h(e.AgentLoggedIn(1000, "11")) == [] and h(e.AgentLoggedIn(1000, "12")) == []
        assert h(e.AgentPaused(1000, "12", "backoffice")) == []
    # after the restore, the agents' changes are written as always
    assert [fields(line)[4] for line in h(e.AgentUnpaused(1001, "12"))] == ["UNPAUSEALL", "UNPAUSE", "UNPAUSE", "UNPAUSE"]
    assert [fields(line)[4] for line in h(e.AgentLoggedOut(1002, "11"))] == ["REMOVEMEMBER"] * 2


def test_a_daemon_restart_logs_the_agents_back_in_without_addmember(tmp_path: Path):
    from acd.daemon.app import Daemon

    config = tmp_path / "acd.yaml"
    config.write_text("service: {name: t, languages: [el]}\nskills: {topic:a: A}\n"
                      "queues: {q: {requires: {topic:a: 1}}}\n"
                      "agents: {'11': {name: Anna Pappa, pin: '1234', skills: {topic:a: 3}}}\n"
                      f"daemon: {{queue_log: {tmp_path}/var/queue_log, ami_port: 1}}\n")
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "agents.json").write_text('{"11": {"state": "paused", "reason": "break"}}')
    daemon = Daemon(config, extras=False)
    daemon.roster.load()

    async def restore() -> None:
        daemon._restore_agents()
        daemon._grace.cancel()

    import asyncio

    asyncio.run(restore())
    daemon.queue_log.close()
    assert daemon.live.engine.agents["11"].state.value == "paused"
    assert (tmp_path / "var" / "queue_log").read_text() == ""


def test_blind_transfer_replaces_the_complete_line_with_app_queues_fields():
    h = Harness()
    h(e.AgentLoggedIn(1000, "11"))
    h(e.CallArrived(1000, "c1", "q"))
    h(e.OfferAnswered(1004, "c1", "11"))
    h.formatter.note_transfer("c1", "BLINDTRANSFER", ("2000", "backoffice"))
    # exten|context|holdtime|calltime|origposition (app_queue.c handle_blind_transfer)
    assert h(e.AgentHungUp(1034, "c1")) == [f"1034|c1|q|{ANNA}|BLINDTRANSFER|2000|backoffice|4|30|1"]


def test_attended_transfers_are_written_by_their_destination_as_app_queue_does():
    base = {"Event": "AttendedTransfer", "Result": "Success", "TransfereeUniqueid": "c1",
            "TransferTargetUniqueid": "t1"}
    # the caller is the transferee, or the target when the phone referred its consultation leg
    assert attended_transfer_from_ami({**base, "DestType": "Bridge", "DestBridgeUniqueid": "b-9"}) == (
        ("c1", "t1"), "ATTENDEDTRANSFER", ("BRIDGE", "b-9"))
    assert attended_transfer_from_ami({**base, "DestType": "App", "DestApp": "Queue"})[2] == ("APP", "Queue")
    assert attended_transfer_from_ami({**base, "DestType": "Link", "LocalOneChannel": "Local/1@x-0;1",
                              "LocalTwoChannel": "Local/1@x-0;2"})[2] == ("LINK", "Local/1@x-0;1", "Local/1@x-0;2")
    # app_queue logs neither a three-way call nor a failed transfer; a call stays COMPLETE*
    assert attended_transfer_from_ami({**base, "DestType": "Threeway", "DestBridgeUniqueid": "b"}) is None
    assert attended_transfer_from_ami({**base, "DestType": "Bridge", "Result": "Fail"}) is None
    # blind transfers come from the caller's channel, which says them before AMI does
    assert attended_transfer_from_ami({"Event": "BlindTransfer", "Result": "Success", "TransfereeUniqueid": "c1",
                                       "Extension": "2000", "Context": "backoffice"}) is None
    h = Harness()
    h(e.AgentLoggedIn(1000, "11"))
    h(e.CallArrived(1000, "c1", "q"))
    h(e.OfferAnswered(1002, "c1", "11"))
    h.formatter.note_transfer("c1", "ATTENDEDTRANSFER", ("BRIDGE", "b-9"))
    assert fields(h(e.CallerHungUp(1012, "c1"))[0])[4:] == ["ATTENDEDTRANSFER", "BRIDGE", "b-9", "2", "10", "1"]


def test_writer_appends_whole_lines_and_survives_a_restart(tmp_path: Path):
    config = make_config(QUEUES, AGENTS)
    path = tmp_path / "log" / "queue_log"
    engine = Engine(config)
    writer = QueueLogWriter(path, config)
    writer(engine.handle(e.AgentLoggedIn(1000, "11")))
    writer.close()
    again = QueueLogWriter(path, config)
    again(engine.handle(e.AgentLoggedOut(1001, "11")))
    again.close()
    events = [fields(line)[4] for line in path.read_text().splitlines()]
    # no QUEUESTART: that is Asterisk's own line when its logger starts (every agent off)
    assert events == ["ADDMEMBER", "ADDMEMBER", "REMOVEMEMBER", "REMOVEMEMBER"]


def test_writer_appends_each_batch_in_one_write_after_asterisks_lines(tmp_path: Path):
    # both writers append to one file: what Asterisk wrote in between stays whole
    config = make_config(QUEUES, AGENTS)
    path = tmp_path / "queue_log"
    engine = Engine(config)
    writer = QueueLogWriter(path, config)
    writer(engine.handle(e.AgentLoggedIn(1000, "11")))
    with open(path, "a") as asterisk:
        asterisk.write("1001|1700.1|acd-fallback|NONE|ENTERQUEUE||210|1\n")
    writer(engine.handle(e.AgentLoggedOut(1002, "11")))
    writer.close()
    assert [fields(line)[4] for line in path.read_text().splitlines()] == [
        "ADDMEMBER", "ADDMEMBER", "ENTERQUEUE", "REMOVEMEMBER", "REMOVEMEMBER"]
