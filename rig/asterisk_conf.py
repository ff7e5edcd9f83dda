"""Small, comment-preserving edits of Asterisk ``.conf`` text.

The sandbox builds its config from the same files a production host uses and changes
only a few values (ports, secret, directories). Rewriting those values in place keeps
every comment and ``#include`` of the base files, so what a test runs is what the
operator reads, rather than a second, drifting copy of the config.
"""
from __future__ import annotations

import re

_SECTION = re.compile(r"^\s*\[([^\]]+)\]")


def _option_line(key: str) -> re.Pattern[str]:
    return re.compile(rf"^(\s*){re.escape(key)}(\s*)=>?(\s*)(.*?)\s*$")


def _section_span(lines: list[str], section: str) -> tuple[int, int]:
    """Index of the section's header line and of the first line after its body."""
    start = None
    for index, line in enumerate(lines):
        match = _SECTION.match(line)
        if not match:
            continue
        if start is not None:
            return start, index
        if match.group(1).strip() == section:
            start = index
    if start is None:
        raise KeyError(f"no [{section}] section")
    return start, len(lines)


def get_option(text: str, section: str, key: str) -> str:
    """The value of ``key`` in ``[section]``; KeyError when either is missing."""
    lines = text.splitlines()
    start, end = _section_span(lines, section)
    pattern = _option_line(key)
    for line in lines[start + 1:end]:
        match = pattern.match(line.split(";", 1)[0])
        if match:
            return match.group(4)
    raise KeyError(f"no {key} in [{section}]")


def set_option(text: str, section: str, key: str, value: str) -> str:
    """``text`` with ``key`` in ``[section]`` set to ``value``.

    An existing (uncommented) line keeps its position and spacing; a missing key is
    added right after the section header. A missing section is an error, not added:
    it means the base config is not the one this code was written for.
    """
    if "\n" in value or "\r" in value:
        raise ValueError(f"a value for {key} cannot span lines: {value!r}")
    lines = text.splitlines()
    start, end = _section_span(lines, section)
    pattern = _option_line(key)
    for index in range(start + 1, end):
        code, sep, comment = lines[index].partition(";")
        match = pattern.match(code)
        if match:
            arrow = "=>" if "=>" in code else "="
            lines[index] = f"{match.group(1)}{key}{match.group(2)}{arrow}{match.group(3) or ' '}{value}"
            if sep:
                lines[index] += f" ;{comment}"
            return "\n".join(lines) + "\n"
    lines.insert(start + 1, f"{key} = {value}")
    return "\n".join(lines) + "\n"
