"""Results: a settlement's breakdown, its explanation steps, and batches with rejects.

Everything here is read off the pipeline's named intermediate columns for a row; no
amount is computed twice. Amounts are ``Fen``; effective rates are exact fractions
with a named denominator.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import attrs

from .claims import Claim
from .engine.accumulators import Accumulators
from .money import RATIO_ONE, Fen, Ratio, format_yuan
from .policy.model import Citation, RuleVersion

__all__ = ["Step", "Settlement", "Batch", "Reject", "percent_text", "build_settlements"]

if TYPE_CHECKING:  # the engine (and numpy) load only when something is settled
    from .engine.pipeline import Outcome


def percent_text(rate: Fraction | None) -> str:
    """An exact rate shown as a percentage with two decimals, half up."""
    if rate is None:
        return "—"
    hundredths = (rate * 10000 * 2 + 1) // 2
    return f"{hundredths // 100}.{hundredths % 100:02d}%"


@attrs.frozen
class Reject:
    """A claim that was not settled: its input row, the field at fault and why."""

    row: int
    field: str
    reason: str
    claim_id: str | None = None

    def __str__(self) -> str:
        return f"row {self.row}: {self.field}: {self.reason}"


@attrs.frozen
class Step:
    """One line of an explanation: which mechanism, on what base, at what rate, for how much."""

    mechanism: str
    title: str  # Chinese term with the English beside it
    detail: str
    amount: Fen | None = None
    base: Fen | None = None
    rate: Ratio | None = None
    citation: Citation | None = None
    rule: str | None = None  # rule key and the file it came from
    before: Fen | None = None  # an accumulator before and after this step, when it has one
    after: Fen | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mechanism": self.mechanism, "title": self.title, "detail": self.detail}
        for name in ("amount", "base", "before", "after"):
            value = getattr(self, name)
            out[name] = None if value is None else format_yuan(value)
        out["rate"] = None if self.rate is None else str(self.rate)
        out["rule"] = self.rule
        out["source"] = None if self.citation is None else _citation_dict(self.citation)
        return out


def _citation_dict(c: Citation) -> dict[str, Any]:
    return {
        "id": c.source.id,
        "title": c.source.title,
        "document": c.source.document,
        "address": c.source.address,
        "official": c.source.official,
        "verified": c.verified,
        "quote": c.quote,
        "note": c.note,
    }


@attrs.frozen
class Settlement:
    """The breakdown of one settled claim (amounts in fen)."""

    claim: Claim
    row: int
    policy_id: str
    total: Fen
    self_funded: Fen
    over_limit: Fen
    pre_self_pay: Fen
    in_scope: Fen
    deductible: Fen
    basic: Fen
    patient: Fen
    steps: tuple[Step, ...]
    before: Accumulators | None  # the person-year's accumulators before this claim (when explained)
    after: Accumulators | None = None

    @property
    def funds(self) -> Fen:
        """基金支付总额: every fund layer together (basic insurance only, for now)."""
        return self.basic

    @property
    def rate_of_total(self) -> Fraction | None:
        """实际报销比例: funds / total cost."""
        return Fraction(self.funds, self.total) if self.total else None

    @property
    def rate_of_in_scope(self) -> Fraction | None:
        """政策范围内报销比例: funds / in-scope cost."""
        return Fraction(self.funds, self.in_scope) if self.in_scope else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: amounts as yuan strings, rates as percentages with their denominators."""
        return {
            "claim_id": self.claim.claim_id,
            "person_id": self.claim.person_id,
            "settled_on": self.claim.settled_on.isoformat(),
            "policy": self.policy_id,
            "total": format_yuan(self.total),
            "self_funded": format_yuan(self.self_funded),
            "over_limit": format_yuan(self.over_limit),
            "pre_self_pay": format_yuan(self.pre_self_pay),
            "in_scope": format_yuan(self.in_scope),
            "deductible": format_yuan(self.deductible),
            "basic": format_yuan(self.basic),
            "funds": format_yuan(self.funds),
            "patient": format_yuan(self.patient),
            "rate_of_total": percent_text(self.rate_of_total),
            "rate_of_in_scope": percent_text(self.rate_of_in_scope),
            "steps": [s.to_dict() for s in self.steps],
            "accumulators_before": None if self.before is None else self.before.to_dict(),
            "accumulators_after": None if self.after is None else self.after.to_dict(),
        }


@attrs.frozen
class Batch:
    """Settlements in input order, the rejected rows beside them, and the final accumulators."""

    settlements: tuple[Settlement, ...]
    rejects: tuple[Reject, ...]
    accumulators: dict[tuple[str, int], Accumulators]

    def totals(self) -> dict[str, Fen]:
        return {
            "total": Fen(sum(s.total for s in self.settlements)),
            "basic": Fen(sum(s.basic for s in self.settlements)),
            "patient": Fen(sum(s.patient for s in self.settlements)),
        }


def _rule_ref(rule: RuleVersion) -> str:
    return f"{rule.key}[{rule.index}] in {rule.file}"


