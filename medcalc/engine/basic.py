"""Layer 1, 基本医保: the basic-insurance inpatient payment.

``build`` looks up, for every row at once, what depends only on the claim and the rules
in force (the level's deductible schedule, place rule, modifiers, band schedule, caps).
The stateful part (admission count, yearly deductible total, cumulative segments,
annual cap) is the kernel's ``basic`` (``medcalc.engine.kernel``).
"""

from __future__ import annotations

import attrs
import numpy as np

from ..money import RATIO_ONE
from ..policy.model import ADMISSION_RULES, PLACES, ResolvedPolicy, RuleVersion
from .common import GIVEN_BASIC, NO_LIMIT, BandSet, Gathered, LayerBuild, RuleIndex, choose_one, level_array, matches
from .kernel import SCHEDULE_FIXED, SCHEDULE_SHARE

__all__ = ["REQUIRED_RULES", "BasicTables", "build"]

#: Rules without which an inpatient claim cannot be settled.
REQUIRED_RULES = ADMISSION_RULES


@attrs.define
class BasicTables:
    """Lookups for the kernel, and the rules explanations cite."""

    edges: np.ndarray  # (S, B+1)
    rates: np.ndarray  # (S, L, B)
    step: np.ndarray  # (S,) bool
    basis_in_scope: np.ndarray  # (S,) bool: axis is cumulative in-scope cost (else above-deductible)
    band_sources: list[tuple[RuleVersion, ...]]  # (ratio rule[, place rule overriding it])
    schedules: np.ndarray  # (D, A, L) fen; the last admission entry repeats
    schedule_rules: list[RuleVersion]
    place_rules: list[RuleVersion]
    modifiers: list[RuleVersion]


class _Builder:
    def __init__(self, level_codes: list[str]) -> None:
        self.levels = level_codes
        self.bands = BandSet(level_codes)
        self.flags: list[tuple[bool, bool]] = []
        self.schedule_rows: list[np.ndarray] = []
        self.schedules = RuleIndex()
        self.places = RuleIndex()
        self.modifiers = RuleIndex()

    def band(self, ratio: RuleVersion, place: RuleVersion | None) -> int:
        before = len(self.bands.rows)
        if place is not None:
            index = self.bands.add((id(ratio), id(place)), [None], [place["ratio"]], (ratio, place))
            flags = (False, True)
        elif ratio.get("bands") is not None:
            bands = ratio["bands"]
            index = self.bands.add((id(ratio), 0), [b.upper for b in bands], [b.ratio for b in bands], (ratio,))
            flags = (ratio["segments"] == "step", ratio["basis"] == "in_scope")
        else:
            index = self.bands.add((id(ratio), 0), [None], [ratio["ratio"]], (ratio,))
            flags = (False, True)
        if len(self.bands.rows) > before:
            self.flags.append(flags)
        return index

    def schedule(self, rule: RuleVersion) -> int:
        index = self.schedules(rule)
        if index == len(self.schedule_rows):
            tables = rule["by_admission"] if rule.get("by_admission") is not None else (rule["amount"],)
            self.schedule_rows.append(np.stack([level_array(t, self.levels) for t in tables]))
        return index

    def tables(self) -> BasicTables:
        edges, rates = self.bands.arrays()
        flags = np.array(self.flags or [(False, True)], dtype=bool).reshape(-1, 2)
        A = max([s.shape[0] for s in self.schedule_rows] or [1])
        schedules = np.zeros((max(1, len(self.schedule_rows)), A, len(self.levels)), dtype=np.int64)
        for d, table in enumerate(self.schedule_rows):
            schedules[d, : table.shape[0]] = table
            schedules[d, table.shape[0] :] = table[-1]  # the last entry repeats for later admissions
        return BasicTables(
            edges,
            rates,
            flags[:, 0],
            flags[:, 1],
            self.bands.sources,
            schedules,
            self.schedules.rules,
            self.places.rules,
            self.modifiers.rules,
        )


def build(
    variants: list[ResolvedPolicy], variant: np.ndarray, cols: dict[str, np.ndarray], level_codes: list[str]
) -> LayerBuild:
    """Per-row parameters of the basic layer; rows it cannot settle come back as problems."""
    n = len(variant)
    p = {
        "band": np.zeros(n, np.int64),
        "schedule": np.full(n, SCHEDULE_FIXED, np.int64),  # or a schedule's index, or a share of the bill
        "fixed_deductible": np.zeros(n, np.int64),
        "share": np.zeros(n, np.int64),  # a deductible as a share of the bill (schedule -2), floor, ceiling
        "share_floor": np.zeros(n, np.int64),
        "share_ceiling": np.full(n, NO_LIMIT, np.int64),
        "deductible_num": np.ones(n, np.int64),  # fraction on the deductible (groups, multiples)
        "deductible_den": np.ones(n, np.int64),
        "later_from": np.zeros(n, np.int64),  # admission number from which later_fraction applies; 0 never
        "later_fraction": np.full(n, RATIO_ONE, np.int64),
        "later_compounding": np.zeros(n, np.int64),  # 1: of the previous admission's deductible
        "later_floor": np.zeros(n, np.int64),
        "deductible_cap": np.full(n, NO_LIMIT, np.int64),
        "points": np.zeros(n, np.int64),
        "floor": np.zeros(n, np.int64),
        "fund_cap": np.full(n, NO_LIMIT, np.int64),
        "cost_cap": np.full(n, NO_LIMIT, np.int64),
        "place_rule": np.full(n, -1, np.int64),
        "modifier_mask": np.zeros(n, np.int64),
        "cumulative": np.zeros(n, np.int64),  # 1: the ratio rule rounds on the year's running amount
    }
    builder = _Builder(level_codes)
    problems: list[tuple[np.ndarray, str, str]] = []
    # outpatient rows are the outpatient layer's; a claim that gives its basic payment needs no rule
    inpatient = (cols["visit"] == 0) & (cols["given"] & GIVEN_BASIC == 0)
    for v, resolved in enumerate(variants):
        rows = np.flatnonzero((variant == v) & inpatient)
        if len(rows):
            sub = Gathered(cols, None if len(rows) == len(variant) else rows)
            _fill(builder, resolved, rows, sub, p, problems)
    return LayerBuild(p, builder.tables(), problems)


