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
        return f"{_where(self.source, self.offset, self.line)}: {self.message}"


@dataclass(frozen=True, slots=True)
class EvidenceWarning:
    """Part of the evidence was skipped or looks wrong; the rest was kept."""

    source: str
    message: str
    offset: int | None = None
    line: int | None = None

    def __str__(self) -> str:
        return f"{_where(self.source, self.offset, self.line)}: {self.message}"


def _where(source: str, offset: int | None, line: int | None) -> str:
    if offset is not None:
        return f"{source} at offset 0x{offset:x}"
    if line is not None:
        return f"{source} line {line}"
    return source
