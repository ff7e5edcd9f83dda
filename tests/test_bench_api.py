"""bench.api runs end to end (a small day, a short load) and prints its figures line."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from bench.api import parse_wrk
from tests.needs import missing

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(r"^api: (\d+) req/s GET /api/queues with (\d+) calls today, p99 ([\d.]+) ms, websocket fan-out "
                  r"to (\d+) clients p99 ([\d.]+) ms, routing p99 ([\d.]+) ms under readers \(([\d.]+) ms without\)$")


def test_wrk_output_is_read_in_its_units():
    text = "  Latency Distribution\n     50%  1.10ms\n     99%  850.00us\nRequests/sec:   6858.12\n"
    assert parse_wrk(text) == (6858.12, 0.85)
    assert parse_wrk(text.replace("850.00us", "1.20s")) == (6858.12, 1200.0)


def test_the_bench_prints_its_line_with_the_whole_day_behind_the_figures():
    if shutil.which("wrk") is None:
        missing("wrk is not installed (apt-get install wrk)")
    run = subprocess.run([sys.executable, "-m", "bench.api", "--calls", "600", "--seconds", "2", "--clients", "20"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr[-2000:]
    found = LINE.match(run.stdout.strip().splitlines()[-1])
    assert found is not None, run.stdout
    assert int(found.group(1)) > 0 and int(found.group(2)) >= 600 and int(found.group(4)) == 20
