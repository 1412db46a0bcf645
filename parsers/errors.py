"""Errors and warnings raised or collected while reading evidence."""
from __future__ import annotations

from dataclasses import dataclass


class EvidenceError(Exception):
    """Evidence that cannot be read at all.

    Carries the file and byte offset (or line) so the CLI can print one line and exit with code 2.
    """

    def __init__(self, source: str, message: str, offset: int | None = None, line: int | None = None):
        self.source = source
        self.offset = offset
        self.line = line
        self.message = message
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = self.source
        if self.offset is not None:
            where += f" at offset 0x{self.offset:x}"
        elif self.line is not None:
            where += f" line {self.line}"
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class EvidenceWarning:
    """Part of the evidence was skipped or looks wrong; the rest was kept."""

    source: str
    message: str
    offset: int | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.source
        if self.offset is not None:
            where += f" at offset 0x{self.offset:x}"
        elif self.line is not None:
            where += f" line {self.line}"
        return f"{where}: {self.message}"
