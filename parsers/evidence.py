"""Reading one piece of evidence, whatever it is, into a :class:`LogSet`.

The kind is told by content, never by file name: an IFR blob starts with WdfTraceGuid; a crash
dump with ``PAGEDU64``/``PAGEDUMP`` (bugcheck from its header, IFR logs found inside it); text is a pasted
``!wdflogdump``/``!wdfcrashdump``/``!rcdrlogdump``/tracefmt log and/or ``!analyze -v``; a snapshot written by
``capture`` in the debugger starts with ``WDFSNAP`` (parsers/snapshot.py).
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from parsers import ifr
from parsers.errors import EvidenceError, EvidenceWarning
from parsers.logtext import read_report_text
from parsers.dump import DumpEvidence, read_dump
from parsers.decode import DecodeOptions, decode_ifr
from parsers.records import LogSet
from parsers.snapshot import is_snapshot, read_snapshot, snapshot_logset

MAX_INPUT_BYTES = 512 * 1024 * 1024  # an IFR blob larger than this is not evidence we read whole (text is streamed)
_DUMP_SIGNATURES = (b"PAGEDU64", b"PAGEDUMP")
_IFR_SIGNATURE = ifr.WDF_TRACE_GUID.bytes_le


@dataclass
class Evidence:
    """One input file: its identity and what was read from it. ``sha256`` is the SHA-256 of the whole file
    (None for a crash dump unless ``load(..., full_hash=True)``); ``read_digest``, of a crash dump only, is the
    SHA-256 of its header and of every block read from it."""

    path: str
    sha256: str | None
    size: int
    kind: str  # "ifr" | "text" | "dump" | "snapshot"
    logset: LogSet
    read_digest: str | None = None


def read_bytes(path: str) -> bytes:
    """The file's bytes, refusing what is not a readable regular file of sane size."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if not p.is_file():
            raise EvidenceError(path, "not a regular file")
        if size > MAX_INPUT_BYTES:
            raise EvidenceError(path, f"{size} bytes is larger than the {MAX_INPUT_BYTES} bytes wdftriage reads")
        return p.read_bytes()
    except OSError as exc:
        raise EvidenceError(path, exc.strerror or str(exc)) from None


def kind_of(data: bytes) -> str:
    """'ifr', 'dump', 'text' or 'binary' from the first bytes."""
    if data.startswith(_IFR_SIGNATURE):
        return "ifr"
    if data[:8] in _DUMP_SIGNATURES:
        return "dump"
    if is_snapshot(data):
        return "snapshot"
    head = data[:4096]
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")) or b"\0" not in head:
        return "text"
    return "binary"


def text_chunks(path: str, longest: int = 1 << 20, size: int = 1 << 18):
    """The text of a file in pieces of whole lines (about ``size`` characters each, ``\\r\\n`` and ``\\r`` read as
    ``\\n``): UTF-16 with a BOM, else UTF-8 (undecodable bytes replaced); of a line longer than ``longest``
    characters only the first ``longest`` are kept (the reader cuts and warns)."""
    try:
        with open(path, "rb") as raw:
            bom = raw.read(3)
            encoding = "utf-16" if bom[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
            raw.seek(0)
            text = io.TextIOWrapper(raw, encoding=encoding, errors="replace")
            pending, skip = "", False  # the start of a line not ended yet; skipping the rest of a cut line
            while piece := text.read(size):
                pending += piece
                end = pending.rfind("\n") + 1
                whole, pending = pending[:end], pending[end:]
                if skip and whole:
                    whole, skip = whole[whole.index("\n") + 1:], False
                if whole:
                    yield from _cut(whole, longest)
                if len(pending) > longest:
                    if not skip:
                        yield pending[:longest]
                    pending, skip = "", True
            if pending and not skip:
                yield pending
    except OSError as exc:
        raise EvidenceError(path, exc.strerror or str(exc)) from None


def _cut(text: str, longest: int):
    """``text`` (whole lines), each line longer than ``longest`` characters cut to its first ``longest`` and given
    as a piece of its own (without its line break, as a line read ``longest`` characters at most)."""
    if len(text) <= longest or max(map(len, text.split("\n"))) <= longest:
        yield text
        return
    for line in text.split("\n")[:-1]:
        yield line[:longest] if len(line) > longest else line + "\n"


def _head(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(4096)
    except OSError as exc:
        raise EvidenceError(path, exc.strerror or str(exc)) from None


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise EvidenceError(path, exc.strerror or str(exc)) from None
    return digest.hexdigest()


def load(path: str, options: DecodeOptions | None = None, full_hash: bool = False) -> Evidence:
    """Read one evidence file into a LogSet; raises EvidenceError when nothing can be read from it.

    A crash dump (GiBs) is identified by the SHA-256 of its header and of every block read from it
    (``read_digest``); its whole file is hashed (``sha256``) only when ``full_hash`` asks for that."""
    options = options or DecodeOptions()
    kind = kind_of(_head(path))
    if kind == "dump":  # read through mmap and page reads, never whole
        dump = read_dump(path)
        return Evidence(path=path, sha256=_sha256(path) if full_hash else None, size=Path(path).stat().st_size,
                        kind=kind, logset=dump_logset(dump, path, options), read_digest=dump.read_digest)
    if kind == "snapshot":
        return Evidence(path=path, sha256=_sha256(path), size=Path(path).stat().st_size, kind=kind,
                        logset=snapshot_logset(read_snapshot(path), path, options))
    if kind == "text":  # read as a stream of lines, never whole: no size limit
        return Evidence(path=path, sha256=_sha256(path), size=Path(path).stat().st_size, kind=kind,
                        logset=read_report_text(text_chunks(path), path))
    data = read_bytes(path)
    if kind == "ifr":
        logset = _load_ifr(path, data, options)
    else:
        raise EvidenceError(path, "not a WDF IFR log, crash dump or log text: first bytes "
                                  f"{data[:8].hex(' ')} match no known format", offset=0)
    return Evidence(path=path, sha256=hashlib.sha256(data).hexdigest(), size=len(data), kind=kind, logset=logset)


def dump_logset(dump: DumpEvidence, path: str, options: DecodeOptions) -> LogSet:
    """Every IFR log of a dump decoded into one LogSet (messages name their driver), with the bugcheck."""
    logset = LogSet(source=path, bugcheck=dump.bugcheck, warnings=list(dump.warnings))
    versions = {d.name.lower(): d.version_text for d in dump.drivers}
    for found in dump.logs:
        try:
            decoded = decode_ifr(found.log, f"{path}!{found.driver}", options)
        except EvidenceError as exc:  # one unreadable log does not hide the others
            logset.warnings.append(EvidenceWarning(path, f"IFR log of {found.driver} ({', '.join(found.sources)}) "
                                                         f"skipped: {exc.message}", offset=found.file_offset))
            continue
        logset.messages += decoded.messages
        logset.warnings += decoded.warnings
        for name, facts in decoded.logs.items():
            logset.logs[name] = {**facts, "container": "crash dump", "dump_type": dump.dump_type,
                                 "found_at": found.sources,
                                 "header_address": None if found.address is None else f"0x{found.address:x}",
                                 "file_offset": found.file_offset, "kmdf_version": versions.get(name.lower())}
    return logset


def _load_ifr(path: str, data: bytes, options: DecodeOptions) -> LogSet:
    return decode_ifr(ifr.parse_ifr(data, source=path, arch=options.arch), path, options)
