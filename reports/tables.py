"""Timeline frames as a terminal table, CSV, JSON or Parquet.

The table and the CSV are written here from the frame's columns read once (reports/columns.py), not by
pandas' ``to_string``/``to_csv`` on a frame of display strings: the text is the same (tests/test_reports_pinned.py,
tests/test_reports_tables.py), without a DataFrame built and formatted per call. An empty frame's Parquet file
depends only on its columns and their types, so it is written once per set of types.
"""
from __future__ import annotations

import csv
import io
import os

import pandas as pd

from reports.columns import columns
from reports.json_report import HANDLE_FIELDS as _HANDLE_COLUMNS, dumps, frame_rows

_ESCAPES = str.maketrans({"\t": "\\t", "\r": "\\r", "\n": "\\n"})  # as pandas prints them in a table
_EMPTY_PARQUET: dict[tuple, bytes] = {}
ALIGNED_WIDTH = 120  # a longer cell is printed whole but does not widen its column for every other row


def _cell(column: str, value, missing: str) -> str:
    if value is None or (type(value) is not str and type(value) is not int and pd.isna(value)):
        return missing
    if column in _HANDLE_COLUMNS:
        return f"0x{int(value):x}"
    return str(value)


def _display(frame: pd.DataFrame, missing: str) -> list[list[str]]:
    """Every column as text: handles and statuses in hex as a debugger prints them."""
    return [[_cell(name, v, missing) for v in values] for name, values in columns(frame).items()]


def text_table(names: list[str], cells: list[list[str]]) -> str:
    """Columns of text as ``DataFrame.to_string(index=False)`` prints them: each column right-aligned to its
    widest cell or name, one space between columns, tabs and line breaks shown escaped. Cells longer than
    ``ALIGNED_WIDTH`` are left out of the column's width (pandas pads every row to them), so that the table
    stays about as long as its cells: one 30,000-character state name would otherwise pad each of its
    thousands of rows to 30,000 characters."""
    shown = []
    for name, values in zip(names, cells):
        values = [v.translate(_ESCAPES) for v in values]
        name = name.translate(_ESCAPES)
        width = max([len(name), *(n for n in map(len, values) if n <= ALIGNED_WIDTH)])
        shown.append([name.rjust(width)] + [v.rjust(width) for v in values])
    return "\n".join(" ".join(line) for line in zip(*shown))


def csv_text(names: list[str], cells: list[list[str]]) -> str:
    """Columns of text as ``DataFrame.to_csv(index=False)`` writes them (the same csv writer and settings)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=os.linesep)
    writer.writerow(names)
    writer.writerows(zip(*cells))
    return out.getvalue()


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _empty_parquet(frame: pd.DataFrame) -> bytes | None:
    """The Parquet file of a frame with no rows, written once per set of column names and types (None for a
    frame with a categorical column: the file would depend on its categories)."""
    dtypes = tuple(frame.dtypes.items())
    if any(isinstance(dtype, pd.CategoricalDtype) for _, dtype in dtypes) or frame.attrs:
        return None
    key = (dtypes, frame.columns.name, frame.columns.dtype)
    if key not in _EMPTY_PARQUET:
        _EMPTY_PARQUET[key] = _parquet(frame)
    return _EMPTY_PARQUET[key]


def export_frame(frame: pd.DataFrame, fmt: str) -> str | bytes:
    """Render ``frame`` as 'table' (text), 'csv', 'json' (records, ISO times, handles as hex strings) or 'parquet'
    (bytes)."""
    if fmt == "parquet":
        return (len(frame) == 0 and _empty_parquet(frame)) or _parquet(frame)
    names = [str(name) for name in frame.columns]
    if fmt == "csv":
        return csv_text(names, _display(frame, ""))
    if fmt == "json":  # one record per line; handles as hex strings, like the triage JSON
        return "[" + ",\n".join(dumps(row) for row in frame_rows(frame)) + "]\n"
    if frame.empty:
        return "(no rows)\n"
    return text_table(names, _display(frame, "-")) + "\n"
