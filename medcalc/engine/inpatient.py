"""The basic-insurance inpatient kernel: one round of claims against the persons' accumulators.

Claims are laid out so that round k holds the k-th claim of every person-year that has
one, and those person-years are state rows 0..n-1: every operation is on contiguous
int64 slices. Money is fen; a product amount x ratio is kept exact with denominator
RATIO_ONE and rounded half up once, at the layer's payment.
"""

from __future__ import annotations

import numpy as np

from ..money import RATIO_ONE
from .parameters import NO_LIMIT, RowParameters, Tables

__all__ = ["settle_round", "TRACE_FIELDS"]

#: Per-row intermediate columns the kernel writes (the explanation of each row).
TRACE_FIELDS = (
    "admission",  # 0-based admission index in the year
    "deductible_nominal",
    "deductible",  # charged
    "deductible_paid_before",
    "axis_low",  # payable interval on the segment axis, after the cost ceiling
    "axis_high",
    "above_cost_cap",
    "payable",  # in-scope above the deductible
    "basic_exact_num",  # exact fund payment x RATIO_ONE, before the floor and rounding
    "floor_applied",
    "basic_raw",  # rounded, before the annual fund cap
    "basic_paid_before",
    "basic",
)


def _half_up(num: np.ndarray, den: np.ndarray | int) -> np.ndarray:
    return (2 * num + den) // (2 * den)


def settle_round(
    rows: slice,
    cols: dict[str, np.ndarray],
    p: RowParameters,
    t: Tables,
    state: dict[str, np.ndarray],
    out: dict[str, np.ndarray],
    bands_out: dict[str, np.ndarray] | None,
) -> None:
    """Settle the claims in ``rows`` (one per person-year, state rows 0..n-1) and update state."""
    n = rows.stop - rows.start
    g = slice(0, n)
    in_scope = cols["in_scope"][rows]
    level = cols["level"][rows]

    # 起付线: schedule by admission count (or a fixed / share-based one), fractions, yearly total.
    admission = state["admissions"][g].copy()
    schedule = p.schedule[rows]
    A = t.schedules.shape[1]
    scheduled = t.schedules[np.maximum(schedule, 0), np.minimum(admission, A - 1), level]
    base = np.where(schedule >= 0, scheduled, p.fixed_deductible[rows])
    later_from = p.later_from[rows]
    later = np.where((later_from > 0) & (admission + 1 >= later_from), p.later_fraction[rows], RATIO_ONE)
    den = p.deductible_den[rows] * RATIO_ONE
    nominal = _half_up(base * p.deductible_num[rows] * later, den)
    ded_before = state["deductible_paid"][g].copy()
    room = np.maximum(p.deductible_cap[rows] - ded_before, 0)
    charged = np.minimum(np.minimum(nominal, in_scope), room)

    # The payable interval on the segment axis, clipped at a basic cost ceiling.
    payable = in_scope - charged
    b = p.band[rows]
    basis_in_scope = t.bands.basis_in_scope[b]
    low = np.where(basis_in_scope, state["in_scope_total"][g] + charged, state["payable_total"][g])
    high = low + payable
    cost_cap = p.cost_cap[rows]
    high_c = np.minimum(high, cost_cap)
    low_c = np.minimum(low, high_c)
    above_cap = payable - (high_c - low_c)

    # 报销比例 by band, points added and clamped to [0 %, 100 %].
    edges = t.bands.edges[b]
    rates = np.clip(t.bands.rates[b, level] + p.points[rows][:, None], 0, RATIO_ONE)
    portions = np.clip(np.minimum(high_c[:, None], edges[:, 1:]) - np.maximum(low_c[:, None], edges[:, :-1]), 0, None)
    marginal = (portions * rates).sum(axis=1)
    step_band = np.minimum((edges[:, 1:] < high_c[:, None]).sum(axis=1), rates.shape[1] - 1)
    step_rate = np.take_along_axis(rates, step_band[:, None], axis=1)[:, 0]
    exact = np.where(t.bands.step[b], (high_c - low_c) * step_rate, marginal)

    # 保底: a minimum share of the in-scope cost, never more than what lies above the deductible.
    floor = p.floor[rows]
    floored = np.maximum(exact, in_scope * floor)
    exact_f = np.minimum(np.where(floor > 0, floored, exact), payable * RATIO_ONE)
    raw = _half_up(exact_f, RATIO_ONE)

    # 年度最高支付限额 on fund payments.
    fund_before = state["basic_paid"][g].copy()
    paid = np.minimum(raw, np.maximum(p.fund_cap[rows] - fund_before, 0))

    state["admissions"][g] += 1
    state["deductible_paid"][g] += charged
    state["in_scope_total"][g] += in_scope
    state["payable_total"][g] += payable
    state["basic_paid"][g] += paid
    state["above_cost_cap"][g] += above_cap

    out["admission"][rows] = admission
    out["deductible_nominal"][rows] = nominal
    out["deductible"][rows] = charged
    out["deductible_paid_before"][rows] = ded_before
    out["axis_low"][rows] = low_c
    out["axis_high"][rows] = high_c
    out["above_cost_cap"][rows] = above_cap
    out["payable"][rows] = payable
    out["basic_exact_num"][rows] = exact
    out["floor_applied"][rows] = (floor > 0) & (floored > exact)
    out["basic_raw"][rows] = raw
    out["basic_paid_before"][rows] = fund_before
    out["basic"][rows] = paid
    if bands_out is not None:
        width = portions.shape[1]
        bands_out["portions"][rows, :width] = portions
        bands_out["rates"][rows, :width] = rates
        bands_out["step_band"][rows] = step_band

