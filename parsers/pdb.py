"""WPP trace formats from a PDB: the ``S_ANNOTATION`` records whose first string is ``TMF:``.

WPP's tracemacro.tpl emits, per message, ``__annotation(L"TMF:", L"<guid> <module> // SRC=...",
L"#typev ...", L"{", L"<arg>, <ItemType> -- N", ..., L"}")``; the compiler stores that as an
S_ANNOTATION symbol (kind 0x1019: code offset, segment, string count, NUL-terminated strings) in the
module's symbol stream, and tracepdb turns those strings into TMF files. This reader walks the
PDB's MSF container (superblock, stream directory), the DBI stream's module list and each module's
symbol stream, declared with construct. No maintained Python library reads these records (see
ARCHITECTURE.md: pdbparse 1.5 fails on LLVM-written PDBs; llvm-pdbutil is a tool, not a library).
"""
from __future__ import annotations

import struct
from pathlib import Path

from construct import Bytes, Const, Int16sl, Int16ul, Int32sl, Int32ul, Padding, Struct

from parsers.errors import EvidenceError
from parsers.tmf import TmfMessage, parse_tmf_lines

MSF_MAGIC = b"Microsoft C/C++ MSF 7.00\r\n\x1aDS\x00\x00\x00"
S_ANNOTATION = 0x1019
DBI_STREAM = 3
MAX_PDB_BYTES = 2 * 1024 * 1024 * 1024

SUPERBLOCK = Struct(
    "Magic" / Const(MSF_MAGIC, Bytes(32)),
    "BlockSize" / Int32ul,
    "FreeBlockMapBlock" / Int32ul,
    "NumBlocks" / Int32ul,
    "NumDirectoryBytes" / Int32ul,
    "Unknown" / Int32ul,
    "BlockMapAddr" / Int32ul,
)
DBI_HEADER = Struct(
    "VersionSignature" / Int32sl, "VersionHeader" / Int32ul, "Age" / Int32ul, "GlobalStreamIndex" / Int16ul,
    "BuildNumber" / Int16ul, "PublicStreamIndex" / Int16ul, "PdbDllVersion" / Int16ul, "SymRecordStream" / Int16ul,
    "PdbDllRbld" / Int16ul, "ModInfoSize" / Int32sl, "SectionContributionSize" / Int32sl, "SectionMapSize" / Int32sl,
    "SourceInfoSize" / Int32sl, "TypeServerMapSize" / Int32sl, "MFCTypeServerIndex" / Int32ul,
    "OptionalDbgHeaderSize" / Int32sl, "ECSubstreamSize" / Int32sl, "Flags" / Int16ul, "Machine" / Int16ul,
    Padding(4),
)
MODULE_INFO = Struct(
    "Unused1" / Int32ul,
    "SectionContribution" / Bytes(28),
    "Flags" / Int16ul,
    "ModuleSymStream" / Int16sl,
    "SymByteSize" / Int32ul,
    "C11ByteSize" / Int32ul,
    "C13ByteSize" / Int32ul,
    "SourceFileCount" / Int16ul,
    Padding(2),
    "Unused2" / Int32ul,
    "SourceFileNameIndex" / Int32ul,
    "PdbFilePathNameIndex" / Int32ul,
)  # then ModuleName and ObjFileName, NUL-terminated UTF-8 (read by _c_string: untrusted, maybe unterminated)
assert SUPERBLOCK.sizeof() == 56 and DBI_HEADER.sizeof() == 64 and MODULE_INFO.sizeof() == 64


