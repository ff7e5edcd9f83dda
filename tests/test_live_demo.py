"""The live demo runs by itself for a bounded time, serves callers and leaves nothing running."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.needs import missing

pytestmark = pytest.mark.asterisk


def test_demo_serves_callers_prints_figures_every_second_and_stops_by_itself(tmp_path):
    if shutil.which("asterisk") is None or shutil.which("sipp") is None:
        missing("asterisk and sipp are needed for the live demo")
    run = subprocess.run([sys.executable, "-m", "acd.demo", "--seconds", "4", "--rate", "4", "--talk", "1",
                          "--keep", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert sum(" waiting " in line for line in lines) >= 4
    final = lines[-1]
    assert final.startswith("demo: offered ") and " answered " in final
    offered = int(final.split("offered ")[1].split(",")[0])
    answered = int(final.split("answered ")[1].split(",")[0])
    # the demo waits for the calls under way: every caller offered was answered
    assert answered > 0 and answered == offered
    assert "Traceback" not in run.stderr, run.stderr
    queue_log = (tmp_path / "var" / "queue_log").read_text().splitlines()
    assert sum("|CONNECT|" in line for line in queue_log) >= answered
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout.split()
    assert leftovers == []
