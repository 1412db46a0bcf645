"""The records every parser hands to the analyzer.

A :class:`TraceMessage` is one framework (or driver) trace message, whatever carried it: an IFR
record decoded with a TMF, a line of pasted ``!wdflogdump`` text, later an ETL event. The analyzer
never learns which parser made it; it reads ``catalog_id`` and ``args`` (the framework message the
line is, and its argument values) and keeps ``ref`` to point back at the evidence.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, NamedTuple


DEBUGGER = "debugger"  # TraceMessage.level of pasted lines that are not log records (debugger chatter)
#: The marks wdftriage prints after a message recognized by its payload shape (no TMF), in every output;
#: parsers/logtext.py reads them back when wdftriage's own output is pasted.
INFERRED_MARK = "[inferred: no TMF, recognized by shape]"
GENERAL_MARK = "[inferred: no TMF, recognized by shape; general form, the exact wording needs the TMF]"


@dataclass(slots=True, unsafe_hash=True)
class SourceRef:
    """Where a message came from: file plus line (text) or byte offset (binary) and sequence."""

    file: str
    line: int | None = None
    offset: int | None = None
    sequence: int | None = None

    def __str__(self) -> str:
        if self.line is not None:
            return f"{self.file}:{self.line}"
        if self.offset is not None:
            seq = f" seq {self.sequence}" if self.sequence is not None else ""
            return f"{self.file}@0x{self.offset:x}{seq}"
        return self.file


class TraceMessage:
    """One decoded trace message.

    ``text`` is the message body as printed by wdfkd (no sequence/function prefix). A parser that can
    format it later gives ``formatter`` and ``format_data`` instead of ``text``: the text is then
    ``formatter(format_data)``, computed the first time ``text`` is read and kept (decoding a log formats
    nothing; a report formats the lines it shows).
    ``catalog_id`` names the framework message (see :mod:`parsers.catalog`) when the message is one
    of the framework's own; ``args`` then holds its argument values in format order (ints for
    pointers/numbers/status, str for enum names and strings). ``known`` is False when no format
    was found (the text then holds the raw arguments in hex). ``inferred`` marks a format that was
    recognized from the payload shape rather than read from a TMF or PDB; ``general`` that it was
    recognized only as the general form of messages sharing that payload (a dropped event whose reason
    is not known). ``pointers`` (records with
    no format only) lists every pointer-sized value found in the raw arguments, so the analyzer can see
    which handles an unidentified message names.

    A hand-written slotted class (not a dataclass) because ``text`` is a property; construction costs about
    0.2 us, with the fields in the same order as before.
    """

    __slots__ = ("ref", "_text", "log", "sequence", "timestamp", "function", "catalog_id", "args", "level", "known",
                 "inferred", "general", "pointers", "_formatter", "_format_data")

    def __init__(self, ref: SourceRef, text: str | None = None, log: str = "", sequence: int | None = None,
                 timestamp: datetime | None = None, function: str | None = None, catalog_id: str | None = None,
                 args: tuple = (), level: str | None = None, known: bool = True, inferred: bool = False,
                 general: bool = False, pointers: tuple[int, ...] = (),
                 formatter: Callable[[Any], str] | None = None, format_data: Any = None):
        if text is None and formatter is None:
            raise TypeError("TraceMessage needs its text or a formatter")
        self.ref = ref
        self._text = text
        self.log = log
        self.sequence = sequence
        self.timestamp = timestamp
        self.function = function
        self.catalog_id = catalog_id
        self.args = args
        self.level = level
        self.known = known
        self.inferred = inferred
        self.general = general
        self.pointers = pointers
        self._formatter = formatter
        self._format_data = format_data

    @property
    def text(self) -> str:
        text = self._text
        if text is None:
            text = self._text = self._formatter(self._format_data)
            self._formatter = self._format_data = None
        return text

    @text.setter
    def text(self, value: str) -> None:
        self._text = value

    @property
    def formatted(self) -> bool:
        """True once the text exists (given, or formatted because it was read)."""
        return self._text is not None

    def _fields(self) -> tuple:
        return (self.ref, self.text, self.log, self.sequence, self.timestamp, self.function, self.catalog_id,
                self.args, self.level, self.known, self.inferred, self.general, self.pointers)

    def __eq__(self, other) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # mutable, like the dataclass it replaces

    def __reduce__(self):
        return TraceMessage, self._fields()  # pickled with its text: a formatter may not pickle

    def __repr__(self) -> str:
        names = ("ref", "text", "log", "sequence", "timestamp", "function", "catalog_id", "args", "level", "known",
                 "inferred", "general", "pointers")
        return "TraceMessage(" + ", ".join(f"{n}={v!r}" for n, v in zip(names, self._fields())) + ")"


class LazyMessages(Sequence):
    """Messages a parser holds as columns (:class:`MessageColumns`) and builds one by one when read: the event
    table is filled from the columns, and a message exists only once something asks for it (a report showing
    it, ``table[i].text``). Subclasses give ``__len__``, ``_build(rows)`` (the messages of those rows, each as
    the parser's message path makes it) and ``columns(parts)``. Compares, pickles, iterates and concatenates
    (``+``, a list) as the list of its messages."""

    _items: list | None = None
    BLOCK = 256  # messages built together when one of them is read

    @classmethod
    def columns(cls, parts: list[LazyMessages]) -> MessageColumns:
        """The columns of the messages of ``parts`` (of this class), one after the other."""
        raise NotImplementedError

    def _build(self, rows: list[int]) -> list[TraceMessage]:
        raise NotImplementedError

    def _materialized(self, rows: list[int]) -> list:
        items = self._items
        if items is None:
            items = self._items = [None] * len(self)
        missing = [i for i in rows if items[i] is None]
        for i, message in zip(missing, self._build(missing)):
            items[i] = message
        return items

    def take(self, rows: list[int]) -> list[TraceMessage]:
        """The messages of ``rows`` (those not built yet built together)."""
        items = self._materialized(rows)
        return [items[i] for i in rows]

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        items = self._items
        if items is not None and items[index] is not None:
            return items[index]
        start = index - index % self.BLOCK  # rows are mostly read in order: their neighbours are built with them
        return self._materialized(range(start, min(start + self.BLOCK, len(self))))[index]

    def __iter__(self):
        return iter(self._materialized(range(len(self))))

    def __eq__(self, other) -> bool:
        if not isinstance(other, (list, LazyMessages)):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None

    def __add__(self, other) -> list:
        return list(self) + list(other)

    def __radd__(self, other) -> list:
        return list(other) + list(self)

    def __reduce__(self):
        return list, (list(self),)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {len(self)} messages>"


class Coded(NamedTuple):
    """A column of few distinct values: ``values[codes[i]]`` is row i's value, code -1 None."""

    codes: Any  # numpy int array
    values: list


class ArgColumns(list):
    """The arguments of a block of messages as columns (a numpy array, a :class:`Coded` column or a list per
    argument), rather than a tuple per message."""


NAT_NS = -(1 << 63)  # numpy's NaT as int64: a MessageColumns timestamp the evidence does not give


@dataclass(slots=True)
class MessageColumns:
    """Messages as columns, the hand-off from a parser to the event table (analyzer/events.py) that builds no
    message. Every array has a row per message (numpy arrays; a :class:`Coded` column for text fields).
    ``blocks`` give each row's catalog id and arguments: ``(catalog_id, rows, args)`` with ``args`` either a list
    of argument tuples (one per row) or :class:`ArgColumns`; together the blocks hold every row once.
    ``messages`` hold the same messages (built when read, see :class:`LazyMessages`)."""

    messages: list  # sequences of messages, one after the other
    log: Coded
    file: Coded
    line: tuple  # (int64 values, missing mask)
    offset: tuple
    sequence: tuple
    timestamp: Any  # int64 nanoseconds since 1970 UTC, NAT_NS where unknown
    level: Coded
    inferred: Any  # bool
    general: Any  # bool
    mentions: Any  # object: a tuple per row
    blocks: list


@dataclass(slots=True)
class BugCheck:
    """A bugcheck code and its four parameters, from a dump header, pasted ``!analyze``/kd text or
    ``--bugcheck``. A parameter the evidence does not give is None, never 0. ``meanings`` are the
    argument descriptions the paste itself printed (None where it printed none); ``frames`` the stack
    frames it showed (``module!symbol+offset``, innermost first); ``faulting_source`` the
    ``FAULTING_SOURCE_*`` keys; ``framework_analysis`` the lines of the debugger's own WDF analysis (``This is a
    bugcheck caused by a WDF driver ...`` and its ``Reason: ...`` line)."""

    code: int
    parameters: tuple[int | None, int | None, int | None, int | None]
    name: str | None = None
    failure_bucket: str | None = None
    image_name: str | None = None
    module_name: str | None = None
    source: str | None = None
    symbol_name: str | None = None
    process_name: str | None = None
    faulting_source: dict = field(default_factory=dict)
    meanings: tuple[str | None, ...] = (None, None, None, None)
    frames: tuple[str, ...] = ()
    framework_analysis: tuple[str, ...] = ()


@dataclass(slots=True)
class LogSet:
    """Everything read from one piece of evidence: messages, bugcheck, warnings, per-log facts."""

    source: str
    messages: list[TraceMessage] = field(default_factory=list)
    bugcheck: BugCheck | None = None
    warnings: list = field(default_factory=list)
    logs: dict = field(default_factory=dict)  # log name -> dict of facts (records, wrapped, dropped...)
    objects: list = field(default_factory=list)  # devices and queues of pasted object views (parsers.objecttext)
