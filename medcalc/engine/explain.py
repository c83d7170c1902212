"""Explanations: a settled row's intermediate columns read back as ordered, cited steps.

No amount is computed here that the engine did not compute; this module only says, in
Chinese terms with English beside, which rule produced each number and quotes it.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from ..money import RATIO_ONE, Fen, Ratio, format_yuan
from ..policy.model import RuleVersion
from ..settlement import Step

if TYPE_CHECKING:
    from .pipeline import Outcome

__all__ = ["steps_for"]

_INFINITY = 1 << 59


def _ref(rule: RuleVersion) -> str:
    return f"{rule.key}[{rule.index}] in {rule.file}"


def _cited(rule: RuleVersion | None) -> dict:
    return {} if rule is None else {"citation": rule.citation, "rule": _ref(rule)}


def _wage(rule: RuleVersion | None, *paths: str) -> list[Step]:
    """A step for each amount of ``rule`` at ``paths`` derived from the reference wage: the share or
    multiple, the wage in force and the fen, citing the wage's source (the rule's own step cites the rule)."""
    if rule is None or not rule.wage:
        return []
    steps = []
    for use in rule.wage:
        if use.path not in paths:
            continue
        wage = use.wage
        year = f" ({wage['year']})" if wage.get("year") is not None else ""
        exact = wage["amount"] * use.term.units
        steps.append(
            Step(
                "reference_wage",
                "社平工资 reference wage",
                f"{rule.key} {use.path}: {use.term.words()} 上年社平工资{year} {format_yuan(wage['amount'])} = "
                f"{format_yuan(use.amount)}"
                + ("" if exact % RATIO_ONE == 0 else f" (exact {_exact_yuan(exact)}, rounded half up to the fen once)"),
                amount=Fen(use.amount),
                base=Fen(wage["amount"]),
                citation=wage.citation,
                rule=f"{_ref(rule)}; {_ref(wage)}",
            )
        )
    return steps


def _nth(n: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")


def _exact_yuan(numerator: int) -> str:
    """An exact amount numerator / RATIO_ONE fen, shown in yuan without rounding."""
    whole, rest = divmod(numerator, RATIO_ONE)
    return format_yuan(whole) + (f"{rest:04d}".rstrip("0") if rest else "")


def _rounding(o: Outcome, i: int, cumulative: int, carry: str) -> tuple[str, str]:
    """(how a payment is rounded, the carry it starts from): once per claim, or on the year's
    running exact amount (``rounding = "cumulative"``), from what the year had not yet paid."""
    if not cumulative:
        return "rounded half up once", ""
    before = getattr(o.accumulators_before.get(i), carry, 0)
    sign = "-" if before < 0 else "+"
    return (
        "rounded on the year's running amount (half up; the claim pays the change)",
        f" {sign} not yet paid this year {_exact_yuan(abs(before))}",
    )


def _applied(modifiers: list[RuleVersion], mask: int) -> list[RuleVersion]:
    """The modifiers a row's bit mask says were applied to it, in rule order."""
    return [m for bit, m in enumerate(modifiers) if mask >> bit & 1]


def _points(units: int) -> str:
    return f"{units / 100:+g} points"


def steps_for(o: Outcome, i: int, r: dict, c: dict) -> list[Step]:
    """Every step of every layer for input row ``i`` (``r``: its results, ``c``: its columns)."""
    steps = _decompose(c)
    if c["basic_paid"] >= 0:
        steps.append(
            Step(
                "basic_given",
                "基本医保统筹支付 basic insurance pays, as the claim gives it",
                "settled elsewhere (basic_paid), not computed: no deductible is known, and the rest of the "
                f"in-scope cost {format_yuan(c['in_scope'] - r['basic'])} counts as its co-insurance",
                amount=Fen(r["basic"]),
            )
        )
    else:
        steps += _outpatient(o, i, r, c) if c["visit"] == 1 else _basic(o, i, r, c)
    steps += _critical(o, i, r, c)
    steps += _assistance(o, i, r)
    steps += _backstop(o, i, r)
    funds = r["basic"] + r["critical"] + r["assistance"] + r["backstop"]
    steps.append(
        Step(
            "patient",
            "个人负担 patient pays",
            f"total {format_yuan(c['total'])} − all funds {format_yuan(funds)}",
            amount=Fen(c["total"] - funds),
        )
    )
    return steps


