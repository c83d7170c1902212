"""Scoring a stream of record batches in bounded memory: input sorted by person.

Accumulators belong to a person-year, so a person's claims must all be settled in one
part. With the input sorted by person id, the rows of the last person of each batch are
held back and settled with the next batch: every part holds whole people, memory stays
at a few batches whatever the file's size, and the results equal scoring the file in
one piece. Input that is not sorted by person is refused with an error naming the row,
never scored wrongly: a person seen again later would restart from empty accumulators.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MedcalcError
from ..policy.model import Policy
from .tables import ROW_COLUMN, ScoredTable, canonical_names, settle_table, to_arrow

__all__ = ["settle_batches", "UnsortedInput"]


class UnsortedInput(MedcalcError):
    """A streamed input whose rows are not sorted by person id."""


def settle_batches(
    batches: Iterable[Any],
    policy: Policy | str | Path | None = None,
    *,
    amounts: str | None = None,
    first_row: int = 0,
    given: Iterable[str] = (),
    keep_columns: bool = False,
) -> Iterator[ScoredTable]:
    """Settle record batches (or tables, DataFrames) sorted by person id, one part at a time.

    Yields one ScoredTable per part, rows numbered from ``first_row`` across the stream.
    Raises UnsortedInput at the first row whose person id sorts before the previous row's.
    ``amounts``, ``given``, ``keep_columns``: as for ``settle_table``.
    """
    import pyarrow as pa

    carry = None  # the rows of the last person seen, not yet settled
    start = first_row  # the stream row number of carry's first row (or of the next batch)
    last = None  # the previous row's person id
    person_column = None
    for batch in batches:
        table = to_arrow(batch)
        if table.num_rows == 0:
            continue
        if person_column is None:
            names = canonical_names(table.column_names, given)
            person_column = next((c for c, f in names.items() if f == "person_id"), None)
        if carry is not None:
            table = pa.concat_tables([carry, table.cast(carry.schema) if table.schema != carry.schema else table])
        if person_column is None:  # no person column: every row is refused by the table scorer
            yield settle_table(table, policy, amounts=amounts, first_row=start, given=given, keep_columns=keep_columns)
            start += table.num_rows
            carry = None
            continue
        person = table.column(person_column)
        offset = 0 if carry is None else carry.num_rows
        numbers = table.column(ROW_COLUMN) if ROW_COLUMN in table.column_names else None
        last = _check_sorted(person, last, start, offset, numbers)
        cut = _last_person_start(person)
        if cut > 0:
            yield settle_table(
                table.slice(0, cut), policy, amounts=amounts, first_row=start, given=given, keep_columns=keep_columns
            )
            start += cut
        carry = table.slice(cut)
    if carry is not None and carry.num_rows:
        yield settle_table(carry, policy, amounts=amounts, first_row=start, given=given, keep_columns=keep_columns)


def _check_sorted(person, previous, start: int, offset: int, numbers=None):
    """The batch's last person id; raises if ids go down within the batch or from the previous one."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = person.combine_chunks() if isinstance(person, pa.ChunkedArray) else person
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    fresh = values.slice(offset)
    if previous is not None and len(fresh):
        fresh = pa.concat_arrays([pa.array([previous], fresh.type), fresh])
        base = start + offset - 1
    else:
        base = start + offset
    # rows without a person (blank rows, skipped; or refused) are not in the order: compared past them
    at = np.flatnonzero(fresh.is_valid().to_numpy(zero_copy_only=False)) if fresh.null_count else None
    ids = fresh if at is None else fresh.take(pa.array(at, pa.int64()))
    if len(ids) > 1:
        down = pc.less(ids.slice(1), ids.slice(0, len(ids) - 1)).to_numpy(zero_copy_only=False)
        down = np.flatnonzero(np.asarray(down, dtype=bool))
        if len(down):
            k = int(down[0])
            later, earlier = (k + 1, k) if at is None else (int(at[k + 1]), int(at[k]))
            row = base + later
            if numbers is not None:  # the row as the file numbers it (a CSV line, a sheet's row)
                row = numbers[row - start].as_py()
            raise UnsortedInput(
                f"row {row}: person {fresh[later].as_py()!r} comes after "
                f"{fresh[earlier].as_py()!r}; streamed input must be sorted by person id "
                "(sort it, or score the file in one piece without --stream)"
            )
    valid = values.drop_null()
    return valid[len(valid) - 1].as_py() if len(valid) else previous


def _last_person_start(person) -> int:
    """Index of the first row of the batch's last person (its rows are contiguous: sorted input)."""
    import pyarrow.compute as pc

    last = person[len(person) - 1]
    same = (
        pc.equal(person, last).to_numpy(zero_copy_only=False)
        if last.is_valid
        else person.is_null().to_numpy(zero_copy_only=False)
    )
    differ = np.flatnonzero(~np.asarray(same, dtype=bool))
    return int(differ[-1]) + 1 if len(differ) else 0
