"""The settlement kernel: every layer's stateful mechanism, written once, row by row.

One loop walks the claims in settlement order. A person-year's accumulators live in a
small array ``st`` that is reset when the person or the year changes; each claim is paid
by the layers in turn, each taking what the previous ones left:

1. 基本医保: an admission pays deductible -> ratio by cost segment -> floor -> annual cap
   (``basic``); an outpatient visit pays from its service's own accumulators
   (``outpatient``);
2. 大病保险 / 大额医疗费用补助 on the year's qualifying self-pay (``critical``);
3. 医疗救助 on the in-scope self-pay left (``assistance``);
4. 兜底 backstops on the year's burden (``backstop``).

What depends only on a claim's kind and the rules in force (its level's deductible, the
band schedule, modifiers, caps) is looked up beforehand, vectorized, by each layer's
``build`` into a row of the *profile* table ``prof``: claims that share level, place,
category, … and rule versions share a profile. This module reads those rows.

The code is plain Python on integers and numpy arrays, with no decorator: CPython runs it
as it is for single claims and explanations, and ``medcalc.engine.compiled`` hands the
same functions to numba for batches. So it uses only what both understand: int64
arithmetic, loops, arrays indexed by integers, tuples of ints.

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

RATIO_ONE = 10000  # money.RATIO_ONE: 100 % in units of 0.01 %
NO_LIMIT = 1 << 60  # "no limit" in parameter columns (common.NO_LIMIT)

# ----------------------------------------------------------------------------- accumulators

#: Accumulator fields, in the order of ``st`` (accumulators.STATE_FIELDS), then the keyed ones:
#: service_deductible[S], service_paid[S], service_period[S], service_period_cost[S], assistance_base[G],
#: assistance_paid[G] (accumulators.KEYED_FIELDS, in that order).
S_ADMISSIONS = 0
S_DEDUCTIBLE_PAID = 1
S_IN_SCOPE_TOTAL = 2
S_PAYABLE_TOTAL = 3
S_BASIC_PAID = 4
S_ABOVE_COST_CAP = 5
S_CRITICAL_BASE = 6
S_CRITICAL_PAID = 7
S_BURDEN = 8
S_BURDEN_CAP_USED = 9
S_BACKSTOP_CAP_PAID = 10
S_BACKSTOP_PAID = 11
S_BASIC_CARRY = 12
S_CRITICAL_CARRY = 13
S_LAST_DEDUCTIBLE = 14
S_AGAIN_BASE = 15
S_AGAIN_PAID = 16
S_BACKSTOP_AGAIN_BASE = 17
S_BACKSTOP_AGAIN_PAID = 18
S_KEYED = 19

# ----------------------------------------------------------------------------- profile columns

#: What a profile row holds: the claim's codes, then each layer's parameters (its build's columns).
PROFILE_CODES = ("level", "visit", "service")
BASIC_PARAMS = (
    "band",
    "schedule",
    "fixed_deductible",
    "share",
    "share_floor",
    "share_ceiling",
    "deductible_num",
    "deductible_den",
    "later_from",
    "later_fraction",
    "later_compounding",
    "later_floor",
    "deductible_cap",
    "points",
    "floor",
    "fund_cap",
    "cost_cap",
    "place_rule",
    "modifier_mask",
    "cumulative",
)
OUTPATIENT_PARAMS = (
    "rule",
    "deductible",
    "ratio",
    "fixed",
    "cap",
    "visit_cap",
    "halve_bed",
    "halve_nursing",
    "period_months",
    "period_cap",
)
CRITICAL_PARAMS = (
    "active",
    "base_deductible",
    "base_coinsurance",
    "base_above_cap",
    "base_pre_self_pay",
    "threshold",
    "above_threshold",
    "band",
    "points",
    "place_rule",
    "modifier_mask",
    "cap",
    "cumulative",
)
ASSISTANCE_PARAMS = (
    "rule",
    "deductible",
    "ratio",
    "cap",
    "group",
    "again_rule",
    "again_threshold",
    "again_ratio",
    "again_cap",
)
BACKSTOP_PARAMS = ("cap_rule", "cap", "again_rule", "again_ratio", "again_threshold")
LAYER_PARAMS = {
    "basic": BASIC_PARAMS,
    "outpatient": OUTPATIENT_PARAMS,
    "critical": CRITICAL_PARAMS,
    "assistance": ASSISTANCE_PARAMS,
    "backstop": BACKSTOP_PARAMS,
}
PROFILE_FIELDS = PROFILE_CODES + tuple(f"{layer}.{name}" for layer, names in LAYER_PARAMS.items() for name in names)
_P = {name: i for i, name in enumerate(PROFILE_FIELDS)}

P_LEVEL = _P["level"]
P_VISIT = _P["visit"]
P_SERVICE = _P["service"]
B_BAND = _P["basic.band"]
B_SCHEDULE = _P["basic.schedule"]  # >= 0: a deductible schedule by admission; or one of:
SCHEDULE_FIXED = -1  # a fixed amount (a place rule's)
SCHEDULE_SHARE = -2  # a share of the total bill, with a floor and a ceiling
B_FIXED_DEDUCTIBLE = _P["basic.fixed_deductible"]
B_SHARE = _P["basic.share"]
B_SHARE_FLOOR = _P["basic.share_floor"]
B_SHARE_CEILING = _P["basic.share_ceiling"]
B_DEDUCTIBLE_NUM = _P["basic.deductible_num"]
B_DEDUCTIBLE_DEN = _P["basic.deductible_den"]
B_LATER_FROM = _P["basic.later_from"]
B_LATER_FRACTION = _P["basic.later_fraction"]
B_LATER_COMPOUNDING = _P["basic.later_compounding"]  # 1: a later admission's deductible is the previous one's share
B_LATER_FLOOR = _P["basic.later_floor"]
B_DEDUCTIBLE_CAP = _P["basic.deductible_cap"]
B_POINTS = _P["basic.points"]
B_FLOOR = _P["basic.floor"]
B_FUND_CAP = _P["basic.fund_cap"]
B_COST_CAP = _P["basic.cost_cap"]
B_CUMULATIVE = _P["basic.cumulative"]  # 1: rounded on the year's running amount
O_RULE = _P["outpatient.rule"]
O_DEDUCTIBLE = _P["outpatient.deductible"]
O_RATIO = _P["outpatient.ratio"]
O_FIXED = _P["outpatient.fixed"]
O_CAP = _P["outpatient.cap"]
O_VISIT_CAP = _P["outpatient.visit_cap"]
O_PERIOD_MONTHS = _P["outpatient.period_months"]  # 0: no cap per period; 1: per month; 3: per quarter
O_PERIOD_CAP = _P["outpatient.period_cap"]
C_ACTIVE = _P["critical.active"]
C_BASE_DEDUCTIBLE = _P["critical.base_deductible"]
C_BASE_COINSURANCE = _P["critical.base_coinsurance"]
C_BASE_ABOVE_CAP = _P["critical.base_above_cap"]
C_BASE_PRE_SELF_PAY = _P["critical.base_pre_self_pay"]
C_THRESHOLD = _P["critical.threshold"]
C_ABOVE_THRESHOLD = _P["critical.above_threshold"]
C_BAND = _P["critical.band"]
C_POINTS = _P["critical.points"]
C_CAP = _P["critical.cap"]
C_CUMULATIVE = _P["critical.cumulative"]
A_RULE = _P["assistance.rule"]
A_DEDUCTIBLE = _P["assistance.deductible"]
A_RATIO = _P["assistance.ratio"]
A_CAP = _P["assistance.cap"]
A_GROUP = _P["assistance.group"]
A_AGAIN_RULE = _P["assistance.again_rule"]
A_AGAIN_THRESHOLD = _P["assistance.again_threshold"]
A_AGAIN_RATIO = _P["assistance.again_ratio"]
A_AGAIN_CAP = _P["assistance.again_cap"]
K_CAP_RULE = _P["backstop.cap_rule"]
K_CAP = _P["backstop.cap"]
K_AGAIN_RULE = _P["backstop.again_rule"]
K_AGAIN_RATIO = _P["backstop.again_ratio"]
K_AGAIN_THRESHOLD = _P["backstop.again_threshold"]

# ----------------------------------------------------------------------------- outputs

#: Result rows of ``res``, one column per input row.
RESULTS = ("deductible", "basic", "critical", "assistance", "backstop")

#: Intermediate amounts written to ``tr`` when tracing (what explanations read back).
TRACE = (
    # basic inpatient
    "admission",  # 0-based admission index in the year
    "deductible_base",  # the deductible before fractions: schedule, fixed or share of the bill
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
    "step_band",  # the band a step schedule pays the whole stretch at
    # outpatient
    "service_deductible_before",
    "service_paid_before",
    "service_cap",
    "service_raw",
    "service_counted",  # the in-scope cost counted toward the deductible and ratio (a period cap may cut it)
    "service_period_before",  # in-scope cost counted in the claim's month / quarter before it
    "service_period_cap",  # the cap on it (NO_LIMIT: none)
    # 大病
    "critical_part_deductible",
    "critical_part_coinsurance",
    "critical_part_above_cap",
    "critical_part_pre_self_pay",
    "critical_base_claim",  # this claim's qualifying self-pay
    "critical_base_before",
    "critical_threshold",
    "critical_low",  # the stretch paid, on the band axis
    "critical_high",
    "critical_raw",
    "critical_paid_before",
    "critical",
    # 医疗救助
    "assistance_base_claim",
    "assistance_base_before",
    "assistance_raw",
    "assistance_paid_before",
    "assistance",
    "assistance_again_base_claim",
    "assistance_again_base_before",
    "assistance_again_raw",  # 再次救助
    "assistance_again_paid_before",
    "assistance_again",
    # 兜底
    "backstop_burden_claim",
    "backstop_burden_before",
    "backstop_cap_used",
    "backstop_cap_paid_before",
    "backstop_cap_pay",
    "backstop_again_base_claim",
    "backstop_again_base_before",
    "backstop_again_raw",  # 再报销 (an assistance stage)
    "backstop_again_paid_before",
    "backstop_again",
    "backstop",
)
_T = {name: i for i, name in enumerate(TRACE)}
T_ADMISSION = _T["admission"]
T_DEDUCTIBLE_BASE = _T["deductible_base"]
T_DEDUCTIBLE_NOMINAL = _T["deductible_nominal"]
T_DEDUCTIBLE = _T["deductible"]
T_DEDUCTIBLE_PAID_BEFORE = _T["deductible_paid_before"]
T_AXIS_LOW = _T["axis_low"]
T_AXIS_HIGH = _T["axis_high"]
T_ABOVE_COST_CAP = _T["above_cost_cap"]
T_PAYABLE = _T["payable"]
T_BASIC_EXACT_NUM = _T["basic_exact_num"]
T_FLOOR_APPLIED = _T["floor_applied"]
T_BASIC_RAW = _T["basic_raw"]
T_BASIC_PAID_BEFORE = _T["basic_paid_before"]
T_BASIC = _T["basic"]
T_STEP_BAND = _T["step_band"]
T_SERVICE_DEDUCTIBLE_BEFORE = _T["service_deductible_before"]
T_SERVICE_PAID_BEFORE = _T["service_paid_before"]
T_SERVICE_CAP = _T["service_cap"]
T_SERVICE_RAW = _T["service_raw"]
T_SERVICE_COUNTED = _T["service_counted"]
T_SERVICE_PERIOD_BEFORE = _T["service_period_before"]
T_SERVICE_PERIOD_CAP = _T["service_period_cap"]
T_CRITICAL_PART_DEDUCTIBLE = _T["critical_part_deductible"]
T_CRITICAL_BASE_CLAIM = _T["critical_base_claim"]
T_CRITICAL_BASE_BEFORE = _T["critical_base_before"]
T_CRITICAL_THRESHOLD = _T["critical_threshold"]
T_CRITICAL_LOW = _T["critical_low"]
T_CRITICAL_HIGH = _T["critical_high"]
T_CRITICAL_RAW = _T["critical_raw"]
T_CRITICAL_PAID_BEFORE = _T["critical_paid_before"]
T_CRITICAL = _T["critical"]
# an assistance stage's five trace fields are written from its first (assistance_stage): in this order
T_ASSISTANCE_BASE_CLAIM = _T["assistance_base_claim"]
T_ASSISTANCE_AGAIN_BASE_CLAIM = _T["assistance_again_base_claim"]
T_BACKSTOP_AGAIN_BASE_CLAIM = _T["backstop_again_base_claim"]  # (兜底's paying again is such a stage too)
for _first, _stage in (
    (T_ASSISTANCE_BASE_CLAIM, "assistance"),
    (T_ASSISTANCE_AGAIN_BASE_CLAIM, "assistance_again"),
    (T_BACKSTOP_AGAIN_BASE_CLAIM, "backstop_again"),
):
    assert TRACE[_first : _first + 5] == tuple(
        f"{_stage}{part}" for part in ("_base_claim", "_base_before", "_raw", "_paid_before", "")
    ), "assistance trace fields out of order"
T_BURDEN_CLAIM = _T["backstop_burden_claim"]
T_BURDEN_BEFORE = _T["backstop_burden_before"]
T_CAP_USED = _T["backstop_cap_used"]
T_CAP_PAID_BEFORE = _T["backstop_cap_paid_before"]
T_CAP_PAY = _T["backstop_cap_pay"]
T_BACKSTOP = _T["backstop"]

#: Band traces ``tb[layer, what, row, band]``: layer 0 basic, 1 大病; what 0 portion, 1 rate.
BANDED = ("basic", "critical")


# ----------------------------------------------------------------------------- arithmetic


def half_up(num, den):
    """num / den rounded half up, for num >= 0 and den > 0."""
    return (2 * num + den) // (2 * den)


def rounded(exact, cumulative, st, carry_at):
    """An exact payment (in 1/RATIO_ONE fen) in fen, half up: on its own, or, ``cumulative``,
    on the year's running exact amount, the claim paying the change. ``st[carry_at]`` keeps
    the exact amount not yet paid (within +-RATIO_ONE / 2), so the year's payments add up to
    the year's exact total rounded once, however its costs were split into claims."""
    if not cumulative:
        return half_up(exact, RATIO_ONE)
    carried = st[carry_at] + exact
    pay = half_up(carried, RATIO_ONE)  # (floor division: exact for a negative carry too)
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
    return column[i] if column[i] >= 0 else -1  # (checks.NOT_GIVEN)


