"""Plain-text descriptions of policies and rule values, for `policy list`, `show`, `diff`, lints
and the web API's /policies (so the CLI and the API report the same)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..money import Ratio, format_yuan
from .model import ADMISSION_RULES, Band, ByLevel, Condition, DeductibleShare, PeriodCap, Policy, RuleVersion

__all__ = ["describe", "describe_rule", "coverage", "policy_row", "rules_on"]

_RATIOS = {"ratio", "fraction", "fractions", "floor", "threshold_fraction", "deductible_fraction"}
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
        for label, items in (
            ("place", value.places),
            ("referral", value.referrals),
            ("level", value.levels),
            ("category", value.categories),
        ):
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
    if isinstance(value, PeriodCap):
        return f"at most {format_yuan(value.amount)} of in-scope cost counted a {value.per}"
    if isinstance(value, DeductibleShare):
        text = f"{Ratio(value.share)} of the total, at least {format_yuan(value.floor)}"
        return text + (f", at most {format_yuan(value.ceiling)}" if value.ceiling is not None else "")
    if isinstance(value, frozenset) or (isinstance(value, tuple) and all(isinstance(v, str) for v in value)):
        return ", ".join(sorted(value)) if isinstance(value, frozenset) else ", ".join(value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {_one(name, v)}" for k, v in value.items())
    if isinstance(value, tuple) and value and isinstance(value[0], Band):
        return "; ".join(
            f"{'to ' + format_yuan(b.upper) if b.upper is not None else 'above'}: {describe('ratio', b.ratio)}"
            for b in value
        )
    if isinstance(value, tuple):
        return " | ".join(f"#{i + 1}: {describe(name, v)}" for i, v in enumerate(value))
    return _one(name, value)


def describe_rule(rule: RuleVersion) -> dict[str, str]:
    """Every set parameter of a rule version, described."""
    values = {name: describe(name, value) for name, value in rule.params.items() if value is not None}
    for use in rule.wage:  # amounts derived from the reference wage in force: say how
        wage = use.wage
        values[f"{use.path} (from the wage)"] = (
            f"{use.term.words()} 社平工资 {format_yuan(wage['amount'])} "
            f"(reference.wage[{wage.index}]) = {format_yuan(use.amount)}"
        )
    return values


def coverage(policy: Policy) -> list[list[str | None]]:
    """The spans of days on which the policy settles admissions, as [since, until or None] text."""
    return [[a.isoformat(), b.isoformat() if b else None] for a, b in policy.coverage(ADMISSION_RULES)]


def policy_row(p: Policy) -> dict[str, Any]:
    """A policy as one row of ``medcalc policy list --json`` (and ``GET /policies``)."""
    return {
        "id": p.id,
        "region": p.region,
        "aliases": list(p.aliases),
        "scheme": p.scheme,
        "tier": p.tier,
        "extends": p.chain[1] if len(p.chain) > 1 else None,
        "covers": coverage(p),
        "levels": dict(p.levels),
        "file": p.file,
    }


def rules_on(policy: Policy, day: dt.date) -> list[dict[str, Any]]:
    """The rules in force on a day, each with its values and its source (``policy show --json``)."""
    out = []
    for key, rule in sorted(policy.at(day).rules.items()):
        c = rule.citation
        out.append(
            {
                "rule": key,
                "since": rule.since.isoformat(),
                "until": rule.until.isoformat() if rule.until else None,
                "values": describe_rule(rule),
                "file": rule.file,
                "source": None  # a version in force always cites one (only a disabled one may not)
                if c is None
                else {
                    "id": c.source.id,
                    "title": c.source.title,
                    "document": c.source.document,
                    "address": c.source.address,
                    "quote": c.quote,
                    "verified": c.verified,
                    "note": c.note,
                },
            }
        )
    return out