def _decompose(c: dict) -> list[Step]:
    out_of_scope = c["total"] - c["in_scope"] - c["self_funded"] - c["over_limit"] - c["pre_self_pay"]
    parts = [f"total {format_yuan(c['total'])}"]
    for name, label in (("self_funded", "全自费"), ("over_limit", "超限价"), ("pre_self_pay", "乙类先行自付")):
        if c[name]:
            parts.append(f"− {label} {format_yuan(c[name])}")
    if out_of_scope:
        parts.append(f"− outside the policy scope (not itemised) {format_yuan(out_of_scope)}")
    return [
        Step(
            "decompose",
            "政策范围内费用 in-scope cost",
            " ".join(parts) + f" = {format_yuan(c['in_scope'])}",
            amount=Fen(c["in_scope"]),
            base=Fen(c["total"]),
        )
    ]


def _band_steps(
    o, layer, i, rule_of_band, axis: str, step_mode: bool, step_band: int | None, low: int, high: int, title: str
) -> list[Step]:
    """One step per band a claim's stretch falls in: base × rate, with the rule quoted."""
    if o.bands is None:
        return []
    portions, rates = o.bands[layer]["portions"][i], o.bands[layer]["rates"][i]
    band = int(o.params[layer]["band"][i])
    edges = o.tables[layer].edges[band]
    sources = o.tables[layer].band_sources[band]
    cite = sources[-1] if rule_of_band is None else rule_of_band
    single = int((edges[1:] < _INFINITY).sum()) == 0
    steps = []
    for b in range(len(portions)):
        if step_mode:
            if b != step_band:
                continue
            base = high - low
        else:
            base = int(portions[b])
            if base == 0:
                continue
        lo, hi = int(edges[b]), int(edges[b + 1])
        span = (
            ""
            if single and not step_mode
            else (
                f" (band {format_yuan(lo)}–{'∞' if hi >= _INFINITY else format_yuan(hi)} of {axis}"
                f"{'; step: the whole stretch at this band' if step_mode else ''})"
            )
        )
        steps.append(
            Step(
                "ratio",
                title,
                f"{format_yuan(base)} × {Ratio(int(rates[b]))}{span}",
                base=Fen(base),
                rate=Ratio(int(rates[b])),
                **_cited(cite),
            )
        )
    return steps


