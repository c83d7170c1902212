"""How the layers' explanation steps cite their rules and word their amounts.

Shared by each layer's ``explain`` (``medcalc.engine.layers``): a rule's reference and
citation, steps for amounts tied to the reference wage, exact amounts shown without
rounding, how a payment was rounded, the modifiers a row's mask names, and one step per band
a claim's stretch fell in. No amount is computed here that the engine did not compute.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..money import RATIO_ONE, Fen, Ratio, format_yuan
from ..policy.model import RuleVersion
from ..settlement import Step

if TYPE_CHECKING:
    from .outcome import Outcome

__all__ = [
    "INFINITY",
    "applied",
    "band_steps",
    "cited",
    "exact_yuan",
    "nth",
    "points_text",
    "rounding",
    "rule_ref",
    "wage_steps",
]

#: Band edges at or above this are "no upper bound" (∞).
INFINITY = 1 << 59


def rule_ref(rule: RuleVersion) -> str:
    return f"{rule.key}[{rule.index}] in {rule.file}"


def cited(rule: RuleVersion | None) -> dict:
    return {} if rule is None else {"citation": rule.citation, "rule": rule_ref(rule)}


def wage_steps(rule: RuleVersion | None, *paths: str) -> list[Step]:
    """A step for each amount of ``rule`` at ``paths`` derived from the reference wage: the share or
    multiple, the wage in force and the fen, citing the wage's source (the rule's own step cites the rule)."""
    if rule is None or not rule.wage:
        return []
    steps = []
    for use in rule.wage:
        if use.path not in paths:
            continue
        wage = use.wage
        year = f" ({wage['year']})" if wage.get("year") is not None else ""
        exact = wage["amount"] * use.term.units
        steps.append(
            Step(
                "reference_wage",
                "社平工资 reference wage",
                f"{rule.key} {use.path}: {use.term.words()} 上年社平工资{year} {format_yuan(wage['amount'])} = "
                f"{format_yuan(use.amount)}"
                + ("" if exact % RATIO_ONE == 0 else f" (exact {exact_yuan(exact)}, rounded half up to the fen once)"),
                amount=Fen(use.amount),
                base=Fen(wage["amount"]),
                citation=wage.citation,
                rule=f"{rule_ref(rule)}; {rule_ref(wage)}",
            )
        )
    return steps


def nth(n: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")


def exact_yuan(numerator: int) -> str:
    """An exact amount numerator / RATIO_ONE fen, shown in yuan without rounding."""
    whole, rest = divmod(numerator, RATIO_ONE)
    return format_yuan(whole) + (f"{rest:04d}".rstrip("0") if rest else "")


def rounding(o: Outcome, i: int, cumulative: int, carry: str) -> tuple[str, str]:
    """(how a payment is rounded, the carry it starts from): once per claim, or on the year's
    running exact amount (``rounding = "cumulative"``), from what the year had not yet paid."""
    if not cumulative:
        return "rounded half up once", ""
    before = getattr(o.accumulators_before.get(i), carry, 0)
    sign = "-" if before < 0 else "+"
    return (
        "rounded on the year's running amount (half up; the claim pays the change)",
        f" {sign} not yet paid this year {exact_yuan(abs(before))}",
    )


def applied(modifiers: list[RuleVersion], mask: int) -> list[RuleVersion]:
    """The modifiers a row's bit mask says were applied to it, in rule order."""
    return [m for bit, m in enumerate(modifiers) if mask >> bit & 1]


def points_text(units: int) -> str:
    return f"{units / 100:+g} points"


def band_steps(
    o, layer, i, rule_of_band, axis: str, step_mode: bool, step_band: int | None, low: int, high: int, title: str
) -> list[Step]:
    """One step per band a claim's stretch falls in: base × rate, with the rule quoted."""
    if o.bands is None:
        return []
    portions, rates = o.bands[layer]["portions"][i], o.bands[layer]["rates"][i]
    band = int(o.params[layer]["band"][i])
    edges = o.tables[layer].edges[band]
    sources = o.tables[layer].band_sources[band]
    cite = sources[-1] if rule_of_band is None else rule_of_band
    single = int((edges[1:] < INFINITY).sum()) == 0
    steps = []
    for b in range(len(portions)):
        if step_mode:
            if b != step_band:
                continue
            base = high - low
        else:
            base = int(portions[b])
            if base == 0:
                continue
        lo, hi = int(edges[b]), int(edges[b + 1])
        span = (
            ""
            if single and not step_mode
            else (
                f" (band {format_yuan(lo)}–{'∞' if hi >= INFINITY else format_yuan(hi)} of {axis}"
                f"{'; step: the whole stretch at this band' if step_mode else ''})"
            )
        )
        steps.append(
            Step(
                "ratio",
                title,
                f"{format_yuan(base)} × {Ratio(int(rates[b]))}{span}",
                base=Fen(base),
                rate=Ratio(int(rates[b])),
                **cited(cite),
            )
        )
    return steps
