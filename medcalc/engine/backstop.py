"""Layer 4, 兜底 backstops: a cap on the year's personal burden, and paying the rest again.

- ``burden_cap``: for eligible people the year's in-scope burden left after every other layer
  is capped at an amount that depends on where care happened (Anhui "351": county 3000, city
  5000, province 10000). A year that mixes levels is capped at the cap of the highest level
  used so far in the year (the largest cap); the backstop never takes back what it paid.
- ``pay_again``: what is still left of the in-scope burden is paid again at a ratio ("180"); with
  a ``threshold``, only the year's total of it above the threshold (charged once a year): the
  claim pays for the stretch it adds above it, like a stage of 医疗救助.
"""

from __future__ import annotations

import attrs
import numpy as np

from ..policy.model import ResolvedPolicy, RuleVersion
from .common import Gathered, LayerBuild, RuleIndex, choose_one, level_array

__all__ = ["BackstopTables", "build"]


@attrs.define
class BackstopTables:
    cap_rules: list[RuleVersion]
    again_rules: list[RuleVersion]


def build(
    variants: list[ResolvedPolicy], variant: np.ndarray, cols: dict[str, np.ndarray], level_codes: list[str]
) -> LayerBuild:
    n = len(variant)
    p = {
        "cap_rule": np.full(n, -1, np.int64),
        "cap": np.zeros(n, np.int64),
        "again_rule": np.full(n, -1, np.int64),
        "again_ratio": np.zeros(n, np.int64),
        "again_threshold": np.zeros(n, np.int64),
    }
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
