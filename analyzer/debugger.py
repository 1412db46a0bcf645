"""In-debugger commands through pykd: ``!py -m wdftriage_windbg <command> ...`` inside WinDbg/KD.

    !py -m wdftriage_windbg logdump [DRIVER | -a <WDF_IFR_HEADER address>] [--tmf PATH] [--pdb Wdf01000.pdb]
    !py -m wdftriage_windbg triage  [DRIVER | -a <WDF_IFR_HEADER address>] [--pdb Wdf01000.pdb] [--layout profile.json]
    !py -m wdftriage_windbg driverinfo | devicequeues [HANDLE] | device | queue | request | handle HANDLE
    !py -m wdftriage_windbg capture -o snapshot.wdfsnap [--pdb Wdf01000.pdb]

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

from analyzer.object_views import VIEWS, run_view
from analyzer.objects.commands import ObjectTarget, driver_globals, pdb_profile, walk_all
from analyzer.objects.findings import object_findings, summary
from analyzer.objects.layout import read_profile, resolve_layout
from analyzer.objects.walk import DriverView, Walker
from analyzer.triage import analyze
from parsers.decode import DecodeOptions, decode_ifr
from parsers.errors import EvidenceError, TargetReadError, WdfTriageError
from parsers.memory import RecordingTarget, read_ifr
from parsers.records import BugCheck, LogSet
from parsers.snapshot import write_snapshot


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


def _hex(text: str) -> int:
    return int(text.replace("`", ""), 16)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="!py -m wdftriage_windbg")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("logdump", "triage"):
        command = commands.add_parser(name)
        command.add_argument("driver", nargs="?", help="the driver (service) name, as !wdflogdump takes it")
        command.add_argument("-a", "--address", type=_hex,
                             help="WDF_IFR_HEADER address (default: the driver's log, or every driver's)")
        command.add_argument("--tmf", "--pdb", dest="tmf", action="append", default=[])
        command.add_argument("--layout")
    for name in VIEWS:
        command = commands.add_parser(name)
        command.add_argument("handle", nargs="?" if name in ("driverinfo", "devicequeues") else None, type=_hex)
        command.add_argument("--pdb", dest="tmf", action="append", default=[])
        command.add_argument("--layout")
    capture = commands.add_parser("capture", help="write a snapshot file: logs, objects, bugcheck, layouts")
    capture.add_argument("-o", "--output", required=True)
    capture.add_argument("-a", "--address", type=_hex, action="append", default=[], help="extra IFR header address")
    capture.add_argument("--pdb", dest="tmf", action="append", default=[])
    capture.add_argument("--layout")
    return parser


def _object_target(target, args, bugcheck) -> ObjectTarget:
    given = read_profile(args.layout) if args.layout else None
    return ObjectTarget(target, resolve_layout(target, pdb_profile(args.tmf), given), "debugger", bugcheck)


def run(argv: list[str], pykd) -> int:
    """Run one command against the debugger's target; returns the exit code (2: bad input, one line)."""
    args = _parser().parse_args(argv)
    try:
        text = _command(args, pykd)
    except WdfTriageError as exc:
        pykd.dprintln(f"wdftriage: error: {exc.one_line()}")
        return 2
    for line in text.rstrip("\n").splitlines():
        pykd.dprintln(line)
    return 0


def _command(args, pykd) -> str:
    from reports.logdump import render_logdump
    from reports.text import render_text

    target, bugcheck = PykdTarget(pykd), _bugcheck(pykd)
    if args.command in VIEWS:
        return run_view(args.command, _object_target(target, args, bugcheck), args.handle)
    if args.command == "capture":
        return _capture(args, target, bugcheck)
    options = DecodeOptions(args.tmf)
    objects = _object_target(target, args, bugcheck)
    if args.command == "logdump":
        walker = Walker(target, objects.layout)
        drivers = [] if args.address is not None else \
            [walker.driver(g, with_devices=False) for g in driver_globals(walker, objects)]
        logset = _logset(target, _log_addresses(args, drivers), options)
        return _warnings(logset) + render_logdump(logset)
    drivers, _ = walk_all(objects)
    logset = _logset(target, _log_addresses(args, drivers), options)
    found = object_findings([d for d in drivers if _chosen(args, d)], bugcheck.code if bugcheck else None)
    result = analyze([logset], bugcheck=bugcheck, object_findings={logset.source: found})
    return _warnings(logset) + render_text(result)


def _chosen(args, driver: DriverView) -> bool:
    return args.driver is None or (driver.name or "").lower() == args.driver.lower()


def _log_addresses(args, drivers: list[DriverView]) -> list[int]:
    """-a, else the named driver's WdfLogHeader, else every driver's."""
    if args.address is not None:
        return [args.address]
    chosen = [d for d in drivers if _chosen(args, d)]
    if args.driver and not chosen:
        known = ", ".join(d.name or hex(d.globals) for d in drivers) or "none found"
        raise EvidenceError("debugger", f"no KMDF driver named {args.driver!r} (drivers: {known})")
    return [d.log_header for d in chosen if d.log_header]


def _logset(target, addresses: list[int], options: DecodeOptions) -> LogSet:
    """The IFR logs at ``addresses`` decoded into one LogSet (EvidenceError when there is none)."""
    if not addresses:
        raise EvidenceError("debugger", "no IFR log: give -a <WDF_IFR_HEADER address> (no KMDF driver with a log "
                                        "found; the driver list needs Wdf01000 symbols and --pdb with its types)")
    logset = LogSet(source="target" if len(addresses) > 1 else f"target@0x{addresses[0]:x}")
    for address in addresses:
        source = f"target@0x{address:x}"
        decoded = decode_ifr(read_ifr(target, address, source), source, options)
        logset.messages += decoded.messages
        logset.warnings += decoded.warnings
        logset.logs.update(decoded.logs)
    return logset


def _warnings(logset: LogSet) -> str:
    return "".join(f"wdftriage: warning: {w}\n" for w in logset.warnings)


def _capture(args, target, bugcheck) -> str:
    """Walk every driver through a recording target and write what was read as one snapshot file."""
    from analyzer.triage import tool_version

    recorder = RecordingTarget(target)
    objects = _object_target(recorder, args, bugcheck)
    drivers, walker = walk_all(objects)
    logs, notes = [], []
    for address in [d.log_header for d in drivers if d.log_header] + list(args.address):
        try:
            read_ifr(recorder, address, f"target@0x{address:x}")
            logs.append(address)
        except EvidenceError as exc:
            notes.append(f"wdftriage: warning: log not captured: {exc.one_line()}")
    write_snapshot(args.output, recorder.regions(), target.pointer_size, symbols=recorder.symbols,
                   bugcheck=bugcheck, logs=logs, layout=objects.layout.profile(), objects=summary(drivers),
                   created_by=f"wdftriage {tool_version()} capture")
    notes.append(f"wrote {args.output}: {len(drivers)} driver(s), {len(logs)} log(s), "
                 f"{sum(len(d) for d in recorder.regions().values())} bytes of memory")
    return "\n".join(notes + walker.warnings) + "\n"


def main() -> None:
    import pykd  # only inside the debugger

    sys.exit(run(sys.argv[1:], pykd))


if __name__ == "__main__":
    main()
