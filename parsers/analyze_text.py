"""The bugcheck in pasted ``!analyze`` / kd text, in every form a bug report carries it.

Code and parameters come from (first found wins, per parameter): ``Arg1: value, meaning`` lines (the
meaning and its continuation lines are kept), ``BugCheck D1, {p1, p2, p3, p4}``, the live kd banner
``*** Fatal System Error: 0x000000d1 (p1,p2,p3,p4)``, ``.bugcheck``'s ``Bugcheck code``/``Arguments``,
``BUGCHECK_CODE:``/``BUGCHECK_P1:`` keys, the x64 ``nt!KeBugCheckEx`` stack frame (code, P1-P3), and
Markdown bullets, tables or one-line summaries (``**Stop code**: 0x9F``, ``bug check 0x10D (WDF_VIOLATION)``),
the blue screen's ``Stop code: NAME`` (code from the reference names) and ``What failed: X.sys`` (the image).
The name is the paste's own (``WDF_VIOLATION (10d)`` banner, ``Stop code: NAME (0x..)``, ``CODE (NAME)``).
Also kept: MODULE_NAME, IMAGE_NAME, SYMBOL_NAME, FAILURE_BUCKET_ID, PROCESS_NAME, FAULTING_SOURCE_*, the
stack frames and the analysis the debugger's WDF extension adds under "Debugging Details" (``This is a bugcheck
caused by a WDF driver timing out.`` and the ``Reason: ...`` line after it, which names the object waited on).
A parameter the text does not give stays None. ``Unknown bugcheck code (0)`` (a debug break shown by
``!analyze``) is not a bugcheck. Lines are fed one at a time, so a paste of any size is read as a stream.
"""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from parsers.numbers import int_or_none
from parsers.records import BugCheck

_HEXV = r"(?:0x)?[0-9a-fA-F`]+"
_MARKDOWN = re.compile(r"\*\*|__|(?<![0-9a-fA-F])`|`(?![0-9a-fA-F])|^\s*(?:[-*+>|]\s+)+")
_MARKDOWN_MARKS = ("-", "*", "+", ">", "|")  # what a Markdown prefix starts with
_NAME = r"(?-i:[A-Z][A-Z0-9_]{3,})"
_BANNER = re.compile(r"^\s*(?:Stop code:\s*|Bug ?check(?: code)?:\s*)?(" + _NAME + r") \((?:0x)?([0-9a-fA-F]+)\)\s*$",
                     re.IGNORECASE)
_CODE_NAME = re.compile(r"^\s*(?:BUGCHECK_CODE|Bug ?check(?: code)?|Stop code)\s*(?::\s*)?(0x[0-9a-fA-F]+|(?=[0-9a-fA-F]*\d)[0-9a-fA-F]+)"
                        r"(?:\s*\((" + _NAME + r")\))?\s*(?:$|,)", re.IGNORECASE)
_SUMMARY = re.compile(r"\b(?:bug ?check|stop code|stop error)(?: code)?\s*(?::\s*)?(0x[0-9a-fA-F]+)\b(?:\s*\((" + _NAME + r")\))?",
                      re.IGNORECASE)
_STOP_NAME = re.compile(r"^\s*(?:Stop code|Bug ?check(?: name)?)\s*(?::\s*)?(" + _NAME + r")\s*$", re.IGNORECASE)
_WHAT_FAILED = re.compile(r"^\s*What failed\s*:\s*(\S+)\s*$", re.IGNORECASE)  # the blue screen's faulting module
_FATAL = re.compile(r"Fatal System Error: (0x[0-9a-fA-F]+)\s*(?:\(([^)]*)\))?")
_FATAL_PARAMS = re.compile(r"^\s*\(([^)]*)\)\s*$")  # kd prints them on the line after the banner
_BUGCHECK_LINE = re.compile(r"BugCheck ([0-9a-fA-F]+), \{([^}]*)\}")
_DOT_BUGCHECK = re.compile(r"^\s*Bugcheck code ([0-9a-fA-F]+)\s*$")
_DOT_ARGUMENTS = re.compile(r"^\s*Arguments((?:\s+[0-9a-fA-F`]+){1,4})\s*$")
_ARG = re.compile(r"^\s*Arg([1-4])\s*:\s*(" + _HEXV + r")\b\s*(,?)\s*(?:\((.*)\)|(.*))$")
_PARAM_KEY = re.compile(r"^\s*BUGCHECK_P([1-4])\s*:\s*(" + _HEXV + r")\b\s*(?:\((.*)\))?")
_KEBUGCHECKEX = re.compile(r": ([0-9a-fA-F`]{17}) ([0-9a-fA-F`]{17}) ([0-9a-fA-F`]{17}) ([0-9a-fA-F`]{17}) : nt!KeBugCheckEx\b")
_KEYS = ("FAILURE_BUCKET_ID", "IMAGE_NAME", "MODULE_NAME", "SYMBOL_NAME", "PROCESS_NAME", "FAULTING_SOURCE_FILE",
         "FAULTING_SOURCE_LINE_NUMBER", "FAULTING_SOURCE_LINE")
