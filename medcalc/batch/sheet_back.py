"""The user's sheet back: each scored row's own columns, with the results added.

``medcalc score`` writes what a billing desk gave it, row for row, in its own column order and
names (姓名, 医院等级, 全自费 … and the columns medcalc does not use), with the dates as dates, and
adds the results: the row number first, then the policy and the amounts settled (in-scope cost,
deductible, each layer, all funds, the patient's share). The rejects file gives the row number,
the column at fault and the reason, then the row's own cells as given, so a row can be fixed and
scored again. ``--results-only`` keeps the narrow tables of results alone.

A result the input's own columns already give (the total, and the in-scope cost or the policy
where the input has them, under whatever name) takes that column's place under the input's name,
as medcalc read or settled it (``20,000`` as 20000.00, an empty in-scope cell as the cost derived
from the parts), instead of a second column: the sheet written scores again as it is. An input
column named as a result medcalc adds (a settled file's ``basic``) is replaced by the result.
"""

from __future__ import annotations

from typing import Any

__all__ = ["results_back", "rejects_back", "ADDED_RESULTS"]

#: The result columns added to the input's own (the claim id, the person and the date are the
#: input's already; the total, the in-scope cost and the policy replace the input's where it has them).
ADDED_RESULTS = (
    "policy",
    "total",
    "in_scope",
    "deductible",
    "basic",
    "critical",
    "assistance",
    "backstop",
    "funds",
    "patient",
)


def results_back(part: Any, names: dict[str, str]) -> tuple[Any, tuple[str, ...], tuple[str, ...]]:
    """The table to write for a scored part's settled rows; the names of the input's columns in it
    (written as they are: not renamed by ``names``); and those among them that hold results in fen
    (the input's total or in-scope column, as settled). Without kept inputs: the results alone."""
    import pyarrow as pa

    results = part.results
    if part.inputs is None:
        return results, (), ()
    inputs = part.inputs
    replaced = {part.input_fields[f]: f for f in ADDED_RESULTS if f in part.input_fields}
    added = ("row", *(f for f in ADDED_RESULTS if f not in part.input_fields))
    taken = {names.get(c, c) for c in added} | set(added)  # (the names written, and medcalc's until then)
    kept = [c for c in inputs.column_names if c not in taken]
    columns = [
        results.column("row"),
        *(results.column(replaced[c]) if c in replaced else inputs.column(c) for c in kept),
        *(results.column(f) for f in added[1:]),
    ]
    amounts = tuple(c for c in kept if replaced.get(c) in ("total", "in_scope"))
    return pa.table(columns, names=["row", *kept, *added[1:]]), tuple(kept), amounts


def rejects_back(part: Any, names: dict[str, str] | None) -> tuple[Any, tuple[str, ...]]:
    """The table to write for a scored part's rejected rows: row, claim id, field and reason, then
    the row's own cells as given; and the names of the input's columns in it."""
    import pyarrow as pa

    rejects = part.rejects
    if part.rejected_inputs is None:
        return rejects, ()
    names = names or {}
    taken = {names.get(c, c) for c in rejects.column_names} | set(rejects.column_names)
    inputs = part.rejected_inputs
    kept = [c for c in inputs.column_names if c not in taken]
    columns = [*rejects.columns, *(inputs.column(c) for c in kept)]
    return pa.table(columns, names=[*rejects.column_names, *kept]), tuple(kept)
