"""Layer 2, 大病保险 (residents) or 大额医疗费用补助 (employees): on the year's qualifying self-pay.

The policy declares which residual self-pay qualifies (deductible, co-insurance, cost above
the basic cap, 乙类先行自付), an annual threshold, bands in one of two conventions, and an
annual cap. The year's base accumulates claim by claim ("累计计算、分段报销、按次结算"): each
claim pays, at its own level's band rates, for the stretch of the cumulative base it adds.

- convention "cumulative" (A): band bounds are positions on the cumulative base itself; only
  the part above the threshold is paid (the threshold lies inside band 1);
- convention "above_threshold" (B): band bounds are measured from the threshold.

Here: ``PARAMS`` (the parameter table), ``build`` (the policy's base, threshold, bands, place
rules, modifiers and cap per profile), ``settle_critical`` (the kernel function) and
``explain`` (the layer's steps, from ``TRACE``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import numpy as np

from ...money import RATIO_ONE, Fen, Ratio, format_yuan, round_half_up
from ...policy.model import ResolvedPolicy, RuleVersion
from ...settlement import Step
from ..arithmetic import NO_LIMIT, banded, rounded
from ..citing import applied, band_steps, cited, points_text, rounding, wage_steps
from ..common import (
    GIVEN_BASE,
    GIVEN_BASIC,
    GIVEN_CRITICAL,
    BandSet,
    Gathered,
    LayerBuild,
    RuleIndex,
    Vocabulary,
    choose_one,
    matches,
    parameter_columns,
    points_array,
)
from ..state import S_CRITICAL_BASE, S_CRITICAL_CARRY, S_CRITICAL_PAID

if TYPE_CHECKING:
    from ..outcome import Outcome

__all__ = ["PARAMS", "TRACE", "CriticalTables", "build", "settle_critical", "explain"]

# ----------------------------------------------------------------------------- parameters

#: The parameter table's columns, each with its value where no rule sets one.
PARAMS = {
    "active": 0,  # 1: the claim counts toward the layer (admissions; outpatient services the base names)
    "base_deductible": 0,  # 1: the deductible counts in the base; and so on for each part
    "base_coinsurance": 0,
    "base_above_cap": 0,
    "base_pre_self_pay": 0,
    "threshold": 0,  # the year's threshold (after modifiers' fractions)
    "above_threshold": 0,  # 1: band bounds measured from the threshold (convention B)
    "band": 0,
    "points": 0,
    "place_rule": -1,  # for explanations
    "modifier_mask": 0,  # for explanations
    "cap": NO_LIMIT,
    "cumulative": 0,  # 1: rounded on the year's running amount
}
#: Each parameter's column in the table.
PARAM_AT = {name: k for k, name in enumerate(PARAMS)}
ACTIVE = PARAM_AT["active"]
BASE_DEDUCTIBLE = PARAM_AT["base_deductible"]
BASE_COINSURANCE = PARAM_AT["base_coinsurance"]
BASE_ABOVE_CAP = PARAM_AT["base_above_cap"]
BASE_PRE_SELF_PAY = PARAM_AT["base_pre_self_pay"]
THRESHOLD = PARAM_AT["threshold"]
ABOVE_THRESHOLD = PARAM_AT["above_threshold"]
BAND = PARAM_AT["band"]
POINTS = PARAM_AT["points"]
CAP = PARAM_AT["cap"]
CUMULATIVE = PARAM_AT["cumulative"]

#: Intermediate amounts written when tracing (``tr[at + k]``).
TRACE = (
    "critical_part_deductible",  # the parts of the self-pay basic insurance left, counted or not
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
)
_T = {name: k for k, name in enumerate(TRACE)}
T_PART_DEDUCTIBLE = _T["critical_part_deductible"]
T_PART_COINSURANCE = _T["critical_part_coinsurance"]
T_PART_ABOVE_CAP = _T["critical_part_above_cap"]
T_PART_PRE_SELF_PAY = _T["critical_part_pre_self_pay"]
T_BASE_CLAIM = _T["critical_base_claim"]
T_BASE_BEFORE = _T["critical_base_before"]
T_THRESHOLD = _T["critical_threshold"]
T_LOW = _T["critical_low"]
T_HIGH = _T["critical_high"]
T_RAW = _T["critical_raw"]
T_PAID_BEFORE = _T["critical_paid_before"]

#: Its row of the band traces (``tb[BANDED_AS]``).
BANDED_AS = 1


# ----------------------------------------------------------------------------- build


_BASE_PARTS = ("deductible", "coinsurance", "above_cap", "pre_self_pay")


@attrs.define
class CriticalTables:
    edges: np.ndarray
    rates: np.ndarray
    band_sources: list[tuple[RuleVersion, ...]]
    place_rules: list[RuleVersion]
    modifiers: list[RuleVersion]


def build(
    variants: list[ResolvedPolicy], variant: np.ndarray, cols: dict[str, np.ndarray], level_codes: Vocabulary
) -> LayerBuild:
    n = len(variant)
    p = parameter_columns(PARAMS, n)
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
        base = resolved.required("critical.base")
        # admissions always qualify; an outpatient service only if the base names it
        counted = [i for i, name in enumerate(level_codes.services) if name in (base.get("services") or ())]
        p["active"][rows] = np.where((sub["visit"] == 0) | np.isin(sub["service"], counted), 1, 0)
        for part in _BASE_PARTS:
            p[f"base_{part}"][rows] = int(base[part])
        if len({bool(base[part]) for part in _BASE_PARTS[:3]}) > 1:
            # a basic payment given leaves the self-pay unsplit: a base of only some parts needs the base itself
            unsplit = (sub["given"] & (GIVEN_BASIC | GIVEN_BASE) == GIVEN_BASIC) & (p["active"][rows] == 1)
            if unsplit.any():
                parts = ", ".join(part for part in _BASE_PARTS[:3] if base[part])
                problems.append(
                    (
                        rows[unsplit],
                        "basic_paid",
                        f"with basic_paid given the self-pay is not split into deductible, co-insurance and cost "
                        f"above the cap, and the 大病 base of {base.key} counts only {parts or 'none of them'}: "
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
                p["points"][rows[hit]] += points_array(rule["ratio_points"], level_codes)[level[hit]]
        if lacking.any():
            problems.append((rows[lacking], "level", "the 大病 bands in force have no ratio for this level"))

        threshold_num = np.full(len(rows), resolved.required("critical.threshold")["amount"], np.int64)
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
                p["points"][rows[hit]] += points_array(rule["ratio_points"], level_codes)[level[hit]]
            if rule.get("uncapped"):
                p["cap"][rows[hit]] = NO_LIMIT
        p["threshold"][rows] = round_half_up(threshold_num, threshold_den)
        p["modifier_mask"][rows] = bits
    given = cols["given"] & GIVEN_CRITICAL != 0
    if given.any():  # a claim that gives the layer's payment is not refused for the layer's rules
        problems = [(rows[~given[rows]], field, reason) for rows, field, reason in problems if not given[rows].all()]
    edges, rates = bands.arrays()
    return LayerBuild(p, CriticalTables(edges, rates, bands.sources, places.rules, modifiers.rules), problems)


# ----------------------------------------------------------------------------- kernel


def settle_critical(
    i, p, par, st, level, pre_self_pay, deductible, payable, above, raw, paid, given_base, given_pay, edges, rates,
    trace, tr, at, tb,
):  # fmt: skip
    """大病保险 or 大额医疗费用补助 on the year's qualifying self-pay; returns what it pays. A claim may
    give its qualifying self-pay (``given_base``) or the layer's payment (``given_pay``): -1 if not."""
    active = par[p, ACTIVE] == 1
    # What basic insurance left of the in-scope cost: deductible, co-insurance, and cost above
    # the basic cap (a cost ceiling, or the share of cost the annual fund cap cut off).
    covered = payable - above
    cut = 0
    if raw > 0:
        cut = min(round_half_up(covered * (raw - paid), raw), max(covered - paid, 0))
    part_deductible = deductible
    part_coinsurance = max(covered - cut - paid, 0)
    part_above = above + cut
    part_pre = pre_self_pay
    if not active:
        part_deductible = part_coinsurance = part_above = part_pre = 0
    claim_base = (
        part_deductible * par[p, BASE_DEDUCTIBLE]
        + part_coinsurance * par[p, BASE_COINSURANCE]
        + part_above * par[p, BASE_ABOVE_CAP]
        + part_pre * par[p, BASE_PRE_SELF_PAY]
    )
    if given_base >= 0 and active:
        claim_base = given_base

    # The year's base accumulates; the claim pays for the stretch it adds above the threshold,
    # on bands of the base itself (convention A) or of the amount above the threshold (B).
    before = st[S_CRITICAL_BASE]
    after = before + claim_base
    threshold = par[p, THRESHOLD]
    shift = threshold if par[p, ABOVE_THRESHOLD] == 1 else 0
    low = max(before, threshold) - shift
    high = max(after, threshold) - shift
    exact, _ = banded(BANDED_AS, i, par[p, BAND], level, par[p, POINTS], low, high, edges, rates, trace, tb)
    paid_before = st[S_CRITICAL_PAID]
    if given_pay >= 0:  # paid as the claim says (settled elsewhere), whatever the policy's rules
        layer_raw = pay = given_pay
    else:
        layer_raw = rounded(exact, par[p, CUMULATIVE] == 1, st, S_CRITICAL_CARRY) if active else 0
        pay = min(layer_raw, max(par[p, CAP] - paid_before, 0))

    st[S_CRITICAL_BASE] = after
    st[S_CRITICAL_PAID] += pay
    if trace:
        tr[at + T_PART_DEDUCTIBLE, i] = part_deductible
        tr[at + T_PART_COINSURANCE, i] = part_coinsurance
        tr[at + T_PART_ABOVE_CAP, i] = part_above
        tr[at + T_PART_PRE_SELF_PAY, i] = part_pre
        tr[at + T_BASE_CLAIM, i] = claim_base
        tr[at + T_BASE_BEFORE, i] = before
        tr[at + T_THRESHOLD, i] = threshold
        tr[at + T_LOW, i] = low
        tr[at + T_HIGH, i] = high
        tr[at + T_RAW, i] = layer_raw
        tr[at + T_PAID_BEFORE, i] = paid_before
    return pay