def _fill(builder: _Builder, resolved: ResolvedPolicy, rows, sub, p, problems) -> None:
    level = sub["level"]
    deductible = resolved.rule("inpatient.deductible")
    ratio = resolved.rule("inpatient.ratio")
    later = resolved.rule("inpatient.deductible_later")
    cap = resolved.rule("inpatient.deductible_cap")
    annual = resolved.rule("inpatient.cap")
    if later is not None:
        p["later_from"][rows] = later["from_admission"]
        p["later_fraction"][rows] = later["fraction"]
        p["later_compounding"][rows] = int(bool(later.get("compounding")))
        p["later_floor"][rows] = later.get("floor") or 0
    if cap is not None:
        p["deductible_cap"][rows] = cap["yearly"]
    if annual is not None:
        if annual.get("fund") is not None:
            p["fund_cap"][rows] = annual["fund"]
        else:
            p["cost_cap"][rows] = annual["cost"]

    schedule = builder.schedule(deductible)
    p["schedule"][rows] = schedule
    missing = builder.schedule_rows[schedule][0][level] < 0
    if missing.any():
        problems.append((rows[missing], "level", f"rule {deductible.key} in force has no deductible for this level"))

    # Place rules: at most one may apply to a claim.
    chosen = choose_one(
        resolved.named("inpatient.place"), rows, sub, builder.levels, builder.places, problems, "place", "place"
    )
    p["place_rule"][rows] = chosen
    # Care outside the insured area is settled only by a place rule: never silently on the local table.
    unmatched = (sub["place"] != PLACES.index("local")) & (chosen < 0)
    if unmatched.any():
        problems.append(
            (
                rows[unmatched],
                "place",
                "no place rule of the policy applies to care outside the insured area with this referral status",
            )
        )

    p["band"][rows] = builder.band(ratio, None)
    p["cumulative"][rows] = int(ratio.get("rounding") == "cumulative")
    # Fractions on the deductible (multiples, groups) multiply exactly; reduced at the end.
    fraction_num = np.ones(len(rows), np.int64)
    fraction_den = np.ones(len(rows), np.int64)
    for index in sorted(set(chosen[chosen >= 0].tolist())):  # (a few profiles: no numpy sort)
        rule = builder.places.rules[index]
        hit = chosen == index
        where = rows[hit]
        if rule.get("ratio") is not None:
            band = builder.band(ratio, rule)
            p["band"][where] = band
            lacking = builder.bands.missing_level(band, level[hit])
            if lacking.any():
                problems.append((where[lacking], "level", f"place rule {rule.key} has no ratio for this level"))
        if rule.get("ratio_points") is not None:
            p["points"][where] += rule["ratio_points"]
        if rule.get("floor") is not None:
            p["floor"][where] = rule["floor"]
        if rule.get("deductible") is not None:
            amounts = level_array(rule["deductible"], builder.levels)[level[hit]]
            if (amounts < 0).any():
                problems.append(
                    (where[amounts < 0], "level", f"place rule {rule.key} has no deductible for this level")
                )
            p["schedule"][where] = -1
            p["fixed_deductible"][where] = np.maximum(amounts, 0)
        elif rule.get("deductible_multiple") is not None:
            fraction_num[hit] *= rule["deductible_multiple"]
            fraction_den[hit] *= RATIO_ONE
        elif rule.get("deductible_share") is not None:
            share = rule["deductible_share"]  # the kernel takes the share of each claim's bill
            p["schedule"][where] = SCHEDULE_SHARE
            p["share"][where] = share.share
            p["share_floor"][where] = share.floor
            p["share_ceiling"][where] = NO_LIMIT if share.ceiling is None else share.ceiling

    bits = np.zeros(len(rows), np.int64)
    for rule in resolved.named("inpatient.modifier"):
        hit = matches(rule["when"], sub, builder.levels)
        if rule.get("age_points") is not None:
            # a ratio that grows with age needs the age: a claim the rule would otherwise fit is refused without it
            ageless = matches(attrs.evolve(rule["when"], age_under=None, age_at_least=None), sub, builder.levels) & (
                sub["age"] < 0
            )
            if ageless.any():
                problems.append(
                    (rows[ageless], "age", f"modifier {rule.key} sets the ratio by age; the claim states no age")
                )
            hit &= sub["age"] >= 0
        if not hit.any():
            continue
        bits[hit] |= 1 << builder.modifiers(rule)
        if rule.get("ratio_points") is not None:
            p["points"][rows[hit]] += rule["ratio_points"]
        if rule.get("age_points") is not None:  # (ages are few: one lookup per distinct age)
            by_age = rule["age_points"].points
            ages = sub["age"][hit]
            p["points"][rows[hit]] += np.array([by_age(a) for a in ages.tolist()], np.int64)
        if rule.get("deductible_fraction") is not None:
            fraction_num[hit] *= rule["deductible_fraction"]
            fraction_den[hit] *= RATIO_ONE
    p["modifier_mask"][rows] = bits
    # Reduced, so the kernel's products (deductible x fraction x later fraction) stay small.
    common = np.maximum(np.gcd(fraction_num, fraction_den), 1)
    p["deductible_num"][rows] = fraction_num // common
    p["deductible_den"][rows] = fraction_den // common
