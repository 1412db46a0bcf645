"""TMF (trace message format) files as tracepdb writes them, and the WPP ``TMF:`` annotation text.

A TMF section starts with a GUID line (``<guid> <module> // SRC=<file> MJ= MN=``), then one
``#typev <name> <number> "<format>" //   LEVEL=... FLAGS=... FUNC=...`` line per message, each followed
by its argument block ``{`` / ``<expr>, <ItemType>[(names)] -- <N>`` / ``}``. ``// PDB:`` comment lines
may repeat mid-file (tracepdb appending), without repeating the GUID line. Format strings may contain
unescaped double quotes. A TMF file is named after its message GUID, so a directory of them is a
search path (like tracefmt's ``-p`` and ``!wdfsearchpath``).
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from parsers.errors import EvidenceError
from parsers.numbers import NumberError, parse_int

_GUID_LINE = re.compile(r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\s+(\S*)\s*(?://(.*))?$")
# Both expressions are linear in the line's length (a TMF line is untrusted and may be megabytes long): an argument
# line is searched for its tail (the C expression is what precedes it; enum names hold no parentheses), and a
# trailer key starts at a word boundary (from inside a word run, findall rescanned the run at every character).
_ARG = re.compile(r",\s*(Item\w+)\s*(?:\(([^()]*)\))?\s*--\s*([0-9]+)\s*$")
_TRAILER_KEY = re.compile(r"\b(\w+)=(\S*)")
MAX_TMF_BYTES = 64 * 1024 * 1024
MESSAGE_NUMBER_BITS = 16  # WPP message numbers and argument numbers are USHORTs


@dataclass(frozen=True, slots=True)
class TmfArg:
    """One argument of a message: its C expression, WPP item type, number (%N) and enum names."""

    name: str
    item_type: str
    number: int
    enum_names: tuple[tuple[int, str], ...] | None = None  # (value, name) for ItemList*/ItemSet*


@dataclass(frozen=True, slots=True)
class TmfMessage:
    """One ``#typev`` entry."""

    guid: uuid.UUID
    number: int
    name: str
    format: str
    level: str | None
    flags: str | None
    function: str | None
    module: str
    source_file: str | None
    args: tuple[TmfArg, ...]
    origin: str  # "file:line" the entry was read from


def _enum_names(text: str) -> tuple[tuple[int, str], ...]:
    """``A,B=0x5,C`` -> ((0,'A'), (5,'B'), (6,'C')): names count up from the last explicit value.
    Raises NumberError for a value that is not a 64-bit number."""
    names, value = [], 0
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if "=" in part:
            part, explicit = (s.strip() for s in part.split("=", 1))
            value = parse_int(explicit, 0, bits=64, signed=explicit.startswith("-"))
        names.append((value, part))
        value += 1
    return tuple(names)


def _trailer(text: str | None) -> dict[str, str]:
    return {k.upper(): v for k, v in _TRAILER_KEY.findall(text or "")}


def _split_typev(line: str) -> tuple[str, int, str, str | None] | None:
    """Name, number, format, trailer of a #typev line; the format ends at the last quote before ' //'."""
    head = re.match(r"^#typev\s+(\S+)\s+([0-9]+)\s+\"", line)
    if not head:
        return None
    rest = line[head.end():]
    trailer = None
    cut = rest.rfind('" //')
    if cut < 0:
        cut = rest.rfind('"')
        if cut < 0:
            return None
    else:
        trailer = rest[cut + 4:]
    return head.group(1), parse_int(head.group(2), bits=MESSAGE_NUMBER_BITS), rest[:cut], trailer


