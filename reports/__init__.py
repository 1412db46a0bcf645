"""Renderers of the triage result (no analysis here): text, Markdown, JSON, HTML."""
from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the renderers import pandas; the command line's --help must not
    from analyzer.result import TriageResult

FORMATS = ("text", "md", "json", "html")
_EXTENSIONS = {".html": "html", ".htm": "html", ".md": "md", ".json": "json", ".txt": "text"}


def format_for_path(path: str) -> str:
    """The report format a file name asks for by its extension (text when it names none of FORMATS)."""
    return _EXTENSIONS.get(PurePath(path).suffix.lower(), "text")


def render(result: "TriageResult", fmt: str) -> str:
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
