"""Timeline exports written without pandas' formatters give pandas' text: the terminal table as
``DataFrame.to_string(index=False)`` and the CSV as ``DataFrame.to_csv(index=False)`` print the same cells,
for hostile text too; an empty frame's Parquet file, written once per set of types, is the file pandas writes."""
from __future__ import annotations

import io

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from analyzer.triage import triage
from parsers.decode import DecodeOptions
from paths import SAMPLES
from reports.tables import csv_text, export_frame, text_table

HOSTILE_CELLS = ["", " ", "-", "tab\there", "cr\rlf\n", 'quote " and, comma', "  leading", "trailing  ", "ü€ wide",
                 "\u202eevil\u202c", "x" * 70, "0x3cf5e4d3f818", "nul\x00"]


def _frame(names: list[str], rows: list[list[str]]) -> pd.DataFrame:
    return pd.DataFrame({name: [row[k] for row in rows] for k, name in enumerate(names)}, columns=names)


def _cells(names: list[str], rows: list[list[str]]) -> list[list[str]]:
    return [[row[k] for row in rows] for k in range(len(names))]


def test_hostile_cells_print_as_pandas_prints_them():
    names = ["input", "request", "detail", "a_long_column_name"]
    rows = [[HOSTILE_CELLS[(i + k) % len(HOSTILE_CELLS)] for k in range(len(names))] for i in range(len(HOSTILE_CELLS))]
    frame = _frame(names, rows)
    assert text_table(names, _cells(names, rows)) == frame.to_string(index=False)
    assert csv_text(names, _cells(names, rows)) == frame.to_csv(index=False)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4).flatmap(lambda width: st.lists(
    st.lists(st.text(st.characters(codec="utf-8"), max_size=12), min_size=width, max_size=width), min_size=1,
    max_size=5)))
def test_any_text_prints_as_pandas_prints_it(rows):
    names = ["c", "column", "x\ty", "last"][:len(rows[0])]
    frame = _frame(names, rows)
    assert text_table(names, _cells(names, rows)) == frame.to_string(index=False)
    assert csv_text(names, _cells(names, rows)) == frame.to_csv(index=False)


@pytest.fixture(scope="module")
def timelines():
    return triage([str(SAMPLES / "scenarios" / "evtiostop-not-acked.ifr")], DecodeOptions([str(SAMPLES / "tmf")])).timelines


@pytest.mark.parametrize("kind", ["requests", "queues", "states"])
def test_empty_frames_parquet_is_the_file_pandas_writes(timelines, kind):
    frame = getattr(timelines, kind)
    empty = frame.iloc[:0]
    plain = empty.astype({name: object for name, dtype in empty.dtypes.items() if isinstance(dtype, pd.CategoricalDtype)})
    for table in (empty, plain, plain.rename(columns={"device": "renamed"}), plain.astype({"input": "str"})):
        pandas_file = io.BytesIO()
        table.to_parquet(pandas_file, index=False)
        assert export_frame(table, "parquet") == pandas_file.getvalue()
        assert export_frame(table, "parquet") == pandas_file.getvalue()  # the second time from what was kept
    assert export_frame(frame, "parquet") != export_frame(empty, "parquet")
