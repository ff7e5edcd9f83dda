"""What a test does when a program it needs is not on the machine: a skip on a
developer's machine (the pure tests still run), a failure in CI (``CI=true``), where a
skipped integration test would hide that the rig itself is broken."""
from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing(reason: str) -> NoReturn:
    """Skip the test, or fail it in CI, because something it needs is not there."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI: {reason}", pytrace=False)
    pytest.skip(reason)
