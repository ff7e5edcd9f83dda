"""bench.sim prints the cost of the engine against bare SimPy and checks it against
its limit (issue 13: at most 3 times bare SimPy)."""
from __future__ import annotations

import re

from bench.sim import RATIO_LIMIT, main


def test_bench_sim_prints_the_ratio_and_its_verdict(capsys):
    main(["--calls-per-day", "400", "--repeat", "1"])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    found = re.fullmatch(r"sim: day of \d+ calls in [\d.]+ s, bare SimPy [\d.]+ s, ratio ([\d.]+) "
                         r"\(limit 3: (ok|OVER)\)", last)
    assert found, last
    ratio, verdict = float(found.group(1)), found.group(2)
    # the printed ratio is rounded to 0.1: only a clear side of the limit is checked
    if abs(ratio - RATIO_LIMIT) > 0.05:
        assert verdict == ("ok" if ratio < RATIO_LIMIT else "OVER")
