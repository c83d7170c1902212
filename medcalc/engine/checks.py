"""The claim checks of a batch: every row's first failing rule in one pass, and its in-scope cost.

Written like the kernel (plain Python on integers and arrays, compiled by numba for large
batches, ``medcalc.engine.compiled``): one loop over the rows instead of a numpy pass per
rule. A column the caller did not give is an array of length 0 and reads as its default.
``CHECKS`` names each rule's field and reason, in the order they are tried: a row is
refused for the first rule it breaks.
"""

from __future__ import annotations

from ..claims import MAX_TOTAL  # 1000万 yuan in fen, the engine's exact integer range

NOT_A_DAY = -(1 << 63)  # numpy's NaT, read as int64
#: An amount of an earlier layer the claim does not give (claims.GIVEN_FIELDS): the engine
#: computes that layer. Any other negative value is refused.
NOT_GIVEN = -(1 << 31) + 1  # (fits the int32 columns amounts are read into)

#: (field, reason) of each check, by code (code 0: the row passes). Reasons with {…} are
#: completed by the caller (the policy's levels and services).
CHECKS = (
    None,
    ("settled_on", "required: a date such as 2025-03-01"),
    ("level", "unknown hospital level for policy {policy}; one of {levels}"),
    ("place", "must be one of {places}"),
    ("referral", "must be one of {referrals}"),
    ("category", "must be one of {categories}"),
    ("referral", "required for care outside the insured area: one of referred, emergency, resident, not_referred"),
    ("age", "must be whole years between 0 and 150"),
    ("visit", "must be one of inpatient, outpatient"),
    ("service", "policy {policy} has no such outpatient service; it has {services}"),
    ("service", "required for an outpatient claim"),
    ("service", "only outpatient claims name a service"),
    ("level", "an outpatient institution of policy {policy}; an admission needs a hospital level: one of {levels}"),
    ("total", "amount must not be negative"),
    ("self_funded", "amount must not be negative"),
    ("over_limit", "amount must not be negative"),
    ("pre_self_pay", "amount must not be negative"),
    ("bed_fees", "amount must not be negative"),
    ("nursing_fees", "amount must not be negative"),
    ("total", "must not exceed 1000万 yuan (the engine's exact integer range)"),
    ("total", "must be at least 全自费 + 超限价 + 乙类先行自付"),
    ("in_scope", "must equal total − 全自费 − 超限价 − 乙类先行自付 when the parts are given"),
    ("in_scope", "must not exceed total"),
    ("bed_fees", "bed and nursing fees are part of the in-scope cost and must not exceed it"),
    ("basic_paid", "amount must not be negative"),
    ("critical_base", "amount must not be negative"),
    ("critical_paid", "amount must not be negative"),
    (
        "critical_base",
        "needs basic_paid: a 大病 figure settled elsewhere goes with the basic payment it was settled after",
    ),
    (
        "critical_paid",
        "needs basic_paid: a 大病 figure settled elsewhere goes with the basic payment it was settled after",
    ),
    ("basic_paid", "the payments given (basic_paid + critical_paid) must not exceed the in-scope cost"),
    ("critical_base", "must not exceed the in-scope cost − basic_paid + 乙类先行自付: what a 大病 base is made of"),
    ("scheme", "claim is for another scheme but policy {policy} is for {scheme}"),
    ("person_id", "required"),
)


def value_at(column, i, default):
    """A row's value of a column, or the default where the column was not given."""
    return int(column[i]) if len(column) else default  # int: exact in CPython, int64 in numba


def check_rows(
    day,
    level,
    levels,
    place,
    referral,
    category,
    age,
    visit,
    service,
    service_given,
    total,
    self_funded,
    over_limit,
    pre_self_pay,
    given_in_scope,
    bed_fees,
    nursing_fees,
    basic_paid,
    critical_base,
    critical_paid,
    wrong_scheme,
    person,
    missing_person,
    code,
    in_scope,
):
    """Write each row's first failing check into ``code`` (0: none) and its in-scope cost into
    ``in_scope``: the one given, or total − 全自费 − 超限价 − 乙类先行自付 where not (or negative).

    ``basic_paid``, ``critical_base``, ``critical_paid``: amounts of earlier layers, NOT_GIVEN where
    the claim does not give them. ``levels``: how many hospital levels the policy has (higher level codes are outpatient
    institutions). ``missing_person[person[i]]`` is 1 where the person's id is absent.
    """
    for i in range(len(total)):
        lv = int(level[i])
        pl = value_at(place, i, 0)
        rf = value_at(referral, i, 0)
        vs = value_at(visit, i, 0)
        sv = value_at(service, i, -1)
        ag = value_at(age, i, -1)
        amount = int(total[i])
        funded = value_at(self_funded, i, 0)
        limit = value_at(over_limit, i, 0)
        pre = value_at(pre_self_pay, i, 0)
        bed = value_at(bed_fees, i, 0)
        nursing = value_at(nursing_fees, i, 0)
        given_basic = value_at(basic_paid, i, NOT_GIVEN)
        given_base = value_at(critical_base, i, NOT_GIVEN)
        given_critical = value_at(critical_paid, i, NOT_GIVEN)
        parts = funded + limit + pre
        derived = amount - parts
        given = value_at(given_in_scope, i, -1)
        cost = given if given >= 0 else derived
        c = 0
        if int(day[i]) == NOT_A_DAY:
            c = 1
        elif lv < 0:
            c = 2
        elif pl < 0:
            c = 3
        elif rf < 0:
            c = 4
        elif value_at(category, i, 0) < 0:
            c = 5
        elif pl > 0 and rf == 0:
            c = 6
        elif ag < -1 or ag > 150:
            c = 7
        elif vs < 0:
            c = 8
        elif service_given and vs == 1 and sv < 0:
            c = 9
        elif not service_given and vs == 1:
            c = 10
        elif vs == 0 and sv >= 0:
            c = 11
        elif vs == 0 and lv >= levels:
            c = 12
        elif amount < 0:
            c = 13
        elif funded < 0:
            c = 14
        elif limit < 0:
            c = 15
        elif pre < 0:
            c = 16
        elif bed < 0:
            c = 17
        elif nursing < 0:
            c = 18
        elif amount > MAX_TOTAL:
            c = 19
        elif parts > amount:
            c = 20
        elif given >= 0 and parts > 0 and given != derived:
            c = 21
        elif given > amount:
            c = 22
        elif bed + nursing > cost:
            c = 23
        elif given_basic < 0 and given_basic != NOT_GIVEN:
            c = 24
        elif given_base < 0 and given_base != NOT_GIVEN:
            c = 25
        elif given_critical < 0 and given_critical != NOT_GIVEN:
            c = 26
        elif given_base >= 0 and given_basic < 0:
            c = 27
        elif given_critical >= 0 and given_basic < 0:
            c = 28
        elif max(given_basic, 0) + max(given_critical, 0) > cost:
            c = 29
        elif given_base > cost - given_basic + pre:
            c = 30
        elif value_at(wrong_scheme, i, 0) != 0:
            c = 31
        elif missing_person[person[i]] != 0:
            c = 32
        code[i] = c
        in_scope[i] = cost


#: The functions numba compiles, callees first.
FUNCTIONS = ("value_at", "check_rows")
