"""Layer 3, 医疗救助: medical assistance for eligible people, on the in-scope self-pay left.

One rule per person category (特困, 低保, 低收入, …), optionally per visit kind or service: an
annual deductible on the year's eligible self-pay, a ratio above it, an annual cap. The base is
the in-scope cost minus what basic insurance and the second layer paid (never below zero).
Rules of one cap group share the year's deductible and cap; different groups keep their own
(inpatient and outpatient assistance caps separate or shared).

A second stage, 再次救助 (``assistance.again``), may follow: on what the first stage left, above
its own annual threshold on the year's total of that, at its ratio, within its cap. At most
one category rule and one again rule apply to a claim; the two stack, in that order.
"""

from __future__ import annotations

import attrs
import numpy as np

from ..accumulators import DEFAULT_CAP_GROUP
from ..policy.model import ResolvedPolicy, RuleVersion
from .common import NO_LIMIT, Gathered, LayerBuild, RuleIndex, choose_one

__all__ = ["AssistanceTables", "build"]


@attrs.define
class AssistanceTables:
    rules: list[RuleVersion]
    again_rules: list[RuleVersion] = attrs.Factory(list)


def build(
    variants: list[ResolvedPolicy], variant: np.ndarray, cols: dict[str, np.ndarray], level_codes: list[str]
) -> LayerBuild:
    n = len(variant)
    p = {
        "rule": np.full(n, -1, np.int64),
        "deductible": np.zeros(n, np.int64),
        "ratio": np.zeros(n, np.int64),
        "cap": np.full(n, NO_LIMIT, np.int64),
        "group": np.zeros(n, np.int64),
        "again_rule": np.full(n, -1, np.int64),
        "again_threshold": np.zeros(n, np.int64),
        "again_ratio": np.zeros(n, np.int64),
        "again_cap": np.full(n, NO_LIMIT, np.int64),
    }
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
