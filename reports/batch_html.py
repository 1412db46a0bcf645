"""Batch results rendered: the summary printed after ``wdftriage batch`` (rich tables) and the ``--report``
HTML page (one self-contained page, no script; every evidence-derived string escaped and bounded)."""
from __future__ import annotations

import html
from collections import Counter
from datetime import datetime
from pathlib import Path

from reports.common import clean

MAX_ERRORS_SHOWN = 20  # inputs not triaged listed in the printed summary

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330;max-width:1280px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px}.mono{font-family:ui-monospace,Consolas,monospace;font-size:12px}
table{border-collapse:collapse}td,th{border:1px solid #d5d9e0;padding:3px 6px;text-align:left;vertical-align:top}
.sev-critical,.sev-error{color:#b00020;font-weight:600}.sev-warning{color:#9a6700;font-weight:600}
.status-error,.status-internal{color:#b00020}
"""


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def status_counts(inputs: list[dict]) -> Counter:
    """How many inputs ended ok / error / internal error."""
    return Counter(row["status"] for row in inputs)


def print_summary(console, inputs: list[dict], buckets: list[dict], triaged: int, skipped: int) -> None:
    """Totals, then the failure buckets (most inputs first), then the inputs that could not be read."""
    from rich.table import Table
    from rich.text import Text

    counts = status_counts(inputs)
    console.print(f"{len(inputs)} input(s): {triaged} triaged now, {skipped} already in the output; "
                  + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    table = Table(title=f"{len(buckets)} failure bucket(s)")
    for column in ("inputs", "findings", "severity", "bucket", "first seen", "last seen", "examples"):
        table.add_column(column, overflow="fold")
    for b in buckets:
        table.add_row(str(b["inputs"]), str(b["findings"]), b["severity"] or "-", Text(clean(b["bucket"], 200)),
                      _when(b["first_seen"]), _when(b["last_seen"]),
                      Text(", ".join(clean(Path(p).name, 100) for p in b["examples"])))
    console.print(table)
    failed = [row for row in inputs if row["status"] != "ok"]
    if failed:
        errors = Table(title=f"{len(failed)} input(s) not triaged"
                       + (f" (first {MAX_ERRORS_SHOWN}; all in the inputs table)" if len(failed) > MAX_ERRORS_SHOWN else ""))
        errors.add_column("input", overflow="fold")
        errors.add_column("status")
        errors.add_column("error", overflow="fold")
        for row in failed[:MAX_ERRORS_SHOWN]:
            error = row["error"] or ""
            if error.startswith(row["path"]):  # the input is named in its own column
                error = error[len(row["path"]):].lstrip(": ")
            errors.add_row(Text(clean(row["path"], 300)), row["status"], Text(clean(error, 300)))
        console.print(errors)

def _e(value: object, limit: int = 500) -> str:
    return html.escape(clean("-" if value is None else value, limit), quote=True)


def render_batch_html(inputs: list[dict], findings: list[dict], buckets: list[dict]) -> str:
    """One page: totals, buckets with example inputs, every input with its status, every finding."""
    counts = status_counts(inputs)
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">',
           "<title>wdftriage batch</title>", f"<style>{_STYLE}</style></head><body>",
           "<h1>wdftriage batch</h1>",
           f"<p>{len(inputs)} input(s): " + ", ".join(f"{n} {_e(s)}" for s, n in sorted(counts.items()))
           + f"; {len(findings)} finding(s) in {len(buckets)} bucket(s).</p>",
           "<h2>Failure buckets</h2>",
           "<table><tr><th>inputs</th><th>findings</th><th>bucket</th><th>severity</th><th>first seen</th>"
           "<th>last seen</th><th>examples</th></tr>"]
    for b in buckets:
        examples = "<br>".join(_e(p) for p in b["examples"])
        out.append(f"<tr><td>{b['inputs']}</td><td>{b['findings']}</td><td class=\"mono\">{_e(b['bucket'])}</td>"
                   f"<td class=\"sev-{_e(b['severity'])}\">{_e(b['severity'])}</td><td>{_when(b['first_seen'])}</td>"
                   f"<td>{_when(b['last_seen'])}</td><td class=\"mono\">{examples}</td></tr>")
    out += ["</table>", "<h2>Inputs</h2>",
            "<table><tr><th>input</th><th>kind</th><th>bugcheck</th><th>drivers</th><th>findings</th>"
            "<th>status</th></tr>"]
    for row in inputs:
        bugcheck = "-" if row["bugcheck"] is None else f"0x{row['bugcheck']:X} {row['bugcheck_name'] or ''}"
        status = _e(row["status"]) + (f": {_e(row['error'])}" if row["error"] else "")
        out.append(f"<tr><td class=\"mono\">{_e(row['path'])}</td><td>{_e(row['kind'])}</td><td>{_e(bugcheck)}</td>"
                   f"<td>{_e(', '.join(row['drivers']) or '-')}</td><td>{row['findings']}</td>"
                   f"<td class=\"status-{_e(row['status'].split()[0])}\">{status}</td></tr>")
    out += ["</table>", "<h2>Findings</h2>",
            "<table><tr><th>input</th><th>rule</th><th>severity</th><th>objects</th><th>summary</th><th>bucket</th></tr>"]
    for f in findings:
        out.append(f"<tr><td class=\"mono\">{_e(f['input'])}</td><td>{_e(f['rule'])}</td>"
                   f"<td class=\"sev-{_e(f['severity'])}\">{_e(f['severity'])}</td><td class=\"mono\">{_e(f['objects'])}</td>"
                   f"<td>{_e(f['summary'], 2000)}</td><td class=\"mono\">{_e(f['bucket'])}</td></tr>")
    out += ["</table>", "</body></html>", ""]
    return "\n".join(out)
