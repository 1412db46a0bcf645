"""The framework's own trace messages, and matching decoded text or TMF formats against them.

The catalog (parsers/wdfdata/wdf-trace-formats.tsv) lists every DoTraceLevelMessage call in
microsoft/Windows-Driver-Frameworks (MIT): source file:line, level, flag and the format string, and
(wdf-trace-functions.tsv, derived by tools/wdf_functions.py) the function each call sits in, spelled as
%!FUNC! prints it. The same format at several call sites is told apart by that function when the TMF or
the pasted line names it.
A message is recognized by its exact format: either its TMF/PDB format string has the same literal
skeleton as a catalog entry (:meth:`Catalog.match_format`), or its rendered text is a full match of
the regular expression compiled from the entry (:meth:`Catalog.match_text`), or ends a line after any
prefix (:meth:`Catalog.locate`: found through an index of formats by first word and the catalog's function
names). Argument values come back typed: ints for pointers, numbers and NTSTATUS, member names for enums,
str for strings.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
from importlib import resources

from parsers import enums, ntstatus
from parsers.numbers import int_or_none

# printf-style specifier as written in the framework source, or a WPP extended type %!Name!.
SOURCE_SPEC = re.compile(r"%(?:!(\w+)!|(%)|[-+ #0]*\d*(?:\.\d+)?(I64|I32|ll|hh|l|h|w|I)?([diouxXpcsSZ]))")
# TMF format string as tracewpp writes it: %N!fmt! arguments, %!FUNC!-style text items, %0 prefix.
_TMF_SPEC = re.compile(r"%(\d+)!([^!]*)!|%!(\w+)!|%(%)|%0")

_HEX = r"((?:0x)?[0-9A-Fa-f]+)"
_ENUM = r"(0x[0-9A-Fa-f]+\(\w+\)|!?\w+!?|-?\d+)"
# a status printed with its name; the name may be cut off by the end of a pasted excerpt (the value is whole)
_STATUS = r"(0x[0-9A-Fa-f]+\(\w+\)|0x[0-9A-Fa-f]+\(\w*$|\w+|NTSTATUS=\s*[0-9A-Fa-f]+|-?\d+)"
_ANY_TEXT = r"(.*?)"  # a text argument (%s, %S, %Z, and any conversion not listed)
_HOLE_REGEX = {
    "p": r"((?:0x)?[0-9A-Fa-f`]{1,17}|NULL)",
    "d": r"(-?\d+)",
    "i": r"(-?\d+)",
    "u": r"(\d+)",
    "x": _HEX,
    "X": _HEX,
    "o": r"([0-7]+)",
    "c": r"(.)",
    "s": _ANY_TEXT,
    "S": _ANY_TEXT,
    "Z": _ANY_TEXT,
}
_STATUS_TYPES = {"STATUS", "status", "NTSTATUS"}
_ENUM_PRINTED = re.compile(r"0x[0-9A-Fa-f]+\((\w+)\)")
_DECIMAL = re.compile(r"-?\d+")
# where a message may start in a line: after a separator, at a word (see Catalog.locate)
_WORD_START = re.compile(r"(?<![^\s:\]\)>\-])(?=(\S+))")
_FUNCTION_TOKEN = re.compile(r"[A-Za-z_~][\w~<>$]*(?:::[A-Za-z_~][\w~<>$]*)*")
_TAIL = 2048  # a framework message with its prefix is shorter than this: longer lines are searched at their end
_ATTEMPTS = 32  # places in one line where a message is tried
_LITERAL_SPLIT = re.compile(r"\0|%!FUNC!")
_AFTER_FUNCTION = re.compile(r"\s*(?:-\s+|:\s*)?")
_HRESULT_TYPES = {"hresult", "HRESULT"}


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One framework trace call site."""

    id: str  # "<file>:<line>", e.g. "fxioqueue.cpp:5273"
    source: str  # full path:line in the framework tree
    level: str
    flag: str
    format: str
    holes: tuple[str, ...]  # per argument: 'p', 'd', 'x', 'I64x', 's', 'STATUS', 'WDF_DEVICE_PNP_STATE', ...
    skeleton: str  # literal text with one \0 per argument
    function: str | None = None  # as %!FUNC! prints it, e.g. "FxIoQueue::Requeue"

    @property
    def literal_size(self) -> int:
        return len(self.skeleton) - len(self.holes)


