"""Derive what each bugcheck parameter means from Microsoft's bug check reference pages.

Dev-time only (the output is committed): reads the ``bug-check-0x*.md`` pages of MicrosoftDocs/windows-driver-docs
(CC-BY-4.0) and writes ``parsers/wdfdata/bugcheck-parameters.tsv`` (``code<TAB>parameter<TAB>meaning``) for the
pages whose parameter table gives one meaning per parameter (rows ``1``..``4``, HTML or Markdown). Pages whose
table is per subcode (0x9F, 0x10D, 0xC4, ...) give no row here; 0x9F and 0x10D are decoded in analyzer/bugcheck.py.

    python tools/bugcheck_parameters.py PATH/TO/docs
"""
from __future__ import annotations

import html
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "parsers" / "wdfdata" / "bugcheck-parameters.tsv"

_CODE = re.compile(r"bug-check-(0x[0-9a-f]+)-", re.IGNORECASE)
_HTML_ROW = re.compile(r"<tr[^>]*>\s*<td[^>]*>(.*?)</td>\s*<td[^>]*>(.*?)</td>\s*</tr>", re.DOTALL)
_MD_ROW = re.compile(r"^\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|\s*$", re.MULTILINE)
_NUMBER = re.compile(r"(?:Parameter\s*)?([1-4])")


def _plain(cell: str) -> str:
    text = re.sub(r"<li>", "; ", cell)
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = html.unescape(text).replace("\\_", "_").replace("**", "").replace("`", "")
    return " ".join(text.split()).strip(" ;")


def parameters(page: str) -> dict[int, str]:
    """Parameter number -> meaning, from the page's first table of numbered parameters."""
    found: dict[int, str] = {}
    for first, second in _HTML_ROW.findall(page) + _MD_ROW.findall(page):
        m = _NUMBER.fullmatch(_plain(first))
        if m and int(m.group(1)) not in found:
            found[int(m.group(1))] = _plain(second)
    return found if set(found) >= {1, 2} else {}


def main(docs: str) -> None:
    rows = []
    for path in sorted(Path(docs).glob("bug-check-0x*.md")):
        code = int(_CODE.search(path.name).group(1), 16)
        for number, meaning in sorted(parameters(path.read_text(encoding="utf-8")).items()):
            rows.append(f"0x{code:08X}\t{number}\t{meaning}")
    OUT.write_text("# Bugcheck parameter meanings from the bug check reference pages of MicrosoftDocs/windows-driver-docs "
                   "(CC-BY-4.0), by tools/bugcheck_parameters.py\ncode\tparameter\tmeaning\n" + "\n".join(rows) + "\n",
                   encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
