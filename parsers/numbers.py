"""Numbers read from text (pasted logs, ``!analyze -v``, TMF files, the recognition cache), checked.

Evidence text is untrusted: a field the pattern expected to be hex may hold a backtick alone, a
5000-digit run (past Python's int digit limit, and slow), a 17-hex-digit "pointer", non-ASCII digits
or a no-break space. Every number taken from text goes through :func:`parse_int`, which accepts only
ASCII digits of the base, at most as many as the width allows, and a value inside the width's range;
anything else is a :class:`NumberError` (a ``ValueError``), or None through :func:`int_or_none`.
"""
from __future__ import annotations

import re
from functools import lru_cache

_DIGITS = {2: re.compile("[01]+"), 8: re.compile("[0-7]+"), 10: re.compile("[0-9]+"), 16: re.compile("[0-9a-fA-F]+")}
_PREFIXES = {"0x": 16, "0X": 16, "0o": 8, "0O": 8, "0b": 2, "0B": 2}


class NumberError(ValueError):
    """Text that is not a number of the expected base and width."""


@lru_cache(maxsize=None)
def _max_digits(base: int, bits: int) -> int:
    """Digits a ``bits``-wide value can need in ``base`` (leading zeros beyond it are allowed)."""
    return len(format((1 << bits) - 1, {2: "b", 8: "o", 10: "d", 16: "x"}[base]))


@lru_cache(maxsize=None)
def _plain(base: int, bits: int) -> re.Pattern:
    """Digits of ``base`` few enough that any value they spell fits ``bits`` unsigned bits."""
    most = _max_digits(base, bits) - (0 if base in (2, 16) else 1)
    return re.compile(f"{_DIGITS[base].pattern[:-1]}{{1,{most}}}")


def parse_int(text: str, base: int = 10, *, bits: int = 64, signed: bool = False) -> int:
    """The value of ``text`` in ``base`` (2, 8, 10, 16, or 0 for a C-style ``0x``/``0o``/``0b`` prefix).

    Hex accepts a ``0x`` prefix and WinDbg's backtick separator (``ffffe000`12345678``); a leading
    ``-`` only when ``signed``. The value must fit ``bits`` bits (unsigned: ``0 .. 2**bits-1``; signed:
    ``-2**(bits-1) .. 2**(bits-1)-1``). Raises :class:`NumberError` otherwise.
    """
    if not signed and base and _plain(base, bits).fullmatch(text):  # the common case: digits that always fit
        return int(text, base)
    raw = text
    text = text.strip()
    negative = text.startswith("-")
    if negative:
        if not signed:
            raise NumberError(f"{_show(raw)} is negative")
        text = text[1:]
    if base == 0:
        base = _PREFIXES.get(text[:2], 10)
        if base != 10:
            text = text[2:]
    elif base == 16:
        if "`" in text:
            text = text.replace("`", "")
        if text[:2] in ("0x", "0X"):
            text = text[2:]
    digits = _DIGITS.get(base)
    if digits is None:
        raise ValueError(f"base {base} is not supported")
    if not digits.fullmatch(text):  # ASCII digits of the base only (no sign, space, underscore, other scripts)
        raise NumberError(f"{_show(raw)} is not a base-{base} number")
    if len(text) > _max_digits(base, bits):
        text = text.lstrip("0") or "0"  # leading zeros are no digits of the value (and past int()'s digit limit)
        if len(text) > _max_digits(base, bits):
            raise NumberError(f"{_show(raw)} does not fit {bits} bits")
    value = -int(text, base) if negative else int(text, base)
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not low <= value <= high:
        raise NumberError(f"{_show(raw)} does not fit {bits} bits")
    return value


def int_or_none(text: str | None, base: int = 10, *, bits: int = 64, signed: bool = False) -> int | None:
    """:func:`parse_int`, or None for text that is not such a number (unknown, never 0)."""
    if text is None:
        return None
    try:
        return parse_int(text, base, bits=bits, signed=signed)
    except NumberError:
        return None


def parse_hex_bytes(text: str) -> bytes:
    """Bytes from hex digits in pairs, any whitespace between them (``01 ff\\u00a0a0``); NumberError otherwise."""
    joined = "".join(text.split())
    if len(joined) % 2 or (joined and not _DIGITS[16].fullmatch(joined)):
        raise NumberError(f"{_show(text)} is not a list of hex bytes")
    return bytes.fromhex(joined)


def _show(text: str) -> str:
    """The offending text, cut so an error message stays one short line."""
    return repr(text if len(text) <= 40 else text[:40] + "...")
