"""Layer 1 for outpatient claims (门诊): each service the policy names is a category of its own.

A service (普通门诊, 两病, 门诊慢特病, 大额普通门诊, 日间病床, 互联网+ follow-up, childbirth …) says
at which levels and places it pays, an annual deductible, a ratio by level or a fixed payment
per visit, an annual cap (or caps per disease that add up, or the highest one only, to a
ceiling), a cap per visit, a cap on the in-scope cost counted per calendar month or quarter, the
certifications that end it, and fees counted at half. Each
service keeps its own year-to-date deductible and payments: one service never pays from
another's cap. Inpatient rows pass through untouched (the basic layer settled them).
"""

from __future__ import annotations

import attrs
import numpy as np

from ..policy.model import PLACES, REFERRALS, ResolvedPolicy, RuleVersion
from .common import GIVEN_BASIC, NO_LIMIT, LayerBuild, RuleIndex, Vocabulary, half_up, level_array

__all__ = ["OutpatientTables", "build", "fee_reduction"]


@attrs.define
class OutpatientTables:
    rules: list[RuleVersion]


def build(
    variants: list[ResolvedPolicy], variant: np.ndarray, cols: dict[str, np.ndarray], vocab: Vocabulary
) -> LayerBuild:
    n = len(variant)
    p = {
        "rule": np.full(n, -1, np.int64),
        "deductible": np.zeros(n, np.int64),
        "ratio": np.zeros(n, np.int64),
        "fixed": np.full(n, -1, np.int64),
        "cap": np.full(n, NO_LIMIT, np.int64),
        "visit_cap": np.full(n, NO_LIMIT, np.int64),
        "halve_bed": np.zeros(n, np.int64),
        "halve_nursing": np.zeros(n, np.int64),
        "period_months": np.zeros(n, np.int64),
        "period_cap": np.full(n, NO_LIMIT, np.int64),
    }
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
    return half_up(bed_fees * halve_bed + nursing_fees * halve_nursing, 2)