def _year_ordinal(n: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")


def build_settlements(outcome: "Outcome", explain: bool = True) -> list[Settlement]:
    """Settlement objects for every settled row, in input order."""
    rows = outcome.settled.tolist()
    results = {k: v[outcome.settled].tolist() for k, v in outcome.results.items()}
    columns = {k: v[outcome.settled].tolist() for k, v in outcome.columns.items()}
    out = []
    for j, i in enumerate(rows):
        r = {k: v[j] for k, v in results.items()}
        c = {k: v[j] for k, v in columns.items()}
        out.append(_settlement(outcome, i, r, c, explain))
    return out


def _settlement(o: "Outcome", i: int, r: dict, c: dict, explain: bool) -> Settlement:
    claim = o.claims[i]
    basic = r["basic"]
    before = o.accumulators_before.get(i)  # recorded only when explaining
    steps = tuple(_steps(o, i, r, c)) if explain else ()
    return Settlement(
        claim=claim,
        row=i,
        policy_id=o.policy.id,
        total=Fen(c["total"]),
        self_funded=Fen(c["self_funded"]),
        over_limit=Fen(c["over_limit"]),
        pre_self_pay=Fen(c["pre_self_pay"]),
        in_scope=Fen(c["in_scope"]),
        deductible=Fen(r["deductible"]),
        basic=Fen(basic),
        patient=Fen(c["total"] - basic),
        steps=steps,
        before=before,
        after=_after(before, r, c) if before is not None else None,
    )


def _after(before: Accumulators, r: dict, c: dict) -> Accumulators:
    return Accumulators.from_fen(before.person_id, before.year, {
        "admissions": before.admissions + 1,
        "deductible_paid": before.deductible_paid + r["deductible"],
        "in_scope_total": before.in_scope_total + c["in_scope"],
        "payable_total": before.payable_total + r["payable"],
        "basic_paid": before.basic_paid + r["basic"],
        "above_cost_cap": before.above_cost_cap + r["above_cost_cap"],
    })


def _steps(o: "Outcome", i: int, r: dict, c: dict) -> list[Step]:
    p, t = o.params, o.tables
    resolved = o.variants[int(o.variant[i])]
    steps: list[Step] = []
    out_of_scope = c["total"] - c["in_scope"] - c["self_funded"] - c["over_limit"] - c["pre_self_pay"]
    parts = [f"total {format_yuan(c['total'])}"]
    for name, label in (("self_funded", "全自费"), ("over_limit", "超限价"), ("pre_self_pay", "乙类先行自付")):
        if c[name]:
            parts.append(f"− {label} {format_yuan(c[name])}")
    if out_of_scope:
        parts.append(f"− outside the policy scope (not itemised) {format_yuan(out_of_scope)}")
    steps.append(Step("decompose", "政策范围内费用 in-scope cost", " ".join(parts) + f" = {format_yuan(c['in_scope'])}",
                      amount=Fen(c["in_scope"]), base=Fen(c["total"])))

    # Deductible.
    place_index = int(p.place_rule[i])
    place = t.place_rules[place_index] if place_index >= 0 else None
    admission = r["admission"] + 1
    schedule = int(p.schedule[i])
    if schedule >= 0:
        rule = t.schedule_rules[schedule]
        kind = (f"{_year_ordinal(admission)} admission of the year" if rule.get("by_admission") is not None
                else "per admission")
        base_amount = int(t.schedules[schedule, min(r["admission"], t.schedules.shape[1] - 1), c["level"]])
        level_code = list(o.policy.levels)[c["level"]]
        detail = f"{level_code} ({o.policy.levels[level_code]}): {kind}, {format_yuan(base_amount)}"
        cite = rule
        if place is not None and place.get("deductible_multiple") is not None:
            detail += f" × {place['deductible_multiple'] / RATIO_ONE} ({place.key})"
    else:
        cite = place
        share = place.get("deductible_share") if place is not None else None
        if share is not None:
            detail = (f"{Ratio(share.share)} of the total cost, at least {format_yuan(share.floor)}"
                      + (f", at most {format_yuan(share.ceiling)}" if share.ceiling is not None else "")
                      + f": {format_yuan(int(p.fixed_deductible[i]))}")
        else:
            detail = f"{place.key if place else ''}: {format_yuan(int(p.fixed_deductible[i]))}"
    steps.append(Step("deductible", "起付线 deductible", detail, amount=Fen(r["deductible_nominal"]),
                      citation=cite.citation if cite else None, rule=_rule_ref(cite) if cite else None))
    later = resolved.rule("inpatient.deductible_later")
    if later is not None and admission >= later["from_admission"]:
        steps.append(Step("deductible_later", "再次住院起付线 later admissions",
                          f"from the {_year_ordinal(later['from_admission'])} admission: × {Ratio(later['fraction'])}",
                          rate=Ratio(later["fraction"]), citation=later.citation, rule=_rule_ref(later)))
    mask = int(p.modifier_mask[i])
    for bit, modifier in enumerate(t.modifiers):
        if mask >> bit & 1:
            effects = []
            if modifier.get("deductible_fraction") is not None:
                effects.append(f"deductible × {Ratio(modifier['deductible_fraction'])}")
            if modifier.get("ratio_points") is not None:
                effects.append(f"ratio {modifier['ratio_points'] / 100:+g} points")
            steps.append(Step("modifier", "人群倾斜 person modifier", f"{modifier.key}: " + ", ".join(effects),
                              citation=modifier.citation, rule=_rule_ref(modifier)))
    cap = resolved.rule("inpatient.deductible_cap")
    charged_detail = f"min(deductible {format_yuan(r['deductible_nominal'])}, in-scope {format_yuan(c['in_scope'])}"
    if cap is not None:
        charged_detail += f", yearly total {format_yuan(cap['yearly'])} − already charged {format_yuan(r['deductible_paid_before'])}"
    steps.append(Step("deductible_charged", "起付线 charged 实付起付线", charged_detail + ")",
                      amount=Fen(r["deductible"]), before=Fen(r["deductible_paid_before"]),
                      after=Fen(r["deductible_paid_before"] + r["deductible"]),
                      citation=cap.citation if cap else None, rule=_rule_ref(cap) if cap else None))

    # Ratio by band.
    band = int(p.band[i])
    ratio_rule, overriding = t.bands.sources[band]
    ratio_cite = overriding or ratio_rule
    if place is not None and place.get("ratio_points") is not None:
        steps.append(Step("place", "异地/转诊 place and referral", f"{place.key}: ratio {place['ratio_points'] / 100:+g} points",
                          citation=place.citation, rule=_rule_ref(place)))
    if o.bands is not None:
        portions, rates = o.bands["portions"][i], o.bands["rates"][i]
        step_mode = bool(t.bands.step[band])
        edges = t.bands.edges[band]
        axis = "cumulative in-scope cost" if t.bands.basis_in_scope[band] else "cumulative cost above the deductible"
        for b in range(len(portions)):
            lo, hi = int(edges[b]), int(edges[b + 1])
            if step_mode:
                if b != int(o.bands["step_band"][i]):
                    continue
                base = r["axis_high"] - r["axis_low"]
            else:
                base = int(portions[b])
                if base == 0:
                    continue
            span = "" if len(portions) == 1 and not step_mode else (
                f" (band {format_yuan(lo)}–{'∞' if hi >= 1 << 59 else format_yuan(hi)} of the {axis}{', step: whole claim at this band' if step_mode else ''})")
            steps.append(Step("ratio", "报销比例 ratio", f"{format_yuan(base)} × {Ratio(int(rates[b]))}{span}",
                              base=Fen(base), rate=Ratio(int(rates[b])), citation=ratio_cite.citation, rule=_rule_ref(ratio_cite)))
    if r["above_cost_cap"]:
        annual = resolved.rule("inpatient.cap")
        steps.append(Step("cost_cap", "基本医保费用封顶 cost ceiling",
                          f"{format_yuan(r['above_cost_cap'])} of in-scope cost lies above the basic cost ceiling and is not paid by basic insurance",
                          amount=Fen(r["above_cost_cap"]), citation=annual.citation, rule=_rule_ref(annual)))
    if r["floor_applied"]:
        steps.append(Step("floor", "保底 floor", f"at least {Ratio(int(p.floor[i]))} of in-scope {format_yuan(c['in_scope'])}",
                          rate=Ratio(int(p.floor[i])), citation=place.citation, rule=_rule_ref(place)))
    steps.append(Step("basic_rounded", "统筹基金支付 basic payment (rounded half up)",
                      f"exact {_exact_yuan(r['basic_exact_num'] if not r['floor_applied'] else max(r['basic_exact_num'], c['in_scope'] * int(p.floor[i])))} → {format_yuan(r['basic_raw'])}",
                      amount=Fen(r["basic_raw"])))
    annual = resolved.rule("inpatient.cap")
    if annual is not None and annual.get("fund") is not None:
        steps.append(Step("fund_cap", "年度最高支付限额 annual cap",
                          f"cap {format_yuan(annual['fund'])}, paid so far {format_yuan(r['basic_paid_before'])}",
                          amount=Fen(r["basic"]), before=Fen(r["basic_paid_before"]),
                          after=Fen(r["basic_paid_before"] + r["basic"]), citation=annual.citation, rule=_rule_ref(annual)))
    steps.append(Step("patient", "个人负担 patient pays", f"total {format_yuan(c['total'])} − funds {format_yuan(r['basic'])}",
                      amount=Fen(c["total"] - r["basic"])))
    return steps


def _exact_yuan(numerator: int) -> str:
    """An exact amount numerator / RATIO_ONE fen, shown in yuan without rounding."""
    whole, rest = divmod(numerator, RATIO_ONE)
    text = format_yuan(whole)
    if rest:
        text += f"{rest:04d}".rstrip("0")
    return text
