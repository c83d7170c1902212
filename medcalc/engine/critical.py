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
from .common import Gathered, NO_LIMIT, BandSet, LayerBuild, RuleIndex, band_portions, choose_one, clamp_rates, half_up, matches

__all__ = ["STATE", "TRACE", "CriticalTables", "build", "settle"]

STATE = ("critical_base", "critical_paid")

TRACE = (
    "critical_part_deductible",
    "critical_part_coinsurance",
    "critical_part_above_cap",
    "critical_part_pre_self_pay",
    "critical_base_claim",  # this claim's qualifying self-pay
    "critical_base_before",
    "critical_threshold",
    "critical_low",  # the stretch paid, on the band axis
    "critical_high",
    "critical_raw",
    "critical_paid_before",
    "critical",
)

_BASE_PARTS = ("deductible", "coinsurance", "above_cap", "pre_self_pay")


@attrs.define
class CriticalTables:
    edges: np.ndarray
    rates: np.ndarray
    band_sources: list[tuple[RuleVersion, ...]]
    place_rules: list[RuleVersion]
    modifiers: list[RuleVersion]


def build(variants: list[ResolvedPolicy], variant: np.ndarray, cols: dict[str, np.ndarray], level_codes: list[str]) -> LayerBuild:
    n = len(variant)
    p = {name: np.zeros(n, np.int64) for name in (
        "active", "base_deductible", "base_coinsurance", "base_above_cap", "base_pre_self_pay",
        "threshold", "above_threshold", "band", "points", "place_rule", "modifier_mask")}
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
        p["above_threshold"][rows] = int(band_rule["convention"] == "above_threshold")
        cap = resolved.rule("critical.cap")
        if cap is not None:
            p["cap"][rows] = cap["amount"]
        uppers = [b.upper for b in band_rule["bands"]]
        default_band = bands.add((id(band_rule), 0), uppers, [b.ratio for b in band_rule["bands"]], (band_rule,))
        p["band"][rows] = default_band
        lacking = bands.missing_level(default_band, level)

        chosen = choose_one(resolved.named("critical.place"), rows, sub, level_codes, places, problems, "place", "大病 place")
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
    edges, rates = bands.arrays()
    return LayerBuild(p, CriticalTables(edges, rates, bands.sources, places.rules, modifiers.rules), problems,
                      idle=not p["active"].any())


def settle(rows: slice, cols, p, t: CriticalTables, state, out, bands_out) -> None:
    """Pay the second layer for one round, after the basic layer's columns are in ``out``."""
    n = rows.stop - rows.start
    g = slice(0, n)
    active = p["active"][rows] == 1
    payable = out["payable"][rows]
    above = out["above_cost_cap"][rows]
    raw, paid = out["basic_raw"][rows], out["basic"][rows]
    # Split what basic insurance left of the in-scope cost: deductible, co-insurance, and cost
    # above the basic cap (a cost ceiling, or the share of cost the annual fund cap cut off).
    covered = payable - above
    cut = np.where(raw > 0, half_up(covered * (raw - paid), np.maximum(raw, 1)), 0)
    cut = np.minimum(cut, np.maximum(covered - paid, 0))
    parts = {
        "deductible": out["deductible"][rows],
        "coinsurance": np.maximum(covered - cut - paid, 0),
        "above_cap": above + cut,
        "pre_self_pay": cols["pre_self_pay"][rows],
    }
    claim_base = np.zeros(n, np.int64)
    for name, amount in parts.items():
        amount = np.where(active, amount, 0)
        out[f"critical_part_{name}"][rows] = amount
        claim_base += amount * p[f"base_{name}"][rows]

    before = state["critical_base"][g].copy()
    after = before + claim_base
    threshold = p["threshold"][rows]
    shift = np.where(p["above_threshold"][rows] == 1, threshold, 0)
    low = np.maximum(before, threshold) - shift
    high = np.maximum(after, threshold) - shift
    b = p["band"][rows]
    rates = clamp_rates(t.rates[b, cols["level"][rows]], p["points"][rows])
    portions = band_portions(low, high, t.edges[b])
    exact = (portions * rates).sum(axis=1)
    layer_raw = np.where(active, half_up(exact, RATIO_ONE), 0)
    paid_before = state["critical_paid"][g].copy()
    pay = np.minimum(layer_raw, np.maximum(p["cap"][rows] - paid_before, 0))

    state["critical_base"][g] = after
    state["critical_paid"][g] += pay
    out["critical_base_claim"][rows] = claim_base
    out["critical_base_before"][rows] = before
    out["critical_threshold"][rows] = threshold
    out["critical_low"][rows] = low
    out["critical_high"][rows] = high
    out["critical_raw"][rows] = layer_raw
    out["critical_paid_before"][rows] = paid_before
    out["critical"][rows] = pay
    if bands_out is not None:
        width = portions.shape[1]
        bands_out["portions"][rows, :width] = portions
        bands_out["rates"][rows, :width] = rates