def _basic(o: Outcome, i: int, r: dict, c: dict) -> list[Step]:
    p, t = {k: int(v[i]) for k, v in o.params["basic"].items()}, o.tables["basic"]
    resolved = o.variants[int(o.variant[i])]
    steps: list[Step] = []
    place = t.place_rules[p["place_rule"]] if p["place_rule"] >= 0 else None
    admission = r["admission"] + 1
    level_code = list(o.policy.levels)[c["level"]]
    if p["schedule"] >= 0:
        rule = t.schedule_rules[p["schedule"]]
        kind = f"{_nth(admission)} admission of the year" if rule.get("by_admission") is not None else "per admission"
        base = int(t.schedules[p["schedule"], min(r["admission"], t.schedules.shape[1] - 1), c["level"]])
        detail = f"{level_code} ({o.policy.levels[level_code]}): {kind}, {format_yuan(base)}"
        if place is not None and place.get("deductible_multiple") is not None:
            detail += f" × {place['deductible_multiple'] / RATIO_ONE:g} ({place.key})"
            steps.append(
                Step("deductible", "起付线 deductible", detail, amount=Fen(r["deductible_nominal"]), **_cited(rule))
            )
            steps.append(
                Step(
                    "place",
                    "异地/转诊 place and referral",
                    f"{place.key}: deductible × {place['deductible_multiple'] / RATIO_ONE:g}",
                    **_cited(place),
                )
            )
        else:
            steps.append(
                Step("deductible", "起付线 deductible", detail, amount=Fen(r["deductible_nominal"]), **_cited(rule))
            )
        entry = min(r["admission"], len(rule["by_admission"]) - 1) if rule.get("by_admission") is not None else None
        steps += _wage(
            rule,
            *(
                (f"amount.{level_code}", "amount")
                if entry is None
                else (f"by_admission[{entry}].{level_code}", f"by_admission[{entry}]")
            ),
        )
    else:
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
            Step("deductible", "起付线 deductible", detail, amount=Fen(r["deductible_nominal"]), **_cited(place))
        )
        steps += _wage(place, f"deductible.{level_code}", "deductible")
    later = resolved.rule("inpatient.deductible_later")
    if later is not None and admission >= later["from_admission"]:
        detail = f"from the {_nth(later['from_admission'])} admission: × {Ratio(later['fraction'])}"
        if later.get("compounding"):
            previous = getattr(o.accumulators_before.get(i), "last_deductible", 0)
            detail = (
                f"from the {_nth(later['from_admission'])} admission, each time of the previous admission's: "
                f"{format_yuan(previous)} × {Ratio(later['fraction'])}"
            )
        if later.get("floor"):
            detail += f", at least {format_yuan(later['floor'])}"
        steps.append(
            Step(
                "deductible_later",
                "再次住院起付线 later admissions",
                f"{detail}: {format_yuan(r['deductible_nominal'])}",
                rate=Ratio(later["fraction"]),
                **_cited(later),
            )
        )
    for modifier in _applied(t.modifiers, p["modifier_mask"]):
        effects = []
        if modifier.get("deductible_fraction") is not None:
            effects.append(f"deductible × {Ratio(modifier['deductible_fraction'])}")
        if modifier.get("ratio_points") is not None:
            effects.append(f"ratio {_points(modifier['ratio_points'])}")
        if modifier.get("age_points") is not None:
            by_age = modifier["age_points"]
            years = max(c["age"] - by_age.from_age, 0)
            effects.append(
                f"ratio {_points(by_age.points(c['age']))} (age {c['age']}: {years} years above {by_age.from_age}"
                f" × {_points(by_age.per_year)}, at most {_points(by_age.at_most)})"
            )
        steps.append(
            Step("modifier", "人群倾斜 person modifier", f"{modifier.key}: " + ", ".join(effects), **_cited(modifier))
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
            **_cited(cap),
        )
    )
    steps += _wage(cap, "yearly")
    if place is not None and place.get("ratio_points") is not None:
        steps.append(
            Step(
                "place",
                "异地/转诊 place and referral",
                f"{place.key}: ratio {_points(place['ratio_points'])}",
                **_cited(place),
            )
        )
    band = p["band"]
    step_mode = bool(t.step[band])
    axis = "the year's in-scope cost" if t.basis_in_scope[band] else "the year's cost above deductibles"
    step_band = int(o.bands["basic"]["step_band"][i]) if o.bands is not None else None
    steps += _band_steps(
        o, "basic", i, None, axis, step_mode, step_band, r["axis_low"], r["axis_high"], "报销比例 ratio"
    )
    annual = resolved.rule("inpatient.cap")
    if r["above_cost_cap"]:
        steps.append(
            Step(
                "cost_cap",
                "基本医保费用封顶 cost ceiling",
                f"{format_yuan(r['above_cost_cap'])} of in-scope cost lies above the basic cost ceiling "
                f"{format_yuan(annual['cost'])}: not paid by basic insurance",
                amount=Fen(r["above_cost_cap"]),
                **_cited(annual),
            )
        )
        steps += _wage(annual, "cost")
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
                **_cited(place),
            )
        )
    how, carry = _rounding(o, i, p["cumulative"], "basic_carry")
    steps.append(
        Step(
            "basic_rounded",
            f"统筹基金 basic payment, {how}",
            f"exact {_exact_yuan(exact)}{carry} → {format_yuan(r['basic_raw'])}",
            amount=Fen(r["basic_raw"]),
        )
    )
    if annual is not None and annual.get("fund") is not None:
        steps.append(
            Step(
                "fund_cap",
                "年度最高支付限额 annual cap",
                f"cap {format_yuan(annual['fund'])}, paid so far this year {format_yuan(r['basic_paid_before'])}",
                amount=Fen(r["basic"]),
                before=Fen(r["basic_paid_before"]),
                after=Fen(r["basic_paid_before"] + r["basic"]),
                **_cited(annual),
            )
        )
        steps += _wage(annual, "fund")
    steps.append(Step("basic", "基本医保统筹支付 basic insurance pays", "layer 1 total", amount=Fen(r["basic"])))
    return steps


