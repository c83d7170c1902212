"""Fund impact: one claims set scored under a baseline and reforms, compared by layer and group.

``fund_impact(claims, baseline, reforms)`` settles every row under each scenario (a policy or
a reform, see ``medcalc.policy.reform``) with the batch engine, then reports per scenario and
per group (hospital level, person category, cost band, region, …): fund paid by layer,
patient burden, the effective rates funds / total and funds / in-scope cost, and against the
baseline the change in each, the claims and persons whose payment changed, and the biggest
winners and losers (persons, by the change in what they pay over the year).

Weighted rows: a ``weight`` column (a sample standing for a population; integers or decimals
with up to 4 places) multiplies every sum. Sums are exact: weighted amounts are kept as
integers in units of fen / 10000 and rounded half up to the fen once, when shown.

A row is compared only if every scenario settles it; rows any scenario rejects are counted
and listed with their reasons beside the figures, never dropped silently.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any

import attrs
import numpy as np

from ..batch.tables import RowNumbers, canonical_names, settle_table, split_row_numbers, to_arrow
from ..errors import MedcalcError
from ..money import format_yuan, round_half_up
from ..policy.model import Policy
from ..policy.registry import load_policy
from .groupings import COST_BANDS, GROUPINGS

__all__ = ["fund_impact", "Impact", "GROUPINGS", "COST_BANDS", "WEIGHT_ONE", "AMOUNTS"]

#: Amounts summed per group (fen), in report order.
AMOUNTS = ("total", "in_scope", "basic", "critical", "assistance", "backstop", "funds", "patient")
#: Weights are held as integers in these units (4 decimal places).
WEIGHT_ONE = 10_000


@attrs.frozen
class Impact:
    """The comparison. ``groups``: one row per (scenario, grouping, value) with exact sums.

    Amount sums are in fen x WEIGHT_ONE (exact); use ``yuan`` or the renderers to show them.
    ``winners`` / ``losers``: per reform, persons whose year's patient burden fell / rose most.
    ``row_changes``: per reform and compared row, the change in funds and patient share (fen).
    """

    baseline: str
    scenarios: tuple[str, ...]  # baseline first
    rows: int  # input rows
    compared: int  # rows every scenario settled
    weighted: bool
    groups: list[dict[str, Any]]
    winners: dict[str, list[dict[str, Any]]]
    losers: dict[str, list[dict[str, Any]]]
    rejected: dict[str, list[dict[str, Any]]]  # scenario -> [{field, reason, rows}]
    row_changes: dict[str, Any]  # reform -> pyarrow Table (row, claim_id, person_id, funds, patient deltas)

    @staticmethod
    def fen(units: int) -> int:
        """A weighted sum (fen x WEIGHT_ONE) in fen, rounded half up once (away from zero below it)."""
        return round_half_up(units, WEIGHT_ONE) if units >= 0 else -round_half_up(-units, WEIGHT_ONE)

    @classmethod
    def yuan(cls, units: int) -> str:
        """A weighted sum (fen x WEIGHT_ONE) as yuan with two decimals, rounded half up once."""
        return format_yuan(cls.fen(units))

    def table(self, grouping: str = "all") -> list[dict[str, Any]]:
        """The report rows of one grouping, amounts as yuan text and rates as percent text."""
        out = []
        for g in self.groups:
            if g["grouping"] != grouping:
                continue
            row = {
                "scenario": g["scenario"],
                "group": g["value"],
                "claims": _count(g["claims"]),
                "persons": g["persons"],
            }
            for name in AMOUNTS:
                row[name] = self.yuan(g[name])
            row["rate"] = _percent(g["rate"])
            row["rate_in_scope"] = _percent(g["rate_in_scope"])
            for name in ("funds", "patient"):
                row[f"change_{name}"] = self.yuan(g[f"change_{name}"]) if g["scenario"] != self.baseline else ""
            row["claims_affected"] = g["claims_affected"]
            row["persons_affected"] = g["persons_affected"]
            out.append(row)
        return out

    def to_dict(self) -> dict[str, Any]:
        groupings = list(dict.fromkeys(g["grouping"] for g in self.groups))
        return {
            "baseline": self.baseline,
            "scenarios": list(self.scenarios),
            "rows": self.rows,
            "compared": self.compared,
            "weighted": self.weighted,
            "groups": {name: self.table(name) for name in groupings},
            "winners": self.winners,
            "losers": self.losers,
            "rejected": self.rejected,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    def to_csv(self) -> str:
        """Every grouping's rows in one CSV (a ``grouping`` column first). Its text cells (scenario
        names, group values from the claims) are written so that a spreadsheet shows them as text,
        never as a formula (medcalc.batch.safe_cells); amounts and rates are numbers as they are."""
        from ..batch.safe_cells import escape_text

        buffer = io.StringIO()
        writer = None
        for name in dict.fromkeys(g["grouping"] for g in self.groups):
            for row in self.table(name):
                row = {"grouping": name, **row}
                for key in _TEXT_COLUMNS:
                    if isinstance(row[key], str):
                        row[key] = escape_text(row[key])
                if writer is None:
                    writer = csv.DictWriter(buffer, fieldnames=list(row))
                    writer.writeheader()
                writer.writerow(row)
        return buffer.getvalue()


#: The CSV columns holding text (the others are counts, amounts and rates, written by medcalc).
_TEXT_COLUMNS = ("grouping", "scenario", "group")


def _count(units: int) -> str | int:
    return units // WEIGHT_ONE if units % WEIGHT_ONE == 0 else f"{units // WEIGHT_ONE}.{units % WEIGHT_ONE:04d}"


def _percent(rate: Fraction | None) -> str:
    if rate is None:
        return ""
    hundredths = round_half_up(rate.numerator * 10_000, rate.denominator)  # percent with 2 decimals
    return f"{hundredths // 100}.{hundredths % 100:02d}%"


def _as_policy(policy: Policy | str) -> Policy:
    return policy if isinstance(policy, Policy) else load_policy(policy)


def fund_impact(
    claims: Any,
    baseline: Policy | str,
    reforms: Sequence[Policy | str] | Policy | str,
    *,
    amounts: str | None = None,
    by: Iterable[str] = ("level", "category", "cost_band"),
    weight: str | None = None,
    top: int = 10,
    first_row: int = 0,
) -> Impact:
    """Score ``claims`` under ``baseline`` and each reform and compare them (see the module docstring).

    ``claims``: anything ``settle_table`` takes. ``by``: groupings from GROUPINGS. ``weight``: the
    name of a weight column, if rows stand for several people. ``top``: winners and losers listed.
    ``first_row``: the number of the first row in what is reported (rejected rows, ``row_changes``
    and messages): 0 as in ``settle_table``; ``medcalc impact`` gives 1, as in every file it reads.
    """
    if isinstance(reforms, (str, Policy)):
        reforms = [reforms]
    base = _as_policy(baseline)
    others = [_as_policy(r) for r in reforms]
    if not others:
        raise MedcalcError("fund impact needs at least one reform to compare with the baseline")
    ids = [base.id] + [p.id for p in others]
    if len(set(ids)) != len(ids):
        raise MedcalcError(f"scenarios must have distinct ids (got {', '.join(ids)})")
    groupings = list(dict.fromkeys(by))
    for name in groupings:
        if name not in GROUPINGS:
            raise MedcalcError(f"cannot group by {name!r}: choose from {', '.join(GROUPINGS)}")

    table, shown = split_row_numbers(to_arrow(claims), first_row)  # rows reported as the file numbers them
    weights = None
    if weight is not None:
        if weight not in table.column_names:
            raise MedcalcError(f"no weight column {weight!r} in the claims (columns: {', '.join(table.column_names)})")
        weights = _weights(table.column(weight), weight, shown)
        table = table.drop_columns([weight])
    n = table.num_rows
    w = np.full(n, WEIGHT_ONE, np.int64) if weights is None else weights

    settled = np.ones(n, bool)
    figures: dict[str, dict[str, np.ndarray]] = {}
    rejected: dict[str, list[dict[str, Any]]] = {}
    for policy in [base] + others:
        scored = settle_table(table, policy, amounts=amounts)
        rows = scored.results.column("row").to_numpy()
        mine = np.zeros(n, bool)
        mine[rows] = True
        settled &= mine
        figures[policy.id] = {}
        for name in AMOUNTS:
            column = np.zeros(n, np.int64)
            column[rows] = scored.results.column(name).to_numpy()
            figures[policy.id][name] = column
        rejected[policy.id] = _reject_summary(scored.rejects, shown)
    keep = np.flatnonzero(settled)

    fields = canonical_names(table.column_names)
    by_field = {field: table.column(name) for name, field in fields.items()}
    person_codes = _codes(by_field["person_id"]) if "person_id" in by_field else np.arange(n)
    labels = {name: _group_labels(name, by_field, figures[base.id]["total"], base, n) for name in groupings}

    groups: list[dict[str, Any]] = []
    changes: dict[str, Any] = {}
    winners: dict[str, list] = {}
    losers: dict[str, list] = {}
    for scenario in ids:
        f = figures[scenario]
        changed = (f["funds"] != figures[base.id]["funds"]) | (f["patient"] != figures[base.id]["patient"])
        for grouping in ["all"] + groupings:
            values, codes = labels[grouping] if grouping != "all" else (["all"], np.zeros(n, np.int64))
            for code, value in enumerate(values):
                at = keep[codes[keep] == code]
                if not len(at):
                    continue
                groups.append(_group(scenario, grouping, value, at, f, figures[base.id], w, person_codes, changed))
        if scenario != base.id:
            changes[scenario], winners[scenario], losers[scenario] = _row_changes(
                table, keep, f, figures[base.id], person_codes, by_field, top, shown
            )
    return Impact(
        baseline=base.id,
        scenarios=tuple(ids),
        rows=n,
        compared=len(keep),
        weighted=weights is not None,
        groups=groups,
        winners=winners,
        losers=losers,
        rejected=rejected,
        row_changes=changes,
    )


def _group(scenario, grouping, value, at, f, base_f, w, person_codes, changed) -> dict[str, Any]:
    weights = w[at]
    row: dict[str, Any] = {
        "scenario": scenario,
        "grouping": grouping,
        "value": value,
        "claims": int(weights.sum()),
        "persons": int(len(np.unique(person_codes[at]))),
    }
    for name in AMOUNTS:
        row[name] = _weighted_sum(f[name][at], weights)
    row["rate"] = Fraction(row["funds"], row["total"]) if row["total"] else None  # 实际报销比例
    row["rate_in_scope"] = Fraction(row["funds"], row["in_scope"]) if row["in_scope"] else None  # 政策范围内报销比例
    for name in ("funds", "patient"):
        row[f"change_{name}"] = row[name] - _weighted_sum(base_f[name][at], weights)
    hit = at[changed[at]]
    row["claims_affected"] = int(len(hit))
    row["persons_affected"] = int(len(np.unique(person_codes[hit])))
    return row


def _weighted_sum(fen: np.ndarray, weights: np.ndarray) -> int:
    """Σ fen x weight exactly: int64 when it cannot overflow, Python integers when it might."""
    if not len(fen):
        return 0
    bound = int(np.abs(fen).max()) * int(weights.max()) * len(fen)
    if bound < (1 << 62):
        return int((fen * weights).sum())
    return sum(int(a) * int(b) for a, b in zip(fen.tolist(), weights.tolist()))


def _row_changes(table, keep, f, base_f, person_codes, by_field, top: int, shown: RowNumbers = RowNumbers()):
    """Per-row deltas as a table, and the persons whose year's burden fell (winners) or rose most."""
    import pyarrow as pa

    d_funds = f["funds"][keep] - base_f["funds"][keep]
    d_patient = f["patient"][keep] - base_f["patient"][keep]
    columns = {"row": pa.array(shown(keep))}
    for name in ("claim_id", "person_id"):
        if name in by_field:
            columns[name] = by_field[name].take(pa.array(keep))
    columns.update(funds_change=pa.array(d_funds), patient_change=pa.array(d_patient))
    changes = pa.table(columns)

    # persons: the sum of their claims' changes (a person's year is what a reform changes)
    persons, inverse = np.unique(person_codes[keep], return_inverse=True)
    burden = np.zeros(len(persons), np.int64)
    np.add.at(burden, inverse, d_patient)
    claims = np.bincount(inverse, minlength=len(persons))
    first_row = np.full(len(persons), len(table), np.int64)
    np.minimum.at(first_row, inverse, keep)
    ids = by_field["person_id"].take(pa.array(first_row)).to_pylist() if "person_id" in by_field else first_row.tolist()

    def listed(order) -> list[dict[str, Any]]:
        return [
            {"person_id": ids[i], "claims": int(claims[i]), "patient_change": format_yuan(int(burden[i]))}
            for i in order
            if burden[i] != 0
        ]

    order = np.argsort(burden, kind="stable")
    return changes, listed(order[:top]), listed(order[::-1][:top])


