"""Derive the function each framework trace call sits in, as WPP's %!FUNC! prints it.

Dev-time only (the output is committed): reads a checkout of microsoft/Windows-Driver-Frameworks (MIT) and
the call sites of ``parsers/wdfdata/wdf-trace-formats.tsv``, and writes
``parsers/wdfdata/wdf-trace-functions.tsv`` (``file:line<TAB>function``). For each call site it walks up to
the nearest function header above it: a column-0 ``Name(`` / ``Class::Name(`` line in a .cpp, or an indented
method inside ``class X`` in a header, and spells macro-built names the way the compiler sees them:
``WDFEXPORT(WdfFoo)`` is ``imp_WdfFoo``, ``FX_VF_METHOD(Class, Foo)`` is ``Class::Vf_Foo``, ``FX_VF_FUNCTION(Foo)``
is ``Vf_Foo`` (real wdfkd output shows ``imp_WdfCollectionRemove``, ``FxIoQueue::Vf_VerifyForwardRequest``).

    python tools/wdf_functions.py PATH/TO/Windows-Driver-Frameworks
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORMATS = ROOT / "parsers" / "wdfdata" / "wdf-trace-formats.tsv"
OUT = ROOT / "parsers" / "wdfdata" / "wdf-trace-functions.tsv"

_NAME = r"~?[A-Za-z_]\w*"
_HEADER = re.compile(
    rf"^(?P<indent>\s*)(?:(?:[\w<>*&]+\s+)*)"
    rf"(?P<name>WDFEXPORT\(\s*\w+\s*\)|FX_VF_METHOD\(\s*\w+\s*,\s*\w+\s*\)|FX_VF_FUNCTION\(\s*\w+\s*\)"
    rf"|(?:\w+::)*{_NAME})\s*\(")
_NOT_FUNCTIONS = {"if", "while", "for", "switch", "return", "sizeof", "DoTraceLevelMessage", "ASSERT",
                  "ASSERTMSG", "UNREFERENCED_PARAMETER", "PAGED_CODE_LOCKED", "FxVerifierDbgBreakPoint",
                  "__drv_maxIRQL", "__drv_requiresIRQL", "__drv_when", "_IRQL_requires_max_", "_Requires_lock_held_",
                  "_Releases_lock_", "_Acquires_lock_", "__drv_sameIRQL", "_When_", "_IRQL_requires_", "DECLSPEC_NOINLINE"}
_CLASS = re.compile(r"^\s*(?:class|struct)\s+(?:\w+\s+)?(\w+)\b(?!.*;)")


def spelled(name: str) -> str:
    """The name as the compiler (and so %!FUNC!) spells a macro-built function name."""
    m = re.fullmatch(r"WDFEXPORT\(\s*(\w+)\s*\)", name)
    if m:
        return "imp_" + m.group(1)
    m = re.fullmatch(r"FX_VF_METHOD\(\s*(\w+)\s*,\s*(\w+)\s*\)", name)
    if m:
        return f"{m.group(1)}::Vf_{m.group(2)}"
    m = re.fullmatch(r"FX_VF_FUNCTION\(\s*(\w+)\s*\)", name)
    return "Vf_" + m.group(1) if m else name


def without_comments(text: str) -> list[str]:
    """The source lines with comments blanked (line count kept), so prose is never taken for a header."""
    def blank(m: re.Match) -> str:
        return "".join(c if c == "\n" else " " for c in m.group(0)) if not m.group(0).startswith('"') else m.group(0)
    return re.sub(r'"(?:\\.|[^"\\\n])*"|/\*.*?\*/|//[^\n]*', blank, text, flags=re.S).splitlines()


def enclosing_function(lines: list[str], line: int, header_file: bool) -> str | None:
    """The function whose body holds 1-based ``line``: the nearest header above it followed by a body
    brace before the line (so a call spanning lines is not taken for a header). Only header files define
    methods inside class bodies (indented)."""
    for i in range(line - 1, -1, -1):
        m = _HEADER.match(lines[i])
        if not m or m.group("name").split("::")[-1] in _NOT_FUNCTIONS:
            continue
        indent = len(m.group("indent"))
        if indent and not (header_file and _is_method_header(lines, i)):
            continue
        if not any(re.match(r"^\s*\{", lines[j]) for j in range(i + 1, line)):
            continue
        name = spelled(m.group("name"))
        if indent and "::" not in name:
            owner = next((c.group(1) for c in map(_CLASS.match, reversed(lines[:i])) if c), None)
            name = f"{owner}::{name}" if owner else name
        return name
    return None


def _is_method_header(lines: list[str], i: int) -> bool:
    """An indented header is an inline method when the line before it is a return type or qualifier,
    not a statement (the caller checks that a body brace follows)."""
    before = lines[i - 1].strip() if i else ""
    return bool(before) and not before.endswith((";", ",", "(", "{", "}", "=", "&&", "||")) \
        and not before.startswith(("//", "/*", "*", "#", "return", "if", "else"))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    source = Path(argv[0])
    rows, missing, cache = [], [], {}
    for raw in FORMATS.read_text(encoding="utf-8").splitlines():
        if raw.startswith("#") or not raw.strip():
            continue
        site = raw.split("\t", 1)[0]
        path, _, number = site.rpartition(":")
        if path not in cache:
            cache[path] = without_comments((source / path).read_text(encoding="utf-8", errors="replace"))
        function = enclosing_function(cache[path], int(number), path.endswith((".h", ".hpp", ".inl")))
        if function is None:
            missing.append(site)
            continue
        rows.append(f"{site}\t{function}")
    OUT.write_text("# file:line\tfunction (as %!FUNC! prints it), derived by tools/wdf_functions.py\n"
                   + "\n".join(rows) + "\n", encoding="utf-8")
    print(f"{len(rows)} call sites, {len(missing)} without a function: {missing[:10]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
