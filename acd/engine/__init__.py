"""The pure routing engine: ``Engine.handle(event) -> decisions``; no I/O, no clock.

The install compiles the hot modules with mypyc (see setup.py) next to their sources.
A compiled module wins over its ``.py`` at import, so one built before its source was
last edited would run old code without a word: that is refused here, by name.
"""
from __future__ import annotations

from pathlib import Path


def refuse_stale_builds(here: Path) -> None:
    """Raise ImportError if a compiled module in ``here`` is older than its source (each
    package holding a module of setup.py's ``COMPILED`` calls this at import)."""
    for built in here.glob("*.so"):
        source = here / (built.name.split(".", 1)[0] + ".py")
        if source.exists() and source.stat().st_mtime > built.stat().st_mtime:
            raise ImportError(
                f"{built} was compiled before {source.name} last changed: rebuild it with "
                f"'./run setup' (or 'pip install -e .'), or delete the {here}/*.so files "
                f"to run it as plain Python")


def compiled() -> bool:
    """Whether the engine runs compiled (mypyc) or as plain Python."""
    from acd.engine import engine

    return not (engine.__file__ or "").endswith(".py")


refuse_stale_builds(Path(__file__).parent)

from acd.engine import decisions, events  # noqa: E402
from acd.engine.engine import AUTO_PAUSE_REASON, Engine  # noqa: E402
from acd.engine.states import AgentState, CallState  # noqa: E402

__all__ = ["AUTO_PAUSE_REASON", "AgentState", "CallState", "Engine", "compiled", "decisions", "events"]
