"""Renderers of the triage result (no analysis here): text, Markdown, JSON, HTML."""
from __future__ import annotations

from analyzer.result import TriageResult

FORMATS = ("text", "md", "json", "html")


def render(result: TriageResult, fmt: str) -> str:
    """Render ``result`` as one of FORMATS."""
    if fmt == "text":
        from reports.text import render_text
        return render_text(result)
    if fmt == "md":
        from reports.markdown import render_markdown
        return render_markdown(result)
    if fmt == "json":
        from reports.json_report import render_json
        return render_json(result)
    if fmt == "html":
        from reports.html import render_html
        return render_html(result)
    raise ValueError(f"unknown report format {fmt!r}; choose from {', '.join(FORMATS)}")
