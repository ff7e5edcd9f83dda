"""The reader of res_agi's debug log (rig.agi_trace), on lines as Asterisk 16 writes them."""
from __future__ import annotations

from rig.agi_trace import parse_agi_debug

PREFIX = "[2026-12-01 05:14:13.581] VERBOSE[19167][C-00000001] res_agi.c: "
LOG = "".join(PREFIX + line + "\n" for line in [
    "AGI Tx >> agi_network: yes",
    "<PJSIP/citizens-00000002>AGI Tx >> agi_request: agi://127.0.0.1:14600/ivr",
    "<PJSIP/citizens-00000002>AGI Tx >> agi_callerid: greek-1",
    "<PJSIP/citizens-00000002>AGI Tx >> ",
    "<PJSIP/citizens-00000002>AGI Rx << STREAM FILE /p/el/choose_language 0123456789*#",
    "<PJSIP/citizens-00000002>AGI Tx >> 200 result=49 endpos=2560",
    "<PJSIP/citizens-00000002>AGI Tx >> agi_request: agi://127.0.0.1:14600/wait?queue=qa",
    "<PJSIP/citizens-00000002>AGI Tx >> agi_callerid: greek-1",
    "<PJSIP/citizens-00000003>AGI Tx >> agi_request: agi://127.0.0.1:14600/agent,login",
    "<PJSIP/citizens-00000002>AGI Rx << STREAM FILE /p/el/announce_position-1 \"\"",
    "<PJSIP/citizens-00000003>AGI Rx << GET DATA agent-pass 5000 8",
    "<PJSIP/citizens-00000002>AGI Tx >> 200 result=0 endpos=10577",
    "<PJSIP/citizens-00000002> Playing '/p/el/announce_position-1.slin' (escape_digits=) (sample_offset 0)",
    "<PJSIP/citizens-00000002>AGI Rx << STREAM FILE \"/p/el/a wait\" \"\"",
    "<PJSIP/citizens-00000002>AGI Tx >> 200 result=-1 endpos=0",
    "<PJSIP/citizens-00000002>AGI Rx << STREAM FILE /p/el/announce_position-1 \"\"",
    "<PJSIP/citizens-00000002>AGI Tx >> HANGUP",
]) + PREFIX + "<PJSIP/citizens-00000003>AGI Tx >> 200 res"     # still being written


def test_sessions_pair_each_command_with_its_reply_per_channel() -> None:
    ivr, wait, agent = parse_agi_debug(LOG)
    assert (ivr.script, ivr.caller, ivr.channel) == ("ivr", "greek-1", "PJSIP/citizens-00000002")
    assert (wait.script, agent.script) == ("wait", "agent")
    assert [(x.streamed_file, x.result, x.endpos, x.played) for x in wait.streamed()] == [
        ("/p/el/announce_position-1", 0, 10577, True),
        ("/p/el/a wait", -1, 0, False),                 # a file Asterisk could not open
        ("/p/el/announce_position-1", None, None, False),   # still playing: no reply yet
    ]
    assert [x.played for x in ivr.streamed()] == [False]   # a key cut it short (result=49, "1")
    assert [(x.command, x.reply) for x in agent.exchanges] == [("GET DATA agent-pass 5000 8", None)]