def _outpatient(o: Outcome, i: int, r: dict, c: dict) -> list[Step]:
    p, t = {k: int(v[i]) for k, v in o.params["outpatient"].items()}, o.tables["outpatient"]
    rule = t.rules[p["rule"]]
    service = rule.key.rsplit(".", 1)[-1]
    code = (list(o.policy.levels) + list(o.policy.institutions))[c["level"]]
    steps = []
    if c["fee_reduction"]:
        steps.append(
            Step(
                "fee_reduction",
                "床位费、护理费减半 fees counted at half",
                f"bed {format_yuan(c['bed_fees'])} + nursing {format_yuan(c['nursing_fees'])} at half: "
                f"{format_yuan(c['fee_reduction'])} off the bill",
                amount=Fen(c["fee_reduction"]),
                **_cited(rule),
            )
        )
    counted = r["service_counted"]
    if p["period_months"] > 0 and counted < c["in_scope"]:  # a cap per month / quarter cut the cost counted
        day = dt.date.fromordinal(c["day"])
        if p["period_months"] == 1:
            per, title, period = "a month", "每月限额 cost counted per month", f"{day.year}-{day.month:02d}"
        else:
            per, title, period = (
                "a quarter",
                "每季度限额 cost counted per quarter",
                f"{day.year}-Q{(day.month + 2) // 3}",
            )
        before = r["service_period_before"]
        steps.append(
            Step(
                "period_cost_cap",
                f"门诊 {service}: {title}",
                f"at most {format_yuan(p['period_cap'])} of in-scope cost {per}, counted in {period} before "
                f"this claim {format_yuan(before)}: {format_yuan(counted)} of {format_yuan(c['in_scope'])} "
                f"counted, {format_yuan(c['in_scope'] - counted)} not paid by this service",
                amount=Fen(counted),
                before=Fen(before),
                after=Fen(before + counted),
                **_cited(rule),
            )
        )
    if p["fixed"] >= 0:
        steps.append(
            Step(
                "fixed",
                f"门诊 {service}: fixed payment 定额支付",
                f"{format_yuan(p['fixed'])} a visit (at most the in-scope cost)",
                amount=Fen(r["service_raw"]),
                **_cited(rule),
            )
        )
    else:
        deductible = p["deductible"]
        steps.append(
            Step(
                "deductible_charged",
                f"门诊 {service}: 起付线 yearly deductible",
                f"{format_yuan(deductible)} a year at this level (topped up to the highest level used), "
                f"charged so far {format_yuan(r['service_deductible_before'])}",
                amount=Fen(r["deductible"]),
                before=Fen(r["service_deductible_before"]),
                after=Fen(r["service_deductible_before"] + r["deductible"]),
                **_cited(rule),
            )
        )
        steps += _wage(rule, f"deductible.{code}", "deductible")
        paid_on = counted - r["deductible"]  # (the payable part, or less when a period cap cut the cost counted)
        steps.append(
            Step(
                "ratio",
                f"门诊 {service}: 报销比例 ratio",
                f"{format_yuan(paid_on)} × {Ratio(p['ratio'])}",
                base=Fen(paid_on),
                rate=Ratio(p["ratio"]),
                amount=Fen(r["service_raw"]),
                **_cited(rule),
            )
        )
    if p["visit_cap"] < _INFINITY:
        steps.append(
            Step(
                "visit_cap",
                f"门诊 {service}: 单次封顶 cap per visit",
                f"at most {format_yuan(p['visit_cap'])} a visit",
                **_cited(rule),
            )
        )
        steps += _wage(rule, "visit_cap")
    if p["cap"] < _INFINITY:
        how = "sum of the caps of the claim's diseases" if rule.get("disease_caps") is not None else "annual cap"
        if rule.get("highest_only"):
            how = "the highest cap of the claim's diseases"
        steps.append(
            Step(
                "service_cap",
                f"门诊 {service}: 年度限额 annual cap",
                f"{how}: {format_yuan(p['cap'])}, paid so far this year {format_yuan(r['service_paid_before'])}",
                amount=Fen(r["basic"]),
                before=Fen(r["service_paid_before"]),
                after=Fen(r["service_paid_before"] + r["basic"]),
                **_cited(rule),
            )
        )
        steps += _wage(rule, "cap")
    steps.append(
        Step("basic", "基本医保统筹支付 basic insurance pays", f"outpatient service {service}", amount=Fen(r["basic"]))
    )
    return steps


