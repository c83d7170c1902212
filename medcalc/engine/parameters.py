"""Per-row parameters of the basic inpatient layer, looked up from the rules in force.

Everything here depends only on the claim and the rule versions, never on the
person's accumulators, so it is computed for all rows at once. The stateful part
(deductible schedule by admission count, yearly caps, cumulative segments) happens
round by round in ``inpatient.py`` using the tables built here.
"""

from __future__ import annotations

from math import gcd

import attrs
import numpy as np

from ..money import RATIO_ONE, round_half_up
from ..policy.model import CATEGORIES, PLACES, REFERRALS, Condition, ResolvedPolicy, RuleVersion

__all__ = ["BandTable", "RowParameters", "build_parameters", "NO_LIMIT", "REQUIRED_RULES"]

#: Stands for "no limit" in int64 columns (larger than any amount of fen).
NO_LIMIT = np.int64(1) << 60

#: Rules without which an inpatient claim cannot be settled.
REQUIRED_RULES = ("inpatient.deductible", "inpatient.ratio")


@attrs.define
class BandTable:
    """Distinct ratio schedules: edges (S, B+1) in fen on the axis, rates (S, L, B), flags."""

    edges: np.ndarray
    rates: np.ndarray
    step: np.ndarray  # bool (S,)
    basis_in_scope: np.ndarray  # bool (S,): axis is cumulative in-scope cost (else above-deductible)
    sources: list[tuple[RuleVersion, RuleVersion | None]]  # (ratio rule, place rule overriding it)


@attrs.define
class RowParameters:
    """Columns of parameters, one entry per claim row (all int64 unless noted)."""

    band: np.ndarray  # index into BandTable
    schedule: np.ndarray  # index into the deductible schedule table, -1 when a fixed deductible applies
    fixed_deductible: np.ndarray
    deductible_num: np.ndarray  # fraction applied to the deductible (groups, multiples)
    deductible_den: np.ndarray
    later_from: np.ndarray  # admission number from which later_fraction applies; 0 = never
    later_fraction: np.ndarray
    deductible_cap: np.ndarray  # yearly total of deductibles; NO_LIMIT = none
    points: np.ndarray  # ratio points added to every band
    floor: np.ndarray  # minimum fund share of in-scope cost; 0 = none
    fund_cap: np.ndarray
    cost_cap: np.ndarray
    place_rule: np.ndarray  # index into place_rules, -1 = none
    modifier_mask: np.ndarray  # bit set of modifiers applied (index into modifiers)


@attrs.define
class Tables:
    """Everything the round kernel looks up, plus what explanations need to cite."""

    bands: BandTable
    schedules: np.ndarray  # (D, A, L) fen
    schedule_rules: list[RuleVersion]
    place_rules: list[RuleVersion]
    modifiers: list[RuleVersion]


def _matches(cond: Condition, cols: dict[str, np.ndarray], level_codes: list[str]) -> np.ndarray:
    n = len(cols["place"])
    mask = np.ones(n, dtype=bool)
    if cond.places:
        mask &= np.isin(cols["place"], [PLACES.index(p) for p in cond.places])
    if cond.referrals:
        mask &= np.isin(cols["referral"], [REFERRALS.index(r) for r in cond.referrals])
    if cond.levels:
        mask &= np.isin(cols["level"], [level_codes.index(lv) for lv in cond.levels if lv in level_codes])
    if cond.categories:
        mask &= np.isin(cols["category"], [CATEGORIES.index(c) for c in cond.categories])
    age = cols["age"]
    if cond.age_under is not None:
        mask &= (age >= 0) & (age < cond.age_under)
    if cond.age_at_least is not None:
        mask &= age >= cond.age_at_least
    if cond.retired is not None:
        mask &= cols["retired"] == cond.retired
    return mask


def _level_array(table, level_codes: list[str]) -> np.ndarray:
    """A ByLevel as an array over level codes; -1 where the table has no value."""
    return np.array([(-1 if table.get(lv) is None else table.get(lv)) for lv in level_codes], dtype=np.int64)