def copy_state(source, target):
    """Accumulators copied element by element (a slice assignment would allocate a temporary)."""
    for k in range(len(source)):
        target[k] = source[k]


# ----------------------------------------------------------------------------- layer 1: admissions


def basic(i, p, prof, st, level, in_scope, total, schedules, edges, rates, step, basis, trace, tr, tb):
    """基本医保 for one admission: returns (deductible, payable, above cost cap, raw, paid)."""
    # 起付线: by the admission's number in the year (or fixed by place, or a share of the bill) ...
    admission = st[S_ADMISSIONS]
    schedule = prof[p, B_SCHEDULE]
    if schedule >= 0:
        base = schedules[schedule, min(admission, schedules.shape[1] - 1), level]
    elif schedule == SCHEDULE_FIXED:
        base = prof[p, B_FIXED_DEDUCTIBLE]
    else:
        base = min(max(half_up(total * prof[p, B_SHARE], RATIO_ONE), prof[p, B_SHARE_FLOOR]), prof[p, B_SHARE_CEILING])
    # ... times the fractions of groups and multiples, and of later admissions, rounded once ...
    later = RATIO_ONE
    is_later = prof[p, B_LATER_FROM] > 0 and admission + 1 >= prof[p, B_LATER_FROM]
    if is_later:
        later = prof[p, B_LATER_FRACTION]
    nominal = half_up(base * prof[p, B_DEDUCTIBLE_NUM] * later, prof[p, B_DEDUCTIBLE_DEN] * RATIO_ONE)
    if is_later:
        if prof[p, B_LATER_COMPOUNDING] == 1:  # the previous admission's deductible times the fraction, again and again
            nominal = half_up(st[S_LAST_DEDUCTIBLE] * later, RATIO_ONE)
        nominal = max(nominal, prof[p, B_LATER_FLOOR])  # ... never below a floor
    st[S_LAST_DEDUCTIBLE] = nominal
    # ... never more than the in-scope cost, nor than what a yearly total of deductibles leaves.
    deductible_before = st[S_DEDUCTIBLE_PAID]
    room = max(prof[p, B_DEDUCTIBLE_CAP] - deductible_before, 0)
    charged = min(nominal, in_scope, room)
    payable = in_scope - charged

    # The stretch this claim adds on the segment axis (the year's in-scope cost, or its cost
    # above deductibles), clipped at a basic cost ceiling: cost above it is the next layer's.
    b = prof[p, B_BAND]
    low = st[S_IN_SCOPE_TOTAL] + charged if basis[b] else st[S_PAYABLE_TOTAL]
    high_c = min(low + payable, prof[p, B_COST_CAP])
    low_c = min(low, high_c)
    covered = high_c - low_c
    above_cap = payable - covered

    # 报销比例 by band: marginal (each part at its band's rate), or a step (the whole stretch at
    # the rate of the band it ends in); points added and clamped to [0 %, 100 %].
    points = prof[p, B_POINTS]
    marginal, step_band = banded(0, i, b, level, points, low_c, high_c, edges, rates, trace, tb)
    exact = covered * clamp_rate(rates[b, level, step_band] + points) if step[b] else marginal

    # 保底: at least a share of the in-scope cost, never more than basic insurance covers.
    floor = prof[p, B_FLOOR]
    exact_floored = exact
    if floor > 0:
        exact_floored = max(exact, in_scope * floor)
    exact_floored = min(exact_floored, covered * RATIO_ONE)
    raw = rounded(exact_floored, prof[p, B_CUMULATIVE] == 1, st, S_BASIC_CARRY)

    # 年度最高支付限额 on the year's fund payments.
    fund_before = st[S_BASIC_PAID]
    paid = min(raw, max(prof[p, B_FUND_CAP] - fund_before, 0))

    st[S_ADMISSIONS] += 1
    st[S_DEDUCTIBLE_PAID] += charged
    st[S_IN_SCOPE_TOTAL] += in_scope
    st[S_PAYABLE_TOTAL] += payable
    st[S_BASIC_PAID] += paid
    st[S_ABOVE_COST_CAP] += above_cap
    if trace:
        tr[T_ADMISSION, i] = admission
        tr[T_DEDUCTIBLE_BASE, i] = base
        tr[T_DEDUCTIBLE_NOMINAL, i] = nominal
        tr[T_DEDUCTIBLE, i] = charged
        tr[T_DEDUCTIBLE_PAID_BEFORE, i] = deductible_before
        tr[T_AXIS_LOW, i] = low_c
        tr[T_AXIS_HIGH, i] = high_c
        tr[T_ABOVE_COST_CAP, i] = above_cap
        tr[T_PAYABLE, i] = payable
        tr[T_BASIC_EXACT_NUM, i] = exact
        tr[T_FLOOR_APPLIED, i] = 1 if floor > 0 and exact_floored > exact else 0
        tr[T_BASIC_RAW, i] = raw
        tr[T_BASIC_PAID_BEFORE, i] = fund_before
        tr[T_BASIC, i] = paid
        tr[T_STEP_BAND, i] = step_band
    return charged, payable, above_cap, raw, paid