def _reject_summary(rejects, shown: RowNumbers = RowNumbers()) -> list[dict[str, Any]]:
    if not rejects.num_rows:
        return []
    summary: dict[tuple[str, str], list[int]] = {}
    for row, field, reason in zip(
        rejects.column("row").to_pylist(), rejects.column("field").to_pylist(), rejects.column("reason").to_pylist()
    ):
        summary.setdefault((field, reason), []).append(int(shown(row)))
    return [{"field": f, "reason": r, "rows": len(rows), "first_rows": rows[:5]} for (f, r), rows in summary.items()]


def _codes(column) -> np.ndarray:
    from ..batch.arrays import factorize

    return factorize(column)[1]


def _group_labels(name: str, by_field: dict, total: np.ndarray, base: Policy, n: int) -> tuple[list[str], np.ndarray]:
    """(labels, code per row) of one grouping."""
    if name == "cost_band":
        lows = np.array([low for low, _ in COST_BANDS[1:]], np.int64)
        return [label for _, label in COST_BANDS], np.searchsorted(lows, total, side="right")
    defaults = {"category": "ordinary", "region": base.region, "place": "local", "visit": "inpatient"}
    if name not in by_field:
        if name == "level":
            raise MedcalcError("the claims have no level column to group by")
        return [defaults[name]], np.zeros(n, np.int64)
    from ..batch.arrays import factorize

    values, codes = factorize(by_field[name])
    labels = [defaults.get(name, "") if v is None else str(v) for v in values]
    if name in ("category", "place", "visit", "level") and labels:
        # a missing value means the default, so it joins that group rather than forming its own
        merged = list(dict.fromkeys(labels))
        remap = np.array([merged.index(label) for label in labels], np.int64)
        return merged, remap[codes]
    return labels, codes


def _weights(column, name: str, shown: RowNumbers = RowNumbers()) -> np.ndarray:
    """A weight column as integers in 1/WEIGHT_ONE units; refuses floats, negatives and >4 decimals."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if column.null_count:
        raise MedcalcError(
            f"weight column {name!r}: row "
            f"{int(shown(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0]))} has no weight"
        )
    if pa.types.is_floating(column.type):
        raise MedcalcError(f"weight column {name!r} holds floating-point numbers; give integers, decimals or text")
    try:
        exact = pc.cast(column, pa.decimal128(24, 4))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise MedcalcError(
            f"weight column {name!r}: every weight must be a number with at most 4 decimals ({exc})"
        ) from None
    units = pc.cast(pc.multiply(exact, pa.scalar(WEIGHT_ONE, pa.decimal128(6, 0))), pa.int64()).to_numpy()
    if (units < 0).any():
        raise MedcalcError(
            f"weight column {name!r}: row {int(shown(np.flatnonzero(units < 0)[0]))} has a negative weight"
        )
    return units.astype(np.int64)
