"""The compiled engine (setup.py builds it with mypyc): used when built, never stale."""
from __future__ import annotations

import os

import pytest

from acd.engine import compiled, refuse_stale_builds


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
