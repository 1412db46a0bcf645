"""Memory targets for the object walker, the same offline (a snapshot or crash dump) and in the debugger.

:func:`open_file` turns a snapshot (or a crash dump, when the dump target is available) into an
:class:`ObjectTarget`; the debugger adapter builds one over pykd. :func:`walk_all` walks every driver for
``capture``, the views (analyzer/object_views.py) and the object rules.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from analyzer.objects.layout import WALKED_TYPES, Layout, check_profile, read_profile, resolve_layout
from analyzer.objects.walk import DriverView, Walker
from parsers.errors import EvidenceError
from parsers.records import BugCheck

LIBRARY_SYMBOL = "Wdf01000!FxLibraryGlobals"


@dataclass
class ObjectTarget:
    """A memory target with the layout to read it and what else the evidence says about it."""

    target: object
    layout: Layout
    source: str
    bugcheck: BugCheck | None = None
    logs: list[int] = field(default_factory=list)  # WDF_IFR_HEADER addresses recorded with the memory
    driver_globals: list[int] = field(default_factory=list)  # FX_DRIVER_GLOBALS known without symbols


def pdb_profile(paths) -> dict | None:
    """The layout profile of the first PDB among ``paths`` whose type information holds the walked types."""
    for path in paths or ():
        p = Path(path)
        if p.is_file() and _is_msf(p):
            profile = _profile_of(str(p.resolve()), p.stat().st_mtime_ns)
            if profile["types"]:
                return profile
    return None


@lru_cache(maxsize=4)
def _profile_of(path: str, _mtime: int) -> dict:
    """A PDB's layout profile, read once per run (triage of several inputs shares it)."""
    from parsers.pdb_types import profile_from_pdb

    return profile_from_pdb(path, list(WALKED_TYPES))


def _is_msf(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(24) == b"Microsoft C/C++ MSF 7.00"


def open_file(path: str, pdb_paths=(), layout_path: str | None = None) -> ObjectTarget:
    """A snapshot written by ``capture``, or a crash dump (virtual memory through its page tables, the driver
    list from its WdfDumpGuid2 data), as an ObjectTarget."""
    from parsers.snapshot import is_snapshot, read_snapshot

    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as exc:
        raise EvidenceError(path, exc.strerror or str(exc)) from None
    given = read_profile(layout_path) if layout_path else None
    if is_snapshot(head):
        snap = read_snapshot(path)
        stored = check_profile(snap.layout, f"{path} (layout)") if snap.layout is not None else None
        layout = resolve_layout(snap.memory, pdb_profile(pdb_paths), given, stored)
        return ObjectTarget(snap.memory, layout, path, snap.bugcheck, snap.logs)
    if head[:8] in (b"PAGEDU64", b"PAGEDUMP"):
        return _open_dump(path, pdb_paths, given)
    raise EvidenceError(path, "object views read a snapshot (wdftriage capture) or a kernel crash dump", offset=0)


def _open_dump(path: str, pdb_paths, given: dict | None) -> ObjectTarget:
    from parsers import dump

    pdb = pdb_profile(pdb_paths)
    if pdb is None and given is None:
        raise EvidenceError(path, "a crash dump carries no symbols: object views need --pdb (a PDB with the "
                                  "framework's types) or --layout (a profile from wdftriage layout extract)")
    target = dump.CrashDump(path)  # stays open while the views read it
    evidence = dump.read_dump(path)
    layout = resolve_layout(target, pdb, given)
    return ObjectTarget(target, layout, path, evidence.bugcheck, [],
                        [d.globals_address for d in evidence.drivers if d.globals_address])


def driver_globals(walker: Walker, target: ObjectTarget) -> list[int]:
    """Every KMDF driver's FX_DRIVER_GLOBALS: FxLibraryGlobals' driver list when the symbol is known, else
    the list the evidence carried (a dump's WdfDumpGuid2 data)."""
    library = target.target.symbol(LIBRARY_SYMBOL)
    found = walker.drivers_from_library(library) if library is not None else []
    return found or list(target.driver_globals)


def walk_all(target: ObjectTarget) -> tuple[list[DriverView], Walker]:
    """Every driver with its devices, queues and requests."""
    walker = Walker(target.target, target.layout)
    return [walker.driver(g) for g in driver_globals(walker, target)], walker
