"""Waiting for something asynchronous in a test, with a deadline and a clear failure."""
from __future__ import annotations

import asyncio
from collections.abc import Callable


async def eventually(condition: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``condition`` every 50 ms until it is true; fail naming ``what`` after
    ``timeout`` seconds (live tests wait on Asterisk, sipp and the daemon, whose
    timings vary with the machine's load)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout} s")
        await asyncio.sleep(0.05)
