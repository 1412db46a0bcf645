"""The framework messages wdftriage understands, from one declarative table (wdfdata/wdf-messages.tsv).

Each row names a framework message (``state.pnp``, ``queue.power_state``, ...), the event kind it becomes,
which event field each format argument fills, fixed field values, the one call site where a format shared
by several call sites has this meaning, and the exact format string (as in the framework catalog). The
event model types messages with it; no-TMF recognition looks formats up in it by name, so no module spells
a framework format of its own.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

_INT_FIELDS = {"device", "devobj", "queue", "request", "irp", "status", "information", "count"}


@dataclass(frozen=True)
class MessageSpec:
    """One framework message: its name, event kind, argument fields, fixed fields, call site and format."""

    name: str
    kind: str
    fields: tuple[str, ...]
    fixed: tuple[tuple[str, object], ...]
    function: str | None
    format: str

    @property
    def machine(self) -> str | None:
        """The state machine a state/dropped-event message belongs to."""
        return dict(self.fixed).get("machine")

    def enums(self) -> list[str]:
        """The enum names of the format's ``%!Enum!`` arguments, in order."""
        return [name for name in re.findall(r"%!(\w+)!", self.format) if name not in ("STATUS", "FUNC")]


def _fixed(text: str) -> tuple[tuple[str, object], ...]:
    pairs = []
    for item in filter(None, text.split(";")):
        key, _, value = item.partition("=")
        pairs.append((key, int(value) if key in _INT_FIELDS else value))
    return tuple(pairs)


@lru_cache(maxsize=1)
def table() -> tuple[MessageSpec, ...]:
    """Every row of the message table, in file order."""
    text = resources.files("parsers").joinpath("wdfdata/wdf-messages.tsv").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    specs = tuple(MessageSpec(name, kind, tuple(fields.split(",")), _fixed(fixed), function or None, fmt)
                  for name, kind, fields, fixed, function, fmt in rows[1:])
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise LookupError("duplicate message names in wdf-messages.tsv")
    return specs


@lru_cache(maxsize=None)
def by_name(name: str) -> MessageSpec:
    """The message called ``name`` (KeyError names the unknown one)."""
    for spec in table():
        if spec.name == name:
            return spec
    raise KeyError(name)


def fmt(name: str) -> str:
    """The framework format string of the message called ``name``."""
    return by_name(name).format


def state_formats() -> dict[str, str]:
    """State machine -> format of its transition message."""
    return {s.machine: s.format for s in table() if s.kind == "state"}
