"""Semantic checks of a loaded policy: things that load but are probably wrong.

Strict loading already refuses what is invalid (unknown keys, ratios outside [0 %, 100 %],
unsorted bands, values without a source, …). These lints warn about what is valid but
suspicious; each message names the rule version and the day it applies: a policy that settles no
admission on any day, two rules of a layer where only one may apply that can both match one
claim, ratios rising with the level, and more. ``services_covered`` lists the days each
outpatient service is in force (for ``policy check``).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence

from ..money import RATIO_ONE, Ratio, format_yuan
from .model import ADMISSION_RULES, CATEGORIES, PLACES, REFERRALS, ByLevel, Condition, Policy, RuleVersion

__all__ = ["lint", "services_covered", "ONE_MATCH"]

#: The rules an admission needs (engine.layers.basic.REQUIRED_RULES, repeated: the policy package does not
#: import the engine).
#: Named families of which at most one rule may apply to a claim (the engine rejects a claim two match).
ONE_MATCH = (
    "inpatient.place",
    "critical.place",
    "assistance.category",
    "assistance.again",
    "backstop.burden_cap",
    "backstop.pay_again",
)
_SERVICE = "outpatient.service."
#: The layers after basic insurance: a policy of only these settles claims that give basic_paid.
_LATER_LAYERS = ("critical", "assistance", "backstop")


def _ref(rule: RuleVersion) -> str:
    return f"{rule.file}: {rule.key}[{rule.index}]"


def _rising(rule: RuleVersion, table: ByLevel[int], levels: list[str]) -> str | None:
    """Ratios should fall (or stay) as levels rise: levels are declared from lowest to highest."""
    known = [(lv, ratio) for lv in levels if (ratio := table.get(lv)) is not None]
    for (low, a), (high, b) in zip(known, known[1:]):
        if b > a:
            return (
                f"{_ref(rule)}: ratio rises from {low} ({Ratio(a)}) to {high} ({Ratio(b)}); levels are declared "
                f"from lowest to highest and ratios usually fall as the level rises"
            )
    return None


def services_covered(policy: Policy) -> dict[str, list[tuple[dt.date, dt.date | None]]]:
    """Each outpatient service of the policy and the date spans it is in force (None: open-ended)."""
    names = sorted(k[len(_SERVICE) :] for k in policy.timelines if k.startswith(_SERVICE))
    return {name: policy.coverage((_SERVICE + name,)) for name in names}


def _both(a: frozenset[str], b: frozenset[str], universe) -> frozenset[str]:
    """The values both of two conditions' sets allow (an empty set allows any)."""
    return (a or frozenset(universe)) & (b or frozenset(universe))


#: Past this many raising modifiers, their largest set that can apply together is not searched
#: (2^n sets); all of them are taken as one, which can only warn more.
_MOST_SEARCHED = 12


def _highest_reach(ratio: RuleVersion, boosts: list[RuleVersion], policy: Policy) -> tuple[int, list] | None:
    """The highest ratio a claim can reach with raising modifiers, and those modifiers: at each level,
    its highest rate plus the points of the largest set of modifiers that fit that level and can all
    apply to one claim (each pair can: their conditions overlap). None without any modifier."""
    if not boosts:
        return None
    tables: Sequence[ByLevel[int]] = (
        [ratio["ratio"]] if ratio.get("ratio") is not None else [b.ratio for b in ratio["bands"]]
    )
    # which pairs can apply to one claim, asked once (the search below tries many sets of them)
    pairs = itertools.combinations(boosts, 2)
    meet = {(id(a), id(b)) for a, b in pairs if _overlap(a["when"], b["when"], policy) is not None}
    best: tuple[int, list] | None = None
    for level in policy.levels:
        rates = [rate for rate in (t.get(level) for t in tables) if rate is not None]
        if not rates:
            continue
        fits = [m for m in boosts if _points_at(m, level) > 0 and (not m["when"].levels or level in m["when"].levels)]
        together = _largest_together(fits, level, meet)
        reach = max(rates) + sum(_points_at(m, level) for m in together)
        if together and (best is None or reach > best[0]):
            best = (reach, together)
    return best