_KEY = re.compile(r"^\s*(" + "|".join(_KEYS) + r"|Failure bucket)\s*:\s*(\S(?:.*\S)?)\s*$")
_FRAME = r"(?P<frame>[A-Za-z_][\w.-]*(?:![^\s\[]+|\+0x[0-9a-fA-F]+))"
_ADDRESSED_FRAMES = (  # STACK_TEXT, k/kb (with frame numbers, arguments, inline frames), address + frame
    re.compile(r"^\s*(?:[0-9a-fA-F]{2}\s+)?[0-9a-fA-F`]{8,17}(?:\s+[0-9a-fA-F`]{8,17}){0,4}\s+"
               r"(?::(?:\s+[0-9a-fA-F`]+)+\s+:\s+)?" + _FRAME),
    re.compile(r"^\s*(?:[0-9a-fA-F]{2}\s+)?\(Inline(?: Function)?\)\s+[-`]+\s+" + _FRAME),
)
_BARE_FRAME = re.compile(r"^\s*" + _FRAME + r"\s*(?:\[.*)?$")
_STACK_HEADER = re.compile(r"STACK_TEXT|Call Site|Child-SP|ChildEBP|Stack trace|Call Stack|^\s*kd>\s*k", re.IGNORECASE)
_STACK_WORDS = ("stack_text", "call site", "child-sp", "childebp", "stack trace", "call stack", "kd>")
_MAX_FRAMES = 64
_WDF_ANALYSIS = re.compile(r"^\s*This is a bugcheck caused by a (?:WDF|KMDF|UMDF) driver\b", re.IGNORECASE)
_WDF_REASON = re.compile(r"^\s*Reason\s*:\s*\S", re.IGNORECASE)
_REASON_WITHIN = 3  # non-blank lines after the analysis line in which its Reason line is looked for
_ANALYSIS_WIDTH = 400  # characters kept of each analysis line
def _has_keyword(low: str) -> bool:
    """Any line a branch of AnalyzeReader.feed reads holds one of these (most log lines hold none); written
    out as one expression, a fraction of the cost of any() over a generator."""
    return ("arg" in low or "bug" in low or "stop " in low or "what failed" in low or "fatal system error" in low
            or "_name" in low or "bucket" in low or "faulting_source" in low or "stack" in low or "call" in low
            or "child" in low or "inline" in low or "+0x" in low)


def _interesting(line: str) -> bool:
    """Cheap test (plain substring searches) that a line may hold something the reader takes."""
    if line.rstrip().endswith(")"):
        return True
    low = line.lower()
    if _has_keyword(low):
        return True
    i = line.find("!")
    while i > 0:  # module!symbol
        before, after = line[i - 1], line[i + 1:i + 2]
        if (before.isalnum() or before in "._") and (after.isalnum() or after in ("_", "?")):
            return True
        i = line.find("!", i + 1)
    return False


_CONTINUATION = re.compile(r"^(?:\t|    )\s*(\S.*)$")


def reference_table(name: str) -> list[list[str]]:
    """The rows of a reference table in parsers/wdfdata (a comment line and a header line first)."""
    text = resources.files("parsers").joinpath("wdfdata", name).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines()[2:] if line.strip() and not line.startswith("#")]


@lru_cache(maxsize=1)
def bugcheck_names() -> dict[int, str]:
    """Bugcheck code -> name, for every code in Microsoft's bug check code reference."""
    return {int(code, 16): name for code, name in reference_table("bugcheck-names.tsv")}


@lru_cache(maxsize=1)
def _codes_by_name() -> dict[str, int]:
    return {name: code for code, name in bugcheck_names().items()}


