"""The rule versions in force on each claim's day: the pipeline's first stage.

Rules are looked up once per distinct day (``CompiledPolicy.rules_on``) and rows mapped to
them through a table of the days in their range; a row whose visit has no rules on its day
is refused, saying which days the policy covers.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from ..policy.model import Policy, ResolvedPolicy
from . import rows as row_moves
from .common import GIVEN_BASIC
from .compiled import choose_engine, in_ranges, kernel_functions, low_high
from .compiled_policy import CompiledPolicy
from .encoding import Encoded
from .layers.basic import REQUIRED_RULES

__all__ = ["rules_in_force"]


def _coverage_text(policy: Policy) -> str:
    spans = policy.coverage(REQUIRED_RULES)
    if not spans:
        return f"policy {policy.id} has no inpatient rules in force on any day"
    shown = ", ".join(f"{a} to {b if b else 'open'}" for a, b in spans)
    return f"policy {policy.id} covers {shown}"


def rules_in_force(
    compiled: CompiledPolicy, enc: Encoded, live: np.ndarray, engine: str | None = None, threads: int = 1
) -> tuple[np.ndarray, list[ResolvedPolicy]]:
    """The rule versions in force for each row's day; rows on a day without them are rejected.

    Rules are looked up once per distinct day, and rows mapped through a table of the days
    in their range (no sort).
    """
    policy, services = compiled.policy, compiled.vocab.services
    variant = np.empty(len(enc.ok), np.int32)
    variant.fill(-1)  # (np.full's Python wrapper costs more than a single claim's whole lookup)
    variants: list[ResolvedPolicy] = []
    index: dict[int, int] = {}
    if not len(live):
        return variant, variants
    day = enc.cols["day"]
    if len(live) == 1:  # one claim: its day's rules, without a table of days
        row = int(live[0])
        resolved, in_force = compiled.rules_on(int(day[row]))
        service = int(enc.cols["service"][row])
        if in_force[service if service >= 0 else len(services)] or enc.cols["given"][row] & GIVEN_BASIC:
            variant[row] = 0
            return variant, [resolved]
        # (not in force: the general path below words the reject)
    move = kernel_functions(choose_engine(engine, len(live)), row_moves)
    first, last = low_high(move["value_range"], live, day, threads)
    present = np.zeros(last - first + 1, np.int8)
    in_ranges(move["mark_days"], len(live), threads, (live, day, first, present), (0,))  # (same-value writes)
    present = present.astype(bool)
    day_variant = np.full(len(present), -1, np.int32)
    in_force = np.ones((len(present), len(services) + 1), bool)  # per day: each service, then admissions
    for d in np.flatnonzero(present).tolist():
        resolved, in_force[d] = compiled.rules_on(first + d)
        if id(resolved) not in index:
            index[id(resolved)] = len(variants)
            variants.append(resolved)
        day_variant[d] = index[id(resolved)]
    in_ranges(move["look_up_days"], len(live), threads, (live, day, first, day_variant, variant), (0,))
    if not in_force[present].all():  # some rows' visits have no rules on their day
        offset = day[live] - first
        service = enc.cols["service"][live]
        column = np.where(service >= 0, service, len(services))
        missing = ~in_force[offset, column] & (
            enc.cols["given"][live] & GIVEN_BASIC == 0
        )  # (a layer 1 given needs no rule)
        for d, s in sorted(set(zip(offset[missing].tolist(), column[missing].tolist()))):
            rows = live[missing & (offset == d) & (column == s)]
            date = dt.date.fromordinal(first + d)
            if s == len(services) and not policy.coverage(REQUIRED_RULES):
                # a policy of the later layers only: what the claim lacks is the basic payment, not a day
                enc.reject(
                    rows,
                    "basic_paid",
                    f"required: policy {policy.id} has no rules of basic insurance (it settles the layers after "
                    "it), so a claim gives basic_paid, the basic payment settled elsewhere",
                )
            elif s == len(services):
                resolved = variants[day_variant[d]]
                absent = next(k for k in REQUIRED_RULES if resolved.rule(k) is None)
                enc.reject(rows, "settled_on", f"no {absent} rule in force on {date}; {_coverage_text(policy)}")
            else:
                key = f"outpatient.service.{services[s]}"
                spans = ", ".join(f"{a} to {b or 'open'}" for a, b in policy.coverage((key,))) or "no day"
                enc.reject(
                    rows,
                    "settled_on",
                    f"outpatient service {services[s]!r} is not in force on {date}; it covers {spans}",
                )
        variant[~enc.ok] = -1
        used = np.flatnonzero(np.bincount(variant[variant >= 0], minlength=len(variants)))
        if len(used) < len(variants):  # keep only the versions some settled row uses, numbered densely
            renumber = np.full(len(variants), -1, np.int32)
            renumber[used] = np.arange(len(used))
            variants = [variants[i] for i in used.tolist()]
            variant = np.where(variant >= 0, renumber[np.maximum(variant, 0)], -1).astype(np.int32)
    return variant, variants