def _points_at(modifier: RuleVersion, level: str) -> int:
    """A modifier's ratio points at a level (0 where its table does not name the level)."""
    table = modifier.get("ratio_points")
    return 0 if table is None else (table.get(level) or 0)


def _raises(modifier: RuleVersion) -> bool:
    """Whether a modifier's ratio points raise the ratio at some level."""
    table = modifier.get("ratio_points")
    return table is not None and any(v > 0 for v in [*table.values.values(), table.default or 0])


def _largest_together(modifiers: list[RuleVersion], level: str, meet: set[tuple[int, int]]) -> list[RuleVersion]:
    """The set of ``modifiers`` with the most points at ``level`` of which every pair can apply to one
    claim (``meet``: the pairs, by id, in the order ``modifiers`` lists them)."""
    if len(modifiers) > _MOST_SEARCHED:
        return modifiers
    best: list[RuleVersion] = []
    for size in range(len(modifiers), 0, -1):
        for chosen in itertools.combinations(modifiers, size):
            if sum(_points_at(m, level) for m in chosen) <= sum(_points_at(m, level) for m in best):
                continue
            if all((id(a), id(b)) in meet for a, b in itertools.combinations(chosen, 2)):
                best = list(chosen)
    return best


def _overlap(a: Condition, b: Condition, policy: Policy) -> str | None:
    """A claim both conditions match, described by what they constrain; None when there is none."""
    parts = []
    places, referrals = _both(a.places, b.places, PLACES), _both(a.referrals, b.referrals, REFERRALS)
    # care outside the insured area always states a referral status (a claim there cannot have "none")
    if not places or not referrals or (places <= set(PLACES[1:]) and referrals == {"none"}):
        return None
    for label, mine, theirs, allowed in (
        ("place", a.places, b.places, places),
        ("referral", a.referrals, b.referrals, referrals),
    ):
        if mine or theirs:
            parts.append(f"{label} {', '.join(sorted(allowed))}")
    for label, mine, theirs, universe in (
        ("level", a.levels, b.levels, list(policy.levels) + list(policy.institutions)),
        ("category", a.categories, b.categories, CATEGORIES),
    ):
        allowed = _both(mine, theirs, universe)
        if not allowed:
            return None
        if mine or theirs:
            parts.append(f"{label} {', '.join(sorted(allowed))}")
    services = sorted(k[len(_SERVICE) :] for k in policy.timelines if k.startswith(_SERVICE))
    kinds = [("inpatient", None)] + [("outpatient", s) for s in services]
    fits = [
        (visit, service)
        for visit, service in kinds
        if all((not c.visits or visit in c.visits) and (not c.services or service in c.services) for c in (a, b))
    ]
    if not fits:
        return None
    if a.visits or b.visits or a.services or b.services:
        parts.append("visit " + ", ".join(v if s is None else f"{v} {s}" for v, s in fits))
    low = max(a.age_at_least or 0, b.age_at_least or 0)
    high = min(x for x in (a.age_under, b.age_under, 151) if x is not None)
    if low >= high:
        return None
    if any(x is not None for x in (a.age_at_least, b.age_at_least, a.age_under, b.age_under)):
        parts.append(f"age {low}" + ("" if high > 150 else f" to {high - 1}"))
    if a.retired is not None and b.retired is not None and a.retired != b.retired:
        return None
    if a.retired is not None or b.retired is not None:
        parts.append("retired" if (a.retired if a.retired is not None else b.retired) else "not retired")
    return "; ".join(parts) or "any claim"


def _period_cap_below_deductible(service: RuleVersion) -> str | None:
    """A cap on the cost counted per month / quarter that a year of such periods cannot take past the
    service's yearly deductible: the service would never pay."""
    limit = service.get("period_cost_cap")
    if limit is None:
        return None
    periods = 12 // limit.months
    table = service.get("deductible")
    largest = 0 if table is None else max([table.default] if table.default is not None else table.values.values())
    if periods * limit.amount > largest:
        return None
    return (
        f"{_ref(service)}: period_cost_cap counts at most {format_yuan(limit.amount)} a {limit.per}, "
        f"{format_yuan(periods * limit.amount)} a year, which the yearly deductible {format_yuan(largest)} "
        f"takes whole: the service never pays"
    )


