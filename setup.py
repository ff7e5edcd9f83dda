"""Compiles the routing engine and the simulator's day with mypyc; everything else stays
plain Python.

The engine is pure, fully typed Python (``acd/engine/``) and runs as such; compiled, it
handles an event about 2.5 times faster. The simulated day (``sim/model.py``) is the
other half of a simulation's time: it turns the day's story into engine events and
carries out the decisions, about as much work again as the engine. Compiled in the
same group as the engine, its calls into the engine are native calls, and a day of the
1555 line runs in 2.5 times a bare SimPy model instead of 3.0 to 3.2 with only the
engine compiled (``python -m bench.sim``, limit 3). mypyc (from the mypy project)
compiles the very same source, so the live daemon, the simulator and the tests run one
engine and one model, whichever way they were built.

The extensions are optional: with no C compiler, or with ``ACD_PURE_PYTHON=1`` in the
environment, the install goes on and both run as plain Python. ``./run`` recompiles
when one of the ``COMPILED`` sources changes, and a compiled module older than its
source is refused at import (``acd.engine.refuse_stale_builds``).
"""
from __future__ import annotations

import os

from setuptools import setup

#: the engine's hot modules and the simulated day; events and decisions stay plain
#: dataclasses (compiled, they gained nothing) so that drivers may build and match them
#: freely. One path per line: ./run reads this list to know when to recompile.
COMPILED = [
    "acd/engine/engine.py",
    "acd/engine/lines.py",
    "acd/engine/selection.py",
    "acd/engine/strategies.py",
    "acd/engine/timers.py",
    "acd/engine/runtime.py",
    "acd/engine/states.py",
    "acd/engine/estimates.py",
    "sim/model.py",
]


def extensions() -> list:
    if os.environ.get("ACD_PURE_PYTHON") == "1":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        return []
    # the engine is checked strictly; what it imports (the config model) only for types
    modules = mypycify(["--follow-imports=silent", "--ignore-missing-imports", *COMPILED], opt_level="3",
                       group_name="acd_engine_native")
    for module in modules:
        module.optional = True      # a failed compile leaves the plain Python engine
    return modules


setup(ext_modules=extensions())
