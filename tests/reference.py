"""A deliberately plain reference calculator: pure Python, exact fractions, no numpy.

It reads the same loaded policy (the rule versions in force, as the files write them: an
amount tied to the reference wage it computes itself from the wage in force) but shares no
code with the engine: one claim at a time, one person-year at a time, written the way the
policy files describe the mechanisms. The differential tests hold the engine to it.
"""

from __future__ import annotations

import math
from fractions import Fraction

import attrs

from medcalc.claims import Claim
from medcalc.policy.model import ByLevel, Condition, Policy, WageAmount

ONE = Fraction(1)


def _points(table, level: str) -> int:
    """A rule's ratio points at a level (a table that does not name the level: none)."""
    return 0 if table is None else (table.get(level) or 0)


def pct(units: int) -> Fraction:
    """Ratio units (0.01 point) as an exact fraction."""
    return Fraction(units, 10000)


def half_up(x: Fraction) -> int:
    """Round a non-negative exact amount of fen half up."""
    return int((x * 2 + 1) // 2)


def _of_wage(value, wage):
    """A parameter with every wage term as its fen: the wage times the share or multiple, half up once."""
    if isinstance(value, WageAmount):
        if wage is None:
            raise AssertionError("a wage-based amount in force without a wage: the loader should refuse it")
        return half_up(Fraction(wage) * Fraction(value.units, 10000))
    if isinstance(value, ByLevel):
        return ByLevel(
            {k: _of_wage(v, wage) for k, v in value.values.items()},
            None if value.default is None else _of_wage(value.default, wage),
        )
    if isinstance(value, tuple):
        return tuple(_of_wage(v, wage) for v in value)
    return value


class Rules:
    """The rule versions in force on a day, read from the timelines as written (not ``Policy.at``)."""

    def __init__(self, policy: Policy, day) -> None:
        raw = {key: t.at(day) for key, t in policy.timelines.items()}
        raw = {k: v for k, v in raw.items() if v is not None}
        wage = raw["reference.wage"].params["amount"] if "reference.wage" in raw else None
        self.rules = {
            k: attrs.evolve(v, params={n: _of_wage(x, wage) for n, x in v.params.items()}) for k, v in raw.items()
        }

    def rule(self, key):
        return self.rules.get(key)

    def named(self, prefix):
        return [self.rules[k] for k in sorted(self.rules) if k.startswith(prefix + ".")]


def applies(cond: Condition, claim: Claim) -> bool:
    if cond.places and claim.place not in cond.places:
        return False
    if cond.referrals and claim.referral not in cond.referrals:
        return False
    if cond.levels and claim.level not in cond.levels:
        return False
    if cond.categories and claim.category not in cond.categories:
        return False
    if cond.age_under is not None and (claim.age is None or claim.age >= cond.age_under):
        return False
    if cond.age_at_least is not None and (claim.age is None or claim.age < cond.age_at_least):
        return False
    if cond.retired is not None and claim.retired != cond.retired:
        return False
    if cond.visits and claim.visit not in cond.visits:
        return False
    if cond.services and claim.service not in cond.services:
        return False
    return True


class Person:
    """One person-year's running totals."""

    def __init__(self) -> None:
        self.admissions = 0
        self.deductible_paid = 0
        self.in_scope_total = 0
        self.payable_total = 0
        self.basic_paid = 0
        self.critical_base = 0
        self.critical_paid = 0
        # cumulative rounding: the year's exact payments so far, and those payments rounded
        self.basic_exact, self.basic_rounded = Fraction(0), 0
        self.critical_exact, self.critical_rounded = Fraction(0), 0
        self.last_deductible = 0  # the latest admission's deductible, before the limits on it
        self.again_base = self.again_paid = 0  # 再次救助
        self.assistance_base: dict[str, int] = {}
        self.assistance_paid: dict[str, int] = {}
        self.burden = 0
        self.largest_cap = 0
        self.backstop_cap_paid = 0
        self.pay_again_base = 0  # 再报销: the year's burden left after the burden cap
        self.service_deductible: dict[str, int] = {}
        self.service_paid: dict[str, int] = {}
        # a cap per month / quarter: the period last counted in, per service, and the cost counted in it
        self.service_period: dict[str, tuple[str, int]] = {}
        self.service_period_cost: dict[str, int] = {}


def one_rule(rules, family, claim):
    """The single rule of a named family that applies, None, or "ambiguous"."""
    hits = [r for r in rules.named(family) if applies(r["when"], claim)]
    return "ambiguous" if len(hits) > 1 else (hits[0] if hits else None)


def overlap(lo, hi, a, b) -> int:
    top = hi if b is None else min(hi, b)
    return max(0, top - max(lo, a))


def _age_points(rule, age: int) -> int:
    """Points for an age, written out from the policy README: per_year for each year above
    from_age, rounded to round_to (half up or down) when given, at most at_most."""
    exact = Fraction(rule.per_year) * max(age - rule.from_age, 0)
    if rule.round_to:
        steps = exact / rule.round_to
        steps = math.floor(steps + Fraction(1, 2)) if rule.rounding == "half_up" else math.floor(steps)
        exact = steps * rule.round_to
    return int(min(exact, rule.at_most))


def inpatient_layer(rules, claim: Claim, person: Person) -> dict:
    """Layer 1 for an admission; state is updated by the returned commit()."""
    deductible_rule = rules.rule("inpatient.deductible")
    ratio_rule = rules.rule("inpatient.ratio")
    if deductible_rule is None or ratio_rule is None:
        return {"rejected": "settled_on"}
    in_scope = int(claim.in_scope_cost)
    places = [r for r in rules.named("inpatient.place") if applies(r["when"], claim)]
    if len(places) > 1:
        return {"rejected": "place"}
    place = places[0] if places else None
    if place is None and claim.place != "local":
        return {"rejected": "place"}
    modifiers = [r for r in rules.named("inpatient.modifier") if applies(r["when"], claim)]

    # deductible
    number = person.admissions + 1
    if place is not None and place.get("deductible") is not None:
        base = place["deductible"].get(claim.level)
        if base is None:
            return {"rejected": "level"}
        base = Fraction(base)
    elif place is not None and place.get("deductible_share") is not None:
        share = place["deductible_share"]
        base = Fraction(half_up(claim.total * pct(share.share)))
        base = max(base, share.floor)
        if share.ceiling is not None:
            base = min(base, share.ceiling)
    else:
        tables = deductible_rule["by_admission"] or (deductible_rule["amount"],)
        value = tables[min(number, len(tables)) - 1].get(claim.level)
        if value is None:
            return {"rejected": "level"}
        base = Fraction(value)
        if place is not None and place.get("deductible_multiple") is not None:
            base *= pct(place["deductible_multiple"])
    later = rules.rule("inpatient.deductible_later")
    fraction = None
    if later is not None and number >= later["from_admission"]:
        # one fraction, or one per admission number from the first later one (the last repeating)
        fractions = [later["fraction"]] if later.get("fraction") is not None else list(later["fractions"])
        fraction = fractions[min(number - later["from_admission"], len(fractions) - 1)]
        base *= pct(fraction)
    for m in modifiers:
        if m.get("deductible_fraction") is not None:
            base *= pct(m["deductible_fraction"])
    nominal = half_up(base)
    if later is not None and number >= later["from_admission"]:
        if later.get("compounding"):  # each later admission: the previous one's deductible times the fraction
            nominal = half_up(person.last_deductible * pct(fraction))
        nominal = max(nominal, later.get("floor") or 0)
    charged = min(nominal, in_scope)
    cap = rules.rule("inpatient.deductible_cap")
    if cap is not None:
        charged = min(charged, max(0, cap["yearly"] - person.deductible_paid))

    # ratio
    if (
        any(
            m.get("age_points") is not None
            for m in rules.named("inpatient.modifier")
            if applies(attrs.evolve(m["when"], age_under=None, age_at_least=None), claim)
        )
        and claim.age is None
    ):
        return {"rejected": "age"}
    modifiers = [m for m in modifiers if m.get("age_points") is None or claim.age is not None]
    points = sum(_points(m.get("ratio_points"), claim.level) for m in modifiers)
    points += sum(_age_points(m["age_points"], claim.age) for m in modifiers if m.get("age_points") is not None)
    if place is not None and place.get("ratio_points") is not None:
        points += _points(place["ratio_points"], claim.level)
    if place is not None and place.get("ratio") is not None:
        rate = place["ratio"].get(claim.level)
        if rate is None:
            return {"rejected": "level"}
        bands = [(None, rate)]
        mode, basis = "marginal", "in_scope"
    elif ratio_rule.get("bands") is not None:
        bands = [(b.upper, b.ratio.get(claim.level)) for b in ratio_rule["bands"]]
        if any(r is None for _, r in bands):
            return {"rejected": "level"}
        mode, basis = ratio_rule["segments"], ratio_rule["basis"]
    else:
        rate = ratio_rule["ratio"].get(claim.level)
        if rate is None:
            return {"rejected": "level"}
        bands = [(None, rate)]
        mode, basis = "marginal", "in_scope"

    def clamp(r: int) -> int:
        return max(0, min(10000, r + points))

    payable = in_scope - charged
    if basis == "above_deductible":
        start = person.payable_total
    else:  # (the year's in-scope cost: where a ceiling of the year cuts, also for segments per admission)
        start = person.in_scope_total + charged
    end = start + payable
    annual = rules.rule("inpatient.cap")
    if annual is not None and annual.get("cost") is not None:
        end = min(end, annual["cost"])
        start = min(start, end)
    per_admission = rules.rule("inpatient.admission_cap")
    if per_admission is not None and per_admission.get("cost") is not None:
        end = min(end, start + max(0, per_admission["cost"] - charged))  # the admission's in-scope cost, capped
    covered = end - start
    if basis == "admission":  # the segments restart at every admission: the axis is its own in-scope cost
        start, end = charged, charged + covered
    exact = Fraction(0)
    lower = 0
    if mode == "marginal":
        for upper, rate in bands:
            top = end if upper is None else min(end, upper)
            part = max(0, top - max(start, lower))
            exact += part * pct(clamp(rate))
            if upper is not None:
                lower = upper
    else:
        chosen = bands[-1][1]
        for upper, rate in bands:
            if upper is None or end <= upper:
                chosen = rate
                break
        exact = (end - start) * pct(clamp(chosen))
    if place is not None and place.get("floor") is not None:
        exact = max(exact, in_scope * pct(place["floor"]))
    exact = min(exact, Fraction(end - start))  # never more than basic covers: above the deductible, below the ceiling
    cumulative = ratio_rule.get("rounding") == "cumulative"
    # "cumulative": the year's running exact amount is rounded, and the claim pays the change
    raw = half_up(person.basic_exact + exact) - person.basic_rounded if cumulative else half_up(exact)
    paid = raw
    if per_admission is not None and per_admission.get("fund") is not None:
        paid = min(paid, per_admission["fund"])
    if annual is not None and annual.get("fund") is not None:
        paid = min(paid, max(0, annual["fund"] - person.basic_paid))

    above_cap = payable - covered

    def commit() -> None:
        person.admissions += 1
        person.last_deductible = nominal
        person.deductible_paid += charged
        person.in_scope_total += in_scope
        person.payable_total += payable
        person.basic_paid += paid
        if cumulative:
            person.basic_exact += exact
            person.basic_rounded += raw

    return {
        "charged": charged,
        "payable": payable,
        "raw": raw,
        "paid": paid,
        "in_scope": in_scope,
        "above_cap": above_cap,
        "reduction": 0,
        "commit": commit,
    }


def outpatient_layer(rules, claim: Claim, person: Person) -> dict:
    """Layer 1 for an outpatient service, read the way policies/README.md describes it."""
    name = claim.service
    rule = rules.rule(f"outpatient.service.{name}")
    if rule is None:
        return {"rejected": "settled_on"}
    if claim.level not in rule["levels"]:
        return {"rejected": "level"}
    place = "local" if claim.referral == "resident" else claim.place
    if place not in (rule["places"] or {"local"}):
        return {"rejected": "place"}
    if rule.get("diseases") and not set(rule["diseases"]) & set(claim.diseases):
        return {"rejected": "diseases"}
    excluded = set(rule.get("excluded_if_certified") or ()) & set(claim.certified)
    if excluded and rule.get("disease_caps") is None:
        return {"rejected": "certified"}
    cap = rule.get("cap")
    if rule.get("disease_caps") is not None:
        counted = [
            amount
            for disease, amount in rule["disease_caps"].items()
            if disease in claim.diseases and disease not in excluded
        ]
        if not counted:
            return {"rejected": "diseases"}
        disease_cap = max(counted) if rule.get("highest_only") else sum(counted)
        if rule.get("ceiling") is not None:
            disease_cap = min(disease_cap, rule["ceiling"])
        cap = disease_cap if cap is None else min(cap, disease_cap)
    if rule.get("fixed") is None and rule["ratio"].get(claim.level) is None:
        return {"rejected": "level"}
    halve = rule.get("halve") or ()
    reduction = half_up(
        Fraction(int(claim.bed_fees) * ("bed" in halve) + int(claim.nursing_fees) * ("nursing" in halve), 2)
    )
    in_scope = int(claim.in_scope_cost) - reduction
    # period_cost_cap: of the calendar month's (quarter's) in-scope cost, at most its amount counts
    counted, period = in_scope, None
    if rule.get("period_cost_cap") is not None:
        limit = rule["period_cost_cap"]
        month = claim.settled_on.month
        period = (limit.per, month if limit.per == "month" else (month + 2) // 3)
        so_far = person.service_period_cost.get(name, 0) if person.service_period.get(name) == period else 0
        counted = min(in_scope, max(0, limit.amount - so_far))
    yearly = rule["deductible"].get(claim.level) if rule.get("deductible") is not None else 0
    charged = min(counted, max(0, (yearly or 0) - person.service_deductible.get(name, 0)))
    payable = in_scope - charged
    if rule.get("fixed") is not None:
        raw = min(rule["fixed"].get(claim.level), counted)
    else:
        raw = half_up((counted - charged) * pct(rule["ratio"].get(claim.level)))
    if rule.get("visit_cap") is not None:
        raw = min(raw, rule["visit_cap"])
    paid = raw if cap is None else min(raw, max(0, cap - person.service_paid.get(name, 0)))

    def commit() -> None:
        person.service_deductible[name] = person.service_deductible.get(name, 0) + charged
        person.service_paid[name] = person.service_paid.get(name, 0) + paid
        if period is not None:
            before = person.service_period_cost.get(name, 0) if person.service_period.get(name) == period else 0
            person.service_period[name] = period
            person.service_period_cost[name] = before + counted

    # the cost above the period cap is the patient's: later layers see it as cost above basic's cap
    return {
        "charged": charged,
        "payable": payable,
        "raw": raw,
        "paid": paid,
        "in_scope": in_scope,
        "above_cap": in_scope - counted,
        "reduction": reduction,
        "commit": commit,
    }


def given_layer(claim: Claim, person: Person) -> dict:
    """Layer 1 as the claim gives it (basic_paid): nothing computed, no deductible known; the year
    counts the admission, its in-scope cost and the payment (or the service's payments)."""
    in_scope, paid = int(claim.in_scope_cost), int(claim.basic_paid)

    def commit() -> None:
        if claim.visit == "inpatient":
            person.admissions += 1
            person.in_scope_total += in_scope
            person.payable_total += in_scope
            person.basic_paid += paid
        else:
            person.service_paid[claim.service] = person.service_paid.get(claim.service, 0) + paid

    return {
        "charged": 0,
        "payable": in_scope,
        "raw": paid,
        "paid": paid,
        "in_scope": in_scope,
        "above_cap": 0,
        "reduction": 0,
        "commit": commit,
    }


def settle_one(policy: Policy, claim: Claim, person: Person) -> dict:
    # reasons in the engine's order: scheme (in settle_all), level, date, then the rules' own
    if claim.level not in policy.levels and (claim.visit == "inpatient" or claim.level not in policy.institutions):
        return {"rejected": "level"}
    if claim.visit == "outpatient" and f"outpatient.service.{claim.service}" not in policy.timelines:
        return {"rejected": "service"}
    rules = Rules(policy, claim.settled_on)
    if claim.basic_paid is not None:
        first = given_layer(claim, person)
    elif claim.visit == "outpatient":
        first = outpatient_layer(rules, claim, person)
    else:
        first = inpatient_layer(rules, claim, person)
    if "rejected" in first:
        return first
    charged, payable, raw, paid = first["charged"], first["payable"], first["raw"], first["paid"]
    in_scope, above_cap, total = first["in_scope"], first["above_cap"], int(claim.total) - first["reduction"]

    # the other layers reject before anything is settled or accumulated
    critical_place = one_rule(rules, "critical.place", claim)
    assistance_rule = one_rule(rules, "assistance.category", claim)
    assistance_again = one_rule(rules, "assistance.again", claim)
    cap_rule = one_rule(rules, "backstop.burden_cap", claim)
    again_rule = one_rule(rules, "backstop.pay_again", claim)
    bands_rule = rules.rule("critical.bands")
    base_rule = rules.rule("critical.base")
    counts = claim.visit == "inpatient" or (
        base_rule is not None and claim.service in (base_rule.get("services") or ())
    )
    if bands_rule is not None and claim.critical_paid is None:
        split = len({bool(base_rule[k]) for k in ("deductible", "coinsurance", "above_cap")}) == 1
        if counts and claim.basic_paid is not None and claim.critical_base is None and not split:
            return {"rejected": "basic_paid"}  # the self-pay left is not split into the parts the base names
        if critical_place == "ambiguous":
            return {"rejected": "place"}
        if critical_place is not None and critical_place.get("ratio") is not None:
            if critical_place["ratio"].get(claim.level) is None:
                return {"rejected": "level"}
        elif any(b.ratio.get(claim.level) is None for b in bands_rule["bands"]):
            return {"rejected": "level"}
    if "ambiguous" in (assistance_rule, assistance_again, cap_rule, again_rule):
        return {"rejected": "category"}

    first["commit"]()

    # layer 2: 大病保险 / 大额补助
    critical = 0 if claim.critical_paid is None else int(claim.critical_paid)
    if bands_rule is not None and counts:
        base_rule = rules.rule("critical.base")
        covered = payable - above_cap
        cut = half_up(Fraction(covered * (raw - paid), raw)) if raw > 0 else 0
        cut = min(cut, max(covered - paid, 0))
        parts = {
            "deductible": charged,
            "coinsurance": max(covered - cut - paid, 0),
            "above_cap": above_cap + cut,
            "pre_self_pay": int(claim.pre_self_pay),
        }
        base = sum(amount for name, amount in parts.items() if base_rule[name])
        if claim.critical_base is not None:
            base = int(claim.critical_base)
        threshold = Fraction(rules.rule("critical.threshold")["amount"])
        points2 = 0
        cap2 = rules.rule("critical.cap")["amount"] if rules.rule("critical.cap") is not None else None
        for m in rules.named("critical.modifier"):
            if applies(m["when"], claim):
                if m.get("threshold_fraction") is not None:
                    threshold *= pct(m["threshold_fraction"])
                points2 += _points(m.get("ratio_points"), claim.level)
                if m.get("uncapped"):
                    cap2 = None
        threshold = half_up(threshold)
        if critical_place is not None and critical_place.get("ratio_points") is not None:
            points2 += _points(critical_place["ratio_points"], claim.level)
        x0, x1 = person.critical_base, person.critical_base + base
        lo, hi = max(x0, threshold), max(x1, threshold)
        if bands_rule["convention"] == "above_threshold":
            lo, hi = lo - threshold, hi - threshold
        exact = Fraction(0)
        lower = 0
        for band in bands_rule["bands"]:
            if critical_place is not None and critical_place.get("ratio") is not None:
                rate = critical_place["ratio"].get(claim.level)
            else:
                rate = band.ratio.get(claim.level)
            exact += overlap(lo, hi, lower, band.upper) * pct(max(0, min(10000, rate + points2)))
            lower = band.upper if band.upper is not None else lower
        if claim.critical_paid is not None:
            pass  # paid as given: no bands, rounding or cap
        elif bands_rule.get("rounding") == "cumulative":
            critical = half_up(person.critical_exact + exact) - person.critical_rounded
            person.critical_exact += exact
            person.critical_rounded += critical
        else:
            critical = half_up(exact)
        if cap2 is not None and claim.critical_paid is None:
            critical = min(critical, max(0, cap2 - person.critical_paid))
        person.critical_base = x1
    person.critical_paid += critical

    # layer 3: 医疗救助
    assistance = 0
    if assistance_rule is not None:
        left = max(in_scope - paid - critical, 0)
        group = assistance_rule.get("cap_group") or "shared"
        x0 = person.assistance_base.get(group, 0)
        x1 = x0 + left
        d = assistance_rule["deductible"]
        assistance = half_up((max(x1, d) - max(x0, d)) * pct(assistance_rule["ratio"]))
        if assistance_rule.get("cap") is not None:
            assistance = min(assistance, max(0, assistance_rule["cap"] - person.assistance_paid.get(group, 0)))
        person.assistance_base[group] = x1
        person.assistance_paid[group] = person.assistance_paid.get(group, 0) + assistance
    if assistance_again is not None:  # 再次救助: on what is still left, above its own threshold on the year's total
        left = max(in_scope - paid - critical - assistance, 0)
        x0, x1, t = person.again_base, person.again_base + left, assistance_again["threshold"]
        second = half_up((max(x1, t) - max(x0, t)) * pct(assistance_again["ratio"]))
        if assistance_again.get("cap") is not None:
            second = min(second, max(0, assistance_again["cap"] - person.again_paid))
        person.again_base, person.again_paid = x1, person.again_paid + second
        assistance += second

    # layer 4: 兜底
    left = max(in_scope - paid - critical - assistance, 0)
    backstop = 0
    if cap_rule is not None:
        person.burden += left
        person.largest_cap = max(person.largest_cap, cap_rule["cap"].get(claim.level))
        owed = max(person.burden - person.largest_cap, 0)
        backstop = min(max(owed - person.backstop_cap_paid, 0), left)
        person.backstop_cap_paid += backstop
    if again_rule is not None:  # what is still left, paid again: of the year's total of it, above a threshold
        rest = left - backstop
        x0, x1, t = person.pay_again_base, person.pay_again_base + rest, again_rule.get("threshold") or 0
        backstop += half_up((max(x1, t) - max(x0, t)) * pct(again_rule["ratio"]))
        person.pay_again_base = x1

    funds = paid + critical + assistance + backstop
    return {
        "deductible": charged,
        "basic": paid,
        "critical": critical,
        "assistance": assistance,
        "backstop": backstop,
        "patient": total - funds,
        "in_scope": in_scope,
    }


def settle_all(policy: Policy, claims: list[Claim]) -> list[dict]:
    """Every claim's result in input order; people settled in (date, claim id, input row) order."""
    order = sorted(
        range(len(claims)),
        key=lambda i: (
            claims[i].person_id,
            claims[i].settled_on.year,
            claims[i].settled_on,
            claims[i].claim_id or "",
            i,
        ),
    )
    people: dict[tuple[str, int], Person] = {}
    results: list[dict] = [{} for _ in claims]
    for i in order:
        c = claims[i]
        if c.scheme is not None and c.scheme != policy.scheme:
            results[i] = {"rejected": "scheme"}
            continue
        person = people.setdefault((c.person_id, c.settled_on.year), Person())
        results[i] = settle_one(policy, c, person)
    return results
