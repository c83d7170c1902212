"""Column moves shared by the table scorer and the column engine: names as codes (factorize),
integers packed close, Arrow rows taken chunk by chunk, engine columns picked by row.

Plain array work, no claim and no policy: ``tables`` and ``columns`` both import it, and it
imports neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..engine import rows as row_moves
from ..engine.compiled import kernel_functions

__all__ = ["Numbers", "close_packed_codes", "factorize", "is_arrow", "picked", "take_rows"]


def is_arrow(values: Any) -> bool:
    return type(values).__module__.startswith("pyarrow")


def factorize(values: Any) -> tuple[Sequence, np.ndarray]:
    """(distinct values, code of each row): Arrow arrays by hashing, numpy by sorting.

    A null (Arrow) becomes the value None. Integer arrays stay integers; other values
    are compared as text.
    """
    if is_arrow(values):
        import pyarrow as pa
        import pyarrow.compute as pc

        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        encoded = values if pa.types.is_dictionary(values.type) else pc.dictionary_encode(values)
        names = encoded.dictionary.to_pylist() + [None]
        codes = encoded.indices.fill_null(len(names) - 1).to_numpy(zero_copy_only=False)
        return names, codes
    array = np.asarray(values)
    if array.dtype.kind in "iu" and len(array) and 0 <= array.min() and array.max() < 4 * len(array):
        return Numbers(int(array.max()) + 1), array  # small whole numbers (a table's person codes): their own codes
    packed = close_packed_codes(array) if array.dtype.kind in "iu" else None
    if packed is not None:  # (a table's person codes): no sort needed
        return packed[0].tolist(), packed[1]
    if array.dtype.kind not in "iu":
        array = array.astype(str)
    names, inverse = np.unique(array, return_inverse=True)
    return names.tolist(), inverse.reshape(-1).astype(np.int64)


class Numbers(Sequence):
    """The values 0 .. size-1, each its own name (codes that need no table)."""

    def __init__(self, size: int) -> None:
        self._size = size

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, i):
        if isinstance(i, slice):
            return list(range(self._size))[i]
        if not -self._size <= i < self._size:
            raise IndexError(i)
        return i % self._size

    def __contains__(self, value) -> bool:
        return isinstance(value, (int, np.integer)) and bool(0 <= value < self._size)

    def index(self, value, *args) -> int:
        if value not in self:
            raise ValueError(value)
        return int(value)


def close_packed_codes(array: np.ndarray, dtype=np.int64) -> tuple[np.ndarray, np.ndarray] | None:
    """(distinct values, rank of each row's value among them) for integers whose range is at most
    four times their count, without sorting or hashing; None for any other array."""
    if not len(array):
        return None
    low, high = int(array.min()), int(array.max())
    if high - low > 4 * len(array):
        return None
    if low > 0 and high <= 4 * len(array):
        low = 0  # saves a pass
    offset = array - low if low else array
    present = np.zeros(high - low + 1, bool)
    present[offset] = True
    return np.flatnonzero(present) + low, (np.cumsum(present, dtype=dtype) - 1)[offset]


def take_rows(values: Any, rows: np.ndarray) -> Any:
    """``values.take(rows)`` for an Arrow array or chunked array, taken chunk by chunk: Arrow's
    take on a chunked array joins the chunks first (0.3 s for 10^7 short strings, whatever
    the number of rows taken)."""
    import pyarrow as pa

    rows = np.asarray(rows, np.int64)
    if not isinstance(values, pa.ChunkedArray) or values.num_chunks <= 1:
        return values.take(pa.array(rows))
    ordered = len(rows) < 2 or bool((rows[1:] >= rows[:-1]).all())
    order = None if ordered else np.argsort(rows, kind="stable")
    wanted = rows if ordered else rows[order]
    bounds = np.cumsum([0] + [len(c) for c in values.chunks])
    cuts = np.searchsorted(wanted, bounds)
    parts = [
        chunk.take(pa.array(wanted[cuts[k] : cuts[k + 1]] - bounds[k]))
        for k, chunk in enumerate(values.chunks)
        if cuts[k + 1] > cuts[k]
    ]
    taken = pa.concat_arrays(parts) if parts else values.chunks[0].slice(0, 0)
    if order is not None:  # back to the order asked for
        back = np.empty(len(rows), np.int64)
        back[order] = np.arange(len(rows))
        taken = taken.take(pa.array(back, pa.int64()))
    return pa.chunked_array([taken], values.type)


def picked(rows: np.ndarray, column: np.ndarray, engine: str) -> np.ndarray:
    """column[rows] as int64; compiled, picked and widened in one pass."""
    if engine != "compiled":
        return column[rows].astype(np.int64, copy=False)
    out = np.empty(len(rows), np.int64)
    kernel_functions("compiled", row_moves)["gather"](rows, column, out)
    return out
