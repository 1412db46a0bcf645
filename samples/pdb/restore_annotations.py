"""Put the S_ANNOTATION records lld-link 14 replaced with S_SKIP back into `llvm-pdbutil pdb2yaml` output.

Usage: restore_annotations.py IN.yaml OUT.yaml SOURCE.c. The S_SKIP records are replaced in order by the
strings of the source's __annotation calls (lld keeps the record size, so scope offsets stay valid).
"""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

_CALL = re.compile(r"__annotation\((.*?)\);", re.S)
_WIDE = re.compile(r'L("(?:[^"\\]|\\.)*")')
_SKIP = re.compile(r"          - Kind:            S_SKIP\n            UnknownSym:\n              Data:\s+'[0-9A-Fa-f]*'\n")


def source_annotations(source: str) -> list[list[str]]:
    return [[ast.literal_eval(s) for s in _WIDE.findall(call)] for call in _CALL.findall(source)]


def yaml_block(strings: list[str]) -> str:
    quoted = "".join("                - '" + s.replace("'", "''") + "'\n" for s in strings)
    return ("          - Kind:            S_ANNOTATION\n            AnnotationSym:\n              Offset:          0\n"
            "              Segment:         0\n              Strings:\n" + quoted)


def main(src_yaml: str, out_yaml: str, source: str) -> None:
    annotations = iter(source_annotations(Path(source).read_text(encoding="utf-8")))
    text = _SKIP.sub(lambda m: yaml_block(next(annotations)), Path(src_yaml).read_text(encoding="utf-8"))
    if next(annotations, None) is not None:
        sys.exit("fewer S_SKIP records than annotations: did the linker keep them?")
    Path(out_yaml).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:4])
