"""Layer 1, 基本医保 for admissions: deductible -> ratio by cost segment -> floor -> annual cap.

Everything about this mechanism is here:

- ``PARAMS``: the parameter table, one row per profile (a kind of claim under the rules in
  force), with named columns;
- ``build``: those parameters looked up from the policy for every profile at once, vectorized
  (the level's deductible schedule, place rule, modifiers, band schedule, caps), with the rows
  it cannot settle as problems;
- ``settle_admission``: the kernel function, the stateful part (admission count, yearly
  deductible total, cumulative segments, annual cap), run row by row by the kernel's loop
  (``medcalc.engine.kernel``); ``settle_given``: layer 1 as a claim gives it (settled elsewhere);
- ``explain``: the steps of a settled admission, read back from the traced columns (``TRACE``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import numpy as np

from ...money import RATIO_ONE, Fen, Ratio, format_yuan, round_half_up
from ...policy.model import ADMISSION_RULES, PLACES, ResolvedPolicy, RuleVersion
from ...settlement import Step
from ..arithmetic import NO_LIMIT, banded, clamp_rate, rounded
from ..citing import applied, band_steps, cited, exact_yuan, nth, points_text, rounding, wage_steps
from ..common import (
    GIVEN_BASIC,
    BandSet,
    Gathered,
    LayerBuild,
    RuleIndex,
    choose_one,
    level_array,
    matches,
    parameter_columns,
    points_array,
)
from ..state import (
    K_SERVICE_PAID,
    S_ABOVE_COST_CAP,
    S_ADMISSIONS,
    S_BASIC_CARRY,
    S_BASIC_PAID,
    S_DEDUCTIBLE_PAID,
    S_IN_SCOPE_TOTAL,
    S_KEYED,
    S_LAST_DEDUCTIBLE,
    S_PAYABLE_TOTAL,
)

if TYPE_CHECKING:
    from ..outcome import Outcome

__all__ = ["PARAMS", "TRACE", "REQUIRED_RULES", "BasicTables", "build", "settle_admission", "settle_given", "explain"]

#: Rules without which an inpatient claim cannot be settled.
REQUIRED_RULES = ADMISSION_RULES

# ----------------------------------------------------------------------------- parameters

#: The axes cost segments may run on (``inpatient.ratio`` ``basis``), by their code in ``BasicTables.basis``:
#: the year's cumulative cost above deductibles, the year's cumulative in-scope cost, or each
#: admission's own in-scope cost (the segments restart at every admission: 按次分段).
BASES = ("above_deductible", "in_scope", "admission")
BASIS_ABOVE_DEDUCTIBLE, BASIS_IN_SCOPE, BASIS_ADMISSION = range(3)

#: ``schedule`` values other than a schedule's index.
SCHEDULE_FIXED = -1  # a fixed amount (a place rule's)
SCHEDULE_SHARE = -2  # a share of the total bill, with a floor and a ceiling

#: The parameter table's columns, each with its value where no rule sets one (``build`` fills them;
#: ``settle_admission`` reads them).
PARAMS = {
    "band": 0,  # the band schedule (edges, rates by level)
    "schedule": SCHEDULE_FIXED,  # >= 0: a deductible schedule by admission; or SCHEDULE_FIXED / SCHEDULE_SHARE
    "fixed_deductible": 0,  # SCHEDULE_FIXED: the amount (a place rule's)
    "share": 0,  # SCHEDULE_SHARE: a share of the total bill, with a floor and a ceiling
    "share_floor": 0,
    "share_ceiling": NO_LIMIT,
    "deductible_num": 1,  # fraction on the deductible (groups, multiples), reduced
    "deductible_den": 1,
    "later_from": 0,  # admission number from which later fractions apply; 0 never
    "later_fractions": 0,  # its row of BasicTables.later_fractions (0: none)
    "later_compounding": 0,  # 1: a later admission's deductible is the previous one's share
    "later_floor": 0,
    "deductible_cap": NO_LIMIT,  # a yearly total of deductibles
    "points": 0,  # ratio points added (place rules, modifiers)
    "floor": 0,  # 保底: at least this share of the in-scope cost
    "fund_cap": NO_LIMIT,  # 年度最高支付限额 on fund payments
    "cost_cap": NO_LIMIT,  # or on cost: cost above it is the next layer's
    "place_rule": -1,  # the place rule applied (-1 none), for explanations
    "modifier_mask": 0,  # the modifiers applied (bits), for explanations
    "cumulative": 0,  # 1: rounded on the year's running amount
    "admission_fund_cap": NO_LIMIT,  # 每次住院最高支付限额 on an admission's fund payment
    "admission_cost_cap": NO_LIMIT,  # or on its in-scope cost: cost above it is the next layer's
}
#: Each parameter's column in the table.
PARAM_AT = {name: k for k, name in enumerate(PARAMS)}
BAND = PARAM_AT["band"]
SCHEDULE = PARAM_AT["schedule"]
FIXED_DEDUCTIBLE = PARAM_AT["fixed_deductible"]
SHARE = PARAM_AT["share"]
SHARE_FLOOR = PARAM_AT["share_floor"]
SHARE_CEILING = PARAM_AT["share_ceiling"]
DEDUCTIBLE_NUM = PARAM_AT["deductible_num"]
DEDUCTIBLE_DEN = PARAM_AT["deductible_den"]
LATER_FROM = PARAM_AT["later_from"]
LATER_FRACTIONS = PARAM_AT["later_fractions"]
LATER_COMPOUNDING = PARAM_AT["later_compounding"]
LATER_FLOOR = PARAM_AT["later_floor"]
DEDUCTIBLE_CAP = PARAM_AT["deductible_cap"]
POINTS = PARAM_AT["points"]
FLOOR = PARAM_AT["floor"]
FUND_CAP = PARAM_AT["fund_cap"]
COST_CAP = PARAM_AT["cost_cap"]
ADMISSION_FUND_CAP = PARAM_AT["admission_fund_cap"]
ADMISSION_COST_CAP = PARAM_AT["admission_cost_cap"]
CUMULATIVE = PARAM_AT["cumulative"]

#: Intermediate amounts written when tracing (``tr[at + k]``), what ``explain`` reads back.
TRACE = (
    "admission",  # 0-based admission index in the year
    "deductible_base",  # the deductible before fractions: schedule, fixed or share of the bill
    "deductible_nominal",
    "deductible_paid_before",
    "axis_low",  # payable interval on the segment axis, after the cost ceiling
    "axis_high",
    "above_cost_cap",
    "basic_exact_num",  # exact fund payment x RATIO_ONE, before the floor and rounding
    "floor_applied",
    "basic_paid_before",
    "step_band",  # the band a step schedule pays the whole stretch at
)
_T = {name: k for k, name in enumerate(TRACE)}
T_ADMISSION = _T["admission"]
T_DEDUCTIBLE_BASE = _T["deductible_base"]
T_DEDUCTIBLE_NOMINAL = _T["deductible_nominal"]
T_DEDUCTIBLE_PAID_BEFORE = _T["deductible_paid_before"]
T_AXIS_LOW = _T["axis_low"]
T_AXIS_HIGH = _T["axis_high"]
T_ABOVE_COST_CAP = _T["above_cost_cap"]
T_BASIC_EXACT_NUM = _T["basic_exact_num"]
T_FLOOR_APPLIED = _T["floor_applied"]
T_BASIC_PAID_BEFORE = _T["basic_paid_before"]
T_STEP_BAND = _T["step_band"]

#: Its row of the band traces (``tb[BANDED_AS]``).
BANDED_AS = 0


# ----------------------------------------------------------------------------- build


@attrs.define
class BasicTables:
    """Lookups for the kernel, and the rules explanations cite."""

    edges: np.ndarray  # (S, B+1)
    rates: np.ndarray  # (S, L, B)
    step: np.ndarray  # (S,) bool
    basis: np.ndarray  # (S,) the segment axis: a code of BASES
    band_sources: list[tuple[RuleVersion, ...]]  # (ratio rule[, place rule overriding it])
    schedules: np.ndarray  # (D, A, L) fen; the last admission entry repeats
    later_fractions: np.ndarray  # (R, F) ratio units by later admission from the first; row 0: none; the last repeats
    schedule_rules: list[RuleVersion]
    place_rules: list[RuleVersion]
    modifiers: list[RuleVersion]


class _Builder:
    def __init__(self, level_codes: list[str]) -> None:
        self.levels = level_codes
        self.bands = BandSet(level_codes)
        self.flags: list[tuple[int, int]] = []  # (step, basis code) of each band schedule
        self.schedule_rows: list[np.ndarray] = []
        self.schedules = RuleIndex()
        self.later_rows: list[list[int]] = [[RATIO_ONE]]  # row 0: no fraction
        self.later_rules = RuleIndex()
        self.places = RuleIndex()
        self.modifiers = RuleIndex()

    def band(self, ratio: RuleVersion, place: RuleVersion | None) -> int:
        before = len(self.bands.rows)
        if place is not None:
            index = self.bands.add((id(ratio), id(place)), [None], [place["ratio"]], (ratio, place))
            flags = (0, BASIS_IN_SCOPE)
        elif ratio.get("bands") is not None:
            bands = ratio["bands"]
            index = self.bands.add((id(ratio), 0), [b.upper for b in bands], [b.ratio for b in bands], (ratio,))
            flags = (int(ratio["segments"] == "step"), BASES.index(ratio["basis"]))
        else:
            index = self.bands.add((id(ratio), 0), [None], [ratio["ratio"]], (ratio,))
            flags = (0, BASIS_IN_SCOPE)
        if len(self.bands.rows) > before:
            self.flags.append(flags)
        return index

    def schedule(self, rule: RuleVersion) -> int:
        index = self.schedules(rule)
        if index == len(self.schedule_rows):
            tables = rule["by_admission"] if rule.get("by_admission") is not None else (rule["amount"],)
            self.schedule_rows.append(np.stack([level_array(t, self.levels) for t in tables]))
        return index

    def later(self, rule: RuleVersion) -> int:
        """The row of a later-admissions rule's fractions (one fraction, or one per admission number)."""
        index = self.later_rules(rule) + 1
        if index == len(self.later_rows):
            self.later_rows.append([rule["fraction"]] if rule.get("fraction") is not None else list(rule["fractions"]))
        return index

    def tables(self) -> BasicTables:
        edges, rates = self.bands.arrays()
        flags = np.array(self.flags or [(0, BASIS_IN_SCOPE)], dtype=np.int64).reshape(-1, 2)
        A = max([s.shape[0] for s in self.schedule_rows] or [1])
        schedules = np.zeros((max(1, len(self.schedule_rows)), A, len(self.levels)), dtype=np.int64)
        for d, table in enumerate(self.schedule_rows):
            schedules[d, : table.shape[0]] = table
            schedules[d, table.shape[0] :] = table[-1]  # the last entry repeats for later admissions
        F = max(len(row) for row in self.later_rows)
        later_fractions = np.array([row + row[-1:] * (F - len(row)) for row in self.later_rows], np.int64)
        return BasicTables(
            edges,
            rates,
            flags[:, 0] == 1,
            flags[:, 1],
            self.bands.sources,
            schedules,
            later_fractions,
            self.schedules.rules,
            self.places.rules,
            self.modifiers.rules,
        )