class _Builder:
    def __init__(self, level_codes: list[str]) -> None:
        self.levels = level_codes
        self.band_keys: dict[tuple[int, int], int] = {}
        self.band_rows: list[tuple[list[int | None], np.ndarray, bool, bool]] = []
        self.band_sources: list[tuple[RuleVersion, RuleVersion | None]] = []
        self.schedule_keys: dict[int, int] = {}
        self.schedule_rows: list[np.ndarray] = []
        self.schedule_rules: list[RuleVersion] = []
        self.place_rules: list[RuleVersion] = []
        self.place_keys: dict[int, int] = {}
        self.modifiers: list[RuleVersion] = []
        self.modifier_keys: dict[int, int] = {}

    def band(self, ratio: RuleVersion, place: RuleVersion | None) -> int:
        key = (id(ratio), id(place) if place is not None and place.get("ratio") is not None else 0)
        if key not in self.band_keys:
            L = len(self.levels)
            if key[1]:
                uppers: list[int | None] = [None]
                rates = _level_array(place["ratio"], self.levels).reshape(L, 1)
                step, basis_in = False, True
                overriding = place
            elif ratio.get("bands") is not None:
                bands = ratio["bands"]
                uppers = [b.upper for b in bands]
                rates = np.stack([_level_array(b.ratio, self.levels) for b in bands], axis=1)
                step, basis_in = ratio["segments"] == "step", ratio["basis"] == "in_scope"
                overriding = None
            else:
                uppers = [None]
                rates = _level_array(ratio["ratio"], self.levels).reshape(L, 1)
                step, basis_in = False, True
                overriding = None
            self.band_keys[key] = len(self.band_rows)
            self.band_rows.append((uppers, rates, step, basis_in))
            self.band_sources.append((ratio, overriding))
        return self.band_keys[key]

    def schedule(self, rule: RuleVersion) -> int:
        if id(rule) not in self.schedule_keys:
            tables = rule["by_admission"] if rule.get("by_admission") is not None else (rule["amount"],)
            self.schedule_keys[id(rule)] = len(self.schedule_rows)
            self.schedule_rows.append(np.stack([_level_array(t, self.levels) for t in tables]))
            self.schedule_rules.append(rule)
        return self.schedule_keys[id(rule)]

    def index(self, rule: RuleVersion, rules: list, keys: dict) -> int:
        if id(rule) not in keys:
            keys[id(rule)] = len(rules)
            rules.append(rule)
        return keys[id(rule)]

    def tables(self) -> Tables:
        S = max(1, len(self.band_rows))
        B = max([len(r[0]) for r in self.band_rows] or [1])
        L = len(self.levels)
        edges = np.full((S, B + 1), NO_LIMIT, dtype=np.int64)
        rates = np.zeros((S, L, B), dtype=np.int64)
        step = np.zeros(S, dtype=bool)
        basis = np.ones(S, dtype=bool)
        for s, (uppers, r, st, bi) in enumerate(self.band_rows):
            edges[s, 0] = 0
            for b, upper in enumerate(uppers):
                edges[s, b + 1] = NO_LIMIT if upper is None else upper
            rates[s, :, : r.shape[1]] = r
            step[s], basis[s] = st, bi
        A = max([s.shape[0] for s in self.schedule_rows] or [1])
        schedules = np.zeros((max(1, len(self.schedule_rows)), A, L), dtype=np.int64)
        for d, table in enumerate(self.schedule_rows):
            schedules[d, : table.shape[0]] = table
            schedules[d, table.shape[0] :] = table[-1]  # the last entry repeats for later admissions
        return Tables(
            BandTable(edges, rates, step, basis, self.band_sources),
            schedules,
            self.schedule_rules,
            self.place_rules,
            self.modifiers,
        )


def build_parameters(
    variants: list[ResolvedPolicy],
    variant: np.ndarray,
    cols: dict[str, np.ndarray],
    level_codes: list[str],
) -> tuple[RowParameters, Tables, list[tuple[np.ndarray, str, str]]]:
    """Parameters for every row; rows that cannot be settled come back as (mask, field, reason)."""
    n = len(variant)
    p = RowParameters(
        band=np.zeros(n, np.int64),
        schedule=np.full(n, -1, np.int64),
        fixed_deductible=np.zeros(n, np.int64),
        deductible_num=np.ones(n, np.int64),
        deductible_den=np.ones(n, np.int64),
        later_from=np.zeros(n, np.int64),
        later_fraction=np.full(n, RATIO_ONE, np.int64),
        deductible_cap=np.full(n, NO_LIMIT, np.int64),
        points=np.zeros(n, np.int64),
        floor=np.zeros(n, np.int64),
        fund_cap=np.full(n, NO_LIMIT, np.int64),
        cost_cap=np.full(n, NO_LIMIT, np.int64),
        place_rule=np.full(n, -1, np.int64),
        modifier_mask=np.zeros(n, np.int64),
    )
    builder = _Builder(level_codes)
    problems: list[tuple[np.ndarray, str, str]] = []
    level = cols["level"]
    for v, resolved in enumerate(variants):
        rows = np.flatnonzero(variant == v)
        if len(rows) == 0:
            continue
        sub = {k: a[rows] for k, a in cols.items()}
        _fill_variant(builder, resolved, rows, sub, level[rows], p, problems, level_codes)
    return p, builder.tables(), problems


