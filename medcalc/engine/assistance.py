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
from .common import Gathered, NO_LIMIT, LayerBuild, RuleIndex, choose_one, half_up
from ..money import RATIO_ONE

__all__ = ["STATE", "TRACE", "AssistanceTables", "build", "settle"]

STATE = ("assistance_base", "assistance_paid")

TRACE = ("assistance_base_claim", "assistance_base_before", "assistance_raw", "assistance_paid_before", "assistance")


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


def settle(rows: slice, cols, p, t: AssistanceTables, state, out, bands_out) -> None:
    n = rows.stop - rows.start
    g = np.arange(n)
    active = p["rule"][rows] >= 0
    left = np.maximum(cols["in_scope"][rows] - out["basic"][rows] - out["critical"][rows], 0)
    claim_base = np.where(active, left, 0)
    group = p["group"][rows]
    before = state["assistance_base"][g, group]
    after = before + claim_base
    deductible = p["deductible"][rows]
    # the annual deductible is charged once: pay on the stretch of the year's base above it
    above = np.maximum(after, deductible) - np.maximum(before, deductible)
    raw = half_up(above * p["ratio"][rows], RATIO_ONE)
    paid_before = state["assistance_paid"][g, group]
    pay = np.minimum(raw, np.maximum(p["cap"][rows] - paid_before, 0))
    state["assistance_base"][g, group] = after
    state["assistance_paid"][g, group] += pay
    out["assistance_base_claim"][rows] = claim_base
    out["assistance_base_before"][rows] = before
    out["assistance_raw"][rows] = raw
    out["assistance_paid_before"][rows] = paid_before
    out["assistance"][rows] = pay
