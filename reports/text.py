"""The triage result as !analyze-shaped text for the terminal and the debugger."""
from __future__ import annotations

from analyzer.result import Severity, TriageResult
from reports.views import finding_view_title, render_finding_view
from reports.common import INFERRED, clean, headline, identity, left_out_line, objects, shown_findings

_STARS = "*" * 79
_COLOURS = {Severity.CRITICAL: "\x1b[1;31m", Severity.ERROR: "\x1b[31m", Severity.WARNING: "\x1b[33m",
            Severity.INFO: "\x1b[36m"}


def _banner(title: str) -> list[str]:
    return [_STARS, "*" + " " * 77 + "*", "*" + title.center(77) + "*", "*" + " " * 77 + "*", _STARS, ""]


def render_text(result: TriageResult, color: bool = False) -> str:
    """Banner, bugcheck with decoded arguments, each finding with evidence, then inputs and warnings."""
    paint = (lambda s, sev: f"{_COLOURS[sev]}{s}\x1b[0m") if color else (lambda s, sev: s)
    out = _banner("WDF Triage Analysis")
    if result.bugcheck_analysis:
        b = result.bugcheck_analysis
        out.append(f"{b['name']} ({b['code']:x})")
        out.append(clean(b["summary"]))
        out.append("Arguments:")
        out += [f"{p['name']}: {p['shown']}, {clean(p['meaning'])}" for p in b["parameters"]]
        out += [f"{key}: {clean(value, 300)}" for key, value in b.get("details", {}).items()]
        if b.get("frames"):
            out.append("STACK (frame role):")
            out += [f"  {clean(f['frame'], 200)}  [{f['role']}]" for f in b["frames"]]
        out.append("")
    out.append(headline(result))
    out.append("")
    shown, left_out = shown_findings(result.findings)
    for _, f in shown:
        out.append(paint(f"{f.rule} {f.title} [{f.severity.name}]", f.severity))
        out.append(f"  {clean(f.summary)}")
        out.append(f"  OBJECTS: {objects(f)}" + (f"  LOG: {clean(f.log, 64)}" if f.log else "")
                   + (f"  INPUT: {clean(f.input, 200)}" if len(result.inputs) > 1 and f.input else ""))
        if f.facts.get("found_in"):
            out.append(f"  FOUND IN: {clean(f.facts['found_in'], 20)}")
        out.append(f"  PROBABLE CAUSE: {clean(f.probable_cause)}")
        if f.evidence:
            out.append("  EVIDENCE:")
            for e in f.evidence:
                out.append(f"    {clean(e.ref, 200)}  [{clean(e.role, 80)}]")
                out.append(f"      {clean(e.text, 400)}" + (f"  {INFERRED}" if e.inferred else ""))
        if f.object_view is not None:
            out.append(f"  {finding_view_title(f.facts).upper()}:")
            out += [f"    {clean(line, 300)}" for line in render_finding_view(f.object_view).splitlines()[:40]]
        out.append(f"  SUGGESTED FIX: {clean(f.suggested_fix)}")
        out.append("")
    out += [left_out_line(rule, count) for rule, count in left_out.items()] + ([""] if left_out else [])
    out.append("INPUTS:")
    out += [f"  {clean(i.path, 300)}  {i.kind}  {i.size} bytes  {identity(i)}" for i in result.inputs]
    for log in result.logs:
        shown = ", ".join(f"{k}={clean(v, 40)}" for k, v in log.items() if k not in ("input", "name")
                          and v not in (None, False, 0))
        where = f" in {clean(log['input'], 200)}" if len(result.inputs) > 1 else ""
        out.append(f"  log {clean(log['name'], 64) or '(unnamed)'}{where}: {shown}")
    if result.warnings:
        out.append("WARNINGS:")
        out += [f"  {clean(w, 300)}" for w in result.warnings[:50]]
        if len(result.warnings) > 50:
            out.append(f"  ... {len(result.warnings) - 50} more")
    out.append(f"wdftriage {result.tool_version}, {len(result.events)} events")
    return "\n".join(out) + "\n"