def build(
    variants: list[ResolvedPolicy], variant: np.ndarray, cols: dict[str, np.ndarray], level_codes: list[str]
) -> LayerBuild:
    """Per-row parameters of the basic layer; rows it cannot settle come back as problems."""
    n = len(variant)
    p = parameter_columns(PARAMS, n)
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
    deductible = resolved.required("inpatient.deductible")
    ratio = resolved.required("inpatient.ratio")
    later = resolved.rule("inpatient.deductible_later")
    cap = resolved.rule("inpatient.deductible_cap")
    annual = resolved.rule("inpatient.cap")
    if later is not None:
        p["later_from"][rows] = later["from_admission"]
        p["later_fractions"][rows] = builder.later(later)
        p["later_compounding"][rows] = int(bool(later.get("compounding")))
        p["later_floor"][rows] = later.get("floor") or 0
    if cap is not None:
        p["deductible_cap"][rows] = cap["yearly"]
    if annual is not None:
        if annual.get("fund") is not None:
            p["fund_cap"][rows] = annual["fund"]
        else:
            p["cost_cap"][rows] = annual["cost"]
    per_admission = resolved.rule("inpatient.admission_cap")
    if per_admission is not None:
        if per_admission.get("fund") is not None:
            p["admission_fund_cap"][rows] = per_admission["fund"]
        else:
            p["admission_cost_cap"][rows] = per_admission["cost"]

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
            p["points"][where] += points_array(rule["ratio_points"], builder.levels)[level[hit]]
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
            p["points"][rows[hit]] += points_array(rule["ratio_points"], builder.levels)[level[hit]]
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


