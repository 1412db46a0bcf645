"""A crash dump's KMDF picture printed the way !wdfkd.wdfcrashdump prints it: the framework and the KMDF drivers
with their versions (``loader``), then each driver's log shaped like !wdflogdump."""
from __future__ import annotations

from analyzer.bugcheck import names, shown as parameter_text
from parsers.dump import DumpEvidence
from parsers.records import LogSet
from reports.logdump import render_logdump

_RULE = "-" * 46


def render_crashdump(dump: DumpEvidence, logset: LogSet, path: str, timestamps: bool = False) -> str:
    """Header (dump type, bugcheck, blamed driver), the driver list, then every log in ``logset``."""
    bug = dump.bugcheck
    params = ", ".join(parameter_text(p) for p in bug.parameters)
    how = "read through its page tables (kdmp-parser)" if dump.virtual_reads else "scanned as a flat file"
    out = [f"Crash dump {path}: {dump.dump_type} ({dump.arch}), {how}",
           f"Bugcheck 0x{bug.code:X} {names().get(bug.code, '')} ({params})".replace("  ", " ")]
    if bug.module_name:
        out.append(f"Blamed driver: {bug.module_name} ({dump.blamed_by})")
    out += ["", "KMDF drivers (WdfDumpGuid2 driver list):", _RULE, f"  {'ImageName':<15}{'Version':<15}FxGlobals", ""]
    if dump.framework is not None:
        out.append(f"  {dump.framework.name:<15}{dump.framework.version_text}")
    out += [f"  {d.name:<15}{d.version_text:<15}0x{d.globals_address:x}" for d in dump.drivers]
    if dump.framework is None and not dump.drivers:
        out.append("  (not in the evidence: the dump holds no WdfDumpGuid2 secondary data)")
    out += [_RULE, ""]
    shown = {m.log for m in logset.messages}
    for found in dump.logs:
        if found.driver in shown:
            out.append(f"IFR log of {found.driver}: {', '.join(found.sources)}")
    out.append("")
    return "\n".join(out) + render_logdump(logset, timestamps=timestamps)
