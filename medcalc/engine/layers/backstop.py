"""Layer 4, 兜底 backstops: a cap on the year's personal burden, and paying the rest again.

- ``burden_cap``: for eligible people the year's in-scope burden left after every other layer
  is capped at an amount that depends on where care happened (Anhui "351": county 3000, city
  5000, province 10000). A year that mixes levels is capped at the cap of the highest level
  used so far in the year (the largest cap); the backstop never takes back what it paid.
- ``pay_again``: what is still left of the in-scope burden is paid again at a ratio ("180"); with
  a ``threshold``, only the year's total of it above the threshold (charged once a year): the
  claim pays for the stretch it adds above it, like a stage of 医疗救助.

Here: ``PARAMS`` (the parameter table), ``build`` (the burden cap and pay-again rules per
profile), ``settle_backstop`` (the kernel function) and ``explain`` (the layer's steps, from
``TRACE``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import numpy as np

from ...money import Fen, Ratio, format_yuan
from ...policy.model import ResolvedPolicy, RuleVersion
from ...settlement import Step
from ..arithmetic import NO_LIMIT
from ..citing import cited, wage_steps
from ..common import Gathered, LayerBuild, RuleIndex, Vocabulary, choose_one, level_array, parameter_columns
from ..state import (
    S_BACKSTOP_AGAIN_BASE,
    S_BACKSTOP_AGAIN_PAID,
    S_BACKSTOP_CAP_PAID,
    S_BACKSTOP_PAID,
    S_BURDEN,
    S_BURDEN_CAP_USED,
)
from .assistance import STAGE_TRACE, assistance_stage

if TYPE_CHECKING:
    from ..outcome import Outcome

__all__ = ["PARAMS", "TRACE", "BackstopTables", "build", "settle_backstop", "explain"]

# ----------------------------------------------------------------------------- parameters

#: The parameter table's columns, each with its value where no rule sets one.
PARAMS = {
    "cap_rule": -1,  # the burden cap rule (-1: none applies)
    "cap": 0,  # the cap where care happened
    "again_rule": -1,  # paying again (-1: none applies)
    "again_ratio": 0,
    "again_threshold": 0,
}
#: Each parameter's column in the table.
PARAM_AT = {name: k for k, name in enumerate(PARAMS)}
CAP_RULE = PARAM_AT["cap_rule"]
CAP = PARAM_AT["cap"]
AGAIN_RULE = PARAM_AT["again_rule"]
AGAIN_RATIO = PARAM_AT["again_ratio"]
AGAIN_THRESHOLD = PARAM_AT["again_threshold"]

#: Intermediate amounts written when tracing (``tr[at + k]``): the burden cap, then paying
#: again (an assistance stage: STAGE_TRACE).
TRACE = (
    "backstop_burden_claim",
    "backstop_burden_before",
    "backstop_cap_used",
    "backstop_cap_paid_before",
    "backstop_cap_pay",
) + tuple(f"backstop_again{part}" for part in STAGE_TRACE)
_T = {name: k for k, name in enumerate(TRACE)}
T_BURDEN_CLAIM = _T["backstop_burden_claim"]
T_BURDEN_BEFORE = _T["backstop_burden_before"]
T_CAP_USED = _T["backstop_cap_used"]
T_CAP_PAID_BEFORE = _T["backstop_cap_paid_before"]
T_CAP_PAY = _T["backstop_cap_pay"]
T_AGAIN = _T["backstop_again_base_claim"]


# ----------------------------------------------------------------------------- build


@attrs.define
class BackstopTables:
    cap_rules: list[RuleVersion]
    again_rules: list[RuleVersion]


def build(
    variants: list[ResolvedPolicy], variant: np.ndarray, cols: dict[str, np.ndarray], level_codes: Vocabulary
) -> LayerBuild:
    n = len(variant)
    p = parameter_columns(PARAMS, n)
    caps, agains = RuleIndex(), RuleIndex()
    problems: list[tuple[np.ndarray, str, str]] = []
    if not any(r.named("backstop.burden_cap") or r.named("backstop.pay_again") for r in variants):
        return LayerBuild(p, BackstopTables([], []), problems)  # most policies have no backstop
    for v, resolved in enumerate(variants):
        rows = np.flatnonzero(variant == v)
        if not len(rows):
            continue
        sub = Gathered(cols, None if len(rows) == len(variant) else rows)
        chosen = choose_one(
            resolved.named("backstop.burden_cap"), rows, sub, level_codes, caps, problems, "category", "burden cap"
        )
        p["cap_rule"][rows] = chosen
        for i in np.unique(chosen[chosen >= 0]):
            hit = chosen == i
            p["cap"][rows[hit]] = level_array(caps.rules[i]["cap"], level_codes)[sub["level"][hit]]
        chosen = choose_one(
            resolved.named("backstop.pay_again"), rows, sub, level_codes, agains, problems, "category", "pay-again"
        )
        p["again_rule"][rows] = chosen
        for i in np.unique(chosen[chosen >= 0]):
            p["again_ratio"][rows[chosen == i]] = agains.rules[i]["ratio"]
            p["again_threshold"][rows[chosen == i]] = agains.rules[i].get("threshold") or 0
    return LayerBuild(p, BackstopTables(caps.rules, agains.rules), problems)


# ----------------------------------------------------------------------------- kernel


def settle_backstop(i, p, par, st, in_scope, paid_so_far, trace, tr, at):
    """兜底: the year's burden capped by where care happened, then the rest paid again at a
    ratio: the stretch the claim adds to the year's rest above an annual threshold (charged
    once; 0 without one: all of the claim's rest), an assistance stage without a cap. Returns
    what it pays."""
    capped = par[p, CAP_RULE] >= 0
    left = max(in_scope - paid_so_far, 0)
    claim_burden = left if capped else 0
    before = st[S_BURDEN]
    after = before + claim_burden
    # a year that mixes levels is capped at the largest cap used so far in it
    cap_used = max(st[S_BURDEN_CAP_USED], par[p, CAP]) if capped else st[S_BURDEN_CAP_USED]
    paid_before = st[S_BACKSTOP_CAP_PAID]
    cap_pay = min(max(max(after - cap_used, 0) - paid_before, 0), left) if capped else 0
    again = assistance_stage(
        i,
        st,
        S_BACKSTOP_AGAIN_BASE,
        S_BACKSTOP_AGAIN_PAID,
        left - cap_pay if par[p, AGAIN_RULE] >= 0 else 0,
        par[p, AGAIN_THRESHOLD],
        par[p, AGAIN_RATIO],
        NO_LIMIT,
        trace,
        tr,
        at + T_AGAIN,
    )
    pay = cap_pay + again
    st[S_BURDEN] = after
    st[S_BURDEN_CAP_USED] = cap_used
    st[S_BACKSTOP_CAP_PAID] += cap_pay
    st[S_BACKSTOP_PAID] += pay
    if trace:
        tr[at + T_BURDEN_CLAIM, i] = claim_burden
        tr[at + T_BURDEN_BEFORE, i] = before
        tr[at + T_CAP_USED, i] = cap_used
        tr[at + T_CAP_PAID_BEFORE, i] = paid_before
        tr[at + T_CAP_PAY, i] = cap_pay
    return pay


#: The kernel functions of this module, callees first.
FUNCTIONS = ("settle_backstop",)


# ----------------------------------------------------------------------------- explanation


def explain(o: Outcome, i: int, r: dict, c: dict) -> list[Step]:
    """The layer's steps for row ``i`` (``r``: its results and traced columns; ``c`` unused)."""
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
                **cited(rule),
            )
        )
        steps += wage_steps(rule, f"cap.{code}", "cap")
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
                **cited(rule),
            )
        )
        steps += wage_steps(rule, "threshold")
    return steps
