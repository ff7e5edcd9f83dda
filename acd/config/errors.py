"""The one error type a config mistake raises.

Telephony engineers edit the config by hand and reload a running daemon; an error must
say where (file and line) and why, so they can fix it without reading our code, and the
daemon can refuse the file while it keeps running on the last good one.
"""
from __future__ import annotations

from pathlib import Path


class ConfigError(ValueError):
    """A config file that cannot be used, with the place of the first mistake found."""

    def __init__(self, reason: str, file: str | Path | None = None, line: int | None = None) -> None:
        self.reason = reason
        self.file = str(file) if file is not None else None
        self.line = line
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = self.file or "<config>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.reason}"
