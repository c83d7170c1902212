"""Layer 1 for outpatient claims (门诊): each service the policy names is a category of its own.

A service (普通门诊, 两病, 门诊慢特病, 大额普通门诊, 日间病床, 互联网+ follow-up, childbirth …) says
at which levels and places it pays, an annual deductible, a ratio by level or a fixed payment
per visit, an annual cap (or caps per disease that add up, or the highest one only, to a
ceiling), a cap per visit, a cap on the in-scope cost counted per calendar month or quarter, the
certifications that end it, and fees counted at half. Each
service keeps its own year-to-date deductible and payments: one service never pays from
another's cap. Inpatient rows pass through untouched (the basic layer settled them).

Here: ``PARAMS`` (the parameter table), ``build`` (the policy's service rules per profile),
``settle_visit`` (the kernel function), ``fee_reduction`` (fees counted at half, taken off the
bill before any layer) and ``explain`` (a visit's steps, from ``TRACE``).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import attrs
import numpy as np

from ...money import RATIO_ONE, Fen, Ratio, format_yuan, round_half_up
from ...policy.model import PLACES, REFERRALS, ResolvedPolicy, RuleVersion
from ...settlement import Step
from ..arithmetic import NO_LIMIT
from ..citing import INFINITY, cited, wage_steps
from ..common import GIVEN_BASIC, LayerBuild, RuleIndex, Vocabulary, level_array, parameter_columns
from ..state import K_SERVICE_DEDUCTIBLE, K_SERVICE_PAID, K_SERVICE_PERIOD, K_SERVICE_PERIOD_COST, S_KEYED

if TYPE_CHECKING:
    from ..outcome import Outcome

__all__ = ["PARAMS", "TRACE", "OutpatientTables", "build", "fee_reduction", "settle_visit", "period_key", "explain"]

# ----------------------------------------------------------------------------- parameters

#: The parameter table's columns, each with its value where no rule sets one.
PARAMS = {
    "rule": -1,  # the service's rule (-1: none applies: not an outpatient row)
    "deductible": 0,  # yearly, by level
    "ratio": 0,
    "fixed": -1,  # a fixed payment per visit (-1: paid at ``ratio``)
    "cap": NO_LIMIT,  # yearly (or the sum / highest of the claim's disease caps)
    "visit_cap": NO_LIMIT,
    "halve_bed": 0,  # 1: bed fees count at half (日间病床)
    "halve_nursing": 0,
    "period_months": 0,  # 0: no cap per period; 1: per month; 3: per quarter
    "period_cap": NO_LIMIT,
}
#: Each parameter's column in the table.
PARAM_AT = {name: k for k, name in enumerate(PARAMS)}
RULE = PARAM_AT["rule"]
DEDUCTIBLE = PARAM_AT["deductible"]
RATIO = PARAM_AT["ratio"]
FIXED = PARAM_AT["fixed"]
CAP = PARAM_AT["cap"]
VISIT_CAP = PARAM_AT["visit_cap"]
HALVE_BED = PARAM_AT["halve_bed"]
HALVE_NURSING = PARAM_AT["halve_nursing"]
PERIOD_MONTHS = PARAM_AT["period_months"]
PERIOD_CAP = PARAM_AT["period_cap"]

#: Intermediate amounts written when tracing (``tr[at + k]``).
TRACE = (
    "service_deductible_before",
    "service_paid_before",
    "service_cap",
    "service_raw",
    "service_counted",  # the in-scope cost counted toward the deductible and ratio (a period cap may cut it)
    "service_period_before",  # in-scope cost counted in the claim's month / quarter before it
    "service_period_cap",  # the cap on it (NO_LIMIT: none)
)
_T = {name: k for k, name in enumerate(TRACE)}
T_DEDUCTIBLE_BEFORE = _T["service_deductible_before"]
T_PAID_BEFORE = _T["service_paid_before"]
T_CAP = _T["service_cap"]
T_RAW = _T["service_raw"]
T_COUNTED = _T["service_counted"]
T_PERIOD_BEFORE = _T["service_period_before"]
T_PERIOD_CAP = _T["service_period_cap"]


# ----------------------------------------------------------------------------- build


@attrs.define
class OutpatientTables:
    rules: list[RuleVersion]


def build(
    variants: list[ResolvedPolicy], variant: np.ndarray, cols: dict[str, np.ndarray], vocab: Vocabulary
) -> LayerBuild:
    n = len(variant)
    p = parameter_columns(PARAMS, n)
    index = RuleIndex()
    problems: list[tuple[np.ndarray, str, str]] = []
    outpatient = (cols["visit"] == 1) & (cols["given"] & GIVEN_BASIC == 0)  # (a payment given needs no rule)
    local, resident = PLACES.index("local"), REFERRALS.index("resident")
    for v, resolved in enumerate(variants):
        for s, service in enumerate(vocab.services):
            rows = np.flatnonzero((variant == v) & outpatient & (cols["service"] == s))
            rule = resolved.rule(f"outpatient.service.{service}")
            if not len(rows) or rule is None:
                continue  # rows without the rule in force were rejected with the day's coverage
            level, sub_places = cols["level"][rows], cols["place"][rows]
            p["rule"][rows] = index(rule)
            allowed_levels = np.isin(level, [vocab.index(lv) for lv in rule["levels"]])
            if not allowed_levels.all():
                problems.append(
                    (
                        rows[~allowed_levels],
                        "level",
                        f"outpatient service {service!r} is paid only at {', '.join(sorted(rule['levels']))}",
                    )
                )
            places = rule["places"] or frozenset({"local"})
            # a filed long-term resident (备案) is settled as if at home
            where = np.where(cols["referral"][rows] == resident, local, sub_places)
            ok_place = np.isin(where, [PLACES.index(x) for x in places])
            if not ok_place.all():
                problems.append(
                    (
                        rows[~ok_place],
                        "place",
                        f"outpatient service {service!r} pays only care {', '.join(sorted(places))} "
                        "(or of filed long-term residents)",
                    )
                )
            if rule.get("diseases"):
                named = (cols["diseases"][rows] & vocab.disease_mask(rule["diseases"])) != 0
                if not named.all():
                    problems.append(
                        (
                            rows[~named],
                            "diseases",
                            f"outpatient service {service!r} pays only for "
                            f"{', '.join(rule['diseases'])}; the claim names none of them",
                        )
                    )
            excluded = vocab.disease_mask(rule.get("excluded_if_certified") or ())
            certified = cols["certified"][rows] & excluded  # certified 慢特病 that end this cover
            if excluded and rule.get("disease_caps") is None:
                ended = certified != 0
                if ended.any():
                    problems.append(
                        (
                            rows[ended],
                            "certified",
                            f"outpatient service {service!r} ends once the person is certified for "
                            f"{', '.join(rule['excluded_if_certified'])}",
                        )
                    )
            if rule.get("fixed") is not None:
                p["fixed"][rows] = level_array(rule["fixed"], vocab)[level]
            else:
                p["ratio"][rows] = level_array(rule["ratio"], vocab)[level]
                lacking = p["ratio"][rows] < 0
                if lacking.any():
                    problems.append(
                        (rows[lacking], "level", f"outpatient service {service!r} has no ratio for this level")
                    )
            # a yearly deductible by level is charged up to the highest level used in the year
            if rule.get("deductible") is not None:
                p["deductible"][rows] = np.maximum(level_array(rule["deductible"], vocab)[level], 0)
            p["cap"][rows] = NO_LIMIT if rule.get("cap") is None else rule["cap"]
            if rule.get("disease_caps") is not None:
                caps = rule["disease_caps"]
                # a disease counts if the claim names it, unless the person is certified for it as a
                # 慢特病 that may not be enjoyed twice
                masks = cols["diseases"][rows] & ~certified
                per_disease = np.stack(
                    [np.where(masks & vocab.disease_mask([d]), amount, 0) for d, amount in caps.items()]
                )
                disease_cap = per_disease.max(axis=0) if rule.get("highest_only") else per_disease.sum(axis=0)
                if rule.get("ceiling") is not None:
                    disease_cap = np.minimum(disease_cap, rule["ceiling"])
                none = (masks & vocab.disease_mask(list(caps))) == 0
                if none.any():
                    problems.append(
                        (
                            rows[none],
                            "diseases",
                            f"outpatient service {service!r} pays only for "
                            f"{', '.join(caps)} (not for a disease certified as 慢特病 where that ends "
                            "the cover); the claim names none of them",
                        )
                    )
                p["cap"][rows] = np.minimum(p["cap"][rows], disease_cap)
            if rule.get("visit_cap") is not None:
                p["visit_cap"][rows] = rule["visit_cap"]
            if rule.get("period_cost_cap") is not None:
                p["period_months"][rows] = rule["period_cost_cap"].months
                p["period_cap"][rows] = rule["period_cost_cap"].amount
            halve = rule.get("halve") or frozenset()
            p["halve_bed"][rows] = int("bed" in halve)
            p["halve_nursing"][rows] = int("nursing" in halve)
    return LayerBuild(p, OutpatientTables(index.rules), problems)


def fee_reduction(
    halve_bed: np.ndarray, halve_nursing: np.ndarray, bed_fees: np.ndarray, nursing_fees: np.ndarray
) -> np.ndarray:
    """Fees the policy counts at half (日间病床 bed and nursing), per row: taken off the bill
    before anything is paid, rounded half up once."""
    return round_half_up(bed_fees * halve_bed + nursing_fees * halve_nursing, 2)


# ----------------------------------------------------------------------------- kernel


def period_key(months, month):
    """The calendar period of a month of the year (0-11) that a cap per ``months`` months counts
    in: months x 100 + its number in the year from 1 (101-112 a month, 301-304 a quarter), so
    that a key of one kind never equals one of the other; 0 is "no period yet"."""
    return months * 100 + month // months + 1


def settle_visit(i, p, par, st, service, in_scope, month, services, trace, tr, at):
    """An outpatient visit, from its service's own year-to-date deductible and payments (and the
    in-scope cost counted in its month or quarter): returns (deductible, payable, above cost cap,
    raw, paid) like ``basic.settle_admission``; the cost a period cap leaves uncounted is "above
    cost cap"."""
    if par[p, RULE] < 0:
        return 0, 0, 0, 0, 0
    k = max(service, 0)
    deductible_at = S_KEYED + K_SERVICE_DEDUCTIBLE * services + k
    paid_at = S_KEYED + K_SERVICE_PAID * services + k
    # a cap on the in-scope cost counted per calendar month / quarter: what it leaves of the
    # cost counted so far in the claim's period (reset when the period changes)
    counted = in_scope
    months = par[p, PERIOD_MONTHS]
    period_before = 0
    if months > 0:
        period_at = S_KEYED + K_SERVICE_PERIOD * services + k
        cost_at = S_KEYED + K_SERVICE_PERIOD_COST * services + k
        key = period_key(months, month)
        if st[period_at] != key:
            st[period_at] = key
            st[cost_at] = 0
        period_before = st[cost_at]
        counted = min(in_scope, max(par[p, PERIOD_CAP] - period_before, 0))
        st[cost_at] += counted
    # a yearly deductible by level is charged up to the highest level used in the year
    deductible_before = st[deductible_at]
    charged = min(counted, max(par[p, DEDUCTIBLE] - deductible_before, 0))
    payable = in_scope - charged
    above = in_scope - counted
    fixed = par[p, FIXED]
    if fixed >= 0:  # a fixed payment per visit (互联网+ follow-up, childbirth)
        raw = min(fixed, counted)
    else:
        raw = round_half_up((counted - charged) * par[p, RATIO], RATIO_ONE)
    raw = min(raw, par[p, VISIT_CAP])
    paid_before = st[paid_at]
    paid = min(raw, max(par[p, CAP] - paid_before, 0))
    st[deductible_at] += charged
    st[paid_at] += paid
    if trace:
        tr[at + T_DEDUCTIBLE_BEFORE, i] = deductible_before
        tr[at + T_PAID_BEFORE, i] = paid_before
        tr[at + T_CAP, i] = par[p, CAP]
        tr[at + T_RAW, i] = raw
        tr[at + T_COUNTED, i] = counted
        tr[at + T_PERIOD_BEFORE, i] = period_before
        tr[at + T_PERIOD_CAP, i] = par[p, PERIOD_CAP] if months > 0 else NO_LIMIT
    return charged, payable, above, raw, paid