def lint(policy: Policy) -> list[str]:
    """Warnings for every day on which the rules in force change, each reported once."""
    levels = list(policy.levels)
    found: list[str] = []

    def warn(message: str | None) -> None:
        if message and message not in found:
            found.append(message)

    later = sorted({k.split(".")[0] for k in policy.timelines if k.split(".")[0] in _LATER_LAYERS})
    if policy.levels and not policy.coverage(ADMISSION_RULES):
        absent = [k for k in ADMISSION_RULES if k not in policy.timelines]
        why = (
            f"it has no {' and no '.join(absent)}"
            if absent
            else "inpatient.deductible and inpatient.ratio are never in force on the same day"
        )
        if later:  # a 大病 or assistance office's policy: it settles on the platform's own basic payment
            warn(
                f"{policy.file}: the policy computes no basic payment of an admission on any day: {why}; it settles "
                f"only admissions that give basic_paid (what basic insurance paid, settled elsewhere), by its later "
                f"layers ({', '.join(later)})"
            )
        else:
            warn(
                f"{policy.file}: the policy settles no inpatient claim on any day: {why} (both are required for an "
                f"admission; an outpatient-only policy declares [institutions] and no [levels])"
            )
    if not policy.levels and not any(k.startswith(_SERVICE) for k in policy.timelines) and not later:
        warn(
            f"{policy.file}: the policy settles nothing: it declares no hospital level, no outpatient service and "
            f"no later layer (critical, assistance, backstop)"
        )
    if not policy.levels:
        inpatient = sorted(k for k in policy.timelines if k.startswith("inpatient."))
        if inpatient:
            warn(
                f"{policy.file}: {', '.join(inpatient)} can never apply: the policy declares no hospital level in "
                f"[levels], so it settles no admission"
            )
    seen: set[tuple[int, int]] = set()
    for day in policy.change_days():
        rules = policy.at(day)
        for family in ONE_MATCH:
            for a, b in itertools.combinations(rules.named(family), 2):
                if (id(a), id(b)) in seen:
                    continue
                witness = _overlap(a["when"], b["when"], policy)
                if witness is not None:
                    seen.add((id(a), id(b)))
                    warn(
                        f"{_ref(a)} and {_ref(b)} can both apply to one claim ({witness}) on {day}: at most one "
                        f"{family} rule may apply, and a claim both match is rejected as ambiguous"
                    )
        ratio = rules.rule("inpatient.ratio")
        deductible = rules.rule("inpatient.deductible")
        annual = rules.rule("inpatient.cap")
        if ratio is not None and ratio.get("ratio") is not None:
            warn(_rising(ratio, ratio["ratio"], levels))
        if ratio is not None:
            boosts = [m for m in rules.named("inpatient.modifier") if _raises(m)]
            reach = _highest_reach(ratio, boosts, policy)
            if reach is not None and reach[0] > RATIO_ONE:
                warn(
                    f"{_ref(ratio)}: with {', '.join(m.key for m in reach[1])} the ratio can reach "
                    f"{reach[0] / 100:g}% and is clamped to 100%"
                )
        if deductible is not None and annual is not None and annual.get("fund") is not None:
            tables = deductible["by_admission"] or (deductible["amount"],)
            largest = max(v for t in tables for v in ([t.default] if t.default is not None else t.values.values()))
            if largest > annual["fund"]:
                warn(
                    f"{_ref(deductible)}: a deductible of {format_yuan(largest)} is above the annual fund cap "
                    f"{format_yuan(annual['fund'])} ({_ref(annual)})"
                )
        for service in rules.named("outpatient.service"):
            warn(_period_cap_below_deductible(service))
        threshold, cap = rules.rule("critical.threshold"), rules.rule("critical.cap")
        if threshold is not None and cap is not None and threshold["amount"] > cap["amount"]:
            warn(
                f"{_ref(threshold)}: the 大病 threshold {format_yuan(threshold['amount'])} is above its annual cap "
                f"{format_yuan(cap['amount'])}"
            )
    return found