def rewrite_format(fmt: str, hole, func: str = "%!FUNC!", percent: str = "%") -> str:
    """``fmt`` (a framework printf format) with each argument specifier replaced by ``hole(match)``,
    ``%!FUNC!`` by ``func`` and ``%%`` by ``percent``; match groups are (wpp type, %, length, conversion)."""
    def substitute(m: re.Match) -> str:
        wpp, pct, _length, _conv = m.groups()
        return percent if pct else func if wpp == "FUNC" else hole(m)

    return SOURCE_SPEC.sub(substitute, fmt)


def _split_source_format(fmt: str) -> tuple[tuple[str, ...], str]:
    holes: list[str] = []

    def hole(m: re.Match) -> str:
        wpp, _, length, conv = m.groups()
        holes.append(wpp or (length or "") + conv)
        return "\0"

    skeleton = rewrite_format(fmt, hole)
    return tuple(holes), _normalise(skeleton)


def tmf_skeleton(fmt: str) -> tuple[str, tuple[int, ...]]:
    """Literal skeleton of a TMF format string and its argument numbers in order of appearance."""
    numbers: list[int] = []
    parts: list[str] = []
    pos = 0
    for m in _TMF_SPEC.finditer(fmt):
        parts.append(fmt[pos : m.start()])
        pos = m.end()
        number, _spec, item, percent = m.groups()
        if number is not None:
            numbers.append(int_or_none(number, bits=16))  # None (no such argument) past a USHORT
            parts.append("\0")
        elif item == "FUNC":
            parts.append("%!FUNC!")
        elif item is not None:
            parts.append(f"%!{item}!")
        elif percent:
            parts.append("%")
    parts.append(fmt[pos:])
    return _normalise("".join(parts)), tuple(numbers)


def _normalise(text: str) -> str:
    return " ".join(text.replace("\\n", " ").split())


_GROUP_OPEN = re.compile(r"(?<!\\)\((?!\?)")  # the "(" opening a capturing group in a hole's pattern


def _hole_pattern(hole: str) -> str:
    if hole in _STATUS_TYPES or hole in _HRESULT_TYPES:
        return _STATUS
    conv = hole[-1]
    if len(hole) > 1 and hole[:-1] not in ("I64", "I32", "ll", "hh", "l", "h", "w", "I"):
        return _ENUM  # a WPP custom type: enum, IRPMJ, pnpmn, ...
    return _HOLE_REGEX.get(conv, _ANY_TEXT)


def convert(hole: str, text: str):
    """Turn the printed form of one argument back into a value (int, or str for names and strings)."""
    return converter(hole)(text)


def _enum_value(hole: str, text: str):
    if text[:1].isalpha() or text[:1] == "!":  # printed as its name
        return text.strip("!")
    m = _ENUM_PRINTED.fullmatch(text)
    if m:
        return m.group(1)
    value = int_or_none(text, signed=text.startswith("-")) if _DECIMAL.fullmatch(text) else None
    if value is not None:
        return enums.name_of(hole, value) or text
    return text.strip("!")


def _pointer(text: str):
    if text == "NULL":
        return 0
    value = int_or_none(text, 16)  # WinDbg's backtick separator accepted; 17 hex digits are no handle
    return text if value is None else value


def _decimal(text: str):
    value = int_or_none(text, signed=text.startswith("-"))
    return text if value is None else value


def _octal(text: str):
    value = int_or_none(text, 8)
    return text if value is None else value


