"""In-debugger commands through pykd: ``!py -m analyzer.debugger <command> ...`` inside WinDbg/KD.

    !py -m wdftriage_windbg logdump -a <WDF_IFR_HEADER address> [--tmf PATH]
    !py -m wdftriage_windbg triage  -a <WDF_IFR_HEADER address> [--tmf PATH]

(``wdftriage_windbg`` makes sure the debugger's current directory cannot shadow these packages, then
calls :func:`main`.) The adapter is thin and uses only what pykd's module defines (pykd/pymod.cpp):
memory from ``loadBytes`` (a list of ints; ``MemoryException`` when unreadable), the pointer size from
``is64bitSystem``, symbols from ``getOffset`` (``SymbolException`` when unknown), the bugcheck of a dump
from ``isDumpAnalyzing``/``bugCheckData`` (a tuple ``(code, arg1, arg2, arg3, arg4)``) and output through
``dprintln``; everything else is the same library the command line uses. The header address is the one
``!wdfkd.wdflogdump``/``!rcdrlogdump -a`` work from (FX_DRIVER_GLOBALS.WdfLogHeader).
"""
from __future__ import annotations

import argparse
import sys

from analyzer.triage import analyze
from parsers.errors import EvidenceError, TargetReadError
from parsers.decode import DecodeOptions, decode_ifr
from parsers.memory import read_ifr
from parsers.records import BugCheck


class PykdTarget:
    """Target memory as pykd reads it (a parsers.memory.MemoryTarget)."""

    def __init__(self, pykd):
        self.pykd = pykd
        self.pointer_size = 8 if pykd.is64bitSystem() else 4

    def read(self, address: int, size: int) -> bytes:
        try:
            return bytes(self.pykd.loadBytes(address, size))
        except self.pykd.DbgException as exc:  # MemoryException derives from it
            raise TargetReadError(address, size, str(exc)) from None

    def symbol(self, name: str) -> int | None:
        """The address of ``name`` (``module!symbol``), None when the debugger does not know it."""
        try:
            return int(self.pykd.getOffset(name))
        except self.pykd.DbgException:  # SymbolException: no such symbol or no symbols loaded
            return None


def _bugcheck(pykd) -> BugCheck | None:
    """The bugcheck of the dump being analysed; pykd gives ``(code, arg1, arg2, arg3, arg4)``."""
    if not pykd.isDumpAnalyzing():
        return None
    code, *parameters = pykd.bugCheckData()
    if len(parameters) != 4:
        return None  # not a kernel bugcheck (a user-mode dump has no bugcheck parameters)
    return BugCheck(code=code, parameters=tuple(parameters), source="debugger")


def run(argv: list[str], pykd) -> int:
    """Run one command against the debugger's target; returns the exit code."""
    from reports.logdump import render_logdump
    from reports.text import render_text

    parser = argparse.ArgumentParser(prog="!py -m analyzer.debugger")
    parser.add_argument("command", choices=["logdump", "triage"])
    parser.add_argument("-a", "--address", required=True, type=lambda s: int(s.replace("`", ""), 16))
    parser.add_argument("--tmf", action="append", default=[])
    args = parser.parse_args(argv)
    source = f"target@0x{args.address:x}"
    try:
        log = read_ifr(PykdTarget(pykd), args.address, source)
        logset = decode_ifr(log, source, DecodeOptions(args.tmf))
    except EvidenceError as exc:
        pykd.dprintln(f"wdftriage: error: {exc.one_line()}")
        return 2
    for warning in logset.warnings:
        pykd.dprintln(f"wdftriage: warning: {warning}")
    if args.command == "logdump":
        text = render_logdump(logset)
    else:
        text = render_text(analyze([logset], bugcheck=_bugcheck(pykd)))
    for line in text.rstrip("\n").splitlines():
        pykd.dprintln(line)
    return 0


def main() -> None:
    import pykd  # only inside the debugger

    sys.exit(run(sys.argv[1:], pykd))


if __name__ == "__main__":
    main()
