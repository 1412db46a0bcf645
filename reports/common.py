"""Small helpers every renderer shares: handle formatting, bounded and neutralised evidence text."""
from __future__ import annotations

import re

from parsers.records import INFERRED_MARK as INFERRED  # noqa: F401 - the one mark, for every renderer
from analyzer.result import Finding, InputFile, TriageResult, hexh

MAX_TEXT = 2000  # characters of one evidence-derived string shown in a report
_CONTROL = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u202a-\u202e\u2066-\u2069\u200e\u200f]")


def clean(text: object, limit: int = MAX_TEXT) -> str:
    """Evidence text made safe to show: control and bidi characters shown as escapes, length bounded."""
    s = "" if text is None else str(text)
    if len(s) > limit:
        s = s[:limit] + f"… [{len(s) - limit} more characters]"
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group(0)):04x}", s)


def objects(f: Finding) -> str:
    """The objects a finding names, e.g. 'WDFDEVICE 0x.. WDFQUEUE 0x..'."""
    parts = [f"{kind} {hexh(v)}" for kind, v in (("WDFDEVICE", f.device), ("WDFQUEUE", f.queue),
                                                    ("WDFREQUEST", f.request)) if v is not None]
    return " ".join(parts) or "-"


def identity(i: InputFile) -> str:
    """How an input is identified: 'sha256 <hex>' of the whole file, else (a crash dump) the digest of what was read."""
    return f"sha256 {i.sha256}" if i.sha256 else f"read digest {i.read_digest} (SHA-256 of the header and blocks read)"


def headline(result: TriageResult) -> str:
    """One line: how many findings at which worst severity."""
    worst = result.worst_severity()
    if worst is None:
        return "No findings."
    return f"{len(result.findings)} finding(s), worst severity {worst.name}."


MAX_PER_RULE = 25  # findings of one rule a human-facing report shows in full (JSON holds them all)


def shown_findings(findings: list[Finding]) -> tuple[list[tuple[int, Finding]], dict[str, int]]:
    """The (number, finding) pairs a human-facing report shows in full, at most :data:`MAX_PER_RULE` per
    rule (findings come worst first), and how many of each rule it leaves out."""
    shown, left_out, seen = [], {}, {}
    for n, f in enumerate(findings):
        seen[f.rule] = seen.get(f.rule, 0) + 1
        if seen[f.rule] <= MAX_PER_RULE:
            shown.append((n, f))
        else:
            left_out[f.rule] = left_out.get(f.rule, 0) + 1
    return shown, left_out


def left_out_line(rule: str, count: int) -> str:
    """What a report says in place of the findings of ``rule`` it does not show."""
    return f"... {count} more {rule} finding(s) not shown (the JSON report and `wdftriage batch` hold every one)"
