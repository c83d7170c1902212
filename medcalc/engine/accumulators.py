"""A person's year-to-date accumulators: the state every settlement reads and updates."""

from __future__ import annotations

import attrs

from ..money import Fen, parse_amount

__all__ = ["Accumulators", "STATE_FIELDS"]

#: Accumulator fields, in the order the engine keeps them as columns.
STATE_FIELDS = ("admissions", "deductible_paid", "in_scope_total", "payable_total", "basic_paid", "above_cost_cap")


@attrs.frozen(kw_only=True)
class Accumulators:
    """Year-to-date totals for one person in one accumulation year.

    Amounts are given like claim amounts: plain numbers and strings are yuan
    (``basic_paid="2610"``), ``Fen`` values are fen; they are kept as ``Fen``.

    - ``admissions``: inpatient admissions settled so far this year;
    - ``deductible_paid``: 起付线 charged so far (for a yearly total of deductibles);
    - ``in_scope_total``: in-scope inpatient cost so far (the cost-segment axis);
    - ``payable_total``: in-scope cost above the deductibles so far (the other axis);
    - ``basic_paid``: basic pooled-fund payments so far (for the annual fund cap);
    - ``above_cost_cap``: in-scope cost that fell above a basic cost ceiling.
    """

    person_id: str
    year: int
    admissions: int = 0
    deductible_paid: Fen = attrs.field(default=Fen(0), converter=parse_amount)
    in_scope_total: Fen = attrs.field(default=Fen(0), converter=parse_amount)
    payable_total: Fen = attrs.field(default=Fen(0), converter=parse_amount)
    basic_paid: Fen = attrs.field(default=Fen(0), converter=parse_amount)
    above_cost_cap: Fen = attrs.field(default=Fen(0), converter=parse_amount)

    @classmethod
    def from_fen(cls, person_id: str, year: int, values: dict[str, int]) -> "Accumulators":
        """From engine state: ``admissions`` a count, every other field integer fen."""
        return cls(person_id=person_id, year=year,
                   **{k: (int(v) if k == "admissions" else Fen(int(v))) for k, v in values.items()})

    def values(self) -> tuple[int, ...]:
        return tuple(int(getattr(self, name)) for name in STATE_FIELDS)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"person_id": self.person_id, "year": self.year}
        for name in STATE_FIELDS:
            value = getattr(self, name)
            out[name] = str(value) if isinstance(value, Fen) else value
        return out