def _critical(o: Outcome, i: int, r: dict, c: dict) -> list[Step]:
    p, t = {k: int(v[i]) for k, v in o.params["critical"].items()}, o.tables["critical"]
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
    base_rule = resolved.rule("critical.base")
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
            **_cited(base_rule),
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
            **_cited(threshold_rule),
        )
    )
    steps += _wage(threshold_rule, "amount")
    for modifier in _applied(t.modifiers, p["modifier_mask"]):
        effects = []
        if modifier.get("threshold_fraction") is not None:
            effects.append(f"threshold × {Ratio(modifier['threshold_fraction'])}")
        if modifier.get("ratio_points") is not None:
            effects.append(f"bands {_points(modifier['ratio_points'])}")
        if modifier.get("uncapped"):
            effects.append("no annual cap")
        steps.append(
            Step("critical_tilt", "倾斜支付 tilt", f"{modifier.key}: " + ", ".join(effects), **_cited(modifier))
        )
    place = t.place_rules[p["place_rule"]] if p["place_rule"] >= 0 else None
    if place is not None:
        codes = list(o.policy.levels) + list(o.policy.institutions)
        effect = (
            f"ratio {Ratio(place['ratio'].get(codes[o.columns['level'][i]]) or 0)}"
            if place.get("ratio") is not None
            else f"bands {_points(place['ratio_points'])}"
        )
        steps.append(Step("critical_place", "大病 place and referral", f"{place.key}: {effect}", **_cited(place)))
    bands_rule = resolved.rule("critical.bands")
    axis = (
        "the year's qualifying self-pay"
        if bands_rule["convention"] == "cumulative"
        else "the amount above the threshold"
    )
    steps += _band_steps(
        o, "critical", i, None, axis, False, None, r["critical_low"], r["critical_high"], "大病分段 band"
    )
    how, carry = _rounding(o, i, p["cumulative"], "critical_carry")
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
        uncapped = any(m.get("uncapped") for m in _applied(t.modifiers, p["modifier_mask"]))
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
                **_cited(cap),
            )
        )
        steps += _wage(cap, "amount")
    steps.append(Step("critical", f"{name} pays", "layer 2 total", amount=Fen(r["critical"])))
    return steps


#: The stages of 医疗救助, in order: (trace prefix and step mechanism, rule parameter, tables' rules,
#: the rule's yearly threshold key and what it is called, step title, what the base is).
_ASSISTANCE_STAGES = (
    ("assistance", "rule", "rules", "deductible", "yearly deductible", "医疗救助 medical assistance", "left"),
    (
        "assistance_again",
        "again_rule",
        "again_rules",
        "threshold",
        "yearly threshold",
        "再次救助 assistance again",
        "still left",
    ),
)


