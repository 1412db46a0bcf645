"""Regular expressions stay linear in the length of a hostile line (issue 16, the backtracking class).

A pattern whose quantifiers can split one run of characters in many ways (``[0-9a-f]*\\d[0-9a-f]*``,
``\\s*:?\\s*``, ``\\S.*?\\s*$``, a class that includes ``:`` followed by ``(?:::x)*``) costs the square of the run
when the rest of the line does not match: a 16 KB ``Bugcheck 999...`` line took 3.5 s, a 64 KB record line of
``a::a::...`` about 20 s. Each line here is "pumped" (one short unit repeated thousands of times, the classic
way to find such patterns) and read at two lengths: a cost that grows more than 8x for 4x the length and takes
more than ``_SLOW`` seconds is a failure. A linear pattern reads 40,000 characters in well under a millisecond,
so the bound is three orders of magnitude away from it and a quadratic one is far beyond it.

Three levels: every compiled expression a module of parsers/, analyzer/ or reports/ holds, with prefixes made
of its own literal words; the catalog's expression of each framework message with several text arguments, with
the text between them repeated; and the whole pasted-text reader (framework shapes, catalog messages, prefixes,
``!analyze``), on real lines from tests/data/real-logs cut at a random place and pumped there.
"""
from __future__ import annotations

import importlib
import pkgutil
import random
import re
import time

import pytest

import analyzer
import parsers
import reports
from parsers.catalog import load
from parsers.errors import EvidenceError
from parsers.logtext import read_report_text
from paths import DATA

UNITS = (" ", "\t", "0", "1", "a", "A", "x", ":", "::", "a::", "`", "-", "!", ".", "(", ")", "[", "]", "{", ",",
         "_", "ab ", "0 ", ": ", " :", "- ", " - ", "%", "a!", "0x", "0`", "a-", "a.", "a,", "+0x", "|", "*", "a b")
_SHORT, _LONG = 10_000, 40_000
_SLOW = 0.05  # seconds for _LONG characters


def _seconds(run, text: str) -> float:
    start = time.perf_counter()
    run(text)
    return time.perf_counter() - start


def _superlinear(run, make) -> float | None:
    """The cost at _LONG characters when it grows faster than linearly from _SHORT (and is not negligible)."""
    run(make(_SHORT))  # (a first use may compile expressions)
    long = _seconds(run, make(_LONG))
    if long < _SLOW:
        return None
    short = min(_seconds(run, make(_SHORT)) for _ in range(3))
    long = min(long, _seconds(run, make(_LONG)))
    return long if long > _SLOW and long > 8 * short else None


def _module_patterns() -> dict[str, re.Pattern]:
    found: set[tuple] = set()
    patterns = {}
    for package in (parsers, analyzer, reports):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            module = importlib.import_module(info.name)
            for name, value in vars(module).items():
                for rx in value if isinstance(value, (tuple, list)) else (value,):
                    if isinstance(rx, re.Pattern) and isinstance(rx.pattern, str) and \
                            (rx.pattern, rx.flags) not in found:
                        found.add((rx.pattern, rx.flags))
                        patterns[f"{info.name}.{name}"] = rx
    return patterns


PATTERNS = _module_patterns()


def _prefixes(rx: re.Pattern) -> list[str]:
    """Text that gets a search past the pattern's first literal words: "", record-like starts, and each word."""
    words = re.findall(r"[A-Za-z_][A-Za-z0-9_ ]{2,}", re.sub(r"\\.", " ", rx.pattern))[:10]
    return sorted({"", "1: ", "Arg1: "} | {w.strip() + end for w in words for end in ("", " ", ": ")})


def test_the_expressions_are_collected():
    assert len(PATTERNS) > 40
    assert {"parsers.logtext._RECORD", "parsers.analyze_text._CODE_NAME", "parsers.wpp._PRINTF"} <= set(PATTERNS)


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_each_module_expression_is_linear_in_a_pumped_line(name):
    rx = PATTERNS[name]
    slow = []
    for prefix in _prefixes(rx):
        for unit in UNITS:
            cost = _superlinear(rx.search, lambda n: prefix + unit * (n // len(unit)) + "\0")
            if cost is not None:
                slow.append(f"{prefix!r} + {unit!r} * n: {cost:.2f} s")
    assert not slow, slow[:5]


def _several_texts() -> list:
    return [e for e in load().entries if sum(h[-1] in "sSZ" for h in e.holes) >= 2]


def test_framework_messages_with_several_text_arguments_are_found():
    assert len(_several_texts()) >= 2  # the interrupt connection failure and the unavailable-API message


@pytest.mark.parametrize("entry", _several_texts(), ids=lambda e: e.id)
def test_a_message_with_several_text_arguments_is_linear_in_the_text_between_them(entry):
    """A line of the message whose first text argument holds the literal text after it many times (and that fails
    at its end): each split of the line between the two arguments was tried (0.6 s at 32 KB, 2.5 s at 64 KB)."""
    catalog = load()
    pieces = entry.skeleton.split("\0")
    first = next(k for k, h in enumerate(entry.holes) if h[-1] in "sSZ")
    values = ["1" if h[-1] not in "sSZ" else "a" for h in entry.holes]
    line = "".join(p + v for p, v in zip(pieces, values)) + pieces[-1]
    assert catalog.pattern(entry).fullmatch(line), line  # the message as printed
    head = "".join(p + v for p, v in zip(pieces[:first + 1], values))
    tail = line[len(head):]
    unit = pieces[first + 1] + "a"
    cost = _superlinear(lambda text: catalog.pattern(entry).fullmatch(text),
                        lambda n: head + unit * (n // len(unit)) + tail + "\0")
    assert cost is None, f"{cost:.2f} s"
    cost = _superlinear(_read, lambda n: f"1: FxDriver::X - {head}{unit * (n // len(unit))}{tail}!\n")
    assert cost is None, f"{cost:.2f} s"


def _real_lines(count: int) -> list[str]:
    lines = sorted({line for path in sorted(DATA.glob("real-logs/**/*.txt"))
                    for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if 20 < len(line) < 300})
    return random.Random(16).sample(lines, count)


def _read(text: str) -> None:
    try:
        read_report_text(text, "pumped.txt")
    except EvidenceError:
        pass


@pytest.mark.parametrize("line", _real_lines(24))
def test_the_text_reader_is_linear_in_a_pumped_real_line(line):
    cut = random.Random(line).randrange(len(line))
    slow = []
    for unit in UNITS:
        for tail in ("", line[cut:]):
            cost = _superlinear(_read, lambda n: f"{line[:cut]}{unit * (n // len(unit))}{tail}\n{line}\n")
            if cost is not None:
                slow.append(f"{line[:cut]!r} + {unit!r} * n + {tail[:20]!r}: {cost:.2f} s")
    assert not slow, slow[:5]


@pytest.mark.parametrize("line", [
    "Bugcheck " + "9" * 16_000 + "x",  # _CODE_NAME: a code of hex digits with at least one decimal digit
    "MODULE_NAME: mod" + "\t" * 30_000 + "x",  # _KEY: a lazy value before trailing blanks
    "1: " + "a::" * 20_000 + "a x",  # _RECORD: a function name class holding ':' repeated by (?:::name)*
])
def test_lines_that_took_seconds_read_at_once(line):
    """The three lines found first (3.5 s, 5 s and 20 s at their length before the fix)."""
    assert _seconds(_read, line + "\n") < 1.0
