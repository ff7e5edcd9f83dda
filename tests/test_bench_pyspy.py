"""bench.pyspy: py-spy attaches to a process here, and its samples are summed right."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import pyspy
from tests.needs import missing

COLLAPSED = """\
thread (0x1): MainThread;<module> (bench/live.py:9);run (asyncio/runners.py:190);read (acd/protocol/ami.py:40);\
_finish (acd/protocol/ami.py:80) 6
thread (0x1): MainThread;<module> (bench/live.py:9);run (asyncio/runners.py:190);read (acd/protocol/ami.py:41) 2
thread (0x1): MainThread;<module> (bench/live.py:9);handle (acd/daemon/waiting_room.py:300);\
command (acd/protocol/agi_server.py:120);write (asyncio/streams.py:300) 2
thread (0x2): asyncio_0;_worker (concurrent/futures/thread.py:83);_wait (subprocess.py:2000) 5
"""

SPIN = """
import time

def spin_here():
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        sum(range(1000))

spin_here()
"""


def test_samples_are_summed_per_thread_and_the_loops_per_function() -> None:
    spots = pyspy.hot_spots(COLLAPSED)
    assert spots.threads == {"MainThread": 10, "asyncio_0": 5}
    assert spots.samples == 10            # the loop's thread only
    # a function counts once per sample, whatever line of it ran
    assert spots.own == {"acd/protocol/ami.py _finish": 6, "acd/protocol/ami.py read": 2,
                         "asyncio/streams.py write": 2}
    assert spots.within == {"acd/protocol/ami.py read": 8, "acd/protocol/ami.py _finish": 6,
                            "acd/daemon/waiting_room.py handle": 2, "acd/protocol/agi_server.py command": 2}


def test_the_summary_gives_each_busy_thread_its_share_of_a_core_and_the_top_functions() -> None:
    # asyncio_0 was busy under a tenth of a second: left out
    lines = pyspy.hot_spots(COLLAPSED).lines(seconds=0.1, rate=100, top=1)
    assert lines == ["MainThread: 10 busy samples, 100% of a core",
                     "MainThread, running (self):", "   60.0%  acd/protocol/ami.py _finish",
                     "MainThread, within (inclusive, the project's code):", "   80.0%  acd/protocol/ami.py read"]


def test_py_spy_attaches_to_a_running_python_here_and_finds_its_hot_function(tmp_path: Path) -> None:
    try:
        pyspy.py_spy()
    except pyspy.ProfilerMissing as error:
        missing(str(error))
    target = subprocess.Popen([sys.executable, "-c", SPIN])
    try:
        time.sleep(0.3)                  # past the imports
        recording = pyspy.record(target.pid, tmp_path / "spin.txt")
        time.sleep(1.0)
        spots = pyspy.hot_spots(recording.stop().read_text())
    finally:
        target.kill()
        target.wait()
    assert spots.samples >= 50, spots
    assert spots.own.most_common(1)[0][0] == "<string> spin_here", spots.own
    # no thread is named (the target never imported threading): its only thread is the loop's
    assert spots.samples == sum(spots.threads.values())


def test_a_process_py_spy_cannot_read_fails_at_the_start(tmp_path: Path) -> None:
    try:
        pyspy.py_spy()
    except pyspy.ProfilerMissing as error:
        missing(str(error))
    gone = subprocess.Popen(["true"])
    gone.wait()
    with pytest.raises(RuntimeError, match="could not attach"):
        pyspy.record(gone.pid, tmp_path / "none.txt")
