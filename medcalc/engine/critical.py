"""Layer 2, 大病保险 (residents) or 大额医疗费用补助 (employees): on the year's qualifying self-pay.

The policy declares which residual self-pay qualifies (deductible, co-insurance, cost above
the basic cap, 乙类先行自付), an annual threshold, bands in one of two conventions, and an
annual cap. The year's base accumulates claim by claim ("累计计算、分段报销、按次结算"): each
claim pays, at its own level's band rates, for the stretch of the cumulative base it adds.

- convention "cumulative" (A): band bounds are positions on the cumulative base itself; only
  the part above the threshold is paid (the threshold lies inside band 1);
- convention "above_threshold" (B): band bounds are measured from the threshold.
"""

from __future__ import annotations

import attrs
import numpy as np

from ..money import RATIO_ONE
from ..policy.model import ResolvedPolicy, RuleVersion
from .common import (
    GIVEN_BASE,
    GIVEN_BASIC,
    GIVEN_CRITICAL,
    NO_LIMIT,
    BandSet,
    Gathered,
    LayerBuild,
    RuleIndex,
    choose_one,
    half_up,
    matches,
)

__all__ = ["CriticalTables", "build"]


_BASE_PARTS = ("deductible", "coinsurance", "above_cap", "pre_self_pay")


@attrs.define
class CriticalTables:
    edges: np.ndarray
    rates: np.ndarray
    band_sources: list[tuple[RuleVersion, ...]]
    place_rules: list[RuleVersion]
    modifiers: list[RuleVersion]


def build(
    variants: list[ResolvedPolicy], variant: np.ndarray, cols: dict[str, np.ndarray], level_codes: list[str]
) -> LayerBuild:
    n = len(variant)
    p = {
        name: np.zeros(n, np.int64)
        for name in (
            "active",
            "base_deductible",
            "base_coinsurance",
            "base_above_cap",
            "base_pre_self_pay",
            "threshold",
            "above_threshold",
            "band",
            "points",
            "place_rule",
            "modifier_mask",
            "cumulative",
        )
    }
    p["cap"] = np.full(n, NO_LIMIT, np.int64)
    p["place_rule"][:] = -1
    bands = BandSet(level_codes)
    places, modifiers = RuleIndex(), RuleIndex()
    problems: list[tuple[np.ndarray, str, str]] = []
    for v, resolved in enumerate(variants):
        band_rule = resolved.rule("critical.bands")
        if band_rule is None:
            continue  # no second layer on these days
        rows = np.flatnonzero(variant == v)
        if not len(rows):
            continue
        sub = Gathered(cols, None if len(rows) == len(variant) else rows)
        level = sub["level"]
        base = resolved.rule("critical.base")
        # admissions always qualify; an outpatient service only if the base names it
        counted = [i for i, name in enumerate(level_codes.services) if name in (base.get("services") or ())]
        p["active"][rows] = np.where((sub["visit"] == 0) | np.isin(sub["service"], counted), 1, 0)
        for part in _BASE_PARTS:
            p[f"base_{part}"][rows] = int(base[part])
        if len({bool(base[part]) for part in _BASE_PARTS[:3]}) > 1:
            # a basic payment given leaves the self-pay unsplit: a base of only some parts needs the base itself
            unsplit = (sub["given"] & (GIVEN_BASIC | GIVEN_BASE) == GIVEN_BASIC) & (p["active"][rows] == 1)
            if unsplit.any():
                counted = ", ".join(part for part in _BASE_PARTS[:3] if base[part])
                problems.append(
                    (
                        rows[unsplit],
                        "basic_paid",
                        f"with basic_paid given the self-pay is not split into deductible, co-insurance and cost "
                        f"above the cap, and the 大病 base of {base.key} counts only {counted or 'none of them'}: "
                        f"give critical_base (the claim's qualifying self-pay) too",
                    )
                )
        p["above_threshold"][rows] = int(band_rule["convention"] == "above_threshold")
        p["cumulative"][rows] = int(band_rule.get("rounding") == "cumulative")
        cap = resolved.rule("critical.cap")
        if cap is not None:
            p["cap"][rows] = cap["amount"]
        uppers = [b.upper for b in band_rule["bands"]]
        default_band = bands.add((id(band_rule), 0), uppers, [b.ratio for b in band_rule["bands"]], (band_rule,))
        p["band"][rows] = default_band
        lacking = bands.missing_level(default_band, level)

        chosen = choose_one(
            resolved.named("critical.place"), rows, sub, level_codes, places, problems, "place", "大病 place"
        )
        p["place_rule"][rows] = chosen
        for index in np.unique(chosen[chosen >= 0]):
            rule = places.rules[index]
            hit = chosen == index
            if rule.get("ratio") is not None:
                # one ratio for the whole stretch, replacing the bands' ratios (bounds kept)
                band = bands.add((id(band_rule), id(rule)), uppers, [rule["ratio"]] * len(uppers), (band_rule, rule))
                p["band"][rows[hit]] = band
                lacking[hit] = bands.missing_level(band, level[hit])
            else:
                p["points"][rows[hit]] += rule["ratio_points"]
        if lacking.any():
            problems.append((rows[lacking], "level", "the 大病 bands in force have no ratio for this level"))

        threshold_num = np.full(len(rows), resolved.rule("critical.threshold")["amount"], np.int64)
        threshold_den = np.ones(len(rows), np.int64)
        bits = np.zeros(len(rows), np.int64)
        for rule in resolved.named("critical.modifier"):
            hit = matches(rule["when"], sub, level_codes)
            if not hit.any():
                continue
            bits[hit] |= 1 << modifiers(rule)
            if rule.get("threshold_fraction") is not None:
                threshold_num[hit] *= rule["threshold_fraction"]
                threshold_den[hit] *= RATIO_ONE
            if rule.get("ratio_points") is not None:
                p["points"][rows[hit]] += rule["ratio_points"]
            if rule.get("uncapped"):
                p["cap"][rows[hit]] = NO_LIMIT
        p["threshold"][rows] = half_up(threshold_num, threshold_den)
        p["modifier_mask"][rows] = bits
    given = cols["given"] & GIVEN_CRITICAL != 0
    if given.any():  # a claim that gives the layer's payment is not refused for the layer's rules
        problems = [(rows[~given[rows]], field, reason) for rows, field, reason in problems if not given[rows].all()]
    edges, rates = bands.arrays()
    return LayerBuild(p, CriticalTables(edges, rates, bands.sources, places.rules, modifiers.rules), problems)
