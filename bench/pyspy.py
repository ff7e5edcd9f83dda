"""py-spy on a running process, and what its samples say.

py-spy (the project's ``profile`` extra) samples a Python process from outside, by
reading its memory through ptrace, so the daemon runs at full speed and unchanged while
it is looked at: cProfile, which the first look at the call path used, slowed the daemon
so much under load that Asterisk dropped its AMI session (docs/demo.md). As root it
attaches to any process; elsewhere the kernel's ptrace rules (Yama's ``ptrace_scope``)
may refuse it, and it says so.

A recording is py-spy's ``raw`` format (Brendan Gregg's collapsed stacks: one stack a
line, frames joined by ``;``, its sample count last), one file that every viewer reads:
speedscope opens it as it is (speedscope.app, or ``speedscope FILE``), flamegraph.pl
turns it into an SVG, and ``hot_spots`` below sums it into the few lines a bench prints.
Only busy samples are kept (py-spy leaves out a thread that waits, in epoll or on a
lock), each stack under its thread (``--threads``), so a thread's samples over the
seconds recorded times the rate is the share of a core it used.
"""
from __future__ import annotations

import collections
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

#: samples a second: py-spy's default, a pause of the target of some tens of µs each
RATE = 100

#: the daemon's own code: the frames ``hot_spots`` totals inclusively
PROJECT_PREFIXES = ("acd/",)

#: the thread that runs the daemon's event loop (every coroutine and callback)
LOOP_THREAD = "MainThread"


class ProfilerMissing(RuntimeError):
    """py-spy is not installed (``pip install -e '.[profile]'``; ./run setup does it)."""


def py_spy() -> str:
    """The py-spy program: beside this Python (a virtualenv's bin, when it runs without
    being activated) or on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise ProfilerMissing("py-spy is not installed: pip install -e '.[profile]' (./run setup installs it)")
    return found


@dataclass
class Recording:
    """A py-spy recording under way: ``stop`` ends it and returns the file."""

    process: subprocess.Popen[bytes]
    out: Path
    log: Path
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0

    def stop(self, timeout: float = 30.0) -> Path:
        """SIGINT, as Ctrl-C: py-spy writes what it sampled and exits."""
        self.seconds = time.monotonic() - self.started
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self.out.exists():
            raise RuntimeError(f"py-spy wrote no profile ({self.log}):\n{self.log.read_text(errors='replace')}")
        return self.out


def record(pid: int, out: Path, rate: int = RATE) -> Recording:
    """Start sampling ``pid`` (every thread, busy samples only) into ``out``; waits until
    py-spy has attached, so a refused ptrace fails here and not at the end."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    log = out.with_suffix(".log")
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [py_spy(), "record", "--pid", str(pid), "--rate", str(rate), "--threads", "--format", "raw",
             "--output", str(out)], stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while b"Sampling process" not in log.read_bytes():
        if process.poll() is not None:
            raise RuntimeError(f"py-spy could not attach to {pid}:\n{log.read_text(errors='replace')}")
        if time.monotonic() > deadline:
            break            # attached but quiet: its output is buffered; go on
        time.sleep(0.05)
    return Recording(process, out, log)


def frame_name(frame: str) -> str:
    """``handle (acd/daemon/waiting_room.py:312)`` -> ``acd/daemon/waiting_room.py handle``:
    one function, whatever line of it was running."""
    function, _, where = frame.rpartition(" (")
    if not function:
        return frame
    return f"{where.rstrip(')').rsplit(':', 1)[0]} {function}"


@dataclass(frozen=True)
class HotSpots:
    """A recording summed: busy samples per thread, and per function of the event
    loop's thread the samples it was running in (``own``) and those it was on the stack
    for (``within``, the project's code); ``samples``: that thread's."""

    loop: str
    threads: dict[str, int]
    own: collections.Counter[str]
    within: collections.Counter[str]
    samples: int

    def lines(self, seconds: float, rate: int = RATE, top: int = 12) -> list[str]:
        """What a bench prints: each thread's share of a core, then the loop's top
        functions, as shares of its busy samples."""
        out = [f"{thread}: {count} busy samples, {count / (seconds * rate):.0%} of a core"
               for thread, count in sorted(self.threads.items(), key=lambda item: -item[1]) if count >= rate // 10]
        out.append(f"{self.loop}, running (self):")
        whole = max(self.samples, 1)
        out += [f"  {count / whole:6.1%}  {name}" for name, count in self.own.most_common(top)]
        out.append(f"{self.loop}, within (inclusive, the project's code):")
        out += [f"  {count / whole:6.1%}  {name}" for name, count in self.within.most_common(top)]
        return out


def hot_spots(collapsed: str, prefixes: tuple[str, ...] = PROJECT_PREFIXES, loop: str = LOOP_THREAD) -> HotSpots:
    """Sum py-spy's ``raw`` output (recorded with ``--threads``: each stack's first frame
    names its thread). The functions are the ``loop`` thread's, or the busiest thread's
    when none has that name (py-spy names threads only once ``threading`` was imported);
    the other threads (``asyncio.to_thread``'s workers: the bench's waits on sipp, the
    journal's fsync) count only in ``threads``."""
    stacks: list[tuple[str, list[str], int]] = []
    threads: collections.Counter[str] = collections.Counter()
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        thread, *frames = stack.split(";")
        name = thread.split(": ", 1)[-1]
        threads[name] += int(count_text)
        stacks.append((name, frames, int(count_text)))
    if loop not in threads and threads:
        loop = threads.most_common(1)[0][0]
    own: collections.Counter[str] = collections.Counter()
    within: collections.Counter[str] = collections.Counter()
    for name, frames, count in stacks:
        if name != loop:
            continue
        functions = [frame_name(frame) for frame in frames]
        if functions:
            own[functions[-1]] += count
        for function in set(functions):
            if function.startswith(prefixes):
                within[function] += count
    return HotSpots(loop, dict(threads), own, within, threads[loop])
