"""Layer 3, 医疗救助: medical assistance for eligible people, on the in-scope self-pay left.

One rule per person category (特困, 低保, 低收入, …), optionally per visit kind or service: an
annual deductible on the year's eligible self-pay, a ratio above it, an annual cap. The base is
the in-scope cost minus what basic insurance and the second layer paid (never below zero).
Rules of one cap group share the year's deductible and cap; different groups keep their own
(inpatient and outpatient assistance caps separate or shared).
"""

from __future__ import annotations

import attrs
import numpy as np

from ..policy.model import ResolvedPolicy, RuleVersion
from .accumulators import DEFAULT_CAP_GROUP
from .common import Gathered, NO_LIMIT, LayerBuild, RuleIndex, choose_one

__all__ = ["AssistanceTables", "build"]


@attrs.define
class AssistanceTables:
    rules: list[RuleVersion]


def build(variants: list[ResolvedPolicy], variant: np.ndarray, cols: dict[str, np.ndarray], level_codes: list[str]) -> LayerBuild:
    n = len(variant)
    p = {"rule": np.full(n, -1, np.int64), "deductible": np.zeros(n, np.int64), "ratio": np.zeros(n, np.int64),
         "cap": np.full(n, NO_LIMIT, np.int64), "group": np.zeros(n, np.int64)}
    index = RuleIndex()
    problems: list[tuple[np.ndarray, str, str]] = []
    for v, resolved in enumerate(variants):
        rules = resolved.named("assistance.category")
        rows = np.flatnonzero(variant == v)
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
    return LayerBuild(p, AssistanceTables(index.rules), problems, idle=bool((p["rule"] < 0).all()))