# ----------------------------------------------------------------------------- layer 1: given


def basic_given(i, p, prof, st, in_scope, paid, services, trace, tr):
    """基本医保 as the claim gives it (settled elsewhere, ``paid``): not computed, so no deductible
    is known and the rest of the in-scope cost is its co-insurance. The year's admissions, in-scope
    cost and fund payments (or the service's payments) count it. Returns what ``basic`` does."""
    if prof[p, P_VISIT] == 0:
        st[S_ADMISSIONS] += 1
        st[S_IN_SCOPE_TOTAL] += in_scope
        st[S_PAYABLE_TOTAL] += in_scope
        st[S_BASIC_PAID] += paid
    else:
        st[S_KEYED + services + max(prof[p, P_SERVICE], 0)] += paid
    if trace:
        tr[T_PAYABLE, i] = in_scope
        tr[T_BASIC_RAW, i] = paid
        tr[T_BASIC, i] = paid
    return 0, in_scope, 0, paid, paid


# ----------------------------------------------------------------------------- layer 1: outpatient


def period_key(months, month):
    """The calendar period of a month of the year (0-11) that a cap per ``months`` months counts
    in: months x 100 + its number in the year from 1 (101-112 a month, 301-304 a quarter), so
    that a key of one kind never equals one of the other; 0 is "no period yet"."""
    return months * 100 + month // months + 1


