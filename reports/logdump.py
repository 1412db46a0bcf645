"""A decoded log printed the way !wdfkd.wdflogdump prints it, or as JSON lines for machines."""
from __future__ import annotations

from datetime import datetime
from itertools import groupby
from typing import Iterator

from parsers.catalog import load as load_catalog
from parsers.records import DEBUGGER, GENERAL_MARK, INFERRED_MARK, LogSet, TraceMessage
from reports.json_report import dumps, hex_string, plain

_PREFIX_FORMS = {"sequence": "{seq}: {func} - ", "timestamp": "{seq}: {time} {func} - "}


def timestamp_text(when: datetime | None) -> str:
    """``MM/DD/YYYY-HH:MM:SS.fffffff`` as wdfkd prints record times (UTC)."""
    if when is None:
        return "--/--/-----:--:--.-------"
    return when.strftime("%m/%d/%Y-%H:%M:%S.") + f"{when.microsecond * 10:07d}"


def format_line(message: TraceMessage, prefix: str = "sequence") -> str:
    """A message as one ``!wdflogdump`` line: ``<seq>: <Function> - <text>``."""
    seq = "" if message.sequence is None else str(message.sequence)
    head = _PREFIX_FORMS[prefix].format(seq=seq, func=message.function or "", time=timestamp_text(message.timestamp))
    return head + message.text + inferred_marker(message.inferred, message.general)


def inferred_marker(inferred: bool, general: bool = False) -> str:
    """The note a recognized line carries in every text output ('' for lines decoded with a TMF)."""
    if not inferred:
        return ""
    return "  " + (GENERAL_MARK if general else INFERRED_MARK)


def _header(name: str, facts: dict, count: int) -> list[str]:
    lines = [f"Log of {name or '(unnamed log)'}" + (f" ({facts['arch']} IFR)" if facts.get("arch") else "")]
    extra = []
    if facts.get("wrapped"):
        extra.append(f"wrapped, {facts.get('overwritten', 0)} overwritten")
    if facts.get("dropped"):
        extra.append(f"{facts['dropped']} dropped")
    if facts.get("unknown_messages"):
        extra.append(f"{facts['unknown_messages']} without a format")
    lines.append(f"There are {count} log entries" + (f" ({'; '.join(extra)})" if extra else ""))
    return lines


def render_logdump(logset: LogSet, timestamps: bool = False) -> str:
    """Header per log (driver, records, wrap and drop counts) and one line per message, oldest first."""
    out = []
    records = [m for m in logset.messages if m.level != DEBUGGER]  # pasted debugger chatter is not a log entry
    for name, group in groupby(records, key=lambda m: m.log):
        messages = list(group)
        out += _header(name, logset.logs.get(name, {}), len(messages))
        out.append("--- start of log ---")
        out += [format_line(m, prefix="timestamp" if timestamps else "sequence") for m in messages]
        out += ["---- end of log ----", ""]
    return "\n".join(out)


def message_dict(m: TraceMessage) -> dict:
    """One message as plain JSON types: pointers and handles in its arguments as hex strings."""
    return {
        "log": m.log, "sequence": m.sequence, "time": m.timestamp.isoformat() if m.timestamp else None,
        "function": m.function, "text": m.text, "catalog_id": m.catalog_id, "known": m.known, "inferred": m.inferred,
        "level": m.level, "source": str(m.ref), "args": _args(m),
    }


def _args(m: TraceMessage) -> list:
    """Arguments as JSON values: the catalog's pointer, hex and NTSTATUS holes as hex strings, numbers beyond 2**53 as hex."""
    holes = load_catalog().entry(m.catalog_id).holes if m.catalog_id else ()
    out = []
    for n, value in enumerate(m.args):
        hole = holes[n] if n < len(holes) else ""
        if isinstance(value, int) and not isinstance(value, bool) and (hole[-1:] in ("p", "x", "X") or hole == "STATUS"):
            out.append(hex_string(value))
        else:
            out.append(value if isinstance(value, (int, str)) or value is None else str(value))
    return [plain(v) for v in out]


def iter_logdump_json(logset: LogSet) -> Iterator[str]:
    """{"source", "logs": facts, "warnings", "messages": [...]} in pieces, one message per line."""
    head = {"source": logset.source, "logs": plain(logset.logs), "warnings": [str(w) for w in logset.warnings]}
    yield dumps(head)[:-1] + ',\n"messages":['
    for n, message in enumerate(logset.messages):
        yield ("\n" if n == 0 else ",\n") + dumps(message_dict(message))
    yield "]}\n" if not logset.messages else "\n]}\n"


def render_logdump_json(logset: LogSet) -> str:
    """The whole logdump JSON document as one string."""
    return "".join(iter_logdump_json(logset))