def parse_tmf_lines(lines: Iterable[str], source: str) -> list[TmfMessage]:
    """Parse TMF text (a file's lines or one WPP annotation's strings) into messages."""
    messages: list[TmfMessage] = []
    guid = module = src = None
    pending = None  # (name, number, format, trailer, line number)
    args: list[TmfArg] | None = None
    lineno = 0
    try:
        for lineno, raw in enumerate(lines, 1):
            line = raw.strip().lstrip("\ufeff")
            if not line or line.startswith("//") or line == "TMF:" or line == "PUBLIC_TMF:":
                continue
            if args is not None:
                if line == "}":
                    name, number, fmt, trailer, at = pending
                    keys = _trailer(trailer)
                    messages.append(TmfMessage(
                        guid=guid, number=number, name=name, format=fmt, level=keys.get("LEVEL"),
                        flags=keys.get("FLAGS"), function=keys.get("FUNC"), module=module or "", source_file=src,
                        args=tuple(sorted(args, key=lambda a: a.number)), origin=f"{source}:{at}"))
                    pending, args = None, None
                    continue
                m = _ARG.search(line)
                if not m:
                    raise EvidenceError(source, f"bad TMF argument line: {line[:80]!r}", line=lineno)
                names = _enum_names(m.group(2)) if m.group(2) is not None else None
                args.append(TmfArg(line[:m.start()].strip(), m.group(1), parse_int(m.group(3), bits=MESSAGE_NUMBER_BITS),
                                   names))
                continue
            if line == "{":
                if pending is None:
                    raise EvidenceError(source, "argument block without a #typev line", line=lineno)
                args = []
                continue
            if line.startswith("#typev") or line.startswith("#type"):
                parts = _split_typev(line)
                if parts is None:
                    raise EvidenceError(source, f"bad #typev line: {line[:80]!r}", line=lineno)
                if guid is None:
                    raise EvidenceError(source, "#typev line before any GUID line", line=lineno)
                pending = (*parts, lineno)
                continue
            m = _GUID_LINE.match(line)
            if m:
                guid, module = uuid.UUID(m.group(1)), m.group(2)
                src = _trailer(m.group(3)).get("SRC")
                continue
            raise EvidenceError(source, f"not a TMF line: {line[:80]!r}", line=lineno)
    except NumberError as exc:
        raise EvidenceError(source, f"bad TMF number: {exc}", line=lineno) from None
    if args is not None:
        raise EvidenceError(source, "argument block not closed at end of TMF", line=pending[4])
    return messages


def parse_tmf_file(path: str | Path) -> list[TmfMessage]:
    """Read one TMF file."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_TMF_BYTES:
            raise EvidenceError(str(p), "TMF file larger than 64 MiB")
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise EvidenceError(str(p), exc.strerror or str(exc)) from None
    return parse_tmf_lines(text.splitlines(), str(p))


class TmfDatabase:
    """Message formats by (GUID, number), from TMF files and search-path directories."""

    def __init__(self) -> None:
        self._messages: dict[tuple[uuid.UUID, int], TmfMessage] = {}
        self._directories: list[Path] = []
        self._looked_up: set[uuid.UUID] = set()

    def add(self, messages: Iterable[TmfMessage]) -> None:
        for m in messages:
            self._messages.setdefault((m.guid, m.number), m)

    def add_path(self, path: str | Path) -> None:
        """A .tmf file (read now) or a directory of ``<guid>.tmf`` files (read on lookup)."""
        p = Path(path)
        if p.is_dir():
            self._directories.append(p)
        else:
            self.add(parse_tmf_file(p))

    def lookup(self, guid: uuid.UUID, number: int) -> TmfMessage | None:
        found = self._messages.get((guid, number))
        if found is None and guid not in self._looked_up:
            self._looked_up.add(guid)
            for directory in self._directories:
                candidate = directory / f"{guid}.tmf"
                if candidate.is_file():
                    self.add(parse_tmf_file(candidate))
            found = self._messages.get((guid, number))
        return found

    def __len__(self) -> int:
        return len(self._messages)

    @classmethod
    def from_paths(cls, paths: Iterable[str | Path]) -> "TmfDatabase":
        db = cls()
        for p in paths:
            db.add_path(p)
        return db


def write_tmf_files(messages: Iterable[TmfMessage], out_dir: str | Path, pdb_lines: tuple[str, ...]) -> list[Path]:
    """Write messages as tracepdb does: one ``<guid>.tmf`` per message GUID, ``// PDB:`` lines first."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    by_guid: dict[uuid.UUID, list[TmfMessage]] = {}
    for m in messages:
        by_guid.setdefault(m.guid, []).append(m)
    written = []
    for guid, group in sorted(by_guid.items(), key=lambda kv: str(kv[0])):
        first = group[0]
        lines = [f"// PDB:  {line}" for line in pdb_lines]
        lines.append(f"{guid} {first.module} // SRC={first.source_file or 'Unknown'} MJ= MN=")
        for m in group:
            trailer = " ".join(f"{k}={v}" for k, v in (("LEVEL", m.level), ("FLAGS", m.flags), ("FUNC", m.function)) if v)
            lines += [f'#typev {m.name} {m.number} "{m.format}" //   {trailer}', "{"]
            for a in m.args:
                names = "(" + ",".join(f"{n}=0x{v:x}" for v, n in a.enum_names) + ")" if a.enum_names else ""
                lines.append(f"{a.name}, {a.item_type}{names} -- {a.number}")
            lines.append("}")
        path = out / f"{guid}.tmf"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        written.append(path)
    return written
