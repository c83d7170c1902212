"""Layer 3, 医疗救助: medical assistance for eligible people, on the in-scope self-pay left.

One rule per person category (特困, 低保, 低收入, …), optionally per visit kind or service: an
annual deductible on the year's eligible self-pay, a ratio above it, an annual cap. The base is
the in-scope cost minus what basic insurance and the second layer paid (never below zero).
Rules of one cap group share the year's deductible and cap; different groups keep their own
(inpatient and outpatient assistance caps separate or shared).

A second stage, 再次救助 (``assistance.again``), may follow: on what the first stage left, above
its own annual threshold on the year's total of that, at its ratio, within its cap. At most
one category rule and one again rule apply to a claim; the two stack, in that order.

Here: ``PARAMS`` (the parameter table), ``build`` (the category and again rules per profile),
``assistance_stage`` and ``settle_assistance`` (the kernel functions; 兜底's paying again is a
stage too) and ``explain`` (the layer's steps, from ``TRACE``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import numpy as np

from ...accumulators import DEFAULT_CAP_GROUP
from ...money import RATIO_ONE, Fen, Ratio, format_yuan, round_half_up
from ...policy.model import ResolvedPolicy, RuleVersion
from ...settlement import Step
from ..arithmetic import NO_LIMIT
from ..citing import cited, wage_steps
from ..common import Gathered, LayerBuild, RuleIndex, Vocabulary, choose_one, parameter_columns
from ..state import K_ASSISTANCE_BASE, K_ASSISTANCE_PAID, S_AGAIN_BASE, S_AGAIN_PAID, S_KEYED, SERVICE_BLOCKS

if TYPE_CHECKING:
    from ..outcome import Outcome

__all__ = ["PARAMS", "TRACE", "STAGE_TRACE", "AssistanceTables", "build", "assistance_stage", "settle_assistance",
           "explain"]  # fmt: skip

# ----------------------------------------------------------------------------- parameters

#: The parameter table's columns, each with its value where no rule sets one.
PARAMS = {
    "rule": -1,  # the category rule (-1: none applies)
    "deductible": 0,  # the yearly deductible on the group's eligible self-pay
    "ratio": 0,
    "cap": NO_LIMIT,
    "group": 0,  # the cap group (its column of the keyed state)
    "again_rule": -1,  # 再次救助 (-1: none applies)
    "again_threshold": 0,
    "again_ratio": 0,
    "again_cap": NO_LIMIT,
}
#: Each parameter's column in the table.
PARAM_AT = {name: k for k, name in enumerate(PARAMS)}
RULE = PARAM_AT["rule"]
DEDUCTIBLE = PARAM_AT["deductible"]
RATIO = PARAM_AT["ratio"]
CAP = PARAM_AT["cap"]
GROUP = PARAM_AT["group"]
AGAIN_RULE = PARAM_AT["again_rule"]
AGAIN_THRESHOLD = PARAM_AT["again_threshold"]
AGAIN_RATIO = PARAM_AT["again_ratio"]
AGAIN_CAP = PARAM_AT["again_cap"]

#: What a stage traces, from its first field: its base of the claim, the year's base before, raw,
#: paid before and its payment (``assistance_stage``); each stage's fields are named "<stage><part>".
STAGE_TRACE = ("_base_claim", "_base_before", "_raw", "_paid_before", "")
#: Intermediate amounts written when tracing (``tr[at + k]``): the two stages.
TRACE = tuple(f"{stage}{part}" for stage in ("assistance", "assistance_again") for part in STAGE_TRACE)
T_FIRST = 0
T_AGAIN = len(STAGE_TRACE)


# ----------------------------------------------------------------------------- build


@attrs.define
class AssistanceTables:
    rules: list[RuleVersion]
    again_rules: list[RuleVersion] = attrs.Factory(list)


def build(
    variants: list[ResolvedPolicy], variant: np.ndarray, cols: dict[str, np.ndarray], level_codes: Vocabulary
) -> LayerBuild:
    n = len(variant)
    p = parameter_columns(PARAMS, n)
    index, again_index = RuleIndex(), RuleIndex()
    problems: list[tuple[np.ndarray, str, str]] = []
    for v, resolved in enumerate(variants):
        rules = resolved.named("assistance.category")
        rows = np.flatnonzero(variant == v)
        again = resolved.named("assistance.again")
        if again and len(rows):
            _stage_two(
                again,
                rows,
                Gathered(cols, None if len(rows) == len(variant) else rows),
                level_codes,
                again_index,
                problems,
                p,
            )
        if not rules or not len(rows):
            continue
        sub = Gathered(cols, None if len(rows) == len(variant) else rows)
        chosen = choose_one(rules, rows, sub, level_codes, index, problems, "category", "assistance")
        for i in np.unique(chosen[chosen >= 0]):
            rule, where = index.rules[i], rows[chosen == i]
            p["deductible"][where] = rule["deductible"]
            p["ratio"][where] = rule["ratio"]
            p["group"][where] = level_codes.assistance_groups.index(rule.get("cap_group") or DEFAULT_CAP_GROUP)
            if rule.get("cap") is not None:
                p["cap"][where] = rule["cap"]
        p["rule"][rows] = chosen
    return LayerBuild(p, AssistanceTables(index.rules, again_index.rules), problems)


def _stage_two(rules: list[RuleVersion], rows: np.ndarray, sub, level_codes, index: RuleIndex, problems, p) -> None:
    """The 再次救助 rule of each row (at most one may apply) and its threshold, ratio and cap."""
    chosen = choose_one(rules, rows, sub, level_codes, index, problems, "category", "assistance again")
    for i in np.unique(chosen[chosen >= 0]):
        rule, where = index.rules[i], rows[chosen == i]
        p["again_threshold"][where] = rule["threshold"]
        p["again_ratio"][where] = rule["ratio"]
        if rule.get("cap") is not None:
            p["again_cap"][where] = rule["cap"]
    p["again_rule"][rows] = chosen


# ----------------------------------------------------------------------------- kernel


def assistance_stage(i, st, base_at, paid_at, claim_base, threshold, ratio, cap, trace, tr, trace_at):
    """One stage of 医疗救助 against its year: the claim adds ``claim_base`` to the year's base at
    ``st[base_at]``; the stretch above the annual ``threshold`` (charged once) is paid at ``ratio``
    within what ``cap`` leaves of ``st[paid_at]``. Traced at ``trace_at`` (STAGE_TRACE). Returns
    what it pays."""
    before = st[base_at]
    after = before + claim_base
    raw = round_half_up((max(after, threshold) - max(before, threshold)) * ratio, RATIO_ONE)
    paid_before = st[paid_at]
    pay = min(raw, max(cap - paid_before, 0))
    st[base_at] = after
    st[paid_at] += pay
    if trace:
        tr[trace_at, i] = claim_base
        tr[trace_at + 1, i] = before
        tr[trace_at + 2, i] = raw
        tr[trace_at + 3, i] = paid_before
        tr[trace_at + 4, i] = pay
    return pay


def settle_assistance(i, p, par, st, in_scope, paid_so_far, services, groups, trace, tr, at):
    """医疗救助 on the in-scope self-pay left, against its cap group's year (its deductible the
    threshold); then 再次救助 on what that left, against its own year. Returns both together."""
    g = par[p, GROUP]
    keyed = S_KEYED + SERVICE_BLOCKS * services
    first = assistance_stage(
        i,
        st,
        keyed + K_ASSISTANCE_BASE * groups + g,
        keyed + K_ASSISTANCE_PAID * groups + g,
        max(in_scope - paid_so_far, 0) if par[p, RULE] >= 0 else 0,
        par[p, DEDUCTIBLE],
        par[p, RATIO],
        par[p, CAP],
        trace,
        tr,
        at + T_FIRST,
    )
    left = max(in_scope - paid_so_far - first, 0)
    again = assistance_stage(
        i,
        st,
        S_AGAIN_BASE,
        S_AGAIN_PAID,
        left if par[p, AGAIN_RULE] >= 0 else 0,
        par[p, AGAIN_THRESHOLD],
        par[p, AGAIN_RATIO],
        par[p, AGAIN_CAP],
        trace,
        tr,
        at + T_AGAIN,
    )
    return first + again


#: The kernel functions of this module, callees first.
FUNCTIONS = ("assistance_stage", "settle_assistance")


# ----------------------------------------------------------------------------- explanation

_STAGES = (
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


def explain(o: Outcome, i: int, r: dict, c: dict) -> list[Step]:
    """The layer's steps for row ``i`` (``r``: its results and traced columns; ``c`` unused)."""
    steps = []
    for stage, param, rules, threshold, threshold_name, title, left in _STAGES:
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
                **cited(rule),
            )
        )
        steps += wage_steps(rule, threshold, "cap")
    return steps
