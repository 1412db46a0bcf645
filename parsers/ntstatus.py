"""NTSTATUS names, for rendering ``%!STATUS!`` the way wdfkd does and for reading it back.

Values are from the public ntstatus.h (Windows SDK); names are the C identifiers.
"""
from __future__ import annotations

import re

from parsers.numbers import int_or_none

NAMES: dict[int, str] = {
    0x00000000: "STATUS_SUCCESS",
    0x00000102: "STATUS_TIMEOUT",
    0x00000103: "STATUS_PENDING",
    0x00000104: "STATUS_REPARSE",
    0x00000105: "STATUS_MORE_ENTRIES",
    0x80000005: "STATUS_BUFFER_OVERFLOW",
    0x8000001A: "STATUS_NO_MORE_ENTRIES",
    0xC0000001: "STATUS_UNSUCCESSFUL",
    0xC0000002: "STATUS_NOT_IMPLEMENTED",
    0xC0000005: "STATUS_ACCESS_VIOLATION",
    0xC0000008: "STATUS_INVALID_HANDLE",
    0xC000000D: "STATUS_INVALID_PARAMETER",
    0xC000000E: "STATUS_NO_SUCH_DEVICE",
    0xC0000010: "STATUS_INVALID_DEVICE_REQUEST",
    0xC0000011: "STATUS_END_OF_FILE",
    0xC0000017: "STATUS_NO_MEMORY",
    0xC0000021: "STATUS_ALREADY_COMMITTED",
    0xC0000022: "STATUS_ACCESS_DENIED",
    0xC0000023: "STATUS_BUFFER_TOO_SMALL",
    0xC0000024: "STATUS_OBJECT_TYPE_MISMATCH",
    0xC0000034: "STATUS_OBJECT_NAME_NOT_FOUND",
    0xC0000035: "STATUS_OBJECT_NAME_COLLISION",
    0xC000009A: "STATUS_INSUFFICIENT_RESOURCES",
    0xC00000BB: "STATUS_NOT_SUPPORTED",
    0xC00000C0: "STATUS_DEVICE_DOES_NOT_EXIST",
    0xC0000120: "STATUS_CANCELLED",
    0xC000013C: "STATUS_REMOTE_DISCONNECT",
    0xC0000184: "STATUS_INVALID_DEVICE_STATE",
    0xC0000185: "STATUS_IO_DEVICE_ERROR",
    0xC000009D: "STATUS_DEVICE_NOT_CONNECTED",
    0xC00000B5: "STATUS_IO_TIMEOUT",
    0xC0000206: "STATUS_INVALID_BUFFER_SIZE",
    0xC0000225: "STATUS_NOT_FOUND",
    0xC0000240: "STATUS_REQUEST_ABORTED",
    0xC000022D: "STATUS_RETRY",
    0xC0000182: "STATUS_DEVICE_CONFIGURATION_ERROR",
    0xC000026E: "STATUS_VOLUME_DISMOUNTED",
    0xC00002B6: "STATUS_DEVICE_REMOVED",
    0xC00002D3: "STATUS_POWER_STATE_INVALID",
    0xC0000015: "STATUS_NONEXISTENT_SECTOR",
    0xC0000016: "STATUS_MORE_PROCESSING_REQUIRED",
    0xC000000F: "STATUS_NO_SUCH_FILE",
    0xC0000033: "STATUS_OBJECT_NAME_INVALID",
    0xC0000056: "STATUS_DELETE_PENDING",
    0xC0000061: "STATUS_PRIVILEGE_NOT_HELD",
    0xC00000A3: "STATUS_DEVICE_NOT_READY",
    0xC00000AE: "STATUS_PIPE_BUSY",
    0xC00000E5: "STATUS_INTERNAL_ERROR",
    0xC0000156: "STATUS_TOO_MANY_SECRETS",
    0xC0000428: "STATUS_INVALID_IMAGE_HASH",
}
_VALUES = {name: value for value, name in NAMES.items()}


def name(value: int) -> str | None:
    """The NTSTATUS identifier for ``value``, None when unknown."""
    return NAMES.get(value & 0xFFFFFFFF)


def render(value: int) -> str:
    """``%!STATUS!`` as wdfkd prints it: ``STATUS_SUCCESS``, ``0xc0000034(STATUS_OBJECT_NAME_NOT_FOUND)``,
    or ``NTSTATUS=C00000FF`` for an unknown value."""
    value &= 0xFFFFFFFF
    if value == 0:
        return "STATUS_SUCCESS"
    known = NAMES.get(value)
    return f"0x{value:08x}({known})" if known else f"NTSTATUS={value:8X}"


def parse(text: str) -> int | str:
    """Read a printed NTSTATUS back to its value; unknown names come back as text."""
    text = text.strip()
    m = re.fullmatch(r"0x([0-9A-Fa-f]+)(?:\(\w+\))?", text) or re.fullmatch(r"NTSTATUS=\s*([0-9A-Fa-f]+)", text)
    value = int_or_none(m.group(1), 16, bits=32) if m else None
    if value is not None:
        return value
    if text in _VALUES:
        return _VALUES[text]
    value = int_or_none(text, bits=32, signed=text.startswith("-"))
    return value & 0xFFFFFFFF if value is not None else text