#: The kernel functions of this module, callees first.
FUNCTIONS = ("period_key", "settle_visit")


# ----------------------------------------------------------------------------- explanation


def explain(o: Outcome, i: int, r: dict, c: dict) -> list[Step]:
    """The steps of outpatient visit ``i`` (``r``: its results and traced columns, ``c``: its columns)."""
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
                **cited(rule),
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
                **cited(rule),
            )
        )
    if p["fixed"] >= 0:
        steps.append(
            Step(
                "fixed",
                f"门诊 {service}: fixed payment 定额支付",
                f"{format_yuan(p['fixed'])} a visit (at most the in-scope cost)",
                amount=Fen(r["service_raw"]),
                **cited(rule),
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
                **cited(rule),
            )
        )
        steps += wage_steps(rule, f"deductible.{code}", "deductible")
        paid_on = counted - r["deductible"]  # (the payable part, or less when a period cap cut the cost counted)
        steps.append(
            Step(
                "ratio",
                f"门诊 {service}: 报销比例 ratio",
                f"{format_yuan(paid_on)} × {Ratio(p['ratio'])}",
                base=Fen(paid_on),
                rate=Ratio(p["ratio"]),
                amount=Fen(r["service_raw"]),
                **cited(rule),
            )
        )
    if p["visit_cap"] < INFINITY:
        steps.append(
            Step(
                "visit_cap",
                f"门诊 {service}: 单次封顶 cap per visit",
                f"at most {format_yuan(p['visit_cap'])} a visit",
                **cited(rule),
            )
        )
        steps += wage_steps(rule, "visit_cap")
    if p["cap"] < INFINITY:
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
                **cited(rule),
            )
        )
        steps += wage_steps(rule, "cap")
    steps.append(
        Step("basic", "基本医保统筹支付 basic insurance pays", f"outpatient service {service}", amount=Fen(r["basic"]))
    )
    return steps
