"""Reject reasons that name the row's own value: ``unknown hospital level … (got 'level7')``.

The batch engine's checks refuse rows by code (a level the policy does not have, a place
without a referral, an age out of range), one reason for all the rows a check refuses. Before
such a group is reported, ``naming_values`` splits it by the rows' values of the column at
fault, as the table holds them (the file's own word, ``三级医``, not the engine's code), and
ends each reason with the value, as a refused amount or date already is. Amounts are in fen
by then and are shown as yuan.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..claims import AMOUNT_FIELDS
from ..money import format_yuan

__all__ = ["naming_values", "by_value", "shown", "MAX_VALUES"]

#: Past this many different values in one group, its reason is kept as it is (one reason per
#: value would make the rejects' reasons as many as their rows).
MAX_VALUES = 200

_AMOUNTS = frozenset(AMOUNT_FIELDS)


def naming_values(table, rows: np.ndarray, field: str, reason: str) -> list[tuple[np.ndarray, str]]:
    """``rows`` (positions in ``table``) refused for ``reason`` on ``field``, as (rows, reason)
    groups by value (``by_value``); the group as it is where the reason already names a value,
    says a value is required, or the table has no such column."""
    rows = np.asarray(rows)
    if not len(rows) or "(got " in reason or reason.startswith("required") or field not in table.column_names:
        return [(rows, reason)]
    return by_value(table.column(field), rows, reason, fen=field in _AMOUNTS)


def by_value(column, rows: np.ndarray, reason: str, *, fen: bool = False) -> list[tuple[np.ndarray, str]]:
    """``rows`` of ``column`` (Arrow) refused for ``reason``, as (rows, reason) groups of one value,
    each reason ending ``(got VALUE)`` (the value as text, cut to a readable length) or ``(the cell
    is empty)``; one group with the reason as it is past MAX_VALUES values, or where a cell holds no
    one value (a list of diseases). ``fen``: integers are amounts in fen, shown as yuan."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = np.asarray(rows)
    if not len(rows):
        return []
    kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if pa.types.is_nested(kind) or pa.types.is_null(kind):
        return [(rows, reason)]
    cells = column.take(pa.array(rows))
    if pa.types.is_dictionary(cells.type):
        cells = cells.cast(cells.type.value_type)
    try:
        source: Any = cells.combine_chunks() if isinstance(cells, pa.ChunkedArray) else cells
        encoded: Any = pc.dictionary_encode(source)  # (a DictionaryArray: .dictionary, .indices)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):  # a type Arrow cannot encode: the reason as it is
        return [(rows, reason)]
    if len(encoded.dictionary) > MAX_VALUES:
        return [(rows, reason)]
    try:
        values = encoded.dictionary.to_pylist()
    except (OverflowError, ValueError):  # a day no Python date holds: Arrow's own text of it
        values = encoded.dictionary.cast(pa.string()).to_pylist()
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    order = np.argsort(codes, kind="stable")  # rows of one value together, in row order
    codes = codes[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    out = []
    for start, end in zip(starts, np.r_[starts[1:], len(codes)]):
        code = int(codes[start])
        value = None if code < 0 else values[code]
        if value is None:
            why = f"{reason} (the cell is empty)"
        else:
            if fen and isinstance(value, int) and not isinstance(value, bool):
                value = format_yuan(value)
            why = f"{reason} (got {shown(value)})"
        out.append((rows[order[start:end]], why))
    return out


def shown(value: object) -> str:
    """A cell's value in a reason: as text, cut to a readable length."""
    text = repr(value if isinstance(value, str) else str(value))
    return text if len(text) <= 60 else text[:40] + f"… ({len(str(value))} characters)"
