"""Plain-text descriptions of rule values, for `policy show`, `policy diff` and lints."""

from __future__ import annotations

from typing import Any

from .money import Ratio, format_yuan
from .policy.model import Band, ByLevel, Condition, DeductibleShare, RuleVersion

__all__ = ["describe", "describe_rule"]

_RATIOS = {"ratio", "fraction", "floor", "threshold_fraction", "deductible_fraction"}
_POINTS = {"ratio_points"}
_COUNTS = {"from_admission", "year"}


def _one(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if name in _RATIOS:
        return str(Ratio(value))
    if name in _POINTS:
        return f"{value / 100:+g} points"
    if name in _COUNTS:
        return str(value)
    if name == "deductible_multiple":
        return f"× {value / 10000:g}"
    if isinstance(value, str):
        return value
    return format_yuan(value)


def describe(name: str, value: Any) -> str:
    """One parameter of a rule version as text: amounts in yuan, ratios in %, points signed."""
    if value is None:
        return "—"
    if isinstance(value, ByLevel):
        if value.default is not None and not value.values:
            return _one(name, value.default)
        return ", ".join(f"{level} {_one(name, v)}" for level, v in value.values.items())
    if isinstance(value, Condition):
        parts = []
        for label, items in (("place", value.places), ("referral", value.referrals), ("level", value.levels),
                             ("category", value.categories)):
            if items:
                parts.append(f"{label} in {', '.join(sorted(items))}")
        if value.age_under is not None:
            parts.append(f"age under {value.age_under}")
        if value.age_at_least is not None:
            parts.append(f"age at least {value.age_at_least}")
        if value.retired is not None:
            parts.append("retired" if value.retired else "not retired")
        for label, items in (("visit", value.visits), ("service", value.services)):
            if items:
                parts.append(f"{label} in {', '.join(sorted(items))}")
        return "; ".join(parts) or "every claim"
    if isinstance(value, DeductibleShare):
        text = f"{Ratio(value.share)} of the total, at least {format_yuan(value.floor)}"
        return text + (f", at most {format_yuan(value.ceiling)}" if value.ceiling is not None else "")
    if isinstance(value, frozenset) or (isinstance(value, tuple) and all(isinstance(v, str) for v in value)):
        return ", ".join(sorted(value)) if isinstance(value, frozenset) else ", ".join(value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {_one(name, v)}" for k, v in value.items())
    if isinstance(value, tuple) and value and isinstance(value[0], Band):
        return "; ".join(f"{'to ' + format_yuan(b.upper) if b.upper is not None else 'above'}: {describe('ratio', b.ratio)}"
                         for b in value)
    if isinstance(value, tuple):
        return " | ".join(f"#{i + 1}: {describe(name, v)}" for i, v in enumerate(value))
    return _one(name, value)


def describe_rule(rule: RuleVersion) -> dict[str, str]:
    """Every set parameter of a rule version, described."""
    values = {name: describe(name, value) for name, value in rule.params.items() if value is not None}
    for use in rule.wage:  # amounts derived from the reference wage in force: say how
        wage = use.wage
        values[f"{use.path} (from the wage)"] = (f"{use.term.words()} 社平工资 {format_yuan(wage['amount'])} "
                                                 f"(reference.wage[{wage.index}]) = {format_yuan(use.amount)}")
    return values