# ----------------------------------------------------------------------------- kernel


def settle_admission(
    i, p, par, st, level, in_scope, total, schedules, later_fractions, edges, rates, step, basis, trace, tr, at, tb
):
    """基本医保 for one admission: returns (deductible, payable, above cost cap, raw, paid)."""
    # 起付线: by the admission's number in the year (or fixed by place, or a share of the bill) ...
    admission = st[S_ADMISSIONS]
    schedule = par[p, SCHEDULE]
    if schedule >= 0:
        base = schedules[schedule, min(admission, schedules.shape[1] - 1), level]
    elif schedule == SCHEDULE_FIXED:
        base = par[p, FIXED_DEDUCTIBLE]
    else:
        base = min(max(round_half_up(total * par[p, SHARE], RATIO_ONE), par[p, SHARE_FLOOR]), par[p, SHARE_CEILING])
    # ... times the fractions of groups and multiples, and of later admissions, rounded once ...
    later = RATIO_ONE
    is_later = par[p, LATER_FROM] > 0 and admission + 1 >= par[p, LATER_FROM]
    if is_later:  # this admission's fraction: by its number from the first later one, the last repeating
        later = later_fractions[
            par[p, LATER_FRACTIONS], min(admission + 1 - par[p, LATER_FROM], later_fractions.shape[1] - 1)
        ]
    nominal = round_half_up(base * par[p, DEDUCTIBLE_NUM] * later, par[p, DEDUCTIBLE_DEN] * RATIO_ONE)
    if is_later:
        if par[p, LATER_COMPOUNDING] == 1:  # the previous admission's deductible times the fraction, again and again
            nominal = round_half_up(st[S_LAST_DEDUCTIBLE] * later, RATIO_ONE)
        nominal = max(nominal, par[p, LATER_FLOOR])  # ... never below a floor
    st[S_LAST_DEDUCTIBLE] = nominal
    # ... never more than the in-scope cost, nor than what a yearly total of deductibles leaves.
    deductible_before = st[S_DEDUCTIBLE_PAID]
    room = max(par[p, DEDUCTIBLE_CAP] - deductible_before, 0)
    charged = min(nominal, in_scope, room)
    payable = in_scope - charged

    # The stretch this claim adds on the year's axis (its in-scope cost, or its cost above
    # deductibles), clipped at a basic cost ceiling: cost above it is the next layer's; and at a
    # ceiling on the admission's own in-scope cost.
    b = par[p, BAND]
    low = st[S_PAYABLE_TOTAL] if basis[b] == BASIS_ABOVE_DEDUCTIBLE else st[S_IN_SCOPE_TOTAL] + charged
    high_c = min(low + payable, par[p, COST_CAP])
    low_c = min(low, high_c)
    covered = min(high_c - low_c, max(par[p, ADMISSION_COST_CAP] - charged, 0))
    high_c = low_c + covered
    above_cap = payable - covered
    if basis[b] == BASIS_ADMISSION:  # segments that restart at every admission: its own in-scope cost
        low_c = charged
        high_c = charged + covered

    # 报销比例 by band: marginal (each part at its band's rate), or a step (the whole stretch at
    # the rate of the band it ends in); points added and clamped to [0 %, 100 %].
    points = par[p, POINTS]
    marginal, step_band = banded(BANDED_AS, i, b, level, points, low_c, high_c, edges, rates, trace, tb)
    exact = covered * clamp_rate(rates[b, level, step_band] + points) if step[b] else marginal

    # 保底: at least a share of the in-scope cost, never more than basic insurance covers.
    floor = par[p, FLOOR]
    exact_floored = exact
    if floor > 0:
        exact_floored = max(exact, in_scope * floor)
    exact_floored = min(exact_floored, covered * RATIO_ONE)
    raw = rounded(exact_floored, par[p, CUMULATIVE] == 1, st, S_BASIC_CARRY)

    # 每次住院最高支付限额 on the admission's payment, then 年度最高支付限额 on the year's.
    fund_before = st[S_BASIC_PAID]
    paid = min(raw, par[p, ADMISSION_FUND_CAP], max(par[p, FUND_CAP] - fund_before, 0))

    st[S_ADMISSIONS] += 1
    st[S_DEDUCTIBLE_PAID] += charged
    st[S_IN_SCOPE_TOTAL] += in_scope
    st[S_PAYABLE_TOTAL] += payable
    st[S_BASIC_PAID] += paid
    st[S_ABOVE_COST_CAP] += above_cap
    if trace:
        tr[at + T_ADMISSION, i] = admission
        tr[at + T_DEDUCTIBLE_BASE, i] = base
        tr[at + T_DEDUCTIBLE_NOMINAL, i] = nominal
        tr[at + T_DEDUCTIBLE_PAID_BEFORE, i] = deductible_before
        tr[at + T_AXIS_LOW, i] = low_c
        tr[at + T_AXIS_HIGH, i] = high_c
        tr[at + T_ABOVE_COST_CAP, i] = above_cap
        tr[at + T_BASIC_EXACT_NUM, i] = exact
        tr[at + T_FLOOR_APPLIED, i] = 1 if floor > 0 and exact_floored > exact else 0
        tr[at + T_BASIC_PAID_BEFORE, i] = fund_before
        tr[at + T_STEP_BAND, i] = step_band
    return charged, payable, above_cap, raw, paid


