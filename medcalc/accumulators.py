"""A person's year-to-date accumulators: the state every settlement reads and updates."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from .money import Fen, parse_amount

__all__ = ["Accumulators", "STATE_FIELDS", "KEYED_FIELDS", "DEFAULT_CAP_GROUP", "period_code", "period_text"]

#: Accumulators kept per name (a mapping name -> fen), with the policy vocabulary naming them:
#: per outpatient service, and per assistance cap group. (The engine keeps them in this order.)
KEYED_FIELDS = {
    "service_deductible": "services",
    "service_paid": "services",
    "service_period": "services",  # not money: the calendar month or quarter counted ("2025-03", "2025-Q2")
    "service_period_cost": "services",
    "assistance_base": "assistance_groups",
    "assistance_paid": "assistance_groups",
}

#: The cap group of assistance rules that name none: they share one annual deductible and cap.
DEFAULT_CAP_GROUP = "shared"

#: Accumulator fields, in the order the engine keeps them as columns.
STATE_FIELDS = (
    "admissions",
    "deductible_paid",
    "in_scope_total",
    "payable_total",
    "basic_paid",
    "above_cost_cap",  # basic
    "critical_base",
    "critical_paid",  # 大病保险 / 大额补助
    "burden",
    "burden_cap_used",
    "backstop_cap_paid",
    "backstop_paid",  # 兜底
    "basic_carry",
    "critical_carry",  # exact amounts not yet paid, for cumulative rounding (1/10000 fen)
    "last_deductible",  # the deductible of the year's latest admission (for compounding fractions)
    "assistance_again_base",
    "assistance_again_paid",  # 再次救助: the self-pay left after the first stage, paid
    "backstop_again_base",
    "backstop_again_paid",  # 再报销: the burden left after the burden cap, paid again
)

#: Fields that are not money: a count, and the carries in 1/10000 fen.
_NOT_FEN = ("admissions", "basic_carry", "critical_carry")

_PERIOD = re.compile(r"(\d{4})-(?:(0[1-9]|1[0-2])|Q([1-4]))")


def period_text(code: int, year: int) -> str:
    """A period as the engine keys it (kernel.period_key: months x 100 + its number in the year)
    as text: "2025-03" (a month) or "2025-Q2" (a quarter)."""
    months, number = divmod(int(code), 100)
    return f"{year}-{number:02d}" if months == 1 else f"{year}-Q{number}"


def period_code(text: str, year: int) -> int:
    """The engine's key of a period written "2025-03" or "2025-Q2"; 0 (no period counted yet) for
    a period of another year than ``year``, which no claim of this person-year falls in."""
    found = _PERIOD.fullmatch(text)
    if found is None:  # (the Accumulators converter checked the form)
        raise ValueError(f"a period is written as 2025-03 (a month) or 2025-Q2 (a quarter), not {text!r}")
    if int(found.group(1)) != year:
        return 0
    return 100 + int(found.group(2)) if found.group(2) else 300 + int(found.group(3))


def _periods(mapping: Mapping[str, object]) -> dict[str, str]:
    """Per-service periods, each written "2025-03" (a month) or "2025-Q2" (a quarter)."""
    out = {}
    for name, text in dict(mapping).items():
        if not isinstance(text, str) or _PERIOD.fullmatch(text) is None:
            raise ValueError(
                f"service_period[{name!r}] is written as 2025-03 (a month) or 2025-Q2 (a quarter), not {text!r}"
            )
        out[str(name)] = text
    return out


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
    - ``above_cost_cap``: in-scope cost that fell above a basic cost ceiling;
    - ``critical_base`` / ``critical_paid``: the year's qualifying self-pay for the second layer
      (大病保险 or 大额医疗费用补助) and what that layer paid;
    - ``assistance_base`` / ``assistance_paid``: per assistance cap group, the year's eligible
      self-pay for 医疗救助 and what it paid;
    - ``burden`` / ``burden_cap_used`` / ``backstop_cap_paid``: the eligible in-scope burden
      left after the layers, the largest burden cap used so far this year, and what the
      burden cap paid; ``backstop_paid``: everything the backstop paid;
    - ``basic_carry`` / ``critical_carry``: for a layer that rounds cumulatively
      (``rounding = "cumulative"``), the year's exact payment so far less what it paid, in
      1/10000 fen (within ±5000): the next claim's payment is rounded with it;
    - ``last_deductible``: the deductible (before the in-scope cost and yearly total limit it) of
      the year's latest admission: a compounding later-admission fraction takes its share;
    - ``assistance_again_base`` / ``assistance_again_paid``: for 再次救助 (``assistance.again``),
      the year's in-scope self-pay left after the first assistance, and what the second stage paid;
    - ``service_deductible`` / ``service_paid``: per outpatient service, the deductible charged and
      what the service paid so far this year;
    - ``service_period`` / ``service_period_cost``: per outpatient service with a cap per month or
      quarter (``period_cost_cap``), the latest period it counted cost in ("2025-03", "2025-Q2")
      and the in-scope cost counted in that period so far.
    - ``backstop_again_base`` / ``backstop_again_paid``: for 再报销 (``backstop.pay_again``), the
      year's in-scope burden left after every layer and the burden cap (what its ``threshold``
      is charged on), and what paying it again paid (also counted in ``backstop_paid``).
    """

    person_id: str
    year: int
    admissions: int = 0
    deductible_paid: Fen = attrs.field(default=Fen(0), converter=parse_amount)
    in_scope_total: Fen = attrs.field(default=Fen(0), converter=parse_amount)
    payable_total: Fen = attrs.field(default=Fen(0), converter=parse_amount)
    basic_paid: Fen = attrs.field(default=Fen(0), converter=parse_amount)
    above_cost_cap: Fen = attrs.field(default=Fen(0), converter=parse_amount)
    critical_base: Fen = attrs.field(default=Fen(0), converter=parse_amount)
    critical_paid: Fen = attrs.field(default=Fen(0), converter=parse_amount)
    burden: Fen = attrs.field(default=Fen(0), converter=parse_amount)
    burden_cap_used: Fen = attrs.field(default=Fen(0), converter=parse_amount)
    backstop_cap_paid: Fen = attrs.field(default=Fen(0), converter=parse_amount)
    backstop_paid: Fen = attrs.field(default=Fen(0), converter=parse_amount)
    basic_carry: int = 0
    critical_carry: int = 0
    last_deductible: Fen = attrs.field(default=Fen(0), converter=parse_amount)
    assistance_again_base: Fen = attrs.field(default=Fen(0), converter=parse_amount)
    assistance_again_paid: Fen = attrs.field(default=Fen(0), converter=parse_amount)
    backstop_again_base: Fen = attrs.field(default=Fen(0), converter=parse_amount)
    backstop_again_paid: Fen = attrs.field(default=Fen(0), converter=parse_amount)
    service_deductible: Mapping[str, Fen] = attrs.field(factory=dict, converter=lambda m: _amounts(m))
    service_paid: Mapping[str, Fen] = attrs.field(factory=dict, converter=lambda m: _amounts(m))
    service_period: Mapping[str, str] = attrs.field(factory=dict, converter=lambda m: _periods(m))
    service_period_cost: Mapping[str, Fen] = attrs.field(factory=dict, converter=lambda m: _amounts(m))
    assistance_base: Mapping[str, Fen] = attrs.field(factory=dict, converter=lambda m: _amounts(m))
    assistance_paid: Mapping[str, Fen] = attrs.field(factory=dict, converter=lambda m: _amounts(m))

    @classmethod
    def from_fen(
        cls, person_id: str, year: int, values: dict[str, int], services: dict[str, dict[str, int]] | None = None
    ) -> Accumulators:
        """From engine state: ``admissions`` a count, periods keys (kernel.period_key), every other
        field integer fen."""
        per_service: dict[str, Any] = {  # field -> its mapping (of period texts or of fen)
            name: {s: (period_text(v, year) if name == "service_period" else Fen(v)) for s, v in m.items()}
            for name, m in (services or {}).items()
        }
        return cls(
            person_id=person_id,
            year=year,
            **per_service,
            **{k: (int(v) if k in _NOT_FEN else Fen(int(v))) for k, v in values.items()},
        )

    def values(self) -> tuple[int, ...]:
        return tuple(int(getattr(self, name)) for name in STATE_FIELDS)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"person_id": self.person_id, "year": self.year}
        for name in STATE_FIELDS:
            value = getattr(self, name)
            out[name] = str(value) if isinstance(value, Fen) else value
        for name in KEYED_FIELDS:
            out[name] = {s: str(v) for s, v in getattr(self, name).items()}  # (a period is text already)
        return out


def _amounts(mapping: Mapping[str, object]) -> dict[str, Fen]:
    """Per-service amounts read like claim amounts (plain numbers are yuan, Fen is fen)."""
    return {str(k): parse_amount(v) for k, v in dict(mapping).items()}
