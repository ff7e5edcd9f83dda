"""Imports run with the grain (docs/architecture.md, "The module map"): the floor imports
nothing above it, the engine nothing but itself and the config model, and nothing below
the daemon imports the daemon, so the daemon's composition root can build the API."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("acd", "ivr", "sim", "dialplan", "bench", "rig")


def imports_of(path: Path) -> set[str]:
    """Every project module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in PROJECT}


def modules(*paths: str) -> list[Path]:
    result: list[Path] = []
    for path in paths:
        target = ROOT / path
        result.extend(sorted(target.rglob("*.py")) if target.is_dir() else [target])
    return result


def offenders(files: list[Path], allowed: tuple[str, ...]) -> dict[str, list[str]]:
    """File -> the project modules it imports outside ``allowed`` (prefixes)."""
    bad = {}
    for path in files:
        wrong = sorted(name for name in imports_of(path)
                       if not any(name == prefix or name.startswith(prefix + ".") for prefix in allowed))
        if wrong:
            bad[str(path.relative_to(ROOT))] = wrong
    return bad


def test_the_call_contract_imports_nothing_of_the_project() -> None:
    assert offenders(modules("acd/call_contract.py"), ()) == {}


#: modules that import nothing of the project at run time, so anything may import them:
#: the call contract, the figures' definitions, the routing strategies' names and rankings
LEAVES = ("acd/call_contract.py", "acd/metrics.py", "acd/engine/strategies.py")


@pytest.mark.parametrize("leaf", LEAVES)
def test_a_leaf_imports_nothing_of_the_project_at_run_time(leaf: str) -> None:
    tree = ast.parse((ROOT / leaf).read_text(encoding="utf-8"))
    runtime = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    names = {n.module for n in runtime if isinstance(n, ast.ImportFrom) and n.module} | {
        a.name for n in runtime if isinstance(n, ast.Import) for a in n.names}
    assert {name for name in names if name.split(".")[0] in PROJECT} == set()


def test_the_config_imports_only_itself_and_the_leaves() -> None:
    """The loader checks a strategy's name and a service level's definition against their
    one registry; both are leaves, so the config still sits below everything else."""
    assert offenders(modules("acd/config"), ("acd.config", "acd.call_contract", "acd.metrics",
                                             "acd.engine.strategies")) == {}


def test_the_engine_imports_only_itself_and_the_config_model() -> None:
    assert offenders(modules("acd/engine"), ("acd.engine", "acd.config.model")) == {}


@pytest.mark.parametrize("below", ["acd/api", "acd/records", "acd/auth", "acd/protocol", "acd/agent_desk.py",
                                   "acd/pin_guard.py", "acd/live_state.py", "acd/live_figures.py",
                                   "acd/registrations.py", "acd/metrics.py", "ivr", "sim", "dialplan"])
def test_nothing_below_the_daemon_imports_it(below: str) -> None:
    importers = {path: sorted(n for n in names if n == "acd.daemon" or n.startswith("acd.daemon."))
                 for path, names in ((p, imports_of(p)) for p in modules(below))}
    assert {str(p.relative_to(ROOT)): n for p, n in importers.items() if n} == {}


def test_the_rule_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from acd.daemon.app import Daemon\n")
    assert "acd.daemon.app" in imports_of(source)
