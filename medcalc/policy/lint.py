"""Semantic checks of a loaded policy: things that load but are probably wrong.

Strict loading already refuses what is invalid (unknown keys, ratios outside [0 %, 100 %],
unsorted bands, values without a source, …). These lints warn about what is valid but
suspicious; each message names the rule version and the day it applies.
"""

from __future__ import annotations

from ..money import RATIO_ONE, Ratio, format_yuan
from .model import ByLevel, Policy, RuleVersion

__all__ = ["lint"]


def _ref(rule: RuleVersion) -> str:
    return f"{rule.file}: {rule.key}[{rule.index}]"


def _rising(rule: RuleVersion, table: ByLevel, levels: list[str]) -> str | None:
    """Ratios should fall (or stay) as levels rise: levels are declared from lowest to highest."""
    known = [(lv, table.get(lv)) for lv in levels if table.get(lv) is not None]
    for (low, a), (high, b) in zip(known, known[1:]):
        if b > a:
            return (f"{_ref(rule)}: ratio rises from {low} ({Ratio(a)}) to {high} ({Ratio(b)}); levels are declared "
                    f"from lowest to highest and ratios usually fall as the level rises")
    return None


def lint(policy: Policy) -> list[str]:
    """Warnings for every day on which the rules in force change, each reported once."""
    levels = list(policy.levels)
    found: list[str] = []

    def warn(message: str | None) -> None:
        if message and message not in found:
            found.append(message)

    for day in policy.change_days():
        rules = policy.at(day)
        ratio = rules.rule("inpatient.ratio")
        deductible = rules.rule("inpatient.deductible")
        annual = rules.rule("inpatient.cap")
        if ratio is not None and ratio.get("ratio") is not None:
            warn(_rising(ratio, ratio["ratio"], levels))
        if ratio is not None:
            tables = [ratio["ratio"]] if ratio.get("ratio") is not None else [b.ratio for b in ratio["bands"]]
            highest = max(v for t in tables for v in ([t.default] if t.default is not None else t.values.values()))
            boosts = [m for m in rules.named("inpatient.modifier") if (m.get("ratio_points") or 0) > 0]
            stacked = highest + sum(m["ratio_points"] for m in boosts)
            if boosts and stacked > RATIO_ONE:
                warn(f"{_ref(ratio)}: with {', '.join(m.key for m in boosts)} the ratio can reach "
                     f"{stacked / 100:g}% and is clamped to 100%")
        if deductible is not None and annual is not None and annual.get("fund") is not None:
            tables = deductible["by_admission"] or (deductible["amount"],)
            largest = max(v for t in tables for v in ([t.default] if t.default is not None else t.values.values()))
            if largest > annual["fund"]:
                warn(f"{_ref(deductible)}: a deductible of {format_yuan(largest)} is above the annual fund cap "
                     f"{format_yuan(annual['fund'])} ({_ref(annual)})")
        threshold, cap = rules.rule("critical.threshold"), rules.rule("critical.cap")
        if threshold is not None and cap is not None and threshold["amount"] > cap["amount"]:
            warn(f"{_ref(threshold)}: the 大病 threshold {format_yuan(threshold['amount'])} is above its annual cap "
                 f"{format_yuan(cap['amount'])}")
    return found