#: The kernel functions of this module, callees first.
FUNCTIONS = ("settle_critical",)


# ----------------------------------------------------------------------------- explanation


def explain(o: Outcome, i: int, r: dict, c: dict) -> list[Step]:
    """The layer's steps for row ``i`` (``r``: its results and traced columns, ``c``: its columns)."""
    p, t = {k: int(v[i]) for k, v in o.params["critical"].items()}, o.tables["critical"]
    level_code = (list(o.policy.levels) + list(o.policy.institutions))[int(o.columns["level"][i])]
    name = (
        "大额医疗费用补助 supplementary (employees)" if o.policy.scheme == "employees" else "大病保险 critical illness"
    )
    given = c["critical_paid"] >= 0
    if given:  # the layer's payment as the claim gives it; the year's base still counts the claim
        return [
            Step(
                "critical_given",
                f"{name} pays, as the claim gives it",
                "settled elsewhere (critical_paid), not computed",
                amount=Fen(r["critical"]),
                before=Fen(r["critical_paid_before"]),
                after=Fen(r["critical_paid_before"] + r["critical"]),
            )
        ]
    if not p["active"]:
        return []
    resolved = o.variants[int(o.variant[i])]
    base_rule = resolved.required("critical.base")
    labels = {
        "deductible": "起付线",
        "coinsurance": "按比例自付 co-insurance",
        "above_cap": "超封顶 above the basic cap",
        "pre_self_pay": "乙类先行自付",
    }
    if c["basic_paid"] >= 0:  # (not split: what the basic payment given left of the in-scope cost)
        labels["coinsurance"] = "in-scope cost less the basic payment given"
    counted = [
        f"{labels[k]} {format_yuan(r['critical_part_' + k])}"
        for k in labels
        if base_rule[k] and r["critical_part_" + k]
    ]
    if c["critical_base"] >= 0:
        counted = ["as the claim gives it (critical_base)"]
    steps = [
        Step(
            "critical_base",
            f"{name}: qualifying self-pay 合规自付",
            (" + ".join(counted) or "nothing that qualifies") + f" = {format_yuan(r['critical_base_claim'])}",
            amount=Fen(r["critical_base_claim"]),
            before=Fen(r["critical_base_before"]),
            after=Fen(r["critical_base_before"] + r["critical_base_claim"]),
            **cited(base_rule),
        )
    ]
    threshold_rule = resolved.rule("critical.threshold")
    steps.append(
        Step(
            "critical_threshold",
            "大病起付线 annual threshold",
            f"{format_yuan(r['critical_threshold'])} once a year; the year's base before this claim "
            f"{format_yuan(r['critical_base_before'])}",
            amount=Fen(r["critical_threshold"]),
            **cited(threshold_rule),
        )
    )
    steps += wage_steps(threshold_rule, "amount")
    for modifier in applied(t.modifiers, p["modifier_mask"]):
        effects = []
        if modifier.get("threshold_fraction") is not None:
            effects.append(f"threshold × {Ratio(modifier['threshold_fraction'])}")
        if modifier.get("ratio_points") is not None:
            effects.append(f"bands {points_text(modifier['ratio_points'].get(level_code) or 0)}")
        if modifier.get("uncapped"):
            effects.append("no annual cap")
        steps.append(
            Step("critical_tilt", "倾斜支付 tilt", f"{modifier.key}: " + ", ".join(effects), **cited(modifier))
        )
    place = t.place_rules[p["place_rule"]] if p["place_rule"] >= 0 else None
    if place is not None:
        codes = list(o.policy.levels) + list(o.policy.institutions)
        effect = (
            f"ratio {Ratio(place['ratio'].get(codes[o.columns['level'][i]]) or 0)}"
            if place.get("ratio") is not None
            else f"bands {points_text(place['ratio_points'].get(level_code) or 0)}"
        )
        steps.append(Step("critical_place", "大病 place and referral", f"{place.key}: {effect}", **cited(place)))
    bands_rule = resolved.required("critical.bands")
    axis = (
        "the year's qualifying self-pay"
        if bands_rule["convention"] == "cumulative"
        else "the amount above the threshold"
    )
    steps += band_steps(
        o, "critical", i, None, axis, False, None, r["critical_low"], r["critical_high"], "大病分段 band"
    )
    how, carry = rounding(o, i, p["cumulative"], "critical_carry")
    steps.append(
        Step(
            "critical_rounded",
            f"{name}, {how}",
            f"bands{carry} → {format_yuan(r['critical_raw'])}",
            amount=Fen(r["critical_raw"]),
        )
    )
    cap = resolved.rule("critical.cap")
    if cap is not None:
        uncapped = any(m.get("uncapped") for m in applied(t.modifiers, p["modifier_mask"]))
        detail = (
            "no cap for this person (tilt)"
            if uncapped
            else (f"cap {format_yuan(cap['amount'])}, paid so far this year {format_yuan(r['critical_paid_before'])}")
        )
        steps.append(
            Step(
                "critical_cap",
                "大病年度限额 annual cap",
                detail,
                amount=Fen(r["critical"]),
                before=Fen(r["critical_paid_before"]),
                after=Fen(r["critical_paid_before"] + r["critical"]),
                **cited(cap),
            )
        )
        steps += wage_steps(cap, "amount")
    steps.append(Step("critical", f"{name} pays", "layer 2 total", amount=Fen(r["critical"])))
    return steps