def _assistance(o: Outcome, i: int, r: dict) -> list[Step]:
    steps = []
    for stage, param, rules, threshold, threshold_name, title, left in _ASSISTANCE_STAGES:
        index = int(o.params["assistance"][param][i])
        if index < 0:
            continue
        rule = getattr(o.tables["assistance"], rules)[index]
        # the layer's result holds both stages: the first stage paid it less the second's
        pay = r[stage] if stage != "assistance" else r["assistance"] - r["assistance_again"]
        before, base, paid_before = r[f"{stage}_base_before"], r[f"{stage}_base_claim"], r[f"{stage}_paid_before"]
        detail = (
            f"{rule.key}: in-scope self-pay {left} {format_yuan(base)} (year {format_yuan(before)} → "
            f"{format_yuan(before + base)}); above the {threshold_name} {format_yuan(rule[threshold])} "
            f"× {Ratio(rule['ratio'])} → {format_yuan(r[f'{stage}_raw'])}"
        )
        if rule.get("cap") is not None:
            detail += f"; cap {format_yuan(rule['cap'])}, paid so far {format_yuan(paid_before)}"
        steps.append(
            Step(
                stage,
                title,
                detail,
                amount=Fen(pay),
                base=Fen(base),
                rate=Ratio(rule["ratio"]),
                before=Fen(paid_before),
                after=Fen(paid_before + pay),
                **_cited(rule),
            )
        )
        steps += _wage(rule, threshold, "cap")
    return steps


def _backstop(o: Outcome, i: int, r: dict) -> list[Step]:
    p, t = {k: int(v[i]) for k, v in o.params["backstop"].items()}, o.tables["backstop"]
    code = (list(o.policy.levels) + list(o.policy.institutions))[o.columns["level"][i]]
    steps = []
    if p["cap_rule"] >= 0:
        rule = t.cap_rules[p["cap_rule"]]
        before, burden = r["backstop_burden_before"], r["backstop_burden_claim"]
        steps.append(
            Step(
                "backstop_cap",
                "兜底 burden cap",
                f"{rule.key}: in-scope burden this year {format_yuan(before)} → {format_yuan(before + burden)}, "
                f"capped at {format_yuan(r['backstop_cap_used'])} (the largest cap of the levels used this year)",
                amount=Fen(r["backstop_cap_pay"]),
                before=Fen(r["backstop_cap_paid_before"]),
                after=Fen(r["backstop_cap_paid_before"] + r["backstop_cap_pay"]),
                **_cited(rule),
            )
        )
        steps += _wage(rule, f"cap.{code}", "cap")
    if p["again_rule"] >= 0:
        rule = t.again_rules[p["again_rule"]]
        before, base = r["backstop_again_base_before"], r["backstop_again_base_claim"]
        if rule.get("threshold") is None:
            detail = f"{rule.key}: what is left {format_yuan(base)} × {Ratio(rule['ratio'])}"
        else:  # only the year's rest above the threshold, charged once a year
            detail = (
                f"{rule.key}: what is still left {format_yuan(base)} (year {format_yuan(before)} → "
                f"{format_yuan(before + base)}); above the yearly threshold {format_yuan(rule['threshold'])} "
                f"× {Ratio(rule['ratio'])}"
            )
        paid_before = r["backstop_again_paid_before"]
        steps.append(
            Step(
                "backstop_again",
                "再报销 paid again",
                f"{detail} → {format_yuan(r['backstop_again'])}",
                amount=Fen(r["backstop_again"]),
                base=Fen(base),
                rate=Ratio(rule["ratio"]),
                before=Fen(paid_before),
                after=Fen(paid_before + r["backstop_again"]),
                **_cited(rule),
            )
        )
        steps += _wage(rule, "threshold")
    return steps
