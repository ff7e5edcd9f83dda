"""bench.live's own figures: Asterisk's CPU time, the media check and the last line."""
from __future__ import annotations

import os
import time

from bench.live import PhaseResult, cpu_seconds, media_legs, summary

CHANNELSTATS = """\

                                             ...........Receive......... .........Transmit..........
 BridgeId ChannelId ........ UpTime.. Codec.   Count    Lost Pct  Jitter   Count    Lost Pct  Jitter RTT....
 ===========================================================================================================

 1304ee4e agent-3006-0000001 00:00:05 alaw      155       0    0   0.000    155       0    0   0.000   0.000
 1304ee4e citizens-0000001e  00:00:05 alaw      163       0    0   0.000    165       0    0   0.000   0.000
 14318dd9 agent-3010-0000002 00:00:04 alaw        0       0    0   0.000    141       0    0   0.000   0.000
          citizens-00000026  00:00:04 alaw      149       0    0   0.000    151       0    0   0.000   0.000

Objects found: 4
"""


def test_cpu_seconds_grow_with_the_work_a_process_does() -> None:
    before = cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    assert cpu_seconds(os.getpid()) - before >= 0.2


def test_media_legs_counts_bridged_legs_with_rtp_both_ways_and_their_codecs() -> None:
    # the third leg hears nothing (one-way audio); the fourth is not bridged (on hold)
    assert media_legs(CHANNELSTATS) == (2, 3, {"alaw"})


def test_last_line_sets_the_media_run_beside_the_silent_one_and_the_acd_beside_app_queue() -> None:
    silent = PhaseResult("acd", 150, 150, 150, [5.0, 9.0], cpu=4.0)
    media = PhaseResult("acd+media", 150, 149, 150, [6.0, 12.0], cpu=11.5)
    app_queue = PhaseResult("app_queue", 150, 150, 150, [800.0], cpu=3.0)
    assert summary(media, silent) == ("live: 149/150 answered, peak 150 concurrent, routing p99 12.0 ms "
                                      "(without media 9.0 ms), lost 1, asterisk cpu 11.5 s (without media 4.0 s)")
    assert summary(silent, app_queue).endswith("(app_queue 800.0 ms), lost 0, asterisk cpu 4.0 s (app_queue 3.0 s)")