def outpatient(i, p, prof, st, in_scope, month, services, trace, tr):
    """An outpatient visit, from its service's own year-to-date deductible and payments (and the
    in-scope cost counted in its month or quarter): returns (deductible, payable, above cost cap,
    raw, paid) like ``basic``; the cost a period cap leaves uncounted is "above cost cap"."""
    if prof[p, O_RULE] < 0:
        return 0, 0, 0, 0, 0
    k = max(prof[p, P_SERVICE], 0)
    deductible_at = S_KEYED + k
    paid_at = S_KEYED + services + k
    # a cap on the in-scope cost counted per calendar month / quarter: what it leaves of the
    # cost counted so far in the claim's period (reset when the period changes)
    counted = in_scope
    months = prof[p, O_PERIOD_MONTHS]
    period_before = 0
    if months > 0:
        period_at = S_KEYED + 2 * services + k
        cost_at = S_KEYED + 3 * services + k
        key = period_key(months, month)
        if st[period_at] != key:
            st[period_at] = key
            st[cost_at] = 0
        period_before = st[cost_at]
        counted = min(in_scope, max(prof[p, O_PERIOD_CAP] - period_before, 0))
        st[cost_at] += counted
    # a yearly deductible by level is charged up to the highest level used in the year
    deductible_before = st[deductible_at]
    charged = min(counted, max(prof[p, O_DEDUCTIBLE] - deductible_before, 0))
    payable = in_scope - charged
    above = in_scope - counted
    fixed = prof[p, O_FIXED]
    if fixed >= 0:  # a fixed payment per visit (互联网+ follow-up, childbirth)
        raw = min(fixed, counted)
    else:
        raw = half_up((counted - charged) * prof[p, O_RATIO], RATIO_ONE)
    raw = min(raw, prof[p, O_VISIT_CAP])
    paid_before = st[paid_at]
    paid = min(raw, max(prof[p, O_CAP] - paid_before, 0))
    st[deductible_at] += charged
    st[paid_at] += paid
    if trace:
        tr[T_DEDUCTIBLE, i] = charged
        tr[T_DEDUCTIBLE_NOMINAL, i] = charged
        tr[T_PAYABLE, i] = payable
        tr[T_BASIC_RAW, i] = raw
        tr[T_BASIC, i] = paid
        tr[T_SERVICE_DEDUCTIBLE_BEFORE, i] = deductible_before
        tr[T_SERVICE_PAID_BEFORE, i] = paid_before
        tr[T_SERVICE_CAP, i] = prof[p, O_CAP]
        tr[T_SERVICE_RAW, i] = raw
        tr[T_SERVICE_COUNTED, i] = counted
        tr[T_SERVICE_PERIOD_BEFORE, i] = period_before
        tr[T_SERVICE_PERIOD_CAP, i] = prof[p, O_PERIOD_CAP] if months > 0 else NO_LIMIT
    return charged, payable, above, raw, paid


