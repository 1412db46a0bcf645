"""Timeline frames as a terminal table, CSV, JSON or Parquet."""
from __future__ import annotations

import io

import pandas as pd

from reports.json_report import HANDLE_FIELDS as _HANDLE_COLUMNS, dumps, frame_rows


def _cell(column: str, value, missing: str) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return missing
    if column in _HANDLE_COLUMNS:
        return f"0x{int(value):x}"
    return str(value)


def _display(frame: pd.DataFrame, missing: str) -> pd.DataFrame:
    """Every cell as text: handles and statuses in hex as a debugger prints them."""
    return pd.DataFrame({c: [_cell(c, v, missing) for v in frame[c]] for c in frame.columns}, columns=frame.columns)


def export_frame(frame: pd.DataFrame, fmt: str) -> str | bytes:
    """Render ``frame`` as 'table' (text), 'csv', 'json' (records, ISO times, handles as hex strings) or 'parquet'
    (bytes)."""
    if fmt == "parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        return buffer.getvalue()
    if fmt == "csv":
        return _display(frame, "").to_csv(index=False)
    if fmt == "json":  # one record per line; handles as hex strings, like the triage JSON
        return "[" + ",\n".join(dumps(row) for row in frame_rows(frame)) + "]\n"
    if frame.empty:
        return "(no rows)\n"
    return _display(frame, "-").to_string(index=False) + "\n"
