"""The bugcheck in a pasted ``!analyze -v``: name and code, Arg1..Arg4, FAILURE_BUCKET_ID, IMAGE_NAME, MODULE_NAME.

Accepted forms: the banner line ``DRIVER_POWER_STATE_FAILURE (9f)`` with ``Arg1: ...`` lines, the
``BugCheck 9F, {3, ffff..., ...}`` line of a dump's opening, and ``BUGCHECK_CODE:``/``BUGCHECK_P1:`` keys.
"""
from __future__ import annotations

import re

from parsers.records import BugCheck

_BANNER = re.compile(r"^\s*(?:Stop code:\s*)?([A-Z][A-Z0-9_]+) \((?:0x)?([0-9a-fA-F]+)\)\s*$", re.MULTILINE)
_STACK = re.compile(r": ([0-9a-fA-F`]{17}) ([0-9a-fA-F`]{17}) ([0-9a-fA-F`]{17}) ([0-9a-fA-F`]{17}) : nt!KeBugCheckEx\b")
_ARG = re.compile(r"^\s*Arg([1-4]):\s*([0-9a-fA-F`]+)", re.MULTILINE)
_BUGCHECK_LINE = re.compile(r"BugCheck ([0-9a-fA-F]+), \{([^}]*)\}")
_KEYS = {key: re.compile(rf"^\s*{key}:\s*(\S+)", re.MULTILINE)
         for key in ("FAILURE_BUCKET_ID", "Failure bucket", "IMAGE_NAME", "MODULE_NAME", "BUGCHECK_CODE", "BUGCHECK_P1",
                     "BUGCHECK_P2", "BUGCHECK_P3", "BUGCHECK_P4")}


def _hex(text: str) -> int:
    return int(text.replace("`", "").removeprefix("0x"), 16)


def looks_like_analyze(text: str) -> bool:
    """True when the text holds !analyze output or a BugCheck line."""
    return read_analyze_text(text, "") is not None


def read_analyze_text(text: str, source: str) -> BugCheck | None:
    """The first bugcheck described in the text, None when there is none."""
    keys = {k: (m.group(1) if (m := rx.search(text)) else None) for k, rx in _KEYS.items()}
    name, code, params = None, None, [None] * 4
    banner = _BANNER.search(text)
    if banner:
        name, code = banner.group(1), _hex(banner.group(2))
    for m in _ARG.finditer(text, banner.end() if banner else 0):
        index = int(m.group(1)) - 1
        if params[index] is None:
            params[index] = _hex(m.group(2))
    line = _BUGCHECK_LINE.search(text)
    if line:
        code = code if code is not None else _hex(line.group(1))
        for i, value in enumerate(v.strip() for v in line.group(2).split(",")[:4]):
            if params[i] is None and value:
                params[i] = _hex(value)
    if code is None and keys["BUGCHECK_CODE"]:
        code = _hex(keys["BUGCHECK_CODE"])
    stack = _STACK.search(text)
    if stack:  # x64 nt!KeBugCheckEx frame: code, P1, P2, P3 as its first four arguments
        code = code if code is not None else _hex(stack.group(1))
        for i, value in enumerate(stack.groups()[1:]):
            params[i] = params[i] if params[i] is not None else _hex(value)
    for i in range(4):
        raw = keys[f"BUGCHECK_P{i + 1}"]
        if params[i] is None and raw:
            params[i] = _hex(raw)
    if code is None:
        return None
    return BugCheck(code=code, parameters=tuple(p or 0 for p in params), name=name,
                    failure_bucket=keys["FAILURE_BUCKET_ID"] or keys["Failure bucket"], image_name=keys["IMAGE_NAME"],
                    module_name=keys["MODULE_NAME"], source=source)