#: converter -> (a column of printed values it reads as plain ``int(text, base)``, one per line; base)
_PLAIN_COLUMNS = {_pointer: (re.compile(r"[0-9A-Fa-f]{1,16}(?:\n[0-9A-Fa-f]{1,16})*"), 16),
                  _decimal: (re.compile(r"-?[0-9]{1,18}(?:\n-?[0-9]{1,18})*"), 10)}


@lru_cache(maxsize=None)
def converter(hole: str):
    """The function turning the printed form of a ``hole`` argument back into its value."""
    if hole in _STATUS_TYPES or hole in _HRESULT_TYPES:
        return lambda text: ntstatus.parse(text.strip() if ")" in text or "(" not in text else text.split("(")[0])
    conv = hole[-1]
    if len(hole) > 1 and hole[:-1] not in ("I64", "I32", "ll", "hh", "l", "h", "w", "I"):
        return lambda text: _enum_value(hole, text.strip())
    return {"p": _pointer, "x": _pointer, "X": _pointer, "d": _decimal, "i": _decimal, "u": _decimal,
            "o": _octal}.get(conv, str.strip)


class Catalog:
    """All framework messages, indexed for matching by skeleton and by rendered text."""

    def __init__(self, entries: list[CatalogEntry]):
        self.entries = entries
        self.by_id = {e.id: e for e in entries}
        self._by_skeleton: dict[str, list[CatalogEntry]] = {}
        for e in entries:
            self._by_skeleton.setdefault(e.skeleton, []).append(e)
        self._by_first_word: dict[str, list[CatalogEntry]] = {}
        self._hole_first: list[CatalogEntry] = []
        for e in sorted(entries, key=lambda e: -e.literal_size):
            first = e.skeleton.split(" ", 1)[0]
            if not e.skeleton.strip():
                continue  # an empty format: nothing in a line tells it
            if "\0" in first or not first:
                self._hole_first.append(e)
            else:
                self._by_first_word.setdefault(first, []).append(e)
        self._regex: dict[str, re.Pattern] = {}
        self._converters: dict[str, tuple] = {}
        literal = {e.id: _LITERAL_SPLIT.split(e.skeleton) for e in entries}  # the text between arguments
        self._lead = {key: pieces[0].rstrip() for key, pieces in literal.items()}
        self._pieces = {key: tuple(p.strip() for p in pieces[1:] if p.strip()) for key, pieces in literal.items()}
        self._hole_leads = tuple({self._lead[e.id] for e in self._hole_first if self._lead[e.id]})
        # per first word, each format with its longest literal piece: a format is tried only when that is in the text
        self._anchored = {word: [(max(self._pieces[e.id], key=len, default=""), e) for e in candidates]
                          for word, candidates in self._by_first_word.items()}
        self.functions = frozenset(e.function for e in entries if e.function)
        self.multi_site = frozenset(skeleton for skeleton, sites in self._by_skeleton.items() if len(sites) > 1)

    def sites_in_file(self, source_file: str) -> list[CatalogEntry]:
        """The trace call sites of one framework source file, in line order (the order tracewpp numbers them)."""
        if not hasattr(self, "_by_file"):
            self._by_file: dict[str, list[CatalogEntry]] = {}
            for e in self.entries:
                self._by_file.setdefault(e.id.split(":")[0], []).append(e)
            for sites in self._by_file.values():
                sites.sort(key=lambda e: int(e.id.split(":")[1]))
        return self._by_file.get(source_file, [])

    def entry(self, entry_id: str) -> CatalogEntry:
        return self.by_id[entry_id]

    def site(self, entry: CatalogEntry, function: str | None) -> CatalogEntry:
        """Of the call sites logging ``entry``'s format, the one in ``function`` (``entry`` when the
        function is unknown or none matches)."""
        if function:
            for other in self._by_skeleton.get(entry.skeleton, ()):
                if other.function == function:
                    return other
        return entry

    def function_of(self, entry: CatalogEntry) -> str | None:
        """The function of a message when every call site of its format is in the same one."""
        functions = {e.function for e in self._by_skeleton.get(entry.skeleton, [entry])}
        return functions.pop() if len(functions) == 1 else None

    def match_format(self, tmf_format: str, function: str | None = None) -> tuple[CatalogEntry, tuple[int, ...]] | None:
        """The entry whose literal skeleton equals that of a TMF format string (the call site in
        ``function`` when several log it), with the TMF argument numbers in the entry's argument
        order; None when it is not a framework message."""
        skeleton, numbers = tmf_skeleton(tmf_format)
        sites = self._by_skeleton.get(skeleton)
        if not sites or len(sites[0].holes) != len(numbers):
            return None
        return self.site(sites[0], function), numbers

    def match_text(self, text: str, function: str | None = None) -> tuple[CatalogEntry, tuple] | None:
        """The entry whose format renders exactly to ``text`` (the call site in ``function`` when
        several log it), with the parsed argument values."""
        text = _normalise(text)
        first = text.split(" ", 1)[0]
        for entry in [e for anchor, e in self._anchored.get(first, ()) if anchor in text]:
            found = self._fullmatch(entry, text, function)
            if found:
                return found
        for entry in self._hole_first:
            if text.startswith(self._lead[entry.id]):
                found = self._fullmatch(entry, text, function)
                if found:
                    return found
        return None

    def _fullmatch(self, entry: CatalogEntry, text: str, function: str | None, pos: int = 0):
        """``entry`` and its argument values when ``text[pos:]`` (normalised) is exactly its message."""
        if not text.startswith(self._lead[entry.id], pos) or not all(p in text for p in self._pieces[entry.id]):
            return None
        m = self.pattern(entry).fullmatch(text, pos)
        return (self.site(entry, function), self.values(entry, m.groups())) if m else None

    def _converters_of(self, entry: CatalogEntry) -> tuple:
        converters = self._converters.get(entry.id)
        if converters is None:
            converters = self._converters[entry.id] = tuple(converter(h) for h in entry.holes)
        return converters

    def values(self, entry: CatalogEntry, printed) -> tuple:
        """The argument values of ``entry`` from their printed forms (regex groups in format order)."""
        return tuple([convert(v) for convert, v in zip(self._converters_of(entry), printed)])

    def value_columns(self, entry: CatalogEntry, columns) -> list[list]:
        """:meth:`values` of many messages of ``entry`` at once, as a column (list) per argument, their printed
        forms given as one column per argument (format order): a column of plain numbers is checked with one
        expression and converted by ``int``; in other columns each distinct printed form is converted once."""
        converted = []
        for convert, column in zip(self._converters_of(entry), columns):
            plain = _PLAIN_COLUMNS.get(convert)
            if plain is not None and plain[0].fullmatch("\n".join(column)):
                converted.append(list(map(int, column, repeat(plain[1]))))
                continue
            table = {text: convert(text) for text in set(column)}
            converted.append(list(map(table.__getitem__, column)))
        return converted

    def locate(self, text: str) -> tuple[int, CatalogEntry, tuple] | None:
        """The framework message in a line, whatever prefix precedes it: where it starts in the line with
        whitespace runs collapsed (``" ".join(text.split())``), its entry and argument values. Tried right
        after a catalog function name (the ``%!FUNC!`` of a prefix) first, then at every word start that
        is the first word of some format (the formats are indexed by first word; a format is tried only
        when all its literal pieces are in the line); the message must run to the end of the line, so only
        the line's last ``_TAIL`` characters are searched, at ``_ATTEMPTS`` places at most."""
        text = _normalise(text)
        offset = max(0, len(text) - _TAIL)
        tail = text[offset:]
        present: dict[str, bool] = {}  # entry id -> all its literal pieces are in the line
        attempts = 0
        for m in _FUNCTION_TOKEN.finditer(tail):
            if m.group() in self.functions and attempts < _ATTEMPTS:
                attempts += 1
                start = _AFTER_FUNCTION.match(tail, m.end()).end()
                found = self.match_text(tail[start:], m.group())
                if found:
                    return (offset + start, *found)
        for m in _WORD_START.finditer(tail):
            word = m.group(1)
            candidates = self._by_first_word.get(word, ())
            if word.startswith(self._hole_leads):
                candidates = (*candidates, *self._hole_first)
            if not candidates:
                continue
            attempts += 1
            if attempts > _ATTEMPTS:
                return None
            for entry in candidates:
                if present.setdefault(entry.id, all(p in tail for p in self._pieces[entry.id])):
                    found = self._fullmatch(entry, tail, None, m.start())
                    if found:
                        return (offset + m.start(), *found)
        return None

    def pattern(self, entry: CatalogEntry) -> re.Pattern:
        """The full-match regular expression of an entry's format (compiled once)."""
        rx = self._regex.get(entry.id)
        if rx is None:
            rx = self._regex[entry.id] = re.compile(self.pattern_source(entry), re.DOTALL)
        return rx

    @staticmethod
    def pattern_source(entry: CatalogEntry, space: str = r"\s+", captured: bool = True) -> str:
        """The regular expression (source) of an entry's format, a group per argument (none unless ``captured``);
        ``space`` is what a space in it matches (``" +"``, spaces as a line prints them, makes a faster
        expression than any whitespace). A text argument followed by another one later in the format stops at the
        first place the literal text after it starts: two lazy ``(.*?)`` would try every split of a line that is
        not the message (the square of its length)."""
        pieces = entry.skeleton.split("\0")
        patterns = [_hole_pattern(hole) for hole in entry.holes]
        out = [_literal(pieces[0], space)]
        for k, (pattern, piece) in enumerate(zip(patterns, pieces[1:])):
            literal = _literal(piece, space)
            if pattern == _ANY_TEXT and literal and _ANY_TEXT in patterns[k + 1:]:
                pattern = f"((?:(?!{literal}).)*)"
            out.append(pattern if captured else _GROUP_OPEN.sub("(?:", pattern))
            out.append(literal)
        return "".join(out)