# ----------------------------------------------------------------------------- layer 2: 大病 / 大额


def critical(
    i,
    p,
    prof,
    st,
    level,
    pre_self_pay,
    deductible,
    payable,
    above,
    raw,
    paid,
    given_base,
    given_pay,
    edges,
    rates,
    trace,
    tr,
    tb,
):
    """大病保险 or 大额医疗费用补助 on the year's qualifying self-pay; returns what it pays. A claim may
    give its qualifying self-pay (``given_base``) or the layer's payment (``given_pay``): -1 if not."""
    active = prof[p, C_ACTIVE] == 1
    # What basic insurance left of the in-scope cost: deductible, co-insurance, and cost above
    # the basic cap (a cost ceiling, or the share of cost the annual fund cap cut off).
    covered = payable - above
    cut = 0
    if raw > 0:
        cut = min(half_up(covered * (raw - paid), raw), max(covered - paid, 0))
    part_deductible = deductible
    part_coinsurance = max(covered - cut - paid, 0)
    part_above = above + cut
    part_pre = pre_self_pay
    if not active:
        part_deductible = part_coinsurance = part_above = part_pre = 0
    claim_base = (
        part_deductible * prof[p, C_BASE_DEDUCTIBLE]
        + part_coinsurance * prof[p, C_BASE_COINSURANCE]
        + part_above * prof[p, C_BASE_ABOVE_CAP]
        + part_pre * prof[p, C_BASE_PRE_SELF_PAY]
    )
    if given_base >= 0 and active:
        claim_base = given_base

    # The year's base accumulates; the claim pays for the stretch it adds above the threshold,
    # on bands of the base itself (convention A) or of the amount above the threshold (B).
    before = st[S_CRITICAL_BASE]
    after = before + claim_base
    threshold = prof[p, C_THRESHOLD]
    shift = threshold if prof[p, C_ABOVE_THRESHOLD] == 1 else 0
    low = max(before, threshold) - shift
    high = max(after, threshold) - shift
    exact, _ = banded(1, i, prof[p, C_BAND], level, prof[p, C_POINTS], low, high, edges, rates, trace, tb)
    paid_before = st[S_CRITICAL_PAID]
    if given_pay >= 0:  # paid as the claim says (settled elsewhere), whatever the policy's rules
        layer_raw = pay = given_pay
    else:
        layer_raw = rounded(exact, prof[p, C_CUMULATIVE] == 1, st, S_CRITICAL_CARRY) if active else 0
        pay = min(layer_raw, max(prof[p, C_CAP] - paid_before, 0))

    st[S_CRITICAL_BASE] = after
    st[S_CRITICAL_PAID] += pay
    if trace:
        tr[T_CRITICAL_PART_DEDUCTIBLE, i] = part_deductible
        tr[T_CRITICAL_PART_DEDUCTIBLE + 1, i] = part_coinsurance
        tr[T_CRITICAL_PART_DEDUCTIBLE + 2, i] = part_above
        tr[T_CRITICAL_PART_DEDUCTIBLE + 3, i] = part_pre
        tr[T_CRITICAL_BASE_CLAIM, i] = claim_base
        tr[T_CRITICAL_BASE_BEFORE, i] = before
        tr[T_CRITICAL_THRESHOLD, i] = threshold
        tr[T_CRITICAL_LOW, i] = low
        tr[T_CRITICAL_HIGH, i] = high
        tr[T_CRITICAL_RAW, i] = layer_raw
        tr[T_CRITICAL_PAID_BEFORE, i] = paid_before
        tr[T_CRITICAL, i] = pay
    return pay


