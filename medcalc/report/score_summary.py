"""What `medcalc score` (and the web API's POST /score) reports of a scored file: counts, fund
totals in exact fen, both effective rates, and the rejects by reason with the first row of each.
Parts of whole people are added as they are settled, and summaries of parts merge."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..money import format_yuan
from ..policy.model import Policy

__all__ = ["ScoreSummary"]

_SUMMED = ("total", "in_scope", "basic", "critical", "assistance", "backstop", "funds", "patient")


class ScoreSummary:
    """Counts and fund totals over the scored parts (exact integer fen); rejects by reason with
    the first row of each."""

    def __init__(self) -> None:
        self.rows = self.settled = self.rejected = self.persons = 0
        self.totals: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.first_rows: dict[str, int] = {}
        self.policies: dict[str, None] = {}
        #: the file's columns that are no claim field (passed through, not read), in file order
        self.unused: dict[str, None] = {}

    def add(self, part) -> None:
        import pyarrow.compute as pc

        r = part.results
        self.unused.update(dict.fromkeys(getattr(part, "unused", ())))
        self.rows += part.rows
        self.settled += r.num_rows
        self.rejected += part.rejects.num_rows
        if r.num_rows:  # a part holds whole people, so distinct counts add up
            # counted while settling where it could be (part.persons): no hash of every id here
            self.persons += (
                part.persons if part.persons is not None else pc.count_distinct(r.column("person_id")).as_py()
            )
            for name in _SUMMED:
                self.totals[name] += pc.sum(r.column(name)).as_py()
            self.policies.update(dict.fromkeys(pc.unique(r.column("policy")).cast("string").to_pylist()))
        if part.rejects.num_rows:  # counted by Arrow, one row per distinct reason
            counts = (
                part.rejects.select(["field", "reason", "row"])
                .group_by(["field", "reason"])
                .aggregate([([], "count_all"), ("row", "min")])
            )
            for field, reason, count, first in zip(
                *(counts.column(c).to_pylist() for c in ("field", "reason", "count_all", "row_min"))
            ):
                self._reason(f"{field}: {reason}", count, first)

    def _reason(self, reason: str, count: int, first: int) -> None:
        self.reasons[reason] += count
        self.first_rows[reason] = min(first, self.first_rows.get(reason, first))

    def merge(self, other: ScoreSummary) -> None:
        """Add another part's counts (parts of whole people: distinct persons add up too)."""
        self.rows += other.rows
        self.settled += other.settled
        self.rejected += other.rejected
        self.persons += other.persons
        self.totals.update(other.totals)
        for reason, count in other.reasons.items():
            self._reason(reason, count, other.first_rows[reason])
        self.policies.update(other.policies)
        self.unused.update(other.unused)

    def report(self, policy: Policy | None, output: Path | str, rejects_path: Path | str) -> dict[str, Any]:
        from .display import percent

        total, in_scope, funds = (self.totals[name] for name in ("total", "in_scope", "funds"))
        return {
            "policy": policy.id if policy is not None else ", ".join(self.policies) or "(by row)",
            "rows": self.rows,
            "settled": self.settled,
            "rejected": self.rejected,
            "persons": self.persons,
            "totals": {name: format_yuan(self.totals[name]) for name in _SUMMED},
            # 实际报销比例 and 政策范围内报销比例 of the settled rows, exact sums divided once
            "rates": {
                "funds_of_total": percent(Fraction(funds, total) if total else None),
                "funds_of_in_scope": percent(Fraction(funds, in_scope) if in_scope else None),
            },
            "rejects_by_reason": dict(self.reasons.most_common()),
            "first_row_by_reason": {reason: self.first_rows[reason] for reason, _ in self.reasons.most_common()},
            "columns_not_used": list(self.unused),
            "output": str(output),
            "rejects_file": str(rejects_path),
        }
