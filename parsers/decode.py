"""The decode pipeline for IFR logs: TMF/PDB search path -> format database (built once per run) ->
formatted messages -> no-TMF recognition for the records no format covers.

:class:`DecodeOptions` is built once (by the command line, the debugger adapter or a library caller) and
shared by every input of a run; its :meth:`DecodeOptions.database` parses the TMF files and PDBs the first
time it is asked and hands out the same database afterwards.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from parsers.errors import EvidenceError
from parsers.ifr import IfrLog, IfrRecord, message_keys, read_record
from parsers.pdb import MSF_MAGIC, tmf_messages_from_pdb
from parsers.recognize import RecognitionMap, learn
from parsers.records import LogSet
from parsers.tmf import TmfDatabase
from parsers.wpp import ifr_messages

TMF_PATH_VARIABLE = "TRACE_FORMAT_SEARCH_PATH"  # tracefmt's own variable: ';'-separated TMF directories
MAX_PDBS = 200  # PDBs read from one symbol directory


@dataclass
class DecodeOptions:
    """How to decode binary evidence: TMF files/directories/PDBs, the pointer size, the recognition cache."""

    tmf: list[str] = field(default_factory=list)
    arch: str | None = None
    tmf_cache: str | None = None  # directory of learned (GUID, number) -> message maps, read and updated
    _database: TmfDatabase | None = field(default=None, init=False, repr=False, compare=False)

    def database(self) -> TmfDatabase:
        """TMF files, directories of <guid>.tmf, PDBs and symbol directories holding PDBs (plus
        $TRACE_FORMAT_SEARCH_PATH), parsed on first use and reused for every later input of the run."""
        if self._database is None:
            self._database = _build_database(self.tmf)
        return self._database


def _build_database(tmf: list[str]) -> TmfDatabase:
    paths = [Path(p) for p in tmf]
    paths += [Path(p) for p in os.environ.get(TMF_PATH_VARIABLE, "").split(os.pathsep) if p]
    db = TmfDatabase()
    for path in paths:
        pdbs = sorted(path.rglob("*.pdb"))[:MAX_PDBS] if path.is_dir() else [path] if is_pdb(path) else []
        for pdb in pdbs:
            db.add(tmf_messages_from_pdb(pdb))
        if path.is_dir() or not pdbs:
            db.add_path(path)
    return db


def is_pdb(path: Path) -> bool:
    """True for a file that starts like an MSF 7.00 PDB."""
    try:
        with path.open("rb") as f:
            return f.read(len(MSF_MAGIC)) == MSF_MAGIC
    except OSError:
        return False


def decode_ifr(log: IfrLog, path: str, options: DecodeOptions) -> LogSet:
    """A walked IFR ring (from a file, a dump or a memory target) decoded into a LogSet with TMF/PDB formats,
    and shape recognition for the records they don't cover."""
    if not log.offsets and log.warnings:
        first = log.warnings[0]
        raise EvidenceError(path, f"no record could be decoded: {first.message}", offset=first.offset)
    tmf = options.database()
    unknown = _without_format(log, tmf)
    recognized = None
    if unknown:
        cache = Path(options.tmf_cache) if options.tmf_cache else None
        known = RecognitionMap.load(cache) if cache is not None and cache.is_dir() else None
        recognized = learn(log, unknown, known=known)
        if cache is not None:
            recognized.save(cache)
    messages = ifr_messages(log, tmf, path, recognized=recognized)
    unknown_messages, inferred_messages = messages.counts()
    h = log.header
    facts = {"kind": "ifr", "arch": h.arch, "records": len(log.offsets), "wrapped": log.wrapped,
             "dropped": log.dropped, "overwritten": log.overwritten, "size": h.size,
             "first_sequence": log.sequences[0] if log.sequences else None,
             "last_sequence": log.sequences[-1] if log.sequences else None,
             "unknown_messages": unknown_messages, "inferred_messages": inferred_messages}
    return LogSet(source=path, messages=messages, warnings=list(log.warnings), logs={h.driver_name: facts})


def _without_format(log: IfrLog, tmf: TmfDatabase) -> list[IfrRecord]:
    """The records no TMF entry covers, with one lookup per distinct (GUID, number)."""
    keys, codes = message_keys(log)
    covered = np.array([tmf.lookup(guid, number) is not None for guid, number in keys] + [True], dtype=bool)
    return [read_record(log.area, log.offsets[i]) for i in np.flatnonzero(~covered[codes]).tolist()]
