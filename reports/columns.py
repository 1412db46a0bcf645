"""A DataFrame read as Python lists, one per column: the renderers read timeline rows this way, each column
converted once, instead of through pandas row iteration, whose fixed cost per call (a Series per column,
a pandas scalar per cell) is most of what rendering a small input costs."""
from __future__ import annotations

import math

import pandas as pd


def values(column: pd.Series) -> list:
    """The cells of ``column`` as iterating it gives them (Python scalars, pandas Timestamps, NaN or NaT where a
    text or a time is missing), except that a missing number or flag is None."""
    array = column.array
    if isinstance(array, pd.Categorical):  # through the codes: converting the categories once is cheaper
        names = array.categories.to_numpy(dtype=object).tolist() + [math.nan]  # code -1 (missing) reads NaN
        return [names[code] for code in array.codes.tolist()]
    if column.dtype.kind in "iufb":
        return column.to_numpy(dtype=object, na_value=None).tolist()
    return column.to_numpy(dtype=object).tolist()


def columns(frame: pd.DataFrame, names: tuple[str, ...] | None = None) -> dict[str, list]:
    """The columns ``names`` (default: every column) of ``frame`` by name, as :func:`values` gives them."""
    names = tuple(frame.columns) if names is None else names
    if not len(frame):  # no Series made for the columns of a frame with no rows
        return {name: [] for name in names}
    return {name: values(frame[name]) for name in names}
