"""Number columns of many records at once (numpy arrays), as :class:`parsers.records.MessageColumns` holds them."""
from __future__ import annotations

import numpy as np

I64_MIN, I64_END = -(1 << 63), 1 << 63  # the ints an int64 column holds: I64_MIN <= value < I64_END


def integers(values, dtype: np.dtype) -> np.ndarray | None:
    """``values`` as an array of ``dtype`` when every one is an int that fits it (None otherwise)."""
    if not set(map(type, values)) <= {int, bool}:
        return None
    try:
        return np.fromiter(values, dtype=dtype, count=len(values))
    except OverflowError:  # negative for an unsigned dtype, or wider than 64 bits
        return None


def nullable_int64(values: list) -> tuple[np.ndarray, np.ndarray]:
    """(int64 values, missing mask) of a nullable Int64 column: values that are not ints in int64's range (None,
    for one) are missing."""
    if values.count(None) == len(values):  # e.g. the line of every IFR record, the offset of every pasted line
        return np.zeros(len(values), dtype=np.int64), np.ones(len(values), dtype=bool)
    array = integers(values, np.dtype(np.int64))
    if array is not None:
        return array, np.zeros(len(array), dtype=bool)
    keep = [isinstance(v, int) and I64_MIN <= v < I64_END for v in values]
    return (np.array([v if k else 0 for v, k in zip(values, keep)], dtype=np.int64),
            ~np.array(keep, dtype=bool).reshape(-1))
