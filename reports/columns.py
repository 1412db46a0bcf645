"""A DataFrame read as Python lists, one per column: the renderers read timeline rows this way, each column
converted once from the array pandas holds, instead of through pandas row iteration or column selection,
whose fixed cost per call (a Series per column, a pandas scalar per cell) is most of what rendering a small
input costs. It reads two pandas internals, as analyzer/events.py does: ``DataFrame._iter_column_arrays`` and a
nullable array's ``_data``/``_mask``; a pandas that changes them fails tests/test_reports_pinned.py."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

_MASKED = (pd.arrays.IntegerArray, pd.arrays.BooleanArray, pd.arrays.FloatingArray)


def _values(array) -> list:
    """The cells of one column's array as iterating the column gives them (Python scalars, pandas Timestamps,
    NaN or NaT where a text or time is missing), except that a nullable column's missing value is None."""
    if isinstance(array, np.ndarray) and array.dtype.kind not in "mM":
        return array.tolist()
    if isinstance(array, pd.Categorical):  # through the codes: converting the categories once is cheaper
        names = array.categories.to_numpy(dtype=object).tolist() + [math.nan]  # code -1 (missing) reads NaN
        return [names[code] for code in array.codes.tolist()]
    if isinstance(array, _MASKED):  # the values and the mask as they are held (pd.NA per cell costs a call each)
        return [None if missing else value for value, missing in zip(array._data.tolist(), array._mask.tolist())]
    return list(array)


def columns(frame: pd.DataFrame, names: tuple[str, ...] | None = None) -> dict[str, list]:
    """The columns ``names`` (default: every column) of ``frame`` by name, as lists of the values iterating each
    column gives, except that a missing value of a nullable (integer, boolean) column is None."""
    if not len(frame):  # nothing to convert in a frame with no rows
        return {name: [] for name in (frame.columns if names is None else names)}
    arrays = dict(zip(frame.columns, frame._iter_column_arrays()))  # read-only views of the stored arrays
    return {name: _values(arrays[name]) for name in (frame.columns if names is None else names)}