def _hex(text: str) -> int | None:
    return int_or_none(text, 16)


def _complete(raw: str) -> bool:
    """A printed parameter is whole when it has a 0x prefix or the pointer width the debugger pads to."""
    return raw.lower().startswith("0x") or len(raw.replace("`", "")) in (8, 16)


def _may_be_stack_header(text: str) -> bool:
    """Whether :data:`_STACK_HEADER` may match (a search of it costs ~20 us a line: no literal leads it)."""
    if not text.isascii():  # (case-insensitive matching of other characters is left to the expression)
        return True
    low = text.lower()
    return any(word in low for word in _STACK_WORDS)


class AnalyzeReader:
    """Reads ``!analyze``/kd text line by line; :meth:`result` is the bugcheck described (None if none)."""

    def __init__(self, source: str):
        self.source = source
        self.code: int | None = None
        self.name: str | None = None
        self.params: list[int | None] = [None] * 4
        self.meanings: list[str | None] = [None] * 4
        self.keys: dict[str, str] = {}
        self.frames: list[str] = []
        self.break_only = False
        self._arg: int | None = None  # Arg line whose meaning may continue on the next lines
        self._tentative: list[tuple[int, int]] = []  # short values on the latest line: the paste may be cut there
        self._dot_bugcheck = False
        self._fatal = False  # a Fatal System Error banner whose parameters may follow on the next line
        self._in_stack = False
        self.framework_analysis: list[str] = []
        self._reason_within = 0  # lines left in which the WDF analysis's Reason line may come

    def _set_code(self, code: int | None, name: str | None = None) -> None:
        if code is None or code > 0xFFFFFFFF:  # a bug check code is a ULONG: a wider value is none (a stack's
            return  # 64-bit argument slot with garbage above the code, a mangled paste)
        if self.code is None:
            self.code = code
        if name and self.name is None and code == self.code:
            self.name = name.upper()

    def _set_params(self, values, start: int = 0) -> None:
        for i, value in enumerate(values, start):
            if i < 4 and self.params[i] is None and value is not None:
                self.params[i] = value

    def feed(self, line: str) -> None:
        """Read one line."""
        if self._arg is not None:
            more = _CONTINUATION.match(line)
            if more and not _ARG.match(line):
                self.meanings[self._arg] = f"{self.meanings[self._arg]} {more.group(1).strip()}".strip()
                return
            self._arg = None
        if not line.strip():
            return
        if ("driver" in line or self._reason_within) and self._wdf_analysis(line):
            return
        if not _interesting(line):
            self._in_stack = False
            self._commit()
            return
        if "Unknown bugcheck code (0)" in line:
            self.break_only = True
        text = line
        if text.lstrip().startswith("|"):  # a Markdown table row: | Arg1 | 0x3 | meaning |
            cells = [c.strip() for c in text.strip().strip("|").split("|")]
            text = f"{cells[0]}: {cells[1]}" + (f" ({cells[2]})" if len(cells) > 2 and cells[2] else "") \
                if len(cells) > 1 else cells[0]
        if "**" in text or "__" in text or "`" in text or text.lstrip()[:1] in _MARKDOWN_MARKS:  # (else no match)
            text = _MARKDOWN.sub("", text)
        self._commit()
        self._codes(text)
        m = _ARG.match(text) or _PARAM_KEY.match(text)
        if m:
            index, raw = int(m.group(1)) - 1, m.group(2)
            meaning = next((g.strip() for g in m.groups()[2:] if g and g.strip() not in ("", ",")), None)
            if _complete(raw) or meaning or (m.re is _ARG and m.group(3)):
                self._set_params([_hex(raw)], index)
            else:
                self._tentative.append((index, _hex(raw)))
            if self.meanings[index] is None and meaning:
                self.meanings[index] = meaning
                self._arg = index if m.re is _ARG else None
            return
        m = _KEY.match(text)
        if m:
            key = "FAILURE_BUCKET_ID" if m.group(1) == "Failure bucket" else m.group(1)
            self.keys.setdefault(key, m.group(2))
            return
        m = _KEBUGCHECKEX.search(text)
        if m:
            self._set_code(_hex(m.group(1)))
            if self.code == _hex(m.group(1)):
                self._set_params([_hex(v) for v in m.groups()[1:]])
        self._frame(text)

    def _wdf_analysis(self, line: str) -> bool:
        """Keep the first WDF analysis line of the paste and the Reason line that follows it; True if ``line`` was one."""
        if self._reason_within:
            kept = _WDF_REASON.match(line) is not None
            self._reason_within = 0 if kept else self._reason_within - 1
        else:
            kept = not self.framework_analysis and _WDF_ANALYSIS.match(line) is not None
            self._reason_within = _REASON_WITHIN if kept else 0
        if kept:
            self.framework_analysis.append(" ".join(line.split())[:_ANALYSIS_WIDTH])
        return kept

    def _commit(self) -> None:
        for index, value in self._tentative:  # a later line: the short value was not cut by the paste's end
            self._set_params([value], index)
        self._tentative = []

    def _listed(self, values: str) -> None:
        items = [v.strip() for v in values.split(",")[:4]]
        self._set_params([_hex(v) if re.fullmatch(_HEXV, v) else None for v in items])

    def _codes(self, text: str) -> None:
        fatal, self._fatal = self._fatal, False
        low = text.lower()
        if not (fatal or "bug" in low or "stop" in low or "fatal" in low or "argument" in low or "what failed" in low
                or text.rstrip().endswith(")")):
            return  # every expression below needs one of these (a banner ends with the code in parentheses)
        m = _FATAL_PARAMS.match(text)
        if fatal and m:
            self._listed(m.group(1))
            return
        for rx in (_FATAL, _BUGCHECK_LINE):
            m = rx.search(text)
            if m:
                self._set_code(_hex(m.group(1)))
                if self.code == _hex(m.group(1)):
                    if m.group(2) is not None:
                        self._listed(m.group(2))
                    else:
                        self._fatal = True
        m = _DOT_BUGCHECK.match(text)
        if m:
            self._set_code(_hex(m.group(1)))
            self._dot_bugcheck = self.code == _hex(m.group(1))
            return
        m = _DOT_ARGUMENTS.match(text)
        if m and self._dot_bugcheck:
            self._set_params([_hex(v) for v in m.group(1).split()])
            return
        m = _BANNER.match(text)
        if m:
            self._set_code(_hex(m.group(2)), m.group(1))
            return
        m = _CODE_NAME.match(text) or _SUMMARY.search(text)
        if m:
            self._set_code(_hex(m.group(1)), m.group(2))
            return
        m = _STOP_NAME.match(text)  # the blue screen's "Stop code: DRIVER_POWER_STATE_FAILURE": a name only
        if m and m.group(1).upper() in _codes_by_name():
            self._set_code(_codes_by_name()[m.group(1).upper()], m.group(1))
        m = _WHAT_FAILED.match(text)
        if m:
            self.keys.setdefault("IMAGE_NAME", m.group(1))

    def _frame(self, text: str) -> None:
        m = next((m for rx in _ADDRESSED_FRAMES if (m := rx.match(text))), None)
        if m is None and self._in_stack:
            m = _BARE_FRAME.match(text)
        self._in_stack = m is not None or (_may_be_stack_header(text) and bool(_STACK_HEADER.search(text)))
        if m and len(self.frames) < _MAX_FRAMES:
            self.frames.append(m.group("frame"))

    def result(self) -> BugCheck | None:
        """The bugcheck the text describes; None when it describes none (or only a debug break)."""
        if self.code is None or (self.code == 0 and self.break_only):
            return None
        k = self.keys
        return BugCheck(code=self.code, parameters=tuple(self.params), name=self.name,
                        failure_bucket=k.get("FAILURE_BUCKET_ID"), image_name=k.get("IMAGE_NAME"),
                        module_name=k.get("MODULE_NAME"), symbol_name=k.get("SYMBOL_NAME"),
                        process_name=k.get("PROCESS_NAME"),
                        faulting_source={key: v for key, v in k.items() if key.startswith("FAULTING_SOURCE")},
                        meanings=tuple(self.meanings), frames=tuple(self.frames), source=self.source,
                        framework_analysis=tuple(self.framework_analysis))


def read_analyze_text(text: str, source: str) -> BugCheck | None:
    """The first bugcheck described in the text, None when there is none."""
    reader = AnalyzeReader(source)
    for line in text.splitlines():
        reader.feed(line)
    return reader.result()


def looks_like_analyze(text: str) -> bool:
    """True when the text holds !analyze output or a BugCheck line."""
    return read_analyze_text(text, "") is not None
