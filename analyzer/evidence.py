"""Reading one piece of evidence, whatever it is, into a :class:`LogSet`.

The kind is told by content, never by file name: an IFR blob starts with WdfTraceGuid; a crash
dump with ``PAGEDU64``/``PAGEDUMP`` (bugcheck from its header, IFR logs found inside it); text is a pasted
``!wdflogdump``/``!wdfcrashdump``/``!rcdrlogdump``/tracefmt log and/or ``!analyze -v``.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from parsers import ifr
from parsers.errors import EvidenceError
from parsers.logtext import read_report_text
from parsers.dump import read_dump
from parsers.pdb import MSF_MAGIC, tmf_messages_from_pdb
from parsers.recognize import RecognitionMap, learn
from parsers.records import LogSet
from parsers.tmf import TmfDatabase
from parsers.wpp import messages_from_ifr

MAX_INPUT_BYTES = 512 * 1024 * 1024  # a pasted log or IFR blob larger than this is not evidence we read whole
TMF_PATH_VARIABLE = "TRACE_FORMAT_SEARCH_PATH"  # tracefmt's own variable: ';'-separated TMF directories
MAX_PDBS = 200  # PDBs read from one symbol directory
_DUMP_SIGNATURES = (b"PAGEDU64", b"PAGEDUMP")
_IFR_SIGNATURE = ifr.WDF_TRACE_GUID.bytes_le


@dataclass
class DecodeOptions:
    """How to decode binary evidence: TMF files/directories and the pointer size."""

    tmf: list[str] = field(default_factory=list)
    arch: str | None = None
    tmf_cache: str | None = None  # directory of learned (GUID, number) -> message maps, read and updated

    def tmf_database(self) -> TmfDatabase:
        """TMF files, directories of <guid>.tmf, PDBs and symbol directories holding PDBs."""
        paths = [Path(p) for p in self.tmf]
        paths += [Path(p) for p in os.environ.get(TMF_PATH_VARIABLE, "").split(os.pathsep) if p]
        db = TmfDatabase()
        for path in paths:
            pdbs = sorted(path.rglob("*.pdb"))[:MAX_PDBS] if path.is_dir() else [path] if is_pdb(path) else []
            for pdb in pdbs:
                db.add(tmf_messages_from_pdb(pdb))
            if path.is_dir() or not pdbs:
                db.add_path(path)
        return db


@dataclass
class Evidence:
    """One input file: its identity and what was read from it."""

    path: str
    sha256: str
    size: int
    kind: str  # "ifr" | "text" | "dump"
    logset: LogSet


def is_pdb(path: Path) -> bool:
    """True for a file that starts like an MSF 7.00 PDB."""
    try:
        with path.open("rb") as f:
            return f.read(len(MSF_MAGIC)) == MSF_MAGIC
    except OSError:
        return False


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
    head = data[:4096]
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")) or b"\0" not in head:
        return "text"
    return "binary"


def decode_text(data: bytes) -> str:
    """Text of a pasted log: UTF-16 with BOM, else UTF-8 with undecodable bytes replaced."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    return data.decode("utf-8-sig", errors="replace")


def _head(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(4096)
    except OSError as exc:
        raise EvidenceError(path, exc.strerror or str(exc)) from None


def _sha256(path: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def load(path: str, options: DecodeOptions | None = None) -> Evidence:
    """Read one evidence file into a LogSet; raises EvidenceError when nothing can be read from it."""
    options = options or DecodeOptions()
    kind = kind_of(_head(path))
    if kind == "dump":  # read through mmap, never whole
        sha, size = _sha256(path)
        return Evidence(path=path, sha256=sha, size=size, kind=kind, logset=_load_dump(path, options))
    data = read_bytes(path)
    if kind == "ifr":
        logset = _load_ifr(path, data, options)
    elif kind == "text":
        logset = read_report_text(decode_text(data), path)
    else:
        raise EvidenceError(path, "not a WDF IFR log, crash dump or log text: first bytes "
                                  f"{data[:8].hex(' ')} match no known format", offset=0)
    return Evidence(path=path, sha256=hashlib.sha256(data).hexdigest(), size=len(data), kind=kind, logset=logset)


def _load_dump(path: str, options: DecodeOptions) -> LogSet:
    dump = read_dump(path)
    logset = LogSet(source=path, bugcheck=dump.bugcheck, warnings=list(dump.warnings))
    for offset, log in dump.logs:
        decoded = decode_ifr(log, f"{path}@0x{offset:x}", options)
        logset.messages += decoded.messages
        logset.warnings += decoded.warnings
        for name, facts in decoded.logs.items():
            logset.logs[name] = {**facts, "container": "crash dump", "dump_type": dump.dump_type, "file_offset": offset}
    return logset


def _load_ifr(path: str, data: bytes, options: DecodeOptions) -> LogSet:
    return decode_ifr(ifr.parse_ifr(data, source=path, arch=options.arch), path, options)


def decode_ifr(log: ifr.IfrLog, path: str, options: DecodeOptions) -> LogSet:
    """A walked IFR ring (from a file or a memory target) decoded into a LogSet with TMF/PDB formats,
    and shape recognition for the records they don't cover."""
    if not log.records and log.warnings:
        first = log.warnings[0]
        raise EvidenceError(path, f"no record could be decoded: {first.message}", offset=first.offset)
    tmf = options.tmf_database()
    unknown = [r for r in log.records if tmf.lookup(r.message_guid, r.message_number) is None]
    recognized = None
    if unknown:
        cache = Path(options.tmf_cache) if options.tmf_cache else None
        known = RecognitionMap.load(cache) if cache is not None and cache.is_dir() else None
        recognized = learn(log, unknown, known=known)
        if cache is not None:
            recognized.save(cache)
    messages = messages_from_ifr(log, tmf, path, recognized=recognized)
    h = log.header
    facts = {"kind": "ifr", "arch": h.arch, "records": len(log.records), "wrapped": log.wrapped,
             "dropped": log.dropped, "overwritten": log.overwritten, "size": h.size,
             "first_sequence": log.records[0].sequence if log.records else None,
             "last_sequence": log.records[-1].sequence if log.records else None,
             "unknown_messages": sum(1 for m in messages if not m.known),
             "inferred_messages": sum(1 for m in messages if m.inferred)}
    return LogSet(source=path, messages=messages, warnings=list(log.warnings), logs={h.driver_name: facts})
