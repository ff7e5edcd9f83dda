"""Compiles the routing engine with mypyc; everything else stays plain Python.

The engine is pure, fully typed Python (``acd/engine/``) and runs as such; compiled, it
handles an event about 2.5 times faster, which is what lets a simulated day of the
1555 line run within three times a bare SimPy model (``python -m bench.sim``). mypyc
(from the mypy project) compiles the very same source, so the live daemon, the
simulator and the tests run one engine, whichever way it was built.

The extensions are optional: with no C compiler, or with ``ACD_PURE_PYTHON=1`` in the
environment, the install goes on and the engine runs as plain Python.
"""
from __future__ import annotations

import os

from setuptools import setup

#: the engine's hot modules; events and decisions stay plain dataclasses (compiled, they
#: gained nothing) so that drivers may build and match them freely
COMPILED = [
    "acd/engine/engine.py",
    "acd/engine/lines.py",
    "acd/engine/selection.py",
    "acd/engine/strategies.py",
    "acd/engine/timers.py",
    "acd/engine/runtime.py",
    "acd/engine/states.py",
    "acd/engine/estimates.py",
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
