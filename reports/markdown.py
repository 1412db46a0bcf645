"""The triage result as Markdown that pastes cleanly into a GitHub or Azure DevOps issue comment."""
from __future__ import annotations

import html

from analyzer.result import TriageResult
from reports.views import finding_view_title, render_finding_view
from reports.common import INFERRED, clean, headline, identity, left_out_line, objects, shown_findings


def _cell(text: object, limit: int = 300) -> str:
    """Table cell text: HTML-escaped (GitHub renders inline HTML), pipes and newlines neutralised."""
    return html.escape(clean(text, limit)).replace("|", "\\|").replace("\n", " ").replace("`", "&#96;")


def _fence(lines: list[str]) -> list[str]:
    """A code block whose fence is longer than any backtick run inside it."""
    body = "\n".join(lines)
    run = longest = 0
    for ch in body:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return [fence + "text", body, fence]


def render_markdown(result: TriageResult) -> str:
    """Summary table, one section per finding with collapsible evidence, inputs table."""
    out = ["## WDF triage", "", _cell(headline(result)), ""]
    if result.bugcheck_analysis:
        b = result.bugcheck_analysis
        out += [f"**Bugcheck:** `{b['name']} (0x{b['code']:x})` — {_cell(b['summary'])}", "",
                "| argument | value | meaning |", "|---|---|---|"]
        out += [f"| {p['name']} | `{p['shown']}` | {_cell(p['meaning'])} |" for p in b["parameters"]]
        out += [""] + [f"- **{key}**: {_cell(value, 300)}" for key, value in b.get("details", {}).items()]
        if b.get("frames"):
            out += [""] + _fence([f"{clean(f['frame'], 200)}  [{f['role']}]" for f in b["frames"]])
        out.append("")
    shown, left_out = shown_findings(result.findings)
    if result.findings:
        out += ["| rule | severity | objects | summary |", "|---|---|---|---|"]
        out += [f"| {f.rule} | {f.severity.name} | {_cell(objects(f))} | {_cell(f.summary)} |" for _, f in shown]
        out += ["", *(_cell(left_out_line(rule, count)) for rule, count in left_out.items())]
        out.append("")
    for _, f in shown:
        out += [f"### {f.rule} {_cell(f.title)} ({f.severity.name})", "", _cell(f.summary, 1000), "",
                f"**Probable cause:** {_cell(f.probable_cause, 1000)}", "",
                f"**Suggested fix:** {_cell(f.suggested_fix, 1000)}", ""]
        if f.evidence:
            out += ["<details><summary>Evidence (" + str(len(f.evidence)) + " lines)</summary>", ""]
            out += _fence([f"{clean(e.ref, 200)}  [{clean(e.role, 80)}]\n    {clean(e.text, 400)}"
                           + (f"  {INFERRED}" if e.inferred else "") for e in f.evidence])
            out += ["", "</details>", ""]
        if f.object_view is not None:
            out += [f"<details><summary>{finding_view_title(f.facts)} (found in: {_cell(f.facts.get('found_in', 'objects'))})"
                    "</summary>", ""]
            out += _fence([clean(line, 300) for line in render_finding_view(f.object_view).splitlines()[:40]])
            out += ["", "</details>", ""]
    out += ["| input | kind | bytes | identity |", "|---|---|---|---|"]
    out += [f"| {_cell(i.path)} | {i.kind} | {i.size} | {identity(i)} |" for i in result.inputs]
    if result.warnings:
        out += ["", "<details><summary>Warnings</summary>", ""] + _fence([clean(w, 300) for w in result.warnings[:50]])
        out += ["", "</details>"]
    out += ["", f"<sub>wdftriage {_cell(result.tool_version)}</sub>", ""]
    return "\n".join(out)
