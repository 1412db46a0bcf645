"""The project's errors and the warnings collected while reading evidence.

Every error wdftriage raises on purpose derives from :class:`WdfTriageError`; the command line and the
debugger adapter turn one into a single line and exit code 2. A parser never lets a bare ``ValueError``,
``struct.error`` or construct error escape: it raises :class:`EvidenceError` naming the file and offset.
"""
from __future__ import annotations

from dataclasses import dataclass


class WdfTriageError(Exception):
    """Base of every error wdftriage raises on purpose (bad input, unreadable target memory)."""

    def one_line(self) -> str:
        return str(self)


class EvidenceError(WdfTriageError):
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


class TargetReadError(WdfTriageError):
    """Target memory (a debugger, a dump, a snapshot) that cannot be read at ``address``."""

    def __init__(self, address: int, size: int, reason: str = "not readable"):
        self.address = address
        self.size = size
        self.reason = reason
        super().__init__(f"0x{size:x} bytes at 0x{address:x}: {reason}")


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
