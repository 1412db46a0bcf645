"""The sample TMF: the framework messages the samples use, with GUIDs of the project's own.

Format strings are exactly the framework's (parsers/wdfdata/wdf-trace-formats.tsv), converted the way
tracewpp converts them: each printf specifier or ``%!TYPE!`` becomes ``%N!fmt!`` numbered from 10, the
message gets the ``%0`` prefix, and each argument a line ``<name>, <ItemType> -- N``; WPP enum types
become ``ItemListLong(Name=value,...)``. One GUID per framework source file (uuid5 of the file name
in the project's namespace); message numbers from 10 in line order over all of the file's call sites,
the way tracewpp numbers them (real tracepdb TMFs show it: L2CAP_c65 is 10, L2CAP_c87 is 11, ...).
Also: the argument bytes of a message (WPP encoding); the ground-truth text comes from
parsers.catalog.render_entry.
"""
from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from parsers import enums
from parsers.catalog import CatalogEntry, load, rewrite_format
from parsers.tmf import TmfArg, TmfMessage, write_tmf_files
from samples.ifr_writer import pack_pointer

PROJECT_NAMESPACE = uuid.UUID("7f5c2c1e-8d2a-4c65-9b1e-3d0f5e2a9c41")
_SIMPLE = {  # printf conversion -> (TMF spec, item type)
    "p": ("p", "ItemPtr"), "d": ("d", "ItemLong"), "i": ("d", "ItemLong"), "u": ("u", "ItemLong"),
    "x": ("x", "ItemLong"), "X": ("X", "ItemLong"), "c": ("c", "ItemChar"), "s": ("s", "ItemString"),
    "S": ("ws", "ItemWString"),
}


def _convert(entry: CatalogEntry) -> tuple[str, list[tuple[str, str, tuple | None]]]:
    """TMF format text and, per argument, (spec, item type, enum names) for a catalog entry."""
    args: list[tuple[str, str, tuple | None]] = []

    def hole(m) -> str:
        wpp, _, length, conv = m.groups()
        if wpp in ("STATUS", "NTSTATUS"):
            args.append(("s", "ItemNTSTATUS", None))
        elif wpp:
            table = enums.enum_for_type(wpp)
            if table is None:
                raise ValueError(f"no enum for %!{wpp}!")
            args.append(("s", "ItemListLong", tuple(sorted(table.items()))))
        elif length == "I64":
            args.append(("I64" + conv, "ItemLongLongX" if conv == "x" else "ItemLongLong", None))
        else:
            tmf_spec, item = _SIMPLE[conv]
            args.append((m.group(0)[1:] if conv in "xXdu" else tmf_spec, item, None))  # keep flags/width: 08X
        return f"%{9 + len(args)}!{args[-1][0]}!"

    return "%0" + rewrite_format(entry.format, hole, percent="%%"), args


def encode_args(entry: CatalogEntry, values: tuple, arch: str) -> list[bytes]:
    """Each argument's WPP bytes, in order (ints for numbers/pointers/status, names for enums)."""
    _, specs = _convert(entry)
    encoded = []
    for (spec, item, names), value in zip(specs, values):
        if item == "ItemPtr":
            encoded.append(pack_pointer(value, arch))
        elif item == "ItemListLong":
            encoded.append(struct.pack("<I", enums.value_of(value)))
        elif item in ("ItemLong", "ItemNTSTATUS"):
            encoded.append(struct.pack("<I", value & 0xFFFFFFFF))
        elif item.startswith("ItemLongLong"):
            encoded.append(struct.pack("<Q", value & 0xFFFFFFFFFFFFFFFF))
        elif item == "ItemString":
            encoded.append(value.encode("latin-1") + b"\0")
        else:
            raise ValueError(f"sample encoder has no rule for {item}")
    return encoded


@dataclass
class SampleTmf:
    """Assigns (GUID, number) to catalog entries as they are used, and writes the TMF files."""

    module: str = "Wdf01000"
    ids: dict[str, tuple[uuid.UUID, int]] = field(default_factory=dict)
    entries: dict[str, CatalogEntry] = field(default_factory=dict)

    def key(self, entry: CatalogEntry) -> tuple[uuid.UUID, int]:
        """(GUID, number) of a call site: one GUID per source file, numbers from 10 in line order over all
        of the file's call sites, as tracewpp numbers them."""
        if entry.id not in self.ids:
            source_file = entry.id.split(":")[0]
            rank = [e.id for e in load().sites_in_file(source_file)].index(entry.id)
            self.ids[entry.id] = (uuid.uuid5(PROJECT_NAMESPACE, source_file), 10 + rank)
            self.entries[entry.id] = entry
        return self.ids[entry.id]

    def messages(self) -> list[TmfMessage]:
        """The assigned entries as TMF messages (format and arguments converted the way tracewpp does)."""
        out = []
        for entry_id, (guid, number) in self.ids.items():
            entry = self.entries[entry_id]
            fmt, specs = _convert(entry)
            args = tuple(TmfArg(f"arg{i + 1}", item, 10 + i, names) for i, (_, item, names) in enumerate(specs))
            out.append(TmfMessage(guid=guid, number=number, name=entry.id.replace(".", "_", 1).replace(":", ""),
                                  format=fmt, level=entry.level, flags=entry.flag, function=entry.function or entry.id.split(".")[0],
                                  module=self.module, source_file=entry.id.split(":")[0], args=args, origin=entry.id))
        return out

    def write(self, directory: Path) -> list[Path]:
        """One ``<guid>.tmf`` per framework source file, in tracepdb's layout."""
        return write_tmf_files(self.messages(), directory,
                               ("wdf01000.pdb", "Last Updated :2026-11-24:00:00:00:000 (UTC) [wdftriage samples]"))
