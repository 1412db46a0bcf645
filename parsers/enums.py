"""WDF enum values (state machines, queue states, events), loaded from the bundled table.

The table (parsers/wdfdata/wdf-enums.txt) was extracted from microsoft/Windows-Driver-Frameworks
(MIT) by compiling the enum bodies. Values never change between framework builds; newer builds insert
states before the ``...Null`` sentinels, so an unknown value inside a machine's range is a newer state.
"""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

#: WPP custom type names used in format strings (``%!Name!``) whose enum table has another name.
WPP_TYPE_ALIASES = {"FxIoQueuePowerState": "FXIOQUEUE_POWER_STATE", "WDF_POWER_DEVICE_STATE": "WDF_DEVICE_POWER_STATE"}

_LINE = re.compile(r"^(\w+)\s*=\s*(0x[0-9A-Fa-f]+|-?\d+)")


@lru_cache(maxsize=1)
def tables() -> dict[str, dict[int, str]]:
    """All enums: enum name -> {value: member name}."""
    text = resources.files("parsers").joinpath("wdfdata/wdf-enums.txt").read_text(encoding="utf-8")
    result: dict[str, dict[int, str]] = {}
    current: dict[int, str] | None = None
    for line in text.splitlines():
        if line.startswith("["):
            current = result.setdefault(line[1 : line.index("]")], {})
            continue
        m = _LINE.match(line)
        if m and current is not None:
            current.setdefault(int(m.group(2), 0), m.group(1))
    return result


@lru_cache(maxsize=1)
def _member_values() -> dict[str, tuple[str, int]]:
    return {name: (enum, value) for enum, members in tables().items() for value, name in members.items()}


def enum_for_type(wpp_type: str) -> dict[int, str] | None:
    """The enum table for a WPP custom type name such as ``WDF_DEVICE_PNP_STATE``."""
    return tables().get(WPP_TYPE_ALIASES.get(wpp_type, wpp_type))


def name_of(enum: str, value: int) -> str | None:
    """Member name of ``value`` in ``enum`` (WPP type names accepted), None when unknown."""
    table = enum_for_type(enum)
    if table is None:
        return None
    name = table.get(value)
    if name is None and enum in ("WDF_DEVICE_POWER_STATE", "WDF_DEVICE_POWER_POLICY_STATE", "WDF_POWER_DEVICE_STATE"):
        base = table.get(value & ~0x8000)  # WdfDevStateNP variants
        name = base + "NP" if base and value & 0x8000 else None
    return name


def value_of(name: str) -> int | None:
    """Numeric value of an enum member name (any enum), None when unknown."""
    hit = _member_values().get(name)
    return hit[1] if hit else None


#: State machine of a WDF_DEVICE_*_STATE value, by its numeric range (NP bit ignored).
MACHINE_RANGES = (("pnp", 0x100, 0x200), ("power", 0x300, 0x400), ("pwrpol", 0x500, 0x600))


def machine_of_state(value: int) -> str | None:
    """'pnp', 'power' or 'pwrpol' for a device state value, None outside those ranges."""
    v = value & ~0x8000
    for machine, lo, hi in MACHINE_RANGES:
        if lo <= v < hi:
            return machine
    return None
