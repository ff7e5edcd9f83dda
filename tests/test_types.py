"""The project's own code type-checks: types on public functions are a rule here, and the
routing engine is compiled by mypyc from the same annotations (setup.py), so a wrong
one is a wrong program, not a wrong comment."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("acd", "ivr", "dialplan", "sim", "rig", "bench")


def test_every_package_type_checks_with_every_function_annotated() -> None:
    run = subprocess.run([sys.executable, "-m", "mypy", *PACKAGES, "--ignore-missing-imports",
                          "--disallow-untyped-defs", "--cache-dir", str(ROOT / ".mypy_cache")],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Success: no issues found" in run.stdout
