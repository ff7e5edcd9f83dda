"""Shared fixtures for the tests against real programs: one sandboxed Asterisk per
session, sipp phones per test, and the local Redis and PostgreSQL.

A missing program is a skip on a developer's machine (the pure tests still run) and a
failure in CI (``CI=true``), where a skipped integration test would hide that the
rig itself is broken.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rig.asterisk import AsteriskError, AsteriskSandbox, find_binary
from rig.services import ServiceUnavailable, postgres_url as start_postgres, redis_url as start_redis
from rig.sipp import Phones, find_sipp
from tests.needs import missing


@pytest.fixture(scope="session")
def asterisk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsteriskSandbox]:
    """A running sandboxed Asterisk; tests load their own config with ``apply()``."""
    if find_binary() is None:
        missing("asterisk is not installed (scripts/install-system-deps)")
    sandbox = AsteriskSandbox(tmp_path_factory.mktemp("asterisk"))
    try:
        sandbox.start()
    except AsteriskError as error:
        missing(f"the Asterisk sandbox did not start: {error}")
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def phones(asterisk: AsteriskSandbox, tmp_path: Path) -> Iterator[Phones]:
    """sipp citizens and agents against the session's Asterisk, stopped after the test."""
    if find_sipp() is None:
        missing("sipp is not installed (Debian package sip-tester)")
    bank = Phones(tmp_path / "sipp", asterisk.sip_port)
    try:
        yield bank
    finally:
        bank.stop_all()


def _running(start: Callable[[], str]) -> str:
    try:
        return start()
    except ServiceUnavailable as error:
        missing(str(error))


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A running Redis on 127.0.0.1:6379 (started by scripts/ensure-services if needed)."""
    return _running(start_redis)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The SQLAlchemy URL of the ``acd_test`` database in the local PostgreSQL."""
    return _running(start_postgres)


#: where page tests keep their screenshots (kept by CI as artifacts)
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator["Browser"]:
    """Debian's Chromium, headless at 1400x900, driven by selenium through chromedriver;
    a screenshot of its last page is saved in ``test-artifacts/<test>.png`` at the end."""
    from tests.browser import Browser, find_chromium

    if find_chromium() is None:
        missing("chromium and chromium-driver are not installed (scripts/install-system-deps)")
    driver = Browser.start()
    try:
        yield driver
    finally:
        driver.screenshot(request.node.name)
        driver.quit()