# ----------------------------------------------------------------------------- layer 3: 医疗救助


def assistance_stage(i, st, base_at, paid_at, claim_base, threshold, ratio, cap, trace, tr, trace_at):
    """One stage of 医疗救助 against its year: the claim adds ``claim_base`` to the year's base at
    ``st[base_at]``; the stretch above the annual ``threshold`` (charged once) is paid at ``ratio``
    within what ``cap`` leaves of ``st[paid_at]``. Traced at ``trace_at`` (base of the claim, base
    before, raw, paid before, pay). Returns what it pays."""
    before = st[base_at]
    after = before + claim_base
    raw = half_up((max(after, threshold) - max(before, threshold)) * ratio, RATIO_ONE)
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


def assistance(i, p, prof, st, in_scope, paid_so_far, services, groups, trace, tr):
    """医疗救助 on the in-scope self-pay left, against its cap group's year (its deductible the
    threshold); then 再次救助 on what that left, against its own year. Returns both together."""
    g = prof[p, A_GROUP]
    first = assistance_stage(
        i,
        st,
        S_KEYED + 4 * services + g,
        S_KEYED + 4 * services + groups + g,
        max(in_scope - paid_so_far, 0) if prof[p, A_RULE] >= 0 else 0,
        prof[p, A_DEDUCTIBLE],
        prof[p, A_RATIO],
        prof[p, A_CAP],
        trace,
        tr,
        T_ASSISTANCE_BASE_CLAIM,
    )
    left = max(in_scope - paid_so_far - first, 0)
    again = assistance_stage(
        i,
        st,
        S_AGAIN_BASE,
        S_AGAIN_PAID,
        left if prof[p, A_AGAIN_RULE] >= 0 else 0,
        prof[p, A_AGAIN_THRESHOLD],
        prof[p, A_AGAIN_RATIO],
        prof[p, A_AGAIN_CAP],
        trace,
        tr,
        T_ASSISTANCE_AGAIN_BASE_CLAIM,
    )
    return first + again


