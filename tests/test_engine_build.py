"""The compiled engine and simulated day (setup.py builds them with mypyc): used when
built, never stale."""
from __future__ import annotations

import ast
import importlib
import os
import subprocess
from pathlib import Path

import pytest

from acd.engine import compiled, refuse_stale_builds

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(os.environ.get("ACD_PURE_PYTHON") == "1", reason="installed as plain Python on purpose")
def test_the_install_compiled_the_engine():
    # the extensions are optional at build time: a failed compile must still show here,
    # or bench.sim would quietly measure the plain Python engine
    assert compiled()


def test_a_module_compiled_before_its_source_changed_is_refused(tmp_path):
    source = tmp_path / "engine.py"
    built = tmp_path / "engine.cpython-311-x86_64-linux-gnu.so"
    source.write_text("# engine\n")
    built.write_bytes(b"\x7fELF")
    os.utime(source, (1_000, 1_000))
    os.utime(built, (2_000, 2_000))
    refuse_stale_builds(tmp_path)                      # built after the source: fine
    os.utime(source, (3_000, 3_000))
    with pytest.raises(ImportError, match="compiled before engine.py last changed"):
        refuse_stale_builds(tmp_path)


def _compiled_sources() -> list[str]:
    """setup.py's ``COMPILED`` list, read without running setup()."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "COMPILED" for t in node.targets):
            return [ast.literal_eval(element) for element in node.value.elts]  # type: ignore[attr-defined]
    raise AssertionError("setup.py has no COMPILED list")


@pytest.mark.skipif(os.environ.get("ACD_PURE_PYTHON") == "1", reason="installed as plain Python on purpose")
def test_the_install_compiled_every_listed_module():
    # the simulated day is compiled with the engine: bench.sim's ratio counts on it
    for source in _compiled_sources():
        module = importlib.import_module(source.removesuffix(".py").replace("/", "."))
        assert not (module.__file__ or "").endswith(".py"), f"{source} runs as plain Python"


def test_run_recompiles_when_any_listed_source_changes():
    # ./run's stamp hashes the sources it reads out of setup.py with sed: the same list
    listed = subprocess.run(["sed", "-n", r's/^ *"\([a-z_/]*\.py\)",$/\1/p', "setup.py"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    assert listed == _compiled_sources()
    assert "sim/model.py" in listed


def test_every_package_with_a_compiled_module_refuses_a_stale_build(monkeypatch):
    packages = {str(Path(source).parent) for source in _compiled_sources()} - {"acd/engine"}
    assert packages, "only the engine is compiled"
    modules = [importlib.import_module(package.replace("/", ".")) for package in sorted(packages)]
    checked: list[Path] = []
    monkeypatch.setattr("acd.engine.refuse_stale_builds", checked.append)
    for module in modules:
        importlib.reload(module)
    assert sorted(checked) == sorted(ROOT / package for package in packages)