def settle_given(visit, service, st, in_scope, paid, services):
    """基本医保 as the claim gives it (settled elsewhere, ``paid``): not computed, so no deductible
    is known and the rest of the in-scope cost is its co-insurance. The year's admissions, in-scope
    cost and fund payments (or the service's payments) count it. Returns what ``settle_admission`` does."""
    if visit == 0:
        st[S_ADMISSIONS] += 1
        st[S_IN_SCOPE_TOTAL] += in_scope
        st[S_PAYABLE_TOTAL] += in_scope
        st[S_BASIC_PAID] += paid
    else:
        st[S_KEYED + K_SERVICE_PAID * services + max(service, 0)] += paid
    return 0, in_scope, 0, paid, paid


#: The kernel functions of this module, callees first (``medcalc.engine.compiled`` compiles them).
FUNCTIONS = ("settle_admission", "settle_given")


# ----------------------------------------------------------------------------- explanation


def explain(o: Outcome, i: int, r: dict, c: dict) -> list[Step]:
    """The steps of admission ``i`` (``r``: its results and traced columns, ``c``: its columns)."""
    p, t = {k: int(v[i]) for k, v in o.params["basic"].items()}, o.tables["basic"]
    resolved = o.variants[int(o.variant[i])]
    steps: list[Step] = []
    place = t.place_rules[p["place_rule"]] if p["place_rule"] >= 0 else None
    admission = r["admission"] + 1
    level_code = list(o.policy.levels)[c["level"]]
    if p["schedule"] >= 0:
        rule = t.schedule_rules[p["schedule"]]
        kind = f"{nth(admission)} admission of the year" if rule.get("by_admission") is not None else "per admission"
        base = int(t.schedules[p["schedule"], min(r["admission"], t.schedules.shape[1] - 1), c["level"]])
        detail = f"{level_code} ({o.policy.levels[level_code]}): {kind}, {format_yuan(base)}"
        if place is not None and place.get("deductible_multiple") is not None:
            detail += f" × {place['deductible_multiple'] / RATIO_ONE:g} ({place.key})"
            steps.append(
                Step("deductible", "起付线 deductible", detail, amount=Fen(r["deductible_nominal"]), **cited(rule))
            )
            steps.append(
                Step(
                    "place",
                    "异地/转诊 place and referral",
                    f"{place.key}: deductible × {place['deductible_multiple'] / RATIO_ONE:g}",
                    **cited(place),
                )
            )
        else:
            steps.append(
                Step("deductible", "起付线 deductible", detail, amount=Fen(r["deductible_nominal"]), **cited(rule))
            )
        entry = min(r["admission"], len(rule["by_admission"]) - 1) if rule.get("by_admission") is not None else None
        steps += wage_steps(
            rule,
            *(
                (f"amount.{level_code}", "amount")
                if entry is None
                else (f"by_admission[{entry}].{level_code}", f"by_admission[{entry}]")
            ),
        )
    else:
        assert place is not None  # (a deductible not from a schedule is a place rule's)
        share = place.get("deductible_share")
        if share is not None:
            detail = (
                f"{Ratio(share.share)} of the total cost, at least {format_yuan(share.floor)}"
                + (f", at most {format_yuan(share.ceiling)}" if share.ceiling is not None else "")
                + f": {format_yuan(r['deductible_base'])}"
            )
        else:
            detail = f"{place.key}: {format_yuan(r['deductible_base'])}"
        steps.append(
            Step("deductible", "起付线 deductible", detail, amount=Fen(r["deductible_nominal"]), **cited(place))
        )
        steps += wage_steps(place, f"deductible.{level_code}", "deductible")
    later = resolved.rule("inpatient.deductible_later")
    if later is not None and admission >= later["from_admission"]:
        fractions = [later["fraction"]] if later.get("fraction") is not None else list(later["fractions"])
        fraction = fractions[min(admission - later["from_admission"], len(fractions) - 1)]
        detail = f"from the {nth(later['from_admission'])} admission: × {Ratio(fraction)}"
        if len(fractions) > 1:  # by the admission's number: this one's fraction of its own standard
            shown = ", ".join(f"{nth(later['from_admission'] + k)} × {Ratio(f)}" for k, f in enumerate(fractions))
            detail = f"{shown} and later ones × {Ratio(fractions[-1])}: the {nth(admission)} × {Ratio(fraction)}"
        if later.get("compounding"):
            previous = getattr(o.accumulators_before.get(i), "last_deductible", 0)
            detail = (
                f"from the {nth(later['from_admission'])} admission, each time of the previous admission's: "
                f"{format_yuan(previous)} × {Ratio(later['fraction'])}"
            )
        if later.get("floor"):
            detail += f", at least {format_yuan(later['floor'])}"
        steps.append(
            Step(
                "deductible_later",
                "再次住院起付线 later admissions",
                f"{detail}: {format_yuan(r['deductible_nominal'])}",
                rate=Ratio(fraction),
                **cited(later),
            )
        )
    for modifier in applied(t.modifiers, p["modifier_mask"]):
        effects = []
        if modifier.get("deductible_fraction") is not None:
            effects.append(f"deductible × {Ratio(modifier['deductible_fraction'])}")
        if modifier.get("ratio_points") is not None:
            effects.append(f"ratio {points_text(modifier['ratio_points'].get(level_code) or 0)}")
        if modifier.get("age_points") is not None:
            by_age = modifier["age_points"]
            years = max(c["age"] - by_age.from_age, 0)
            effects.append(
                f"ratio {points_text(by_age.points(c['age']))} (age {c['age']}: {years} years above {by_age.from_age}"
                f" × {points_text(by_age.per_year)}, at most {points_text(by_age.at_most)})"
            )
        steps.append(
            Step("modifier", "人群倾斜 person modifier", f"{modifier.key}: " + ", ".join(effects), **cited(modifier))
        )
    cap = resolved.rule("inpatient.deductible_cap")
    detail = f"min(deductible {format_yuan(r['deductible_nominal'])}, in-scope {format_yuan(c['in_scope'])}"
    if cap is not None:
        detail += (
            f", yearly total {format_yuan(cap['yearly'])} − already charged {format_yuan(r['deductible_paid_before'])}"
        )
    steps.append(
        Step(
            "deductible_charged",
            "实付起付线 deductible charged",
            detail + ")",
            amount=Fen(r["deductible"]),
            before=Fen(r["deductible_paid_before"]),
            after=Fen(r["deductible_paid_before"] + r["deductible"]),
            **cited(cap),
        )
    )
    steps += wage_steps(cap, "yearly")
    if place is not None and place.get("ratio_points") is not None:
        steps.append(
            Step(
                "place",
                "异地/转诊 place and referral",
                f"{place.key}: ratio {points_text(place['ratio_points'].get(level_code) or 0)}",
                **cited(place),
            )
        )
    band = p["band"]
    step_mode = bool(t.step[band])
    axis = (
        "the year's cost above deductibles",
        "the year's in-scope cost",
        "this admission's in-scope cost (segments restart at every admission)",
    )[int(t.basis[band])]
    step_band = int(o.bands["basic"]["step_band"][i]) if o.bands is not None else None
    steps += band_steps(
        o, "basic", i, None, axis, step_mode, step_band, r["axis_low"], r["axis_high"], "报销比例 ratio"
    )
    annual = resolved.rule("inpatient.cap")
    per_admission = resolved.rule("inpatient.admission_cap")
    if r["above_cost_cap"]:
        # (cost lies above a ceiling only under a cap on cost: the admission's, where its cost passed it)
        if (
            per_admission is not None
            and per_admission.get("cost") is not None
            and c["in_scope"] > p["admission_cost_cap"]
        ):
            ceiling, title, whose = per_admission, "每次住院费用封顶 cost ceiling per admission", "per admission"
        else:
            assert annual is not None
            ceiling, title, whose = annual, "基本医保费用封顶 cost ceiling", "of the year"
        steps.append(
            Step(
                "cost_cap",
                title,
                f"{format_yuan(r['above_cost_cap'])} of in-scope cost lies above the basic cost ceiling {whose} "
                f"{format_yuan(ceiling['cost'])}: not paid by basic insurance",
                amount=Fen(r["above_cost_cap"]),
                **cited(ceiling),
            )
        )
        steps += wage_steps(ceiling, "cost")
    exact = r["basic_exact_num"]
    if r["floor_applied"]:
        covered = r["axis_high"] - r["axis_low"]
        exact = min(c["in_scope"] * p["floor"], covered * RATIO_ONE)
        steps.append(
            Step(
                "floor",
                "保底 floor",
                f"at least {Ratio(p['floor'])} of in-scope {format_yuan(c['in_scope'])}, "
                f"never more than the {format_yuan(covered)} basic insurance covers",
                rate=Ratio(p["floor"]),
                **cited(place),
            )
        )
    how, carry = rounding(o, i, p["cumulative"], "basic_carry")
    steps.append(
        Step(
            "basic_rounded",
            f"统筹基金 basic payment, {how}",
            f"exact {exact_yuan(exact)}{carry} → {format_yuan(r['basic_raw'])}",
            amount=Fen(r["basic_raw"]),
        )
    )
    if per_admission is not None and per_admission.get("fund") is not None:
        steps.append(
            Step(
                "admission_fund_cap",
                "每次住院最高支付限额 cap per admission",
                f"cap {format_yuan(per_admission['fund'])} on this admission's payment",
                amount=Fen(min(r["basic_raw"], per_admission["fund"])),
                **cited(per_admission),
            )
        )
        steps += wage_steps(per_admission, "fund")
    if annual is not None and annual.get("fund") is not None:
        steps.append(
            Step(
                "fund_cap",
                "年度最高支付限额 annual cap",
                f"cap {format_yuan(annual['fund'])}, paid so far this year {format_yuan(r['basic_paid_before'])}",
                amount=Fen(r["basic"]),
                before=Fen(r["basic_paid_before"]),
                after=Fen(r["basic_paid_before"] + r["basic"]),
                **cited(annual),
            )
        )
        steps += wage_steps(annual, "fund")
    steps.append(Step("basic", "基本医保统筹支付 basic insurance pays", "layer 1 total", amount=Fen(r["basic"])))
    return steps