# ----------------------------------------------------------------------------- layer 4: 兜底


def backstop(i, p, prof, st, in_scope, paid_so_far, trace, tr):
    """兜底: the year's burden capped by where care happened, then the rest paid again at a
    ratio: the stretch the claim adds to the year's rest above an annual threshold (charged
    once; 0 without one: all of the claim's rest), an assistance stage without a cap. Returns
    what it pays."""
    capped = prof[p, K_CAP_RULE] >= 0
    left = max(in_scope - paid_so_far, 0)
    claim_burden = left if capped else 0
    before = st[S_BURDEN]
    after = before + claim_burden
    # a year that mixes levels is capped at the largest cap used so far in it
    cap_used = max(st[S_BURDEN_CAP_USED], prof[p, K_CAP]) if capped else st[S_BURDEN_CAP_USED]
    paid_before = st[S_BACKSTOP_CAP_PAID]
    cap_pay = min(max(max(after - cap_used, 0) - paid_before, 0), left) if capped else 0
    again = assistance_stage(
        i,
        st,
        S_BACKSTOP_AGAIN_BASE,
        S_BACKSTOP_AGAIN_PAID,
        left - cap_pay if prof[p, K_AGAIN_RULE] >= 0 else 0,
        prof[p, K_AGAIN_THRESHOLD],
        prof[p, K_AGAIN_RATIO],
        NO_LIMIT,
        trace,
        tr,
        T_BACKSTOP_AGAIN_BASE_CLAIM,
    )
    pay = cap_pay + again
    st[S_BURDEN] = after
    st[S_BURDEN_CAP_USED] = cap_used
    st[S_BACKSTOP_CAP_PAID] += cap_pay
    st[S_BACKSTOP_PAID] += pay
    if trace:
        tr[T_BURDEN_CLAIM, i] = claim_burden
        tr[T_BURDEN_BEFORE, i] = before
        tr[T_CAP_USED, i] = cap_used
        tr[T_CAP_PAID_BEFORE, i] = paid_before
        tr[T_CAP_PAY, i] = cap_pay
        tr[T_BACKSTOP, i] = pay
    return pay


