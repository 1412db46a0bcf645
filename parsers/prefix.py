"""The trace message prefix: what tracefmt, wdfkd and rcdrkd print before each message.

A prefix is a FormatMessage-style string (``%TRACE_FORMAT_PREFIX%``, ``!wdfsettraceprefix``,
``!rcdrsettraceprefix``): ``%N!fmt!`` for the numbered fields (1 GUID friendly name, 2 source file and
line, 3 thread id, 4 system time, 5 kernel time, 6 user time, 7 sequence number, 8 process id, 9 CPU
number; a bare ``%N`` is a string) and ``%!FUNC!``, ``%!LEVEL!``, ``%!FLAGS!``, ``%!COMPNAME!``,
``%!SUBCOMP!``. :func:`compile_prefix` turns one into a regular expression whose named groups are the
fields the analyzer keeps (``sequence``, ``time``, ``function``, ``log``); :func:`infer_prefix` does the
same for a prefix seen in a line when none was declared (numbers, times and function names become
fields, the rest stays literal). :func:`declared_prefix` reads a declaration in a paste.
"""
from __future__ import annotations

import re

WDFKD_DEFAULT = "%7!u!: %!FUNC! - "
WDFKD_TIMESTAMPS = "%7!u!: %4!s! %!FUNC! - "
TRACEFMT_DEFAULT = "[%9!d!]%8!04X!.%3!04X!::%4!s! [%1!s!]"
KNOWN = (WDFKD_DEFAULT, WDFKD_TIMESTAMPS, TRACEFMT_DEFAULT)

FUNCTION = r"[A-Za-z_~][\w~<>$]*(?:::[A-Za-z_~][\w~<>$]*)*"
TIME = r"\d\d/\d\d/\d{4}-\d\d:\d\d:\d\d(?:\.\d+)?|\d{4}/\d\d/\d\d-\d\d:\d\d:\d\d(?:\.\d+)?"
_VARIABLE = re.compile(r"%(\d{1,2})(?:!([^!]*)!)?|%!(\w+)!|%%|\s+")
_NUMBERED = {1: ("log", r"[^\s\]]+"), 2: (None, r"\S+?"), 4: ("time", TIME), 5: (None, r"\d+"), 6: (None, r"\d+"),
             7: ("sequence", r"-?\d+"), 9: (None, r"\d+")}
_ITEMS = {"FUNC": ("function", FUNCTION), "LEVEL": (None, r"\w+"), "FLAGS": (None, r"\w+"),
          "COMPNAME": (None, r"\w*"), "SUBCOMP": (None, r"\w*")}
_DECLARATION = re.compile(r"(?:Trace format prefix is:|SetTracePrefix:|[!.](?:wdf|rcdr)settraceprefix\b|"
                          r"TRACE_FORMAT_PREFIX=)[ \t]?(.*)$", re.IGNORECASE)
#: ``digits``: the decimal digits that start a run of hex digits ending in another word character (no number: the
#: run is no word of its own), taken at once; one character at a time, each would scan the rest of the run again.
_TOKEN = re.compile(rf"(?P<time>{TIME})|(?P<function>{FUNCTION})|(?P<digits>(?=[0-9A-Fa-f]*[^\W0-9A-Fa-f])[0-9]+)|"
                    r"(?P<number>[0-9A-Fa-f]+\b)|(?P<space>\s+)|(?P<other>.)")
_HEX = re.compile(r"[0-9A-Fa-f]+")
_PLAIN_WORD = re.compile(r"\[[^\[\]]*\]|(?<![\w:])((?=[A-Za-z]*[a-z])[A-Za-z]+)(?![\w:])")  # bracketed text, or a word


def _number_pattern(fmt: str | None) -> str:
    conv = (fmt or "s")[-1]
    return r"[0-9A-Fa-f]+" if conv in "xX" else r"-?\d+" if conv in "dui" else r"\w+"


def compile_prefix(prefix: str) -> str:
    """The regular expression (source) of a declared prefix; fields as named groups."""
    out, used, pos = [], set(), 0

    def field(name: str | None, pattern: str) -> str:
        if name is None or name in used:
            return f"(?:{pattern})"
        used.add(name)
        return f"(?P<{name}>{pattern})"

    for m in _VARIABLE.finditer(prefix):
        out.append(re.escape(prefix[pos:m.start()]))
        pos = m.end()
        number, fmt, item = m.groups()
        if number:
            name, pattern = _NUMBERED.get(int(number), (None, _number_pattern(fmt)))
            out.append(field(name, pattern if int(number) in _NUMBERED else _number_pattern(fmt)))
        elif item:
            out.append(field(*_ITEMS.get(item.upper(), (None, r"\S*"))))
        elif m.group(0) == "%%":
            out.append("%")
        else:
            out.append(r"\s*")
    out.append(re.escape(prefix[pos:]))
    return r"\s*" + "".join(out)


def declared_prefix(line: str) -> str | None:
    """The prefix a line declares (``Trace format prefix is: ...``, ``SetTracePrefix: "..."``,
    ``!wdfsettraceprefix ...``), None when it declares none."""
    m = _DECLARATION.search(line)
    if not m:
        return None
    value = m.group(1).rstrip("\r\n")
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value


def infer_prefix(text: str, functions: frozenset[str]) -> str:
    """A regular expression (source) for a prefix seen in a line: a leading number followed by ``:`` is the
    sequence number, a time is the time, a framework function name is the function; other numbers match
    any number, other text stays literal."""
    out, used, seen_word = [], set(), False
    tokens = list(_TOKEN.finditer(text))
    for m in tokens:
        kind, value = m.lastgroup, m.group()
        if kind == "time" and "time" not in used:
            used.add("time")
            out.append(f"(?P<time>{TIME})")
        elif kind == "function" and value in functions and "function" not in used:
            used.add("function")
            out.append(f"(?P<function>{FUNCTION})")
        elif kind in ("number", "function") and _HEX.fullmatch(value):
            first = not seen_word
            if first and value.isdigit() and text.startswith(":", _next_non_space(text, m.end())) \
                    and "sequence" not in used:
                used.add("sequence")
                out.append(r"(?P<sequence>\d+)")
            else:
                out.append(r"[0-9A-Fa-f]+")
        elif kind == "space":
            out.append(r"\s*")
        else:
            out.append(re.escape(value))
        seen_word = seen_word or kind != "space"
    return r"\s*" + "".join(out)


def _next_non_space(text: str, at: int) -> int:
    """The position of the first non-blank character at or after ``at`` (linear in the blanks skipped)."""
    while at < len(text) and text[at].isspace():
        at += 1
    return at


def looks_like_prefix(text: str, functions: frozenset[str]) -> bool:
    """Whether text found before a framework message can be a trace prefix: numbers, times, ids, punctuation,
    bracketed names, upper-case level/flag names and function names, but no plain word (``# Dumping
    WDFDEVICE ...`` or ``DevNode ... for PDO ...`` in other debugger output is not a log record)."""
    for m in _PLAIN_WORD.finditer(text):
        word = m.group(1)
        if word and word not in functions and not _HEX.fullmatch(word):
            return False
    return True


def ends_with_function(text: str, functions: frozenset[str]) -> bool:
    """Whether text ends with a framework function name (and a separator): the %!FUNC! of a prefix."""
    words = text.rstrip(" \t-:").split()
    return bool(words) and words[-1] in functions
