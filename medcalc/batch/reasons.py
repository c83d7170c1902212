"""Reject reasons that name the row's own value: ``unknown hospital level … (got 'level7')``.

The batch engine's checks refuse rows by code (a level the policy does not have, a place
without a referral, an age out of range), one reason for all the rows a check refuses. Before
such a group is reported, ``naming_values`` splits it by the rows' values of the column at
fault, as the table holds them (the file's own word, ``三级医``, not the engine's code), and
ends each reason with the value, as a refused amount or date already is. Amounts are in fen
by then and are shown as yuan.
"""

from __future__ import annotations

import numpy as np

from ..money import format_yuan

__all__ = ["naming_values", "MAX_VALUES"]

#: Past this many different values in one group, its reason is kept as it is (one reason per
#: value would make the rejects' reasons as many as their rows).
MAX_VALUES = 200

_AMOUNTS = frozenset(
    {
        "total",
        "self_funded",
        "over_limit",
        "pre_self_pay",
        "in_scope",
        "bed_fees",
        "nursing_fees",
        "basic_paid",
        "critical_base",
        "critical_paid",
    }
)


def naming_values(table, rows: np.ndarray, field: str, reason: str) -> list[tuple[np.ndarray, str]]:
    """``rows`` (positions in ``table``) refused for ``reason`` on ``field``, as (rows, reason)
    groups by value, each reason ending ``(got VALUE)`` (or ``(the cell is empty)``); the group as
    it is where the reason already names a value, says a value is required, or the table has no
    such column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = np.asarray(rows)
    if not len(rows) or "(got " in reason or reason.startswith("required") or field not in table.column_names:
        return [(rows, reason)]
    kind = table.schema.field(field).type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_nested(kind) or pa.types.is_null(kind):  # a list of diseases: no one value to name
        return [(rows, reason)]
    column = table.column(field).take(pa.array(rows))
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    try:
        encoded = pc.dictionary_encode(column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):  # a type Arrow cannot encode: the reason as it is
        return [(rows, reason)]
    values = encoded.dictionary.to_pylist()
    if len(values) > MAX_VALUES:
        return [(rows, reason)]
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    order = np.argsort(codes, kind="stable")  # rows of one value together, in row order
    codes = codes[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    out = []
    for start, end in zip(starts, np.r_[starts[1:], len(codes)]):
        code = int(codes[start])
        at = rows[order[start:end]]
        if code < 0 or values[code] is None:
            out.append((at, f"{reason} (the cell is empty)"))
            continue
        value = values[code]
        if field in _AMOUNTS and isinstance(value, int):
            value = format_yuan(value)
        out.append((at, f"{reason} (got {value!r})"))
    return out