def _literal(text: str, space: str = r"\s+") -> str:
    if not text:
        return ""
    escaped = space.join(re.escape(word) for word in text.split(" "))
    return escaped.replace(re.escape("%!FUNC!"), r"[\w:~<>]+")


@lru_cache(maxsize=1)
def load() -> Catalog:
    """The bundled framework message catalog."""
    data = resources.files("parsers").joinpath("wdfdata")
    text = data.joinpath("wdf-trace-formats.tsv").read_text(encoding="utf-8")
    functions = dict(line.split("\t", 1) for line in data.joinpath("wdf-trace-functions.tsv").read_text(
        encoding="utf-8").splitlines() if line.strip() and not line.startswith("#"))
    entries = []
    seen: set[str] = set()
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        source, level, flag, fmt = line.split("\t", 3)
        entry_id = source.rsplit("/", 1)[-1]
        if entry_id in seen:
            continue
        seen.add(entry_id)
        holes, skeleton = _split_source_format(fmt)
        entries.append(CatalogEntry(entry_id, source, level, flag, fmt, holes, skeleton, functions.get(source)))
    return Catalog(entries)


def render_entry(entry: CatalogEntry, values: tuple, pointer_size: int = 8) -> str:
    """The message as wdfkd prints it, from the framework's printf format and argument values
    (pointers padded to the writer's width, NTSTATUS names, enum member names)."""
    it = iter(values)

    def hole(m: re.Match) -> str:
        wpp, _, length, conv = m.groups()
        value = next(it)
        if wpp in _STATUS_TYPES:
            return ntstatus.render(value)
        if wpp or conv == "s" or not isinstance(value, int):
            return str(value)
        if conv == "p":
            return f"{value:0{pointer_size * 2}X}"
        return m.group(0) % value if length is None else format(value, conv)

    return rewrite_format(entry.format, hole, func="")