# ----------------------------------------------------------------------------- the loop


def settle_rows(
    person,
    year,
    month,
    profile,
    total,
    in_scope,
    pre_self_pay,
    basic_paid,
    critical_base,
    critical_paid,
    prof,
    schedules,
    basic_edges,
    basic_rates,
    basic_step,
    basic_basis,
    critical_edges,
    critical_rates,
    services,
    groups,
    first_group,
    initial,
    final,
    st,
    res,
    trace,
    tr,
    tb,
    acc,
):
    """Settle rows given in settlement order, writing their payments to ``res[:, i]``.

    ``person``, ``year``: a row's person-year, which keeps one set of accumulators; the rows of
    one person-year are consecutive; ``month``: the month of its day in the year (0-11), for caps
    per month or quarter. ``profile``: a row's profile in ``prof``. ``basic_paid``,
    ``critical_base``, ``critical_paid``: amounts of earlier layers the claim gives (negative: not
    given; all of length 0 when no row gives one). Person-years are
    numbered from ``first_group`` in the order met; ``initial[g]`` (when given: rows > 0) are
    their starting accumulators and ``final[g]`` receives the ones after. ``st``: room for
    one person-year's accumulators (S_KEYED + 4 services + 2 groups). With ``trace``: ``tr``
    (TRACE x rows), ``tb`` (band traces) and ``acc[0 / 1, i]`` (the accumulators before /
    after row i) are written too. Nothing is allocated here, so the compiled loop keeps no
    reference counts.
    """
    g = first_group - 1
    last_person = -1
    last_year = -1
    for i in range(len(person)):
        if person[i] != last_person or year[i] != last_year:  # a new person-year
            if g >= first_group and final.shape[0] > 0:
                copy_state(st, final[g])
            g += 1
            last_person = person[i]
            last_year = year[i]
            if initial.shape[0] > 0:
                copy_state(initial[g], st)
            else:
                for k in range(len(st)):
                    st[k] = 0
        if trace:
            copy_state(st, acc[0, i])
        p = profile[i]
        level = prof[p, P_LEVEL]
        cost = in_scope[i]
        given_basic = given_at(basic_paid, i)
        if given_basic >= 0:
            deductible, payable, above, raw, paid = basic_given(i, p, prof, st, cost, given_basic, services, trace, tr)
        elif prof[p, P_VISIT] == 0:
            deductible, payable, above, raw, paid = basic(
                i,
                p,
                prof,
                st,
                level,
                cost,
                total[i],
                schedules,
                basic_edges,
                basic_rates,
                basic_step,
                basic_basis,
                trace,
                tr,
                tb,
            )
        else:
            deductible, payable, above, raw, paid = outpatient(i, p, prof, st, cost, month[i], services, trace, tr)
        second = critical(
            i,
            p,
            prof,
            st,
            level,
            pre_self_pay[i],
            deductible,
            payable,
            above,
            raw,
            paid,
            given_at(critical_base, i),
            given_at(critical_paid, i),
            critical_edges,
            critical_rates,
            trace,
            tr,
            tb,
        )
        third = assistance(i, p, prof, st, cost, paid + second, services, groups, trace, tr)
        fourth = backstop(i, p, prof, st, cost, paid + second + third, trace, tr)
        res[0, i] = deductible
        res[1, i] = paid
        res[2, i] = second
        res[3, i] = third
        res[4, i] = fourth
        if trace:
            copy_state(st, acc[1, i])
    if g >= first_group and final.shape[0] > 0:
        copy_state(st, final[g])


#: The kernel's functions, callees before their callers (the order they are compiled in);
#: the last is the loop, the one not inlined.
FUNCTIONS = (
    "half_up",
    "rounded",
    "clamp_rate",
    "banded",
    "given_at",
    "copy_state",
    "basic",
    "basic_given",
    "period_key",
    "outpatient",
    "critical",
    "assistance_stage",
    "assistance",
    "backstop",
    "settle_rows",
)