def _fill_variant(builder, resolved, rows, sub, level, p, problems, level_codes) -> None:
    deductible = resolved.rule("inpatient.deductible")
    ratio = resolved.rule("inpatient.ratio")
    later = resolved.rule("inpatient.deductible_later")
    cap = resolved.rule("inpatient.deductible_cap")
    annual = resolved.rule("inpatient.cap")
    if later is not None:
        p.later_from[rows] = later["from_admission"]
        p.later_fraction[rows] = later["fraction"]
    if cap is not None:
        p.deductible_cap[rows] = cap["yearly"]
    if annual is not None:
        if annual.get("fund") is not None:
            p.fund_cap[rows] = annual["fund"]
        else:
            p.cost_cap[rows] = annual["cost"]

    schedule = builder.schedule(deductible)
    p.schedule[rows] = schedule
    missing = builder.schedule_rows[schedule][0][level] < 0
    if missing.any():
        problems.append((rows[missing], "level", f"rule {deductible.key} in force has no deductible for this level"))

    # Place rules: at most one may apply to a claim.
    chosen = np.full(len(rows), -1, np.int64)
    for rule in resolved.named("inpatient.place"):
        hit = _matches(rule["when"], sub, level_codes)
        clash = hit & (chosen >= 0)
        if clash.any():
            problems.append((rows[clash], "place", f"more than one place rule applies ({rule.key} and another); the policy is ambiguous"))
        chosen[hit & (chosen < 0)] = builder.index(rule, builder.place_rules, builder.place_keys)
    p.place_rule[rows] = chosen
    # Care outside the insured area is settled only by a place rule: never silently on the local table.
    unmatched = (sub["place"] != PLACES.index("local")) & (chosen < 0)
    if unmatched.any():
        problems.append((rows[unmatched], "place",
                         "no place rule of the policy applies to care outside the insured area with this referral status"))

    band_default = builder.band(ratio, None)
    p.band[rows] = band_default
    fraction_num = np.ones(len(rows), dtype=object)
    fraction_den = np.ones(len(rows), dtype=object)
    totals = sub["total"]
    for index in np.unique(chosen[chosen >= 0]):
        rule = builder.place_rules[index]
        hit = chosen == index
        where = rows[hit]
        if rule.get("ratio") is not None:
            band = builder.band(ratio, rule)
            p.band[where] = band
            lacking = builder.band_rows[band][1][level[hit], 0] < 0
            if lacking.any():
                problems.append((where[lacking], "level", f"place rule {rule.key} has no ratio for this level"))
        if rule.get("ratio_points") is not None:
            p.points[where] += rule["ratio_points"]
        if rule.get("floor") is not None:
            p.floor[where] = rule["floor"]
        if rule.get("deductible") is not None:
            amounts = _level_array(rule["deductible"], level_codes)[level[hit]]
            if (amounts < 0).any():
                problems.append((where[amounts < 0], "level", f"place rule {rule.key} has no deductible for this level"))
            p.schedule[where] = -1
            p.fixed_deductible[where] = np.maximum(amounts, 0)
        elif rule.get("deductible_multiple") is not None:
            fraction_num[hit] *= rule["deductible_multiple"]
            fraction_den[hit] *= RATIO_ONE
        elif rule.get("deductible_share") is not None:
            share = rule["deductible_share"]
            amounts = np.array([round_half_up(int(t) * share.share, RATIO_ONE) for t in totals[hit]], dtype=np.int64)
            amounts = np.maximum(amounts, share.floor)
            if share.ceiling is not None:
                amounts = np.minimum(amounts, share.ceiling)
            p.schedule[where] = -1
            p.fixed_deductible[where] = amounts

    bits = np.zeros(len(rows), np.int64)
    for rule in resolved.named("inpatient.modifier"):
        hit = _matches(rule["when"], sub, level_codes)
        if not hit.any():
            continue
        bits[hit] |= 1 << builder.index(rule, builder.modifiers, builder.modifier_keys)
        if rule.get("ratio_points") is not None:
            p.points[rows[hit]] += rule["ratio_points"]
        if rule.get("deductible_fraction") is not None:
            fraction_num[hit] *= rule["deductible_fraction"]
            fraction_den[hit] *= RATIO_ONE
    p.modifier_mask[rows] = bits
    for i in range(len(rows)):
        num, den = int(fraction_num[i]), int(fraction_den[i])
        g = gcd(num, den) or 1
        p.deductible_num[rows[i]] = num // g
        p.deductible_den[rows[i]] = den // g
