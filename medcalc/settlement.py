"""Results as records: a settlement's breakdown, its explanation steps, and batches with rejects.

The engine fills them (``medcalc.engine.settlements``) from the pipeline's named
intermediate columns for a row; no amount is computed twice. Amounts are ``Fen``;
effective rates are exact fractions with a named denominator.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import attrs

from .accumulators import Accumulators
from .claims import Claim
from .money import Fen, Ratio, format_yuan
from .policy.model import Citation

__all__ = ["Step", "Settlement", "Batch", "Reject", "percent_text"]


def percent_text(rate: Fraction | None) -> str:
    """An exact rate shown as a percentage with two decimals, half up."""
    if rate is None:
        return "—"
    hundredths = (rate * 10000 * 2 + 1) // 2
    return f"{hundredths // 100}.{hundredths % 100:02d}%"


@attrs.frozen
class Reject:
    """A claim that was not settled: its input row, the field at fault and why."""

    row: int
    field: str
    reason: str
    claim_id: str | None = None

    def __str__(self) -> str:
        return f"row {self.row}: {self.field}: {self.reason}"


@attrs.frozen
class Step:
    """One line of an explanation: which mechanism, on what base, at what rate, for how much."""

    mechanism: str
    title: str  # Chinese term with the English beside it
    detail: str
    amount: Fen | None = None
    base: Fen | None = None
    rate: Ratio | None = None
    citation: Citation | None = None
    rule: str | None = None  # rule key and the file it came from
    before: Fen | None = None  # an accumulator before and after this step, when it has one
    after: Fen | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mechanism": self.mechanism, "title": self.title, "detail": self.detail}
        for name in ("amount", "base", "before", "after"):
            value = getattr(self, name)
            out[name] = None if value is None else format_yuan(value)
        out["rate"] = None if self.rate is None else str(self.rate)
        out["rule"] = self.rule
        out["source"] = None if self.citation is None else _citation_dict(self.citation)
        return out


def _citation_dict(c: Citation) -> dict[str, Any]:
    return {
        "id": c.source.id,
        "title": c.source.title,
        "document": c.source.document,
        "address": c.source.address,
        "official": c.source.official,
        "verified": c.verified,
        "quote": c.quote,
        "note": c.note,
    }


@attrs.frozen
class Settlement:
    """The breakdown of one settled claim (amounts in fen)."""

    claim: Claim
    row: int
    policy_id: str
    policy_scheme: str
    total: Fen
    self_funded: Fen
    over_limit: Fen
    pre_self_pay: Fen
    in_scope: Fen
    deductible: Fen
    basic: Fen  # 统筹基金支付 (hifp_pay)
    critical: Fen  # 大病保险 (hifmi_pay), or for employees 大额医疗费用补助 (hifob_pay)
    assistance: Fen  # 医疗救助 (maf_pay)
    backstop: Fen  # 兜底
    patient: Fen  # 个人负担 (psn_part_amt)
    steps: tuple[Step, ...]
    before: Accumulators | None  # the person-year's accumulators before this claim (when explained)
    after: Accumulators | None = None

    @property
    def funds(self) -> Fen:
        """基金支付总额: every layer together (fund_pay_sumamt plus the backstop)."""
        return Fen(self.basic + self.critical + self.assistance + self.backstop)

    @property
    def rate_of_total(self) -> Fraction | None:
        """实际报销比例: funds / total cost."""
        return Fraction(self.funds, self.total) if self.total else None

    @property
    def rate_of_in_scope(self) -> Fraction | None:
        """政策范围内报销比例: funds / in-scope cost."""
        return Fraction(self.funds, self.in_scope) if self.in_scope else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: amounts as yuan strings, rates as percentages with their denominators."""
        return {
            "claim_id": self.claim.claim_id,
            "person_id": self.claim.person_id,
            "settled_on": self.claim.settled_on.isoformat(),
            "policy": self.policy_id,
            "total": format_yuan(self.total),
            "self_funded": format_yuan(self.self_funded),
            "over_limit": format_yuan(self.over_limit),
            "pre_self_pay": format_yuan(self.pre_self_pay),
            "in_scope": format_yuan(self.in_scope),
            "deductible": format_yuan(self.deductible),
            "basic": format_yuan(self.basic),
            "critical": format_yuan(self.critical),
            "assistance": format_yuan(self.assistance),
            "backstop": format_yuan(self.backstop),
            "funds": format_yuan(self.funds),
            "patient": format_yuan(self.patient),
            "rate_of_total": percent_text(self.rate_of_total),
            "rate_of_in_scope": percent_text(self.rate_of_in_scope),
            "steps": [s.to_dict() for s in self.steps],
            "accumulators_before": None if self.before is None else self.before.to_dict(),
            "accumulators_after": None if self.after is None else self.after.to_dict(),
        }


@attrs.frozen
class Batch:
    """Settlements in input order, the rejected rows beside them, and the final accumulators."""

    settlements: tuple[Settlement, ...]
    rejects: tuple[Reject, ...]
    accumulators: dict[tuple[str, int], Accumulators]

    def totals(self) -> dict[str, Fen]:
        """Sums over the settled claims, by layer."""
        names = ("total", "basic", "critical", "assistance", "backstop", "funds", "patient")
        return {name: Fen(sum(getattr(s, name) for s in self.settlements)) for name in names}
