"""The kernel's shared arithmetic: rounding, rates, band schedules, and copying state.

Kernel text (see ``medcalc.engine.kernel``): plain Python on integers and arrays that CPython
runs as it is and numba compiles (``medcalc.engine.compiled``), so only int64 arithmetic,
loops and arrays indexed by integers. The layers (``medcalc.engine.layers``) call these.

Integer bounds (so that no product overflows int64): a claim's total is at most 10^9 fen
(1000万 yuan); a ratio is at most RATIO_ONE = 10^4; an amount times a ratio is then at most
10^13, and the largest product, the share of the basic payment a fund cap cut off
(covered x (raw - paid)), at most 10^18 < 2^63. The policy side is bounded at load
(policy.schema, policy.loader): every policy amount (deductible, cap, threshold, fixed
payment, band edge) is at most MAX_AMOUNT = 10^9 fen too, counts at most 1000, points within
+-10^4, and the deductible fraction's reduced numerator at most 4 x 10^5 and denominator at
most 10^12, so deductible x num x later fraction (2 x 10^9 x 4 x 10^5 x 10^4, doubled for the
rounding) stays below 8.1 x 10^18.
"""

from __future__ import annotations

from ..money import RATIO_ONE, round_half_up

#: "No limit" in parameter columns: larger than any amount of fen.
NO_LIMIT = 1 << 60


def rounded(exact, cumulative, st, carry_at):
    """An exact payment (in 1/RATIO_ONE fen) in fen, half up: on its own, or, ``cumulative``,
    on the year's running exact amount, the claim paying the change. ``st[carry_at]`` keeps
    the exact amount not yet paid (within +-RATIO_ONE / 2), so the year's payments add up to
    the year's exact total rounded once, however its costs were split into claims."""
    if not cumulative:
        return round_half_up(exact, RATIO_ONE)
    carried = st[carry_at] + exact
    pay = round_half_up(carried, RATIO_ONE)  # (floor division: exact for a negative carry too)
    st[carry_at] = carried - pay * RATIO_ONE
    return pay


def clamp_rate(rate):
    """A rate plus points, clamped to [0 %, 100 %]."""
    return min(max(rate, 0), RATIO_ONE)


def banded(layer, i, b, level, points, low, high, edges, rates, trace, tb):
    """The stretch [low, high] of a band axis paid band by band: (the sum of each band's portion
    times its rate plus ``points``, clamped to [0 %, 100 %]; the band that ``high`` ends in).
    ``b``: the band schedule (edges[b], rates[b, level]); ``layer``: its row of ``tb``."""
    exact = 0
    ends_in = 0
    width = rates.shape[2]
    for k in range(width):
        rate = clamp_rate(rates[b, level, k] + points)
        portion = max(min(high, edges[b, k + 1]) - max(low, edges[b, k]), 0)
        exact += portion * rate
        if edges[b, k + 1] < high:
            ends_in += 1
        if trace:
            tb[layer, 0, i, k] = portion
            tb[layer, 1, i, k] = rate
    return exact, min(ends_in, width - 1)


def given_at(column, i):
    """A row's amount of an earlier layer as the claim gives it, or -1 where it gives none (a
    column of length 0: no row of the batch gives one)."""
    if len(column) == 0:
        return -1
    return column[i] if column[i] >= 0 else -1  # (checks.NOT_GIVEN is negative)


def copy_state(source, target):
    """Accumulators copied element by element (a slice assignment would allocate a temporary)."""
    for k in range(len(source)):
        target[k] = source[k]


#: The kernel functions of this module, callees first (``medcalc.engine.compiled`` compiles them).
FUNCTIONS = ("round_half_up", "rounded", "clamp_rate", "banded", "given_at", "copy_state")
