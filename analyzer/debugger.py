"""In-debugger commands through pykd: ``!py -m analyzer.debugger <command> ...`` inside WinDbg/KD.

    !py -m analyzer.debugger logdump -a <WDF_IFR_HEADER address> [--tmf PATH]
    !py -m analyzer.debugger triage  -a <WDF_IFR_HEADER address> [--tmf PATH] [--fail-on ...]

The adapter is thin: pykd supplies memory (``loadBytes``), the pointer size (``is64bitSystem``), the
bugcheck of a dump being analysed (``isDumpAnalyzing``/``bugCheckData``) and output (``dprintln``);
everything else is the same library the command line uses. The header address is the one
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
    """Target memory as pykd reads it."""

    def __init__(self, pykd):
        self.pykd = pykd
        self.pointer_size = 8 if pykd.is64bitSystem() else 4

    def read(self, address: int, size: int) -> bytes:
        try:
            return bytes(self.pykd.loadBytes(address, size))
        except Exception as exc:  # pykd raises its own MemoryException type
            raise TargetReadError(address, size, str(exc)) from None


def _bugcheck(pykd) -> BugCheck | None:
    if not pykd.isDumpAnalyzing():
        return None
    data = pykd.bugCheckData()
    return BugCheck(code=data.code, parameters=(data.arg1, data.arg2, data.arg3, data.arg4), source="debugger")


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