class _Msf:
    """The streams of an MSF 7.00 container, read from a bytes image with every index bounds-checked.

    Every block belongs to one stream at most and every size is checked against the file before anything
    is joined, so a lying directory costs no more than the file's own size."""

    def __init__(self, data: bytes, source: str):
        self.data, self.source = data, source
        if len(data) < SUPERBLOCK.sizeof() or not data.startswith(MSF_MAGIC):
            raise EvidenceError(source, "not an MSF 7.00 PDB (bad superblock magic)", offset=0)
        sb = SUPERBLOCK.parse(data)
        if sb.BlockSize not in (512, 1024, 2048, 4096) or sb.NumBlocks * sb.BlockSize > len(data) + sb.BlockSize:
            raise EvidenceError(source, f"superblock BlockSize {sb.BlockSize} / NumBlocks {sb.NumBlocks} do not fit the file", offset=32)
        self.block_size, self.num_blocks = sb.BlockSize, sb.NumBlocks
        if sb.NumDirectoryBytes > len(data):
            raise EvidenceError(source, f"stream directory of {sb.NumDirectoryBytes} bytes is larger than the file",
                                offset=44)
        dir_blocks = -(-sb.NumDirectoryBytes // sb.BlockSize)
        map_at = self._block_offset(sb.BlockMapAddr, 52)
        if map_at + 4 * dir_blocks > len(data):
            raise EvidenceError(source, "stream directory block map runs past the end of the file", offset=map_at)
        indexes = struct.unpack_from(f"<{dir_blocks}I", data, map_at)
        self._claim(indexes, "the stream directory", map_at, set())
        directory = b"".join(self._block(i, map_at) for i in indexes)[: sb.NumDirectoryBytes]
        self.streams = self._parse_directory(directory)

    def _block_offset(self, index: int, where: int | None) -> int:
        if index >= self.num_blocks or (index + 1) * self.block_size > len(self.data):
            raise EvidenceError(self.source, f"block index {index} outside the file", offset=where)
        return index * self.block_size

    def _block(self, index: int, where: int) -> bytes:
        at = self._block_offset(index, where)
        return self.data[at: at + self.block_size]

    def _claim(self, blocks: tuple[int, ...], owner: str, where: int | None, used: set[int]) -> None:
        """Mark ``blocks`` as ``owner``'s; a block listed twice (anywhere) is a corrupt directory."""
        for index in blocks:
            if index in used:
                raise EvidenceError(self.source, f"block {index} listed twice (again in {owner}): corrupt stream "
                                                 "directory", offset=where)
            self._block_offset(index, where)
            used.add(index)

    def _parse_directory(self, directory: bytes) -> list[tuple[int, tuple[int, ...]]]:
        if len(directory) < 4:
            raise EvidenceError(self.source, "stream directory is empty")
        (count,) = struct.unpack_from("<I", directory)
        if 4 + 4 * count > len(directory):
            raise EvidenceError(self.source, f"stream directory claims {count} streams, more than it holds")
        sizes = struct.unpack_from(f"<{count}I", directory, 4)
        pos, streams, used = 4 + 4 * count, [], set()
        for number, size in enumerate(sizes):
            size = 0 if size == 0xFFFFFFFF else size
            blocks = -(-size // self.block_size)
            if pos + 4 * blocks > len(directory):
                raise EvidenceError(self.source, f"stream {number} of {size} bytes: its block list runs past the "
                                                 "stream directory")
            indexes = struct.unpack_from(f"<{blocks}I", directory, pos)
            self._claim(indexes, f"stream {number}", None, used)
            streams.append((size, indexes))
            pos += 4 * blocks
        return streams

    def stream(self, number: int) -> bytes:
        if not 0 <= number < len(self.streams):
            raise EvidenceError(self.source, f"stream {number} does not exist ({len(self.streams)} streams)")
        size, blocks = self.streams[number]
        return b"".join(self._block(i, 0) for i in blocks)[:size]


def _module_streams(msf: _Msf) -> list[tuple[int, int, str]]:
    """(symbol stream, symbol byte size, module name) per DBI module."""
    dbi = msf.stream(DBI_STREAM)
    if len(dbi) < DBI_HEADER.sizeof():
        raise EvidenceError(msf.source, "DBI stream too short for its header")
    header = DBI_HEADER.parse(dbi)
    pos, end, modules = DBI_HEADER.sizeof(), DBI_HEADER.sizeof() + header.ModInfoSize, []
    if header.ModInfoSize < 0 or end > len(dbi):
        raise EvidenceError(msf.source, f"DBI module info size {header.ModInfoSize} runs past the stream")
    while pos + MODULE_INFO.sizeof() <= end:
        info = MODULE_INFO.parse(dbi[pos:pos + MODULE_INFO.sizeof()])
        names_at = pos + MODULE_INFO.sizeof()
        module, after = _c_string(dbi, names_at, end, msf.source, "module name")
        _obj, after = _c_string(dbi, after, end, msf.source, "object file name")
        modules.append((info.ModuleSymStream, info.SymByteSize, module))
        pos += (after - pos + 3) & ~3
    return modules


def _c_string(data: bytes, start: int, end: int, source: str, what: str) -> tuple[str, int]:
    """The NUL-terminated string at ``start`` (undecodable bytes replaced) and the offset after its NUL."""
    nul = data.find(b"\0", start, end)
    if nul < 0:
        raise EvidenceError(source, f"DBI {what} not terminated inside the module list (DBI stream offset "
                                    f"0x{start:x})")
    return data[start:nul].decode("utf-8", errors="replace"), nul + 1


def _annotations_in(symbols: bytes, source: str, module: str) -> list[tuple[str, ...]]:
    out, pos = [], 4  # CV_SIGNATURE_C13 first
    while pos + 4 <= len(symbols):
        length, kind = struct.unpack_from("<HH", symbols, pos)
        if length < 2 or pos + 2 + length > len(symbols):
            raise EvidenceError(source, f"module {module}: symbol record of length {length} runs past the stream")
        if kind == S_ANNOTATION and length >= 10:
            (count,) = struct.unpack_from("<H", symbols, pos + 10)
            strings = symbols[pos + 12: pos + 2 + length].split(b"\0")[:count]
            out.append(tuple(s.decode("utf-8", errors="replace") for s in strings))
        pos += 2 + length
    return out


def read_annotations(path: str | Path) -> list[tuple[str, ...]]:
    """Every S_ANNOTATION record's strings, module by module in stream order."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_PDB_BYTES:
            raise EvidenceError(str(p), "PDB larger than 2 GiB")
        data = p.read_bytes()
    except OSError as exc:
        raise EvidenceError(str(p), exc.strerror or str(exc)) from None
    msf = _Msf(data, str(p))
    annotations = []
    for stream, size, name in _module_streams(msf):
        if stream < 0 or stream == 0xFFFF or size == 0:
            continue
        annotations += _annotations_in(msf.stream(stream)[:size], str(p), name)
    return annotations


def tmf_messages_from_pdb(path: str | Path) -> list[TmfMessage]:
    """The TMF messages of every ``TMF:`` annotation in the PDB."""
    lines = [line for strings in read_annotations(path) if strings and strings[0] == "TMF:" for line in strings]
    return parse_tmf_lines(lines, str(path))
