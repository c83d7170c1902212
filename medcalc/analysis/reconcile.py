"""Audit a settlement extract: recompute every row and report what was paid differently.

A settlement extract holds the claims (as ``settle_table`` reads them) and, beside them,
what was actually paid: columns named as medcalc names its results (deductible, basic,
critical, assistance, backstop, funds, patient) or as the national interface does
(act_pay_dedc, hifp_pay, hifmi_pay, maf_pay, backstop_pay, fund_pay_sumamt, psn_part_amt;
``medcalc.batch.files.OUTPUT_NAMES``). Each row is settled again; a row *differs* when, on any paid
field compared, |paid − recomputed| > tolerance (fen).

Paid amounts are read as the claim amounts are (``medcalc.batch.cells.amount_column``): decimals are yuan, text
yuan, integers under the national names (hifp_pay …) yuan, integers under medcalc's names
(basic …) in the unit ``amounts`` states (refused when it states none). A paid value that is not an
amount rejects its row with the reason; an empty one is not compared (the field was not
reported on that row), and a row with no paid value at all is rejected. Every row is
counted once: rows = matched + differing + rejected.

Which step explains a difference (the rule, applied to the steps ``explain.py`` gives):

1. Each field has its own step, where its recomputed figure was decided:
   - deductible: ``deductible_charged`` when less was charged than the nominal deductible
     (the in-scope cost or a yearly total limited it), else the nominal ``deductible``
     (its schedule, quoted); outpatient: the service's ``deductible_charged``;
   - basic: a cap that bound (``fund_cap`` / ``service_cap`` paying less than the rounded
     figure, ``visit_cap`` below base × ratio), else ``floor``, else ``cost_cap``, else
     ``period_cost_cap`` (an outpatient cap per month or quarter cut the cost counted), else the
     last ``ratio`` band reached (or the ``fixed`` payment), else ``deductible_charged``
     (the deductible took the whole in-scope cost);
   - critical: ``critical_cap`` when it bound, else the last band (``ratio``) of the layer,
     else ``critical_threshold`` (the year's qualifying self-pay stayed below it);
   - assistance: ``assistance``; backstop: ``backstop_again`` if it paid, else ``backstop_cap``;
   - funds and patient: ``patient`` (total − all funds).
2. Layers feed each other in this order: deductible, basic, critical, assistance, backstop
   (each takes what the previous left). So a differing field is explained by the own step of
   the *first* differing field of its row in that order, itself included; funds and patient
   by the first differing layer, or their own step when no layer differs (or none is given).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from ..batch.cells import amount_column
from ..batch.tables import (
    RowNumbers,
    canonical_names,
    check_amounts,
    settle_table,
    split_row_numbers,
    to_arrow,
    unit_of,
)
from ..errors import MedcalcError
from ..money import AmountError, Fen, apply_ratio, format_yuan, parse_amount
from ..policy.model import Policy
from ..settlement import Step

__all__ = ["reconcile", "Reconciliation", "PAID_FIELDS", "DIFFERENCE_COLUMNS"]

#: The paid fields an extract may carry, in the order the layers feed each other.
PAID_FIELDS = ("deductible", "basic", "critical", "assistance", "backstop", "funds", "patient")
_LAYERS = PAID_FIELDS[:5]
DIFFERENCE_COLUMNS = (
    "row",
    "claim_id",
    "field",
    "paid",
    "recomputed",
    "difference",
    "step",
    "explanation",
    "rule",
    "quote",
)
_AMOUNT_COLUMNS = ("paid", "recomputed", "difference")


@attrs.frozen
class Reconciliation:
    """What an audit of an extract found. Amounts are int64 fen (yuan in JSON and CSV).

    ``rows``: rows of the extract, = ``matched + differing + rejected``. ``differences``: one
    line per differing field of a differing row (row, claim_id, field as the extract names it,
    paid, recomputed, difference = paid − recomputed, step, explanation, rule, quote).
    ``rejects``: rows not compared (row, claim_id, field, reason): medcalc could not settle
    them, or a paid value is not an amount. ``totals``: per compared field (medcalc's name),
    the column, rows compared, paid, recomputed and difference. ``traces``: the steps of each
    differing row.
    """

    rows: int
    matched: int
    differing: int
    differences: Any  # pyarrow.Table
    rejects: Any  # pyarrow.Table
    totals: dict[str, dict[str, Any]]
    tolerance: Fen
    fields: dict[str, str]  # medcalc field -> the extract's column
    traces: dict[int, tuple[Step, ...]] = attrs.field(factory=dict, repr=False)

    @property
    def rejected(self) -> int:
        return self.rejects.num_rows

    @property
    def compared(self) -> int:
        return self.matched + self.differing

    @property
    def ok(self) -> bool:
        """Every row was compared and matched."""
        return self.matched == self.rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: amounts as yuan strings."""
        differences = self.differences.to_pylist()
        for d in differences:
            for name in _AMOUNT_COLUMNS:
                d[name] = format_yuan(d[name])
        return {
            "rows": self.rows,
            "matched": self.matched,
            "differing": self.differing,
            "rejected": self.rejected,
            "tolerance": format_yuan(self.tolerance),
            "fields": dict(self.fields),
            "totals": {
                field: {
                    "column": t["column"],
                    "rows": t["rows"],
                    "paid": format_yuan(t["paid"]),
                    "recomputed": format_yuan(t["recomputed"]),
                    "difference": format_yuan(t["difference"]),
                }
                for field, t in self.totals.items()
            },
            "differences": differences,
            "rejects": self.rejects.to_pylist(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    def to_csv(self, path: str | Path, bom: bool = True) -> Path:
        """Write the differences as CSV, amounts in yuan with two decimals (after a UTF-8 byte-order
        mark, for Excel, unless ``bom`` is false); returns the path. A text cell a spreadsheet would
        take for a formula (a claim id ``=1+1``) is written as text (medcalc.batch.safe_cells)."""
        import pyarrow as pa
        import pyarrow.csv as pacsv

        from ..batch.files import fen_to_yuan
        from ..batch.safe_cells import escape_column

        columns = [
            fen_to_yuan(self.differences.column(c), text=True)
            if c in _AMOUNT_COLUMNS
            else escape_column(self.differences.column(c))
            for c in DIFFERENCE_COLUMNS
        ]
        path = Path(path)
        with open(path, "wb") as handle:
            if bom:
                handle.write(b"\xef\xbb\xbf")
            pacsv.write_csv(
                pa.table(columns, names=list(DIFFERENCE_COLUMNS)),
                handle,
                write_options=pacsv.WriteOptions(quoting_style="needed"),
            )
        return path

    def __rich__(self, limit: int = 50):
        """Counts, totals per field, the first ``limit`` differences and rejects by reason, fitted
        to the terminal's width (``medcalc.analysis.reconcile_view``)."""
        from .reconcile_view import ReconcileView

        return ReconcileView(self, limit)


def reconcile(
    extract: Any,
    policy: Policy | str | Path | None = None,
    *,
    amounts: str | None = None,
    tolerance: int | str = 0,
    fields: Iterable[str] | None = None,
    first_row: int = 0,
) -> Reconciliation:
    """Recompute every row of ``extract`` and compare it with what was paid.

    ``extract``: anything ``settle_table`` takes, with paid columns beside the claim columns.
    ``policy``: one for every row, or None for each row's ``policy`` / ``region`` column.
    ``amounts``: what integer columns under medcalc's names mean, "fen" or "yuan" (claims and paid
    alike); None (the default) refuses such a column (UnitNotStated). Integer columns under the
    national interface's or Chinese names (medfee_sumamt, hifp_pay, 医疗费总额 …) are yuan.
    ``tolerance``: the largest |paid − recomputed| still matching, in fen (``Fen`` or int; text
    is yuan, "0.01"). ``fields``: the paid fields to compare (medcalc's or national names;
    default every one the extract has). ``first_row``: the number of the first row in the report.
    """
    import pyarrow as pa

    check_amounts(amounts)
    tolerance = _tolerance(tolerance)
    table, shown = split_row_numbers(to_arrow(extract), first_row)  # rows reported as the file numbers them
    columns = _paid_columns(table.column_names, fields)
    scored = settle_table(table, policy, amounts=amounts)
    n = table.num_rows

    # What was paid, read as claim amounts are; problems reject the row, never read as 0.
    paid: dict[str, np.ndarray] = {}
    given: dict[str, np.ndarray] = {}
    problems: dict[int, list[tuple[str, str]]] = {}
    for field, column_name in columns.items():
        column = table.column(column_name)
        rejected: list[tuple[np.ndarray, str, str]] = []
        paid[field] = amount_column(
            column, column_name, unit_of(column_name, field, amounts), rejected, required=False
        ).astype(np.int64)  # differences of two amounts
        given[field] = ~_empty(column)
        for rows, name, reason in rejected:
            for row in rows.tolist():
                problems.setdefault(row, []).append((name, f"paid amount: {reason}"))
            given[field][rows] = False
    nothing = ~np.logical_or.reduce([given[f] for f in columns]) if columns else np.ones(n, bool)
    for row in np.flatnonzero(nothing).tolist():
        if row not in problems:
            problems[row] = [("paid", "no paid amount to compare (" + ", ".join(columns.values()) + " all empty)")]

    # Settled rows with readable paid values are compared; the others are rejects.
    results = scored.results
    settled = results.column("row").to_numpy()
    usable = ~np.isin(settled, np.fromiter(problems, np.int64, len(problems)))
    rows = settled[usable]
    recomputed = {f: results.column(f).to_numpy()[usable] for f in columns}
    differs = {f: given[f][rows] & (np.abs(paid[f][rows] - recomputed[f]) > tolerance) for f in columns}
    any_differs = np.logical_or.reduce(list(differs.values())) if columns else np.zeros(len(rows), bool)
    differing_rows = rows[any_differs]

    traces = _traces(table, policy, amounts, differing_rows)
    claim_ids = _claim_ids(table, sorted(set(differing_rows.tolist()) | set(problems)))
    lines: dict[str, list] = {name: [] for name in DIFFERENCE_COLUMNS}
    order = [f for f in PAID_FIELDS if f in columns]
    for k in np.flatnonzero(any_differs).tolist():
        row = int(rows[k])
        steps = traces[row]
        row_differs = [f for f in order if differs[f][k]]
        first_layer = next((f for f in row_differs if f in _LAYERS), None)
        for field in row_differs:
            cause = first_layer or field  # the first layer differing feeds this field (or is it)
            step = own_step(cause, steps)
            p, r = int(paid[field][row]), int(recomputed[field][k])
            lines["row"].append(int(shown(row)))
            lines["claim_id"].append(claim_ids[row])
            lines["field"].append(columns[field])
            lines["paid"].append(p)
            lines["recomputed"].append(r)
            lines["difference"].append(p - r)
            lines["step"].append(None if step is None else step.mechanism)
            lines["explanation"].append(_explain(step, cause, field, columns))
            lines["rule"].append(None if step is None else step.rule)
            lines["quote"].append(None if step is None or step.citation is None else step.citation.quote)
    types = {"row": pa.int64(), "paid": pa.int64(), "recomputed": pa.int64(), "difference": pa.int64()}
    differences = pa.table({name: pa.array(values, types.get(name, pa.string())) for name, values in lines.items()})

    totals = {}
    for field in order:
        mask = given[field][rows]
        p, r = int(paid[field][rows][mask].sum()), int(recomputed[field][mask].sum())
        totals[field] = {
            "column": columns[field],
            "rows": int(mask.sum()),
            "paid": Fen(p),
            "recomputed": Fen(r),
            "difference": Fen(p - r),
        }

    # problems of rows medcalc rejected anyway are not repeated: its reason comes first
    problem_rows = np.fromiter(problems, np.int64, len(problems))
    rejects = _rejects(
        scored.rejects,
        {int(r): problems[int(r)] for r in problem_rows[np.isin(problem_rows, settled)]},
        claim_ids,
        shown,
    )
    report = Reconciliation(
        rows=n,
        matched=int(len(rows) - len(differing_rows)),
        differing=len(differing_rows),
        differences=differences,
        rejects=rejects,
        totals=totals,
        tolerance=tolerance,
        fields=columns,
        traces={int(shown(row)): traces[row] for row in differing_rows.tolist()},
    )
    if report.matched + report.differing + report.rejected != n:  # checked, never assumed
        raise RuntimeError(
            f"{n} rows in but {report.matched} matched, {report.differing} differing and {report.rejected} rejected"
        )
    return report


def own_step(field: str, steps: Iterable[Step]) -> Step | None:
    """The step where a field's recomputed figure was decided (rule 1 of the module docstring)."""
    layers = _by_layer(tuple(steps))
    basic, critical = layers["basic"], layers["critical"]

    def first(chain: list[Step], *mechanisms: str) -> Step | None:
        return next((s for s in chain if s.mechanism in mechanisms), None)

    def last(chain: list[Step], *mechanisms: str) -> Step | None:
        return next((s for s in reversed(chain) if s.mechanism in mechanisms), None)

    if field == "deductible":
        nominal, charged = first(basic, "deductible"), first(basic, "deductible_charged")
        if nominal is not None and charged is not None and charged.amount is not None and nominal.amount is not None:
            return charged if charged.amount < nominal.amount else nominal
        return charged or nominal
    if field == "basic":
        rounded = first(basic, "basic_rounded")
        figure = last(basic, "ratio", "fixed")
        raw = rounded.amount if rounded is not None else (figure.amount if figure is not None else None)
        cap = last(basic, "fund_cap", "service_cap")
        if cap is not None and raw is not None and cap.amount is not None and cap.amount < raw:
            return cap
        visit = first(basic, "visit_cap")
        if (
            visit is not None
            and figure is not None
            and figure.base is not None
            and figure.rate is not None
            and figure.amount is not None
            and figure.amount < apply_ratio(figure.base, figure.rate)
        ):
            return visit
        return (
            first(basic, "floor")
            or first(basic, "cost_cap")
            or first(basic, "period_cost_cap")
            or figure
            or first(basic, "deductible_charged")
            or last(basic, "basic")
        )
    if field == "critical":
        rounded, cap = first(critical, "critical_rounded"), first(critical, "critical_cap")
        if (
            cap is not None
            and rounded is not None
            and cap.amount is not None
            and rounded.amount is not None
            and cap.amount < rounded.amount
        ):
            return cap
        return last(critical, "ratio") or first(critical, "critical_threshold") or last(critical, "critical")
    if field == "assistance":
        return first(layers["assistance"], "assistance")
    if field == "backstop":
        again, cap = first(layers["backstop"], "backstop_again"), first(layers["backstop"], "backstop_cap")
        return again if again is not None and again.amount else (cap or again)
    if field in ("funds", "patient"):
        return first(layers["patient"], "patient")
    raise MedcalcError(f"{field!r} is not a paid field; one of {', '.join(PAID_FIELDS)}")


def _by_layer(steps: tuple[Step, ...]) -> dict[str, list[Step]]:
    """A trace's steps by layer: layer 1 ends at its total ('basic'), layer 2 at 'critical'."""
    layers: dict[str, list[Step]] = {
        k: [] for k in ("decompose", "basic", "critical", "assistance", "backstop", "patient")
    }
    layer = "basic"
    for step in steps:
        m = step.mechanism
        if m in ("decompose", "assistance", "patient"):
            layers[m].append(step)
            continue
        if m.startswith("backstop"):
            layers["backstop"].append(step)
            continue
        if m.startswith("critical"):
            layer = "critical"
        layers[layer].append(step)  # 'ratio' belongs to whichever layer is running
        if m == "basic":
            layer = "critical"
    return layers


def _explain(step: Step | None, cause: str, field: str, columns: dict[str, str]) -> str:
    """One line: which step, how, and the policy sentence behind it."""
    if step is None:
        return f"no step computes {columns[cause]}: the policy pays nothing in this layer for this claim"
    text = f"{step.title}: {step.detail}"
    if step.amount is not None and format_yuan(step.amount) not in step.detail:
        text += f" → {format_yuan(step.amount)}"
    if step.citation is not None:
        text += f" — “{step.citation.quote}”"
    if cause != field:
        text = f"follows the difference in {columns[cause]}: " + text
    return text


def _tolerance(value: Any) -> Fen:
    """Integers are fen (a Fen too); text or a Decimal is yuan, as amounts are everywhere else."""
    if isinstance(value, bool) or isinstance(value, float):
        raise MedcalcError(f'tolerance must be integer fen, a Fen or yuan as text such as "0.01" (got {value!r})')
    if isinstance(value, int):
        if value < 0:
            raise MedcalcError(f"tolerance must not be negative (got {value} fen)")
        return Fen(value)
    try:
        return parse_amount(str(value))
    except AmountError as exc:
        raise MedcalcError(f"tolerance: {exc}") from None


def _paid_columns(names: list[str], fields: Iterable[str] | None) -> dict[str, str]:
    """medcalc field -> the extract's column, for the paid fields the extract has (or those asked)."""
    from ..batch.files import OUTPUT_NAMES

    known = {name: name for name in PAID_FIELDS}
    known.update({OUTPUT_NAMES["national"][f]: f for f in PAID_FIELDS})
    found: dict[str, str] = {}
    for name in names:
        field = known.get(name)
        if field is None:
            continue
        if field in found:
            raise MedcalcError(f"columns {found[field]!r} and {name!r} both give what was paid as {field!r}")
        found[field] = name
    if fields is not None:
        wanted = []
        for name in fields:
            if name not in known:
                raise MedcalcError(f"{name!r} is not a paid field; one of {', '.join(known)}")
            if known[name] not in found:
                raise MedcalcError(f"the extract has no column for {name!r} (what was paid as {known[name]!r})")
            wanted.append(known[name])
        found = {f: found[f] for f in PAID_FIELDS if f in wanted}
    if not found:
        raise MedcalcError(
            "the extract has no paid column to compare; give one of "
            + ", ".join(f"{f} ({OUTPUT_NAMES['national'][f]})" for f in PAID_FIELDS)
        )
    return {f: found[f] for f in PAID_FIELDS if f in found}


def _empty(column) -> np.ndarray:
    """Rows whose value is missing (null, or empty text): not reported, so not compared."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    empty = column.is_null()
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        empty = pc.or_(empty, pc.equal(column, pa.scalar("")).fill_null(True))
    return empty.to_numpy(zero_copy_only=False).astype(bool)


def _claim_ids(table, rows: list[int]) -> dict[int, str | None]:
    """The claim ids of the rows reported (only those: an extract may have millions)."""
    import pyarrow as pa

    names = {field: name for name, field in canonical_names(table.column_names).items()}
    if "claim_id" not in names:
        return dict.fromkeys(rows)
    column = table.column(names["claim_id"]).take(pa.array(rows, pa.int64()))
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    return dict(zip(rows, column.cast(pa.string()).to_pylist()))


def _traces(table, policy, amounts: str | None, rows: np.ndarray) -> dict[int, tuple[Step, ...]]:
    """The steps of ``rows``, from a second pass over only the people who own them.

    Accumulators belong to a person, so the people's own rows settle exactly as in the whole
    table (the test holds the two equal); the rest of the extract is not settled again.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(rows):
        return {}
    names = {field: name for name, field in canonical_names(table.column_names).items()}
    person = table.column(names["person_id"])
    if pa.types.is_dictionary(person.type):
        person = person.cast(person.type.value_type)
    people = pc.unique(person.take(pa.array(rows)))
    keep = np.flatnonzero(pc.is_in(person, value_set=people).to_numpy(zero_copy_only=False))
    local = np.searchsorted(keep, rows)
    part = settle_table(table.take(pa.array(keep)), policy, amounts=amounts, trace=local.tolist())
    return {int(keep[i]): steps for i, steps in part.traces.items()}


def _rejects(
    scored_rejects, problems: dict[int, list[tuple[str, str]]], claim_ids: dict[int, str | None], shown: RowNumbers
):
    """Rows medcalc could not settle, and settled rows whose paid values could not be compared."""
    import pyarrow as pa

    rows = scored_rejects.column("row").to_pylist()
    ids = scored_rejects.column("claim_id").cast(pa.string()).to_pylist()
    fields = scored_rejects.column("field").cast(pa.string()).to_pylist()
    reasons = scored_rejects.column("reason").cast(pa.string()).to_pylist()
    for row in sorted(problems):
        found = problems[row]
        rows.append(row)
        ids.append(claim_ids[row])
        fields.append(", ".join(dict.fromkeys(name for name, _ in found)))
        reasons.append("; ".join(reason for _, reason in found))
    order = np.argsort(np.array(rows, np.int64), kind="stable")
    return pa.table(
        {
            "row": pa.array(shown(np.array(rows, np.int64)[order]), pa.int64()),
            "claim_id": pa.array([ids[i] for i in order], pa.string()),
            "field": pa.array([fields[i] for i in order], pa.string()),
            "reason": pa.array([reasons[i] for i in order], pa.string()),
        }
    )
