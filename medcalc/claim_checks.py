"""The claim checks, written once: each rule's code, field and reason, and the function that decides them.

``check_row`` decides a claim's first failing rule from its values as integers (codes, fen, day
numbers). A ``Claim`` calls it on its own values in CPython as it is made; the batch calls it in
``check_rows``, one loop over the rows written like the kernel (plain Python on integers and arrays,
compiled by numba for large batches through ``medcalc.engine.checks``, which re-exports this
module). A column the caller did not give is an array of length 0 and reads as its default.

``CHECKS`` holds each rule's (field, reason) by code, in the order the rules are tried: first what
one value says on its own (in the order of a Claim's fields, whose converters refuse such values as
they read them), then the rules across fields, then those that need the policy (a Claim meets
these when it is settled). ``reason`` completes a reason: ``{…}`` with the policy's words, and
``[…]`` with the claim's own figures where they are known (one claim), left out where not (a
group of rows).
"""

from __future__ import annotations

import re
from collections import namedtuple
from collections.abc import Mapping

from .money import format_yuan

__all__ = [
    "MAX_TOTAL",
    "NOT_A_DAY",
    "NOT_GIVEN",
    "CHECKS",
    "FUNCTIONS",
    "field_of",
    "reason",
    "in_scope_cost",
    "check_row",
    "value_at",
    "check_rows",
    "ClaimValues",
    "CheckColumns",
    "PASSES",
    "NO_PERSON",
    "NO_SETTLED_ON",
    "TOTAL_NEGATIVE",
    "TOTAL_TOO_LARGE",
    "UNKNOWN_VISIT",
    "UNKNOWN_PLACE",
    "UNKNOWN_REFERRAL",
    "UNKNOWN_CATEGORY",
    "AGE_OUT_OF_RANGE",
    "SELF_FUNDED_NEGATIVE",
    "OVER_LIMIT_NEGATIVE",
    "PRE_SELF_PAY_NEGATIVE",
    "BED_FEES_NEGATIVE",
    "NURSING_FEES_NEGATIVE",
    "BASIC_PAID_NEGATIVE",
    "CRITICAL_BASE_NEGATIVE",
    "CRITICAL_PAID_NEGATIVE",
    "SERVICE_REQUIRED",
    "SERVICE_FOR_ADMISSION",
    "ADMITTED_AFTER_SETTLED",
    "REFERRAL_REQUIRED",
    "TOTAL_BELOW_PARTS",
    "IN_SCOPE_NOT_DERIVED",
    "IN_SCOPE_ABOVE_TOTAL",
    "FEES_ABOVE_IN_SCOPE",
    "BASE_WITHOUT_BASIC",
    "CRITICAL_WITHOUT_BASIC",
    "PAYMENTS_ABOVE_IN_SCOPE",
    "BASE_ABOVE_ITS_PARTS",
    "WRONG_SCHEME",
    "UNKNOWN_LEVEL",
    "UNKNOWN_SERVICE",
    "INSTITUTION_ADMITTED",
]

#: The largest total one claim may have, in fen (1000万 yuan): every product the engine forms
#: (amount x ratio, amount x amount in the second layer's split) then stays exact in int64.
MAX_TOTAL = 10**9

NOT_A_DAY = -(1 << 63)  # numpy's NaT, read as int64
#: An amount of an earlier layer the claim does not give (claims.GIVEN_FIELDS): the engine
#: computes that layer. Any other negative value is refused.
NOT_GIVEN = -(1 << 31) + 1  # (fits the int32 columns amounts are read into)

# The codes, in the order the rules are tried (0: the claim passes).
PASSES = 0
# what one value says on its own, in a Claim's field order
NO_PERSON = 1
NO_SETTLED_ON = 2
TOTAL_NEGATIVE = 3
TOTAL_TOO_LARGE = 4
UNKNOWN_VISIT = 5
UNKNOWN_PLACE = 6
UNKNOWN_REFERRAL = 7
UNKNOWN_CATEGORY = 8
AGE_OUT_OF_RANGE = 9
SELF_FUNDED_NEGATIVE = 10
OVER_LIMIT_NEGATIVE = 11
PRE_SELF_PAY_NEGATIVE = 12
BED_FEES_NEGATIVE = 13
NURSING_FEES_NEGATIVE = 14
BASIC_PAID_NEGATIVE = 15
CRITICAL_BASE_NEGATIVE = 16
CRITICAL_PAID_NEGATIVE = 17
# across fields
SERVICE_REQUIRED = 18
SERVICE_FOR_ADMISSION = 19
ADMITTED_AFTER_SETTLED = 20
REFERRAL_REQUIRED = 21
TOTAL_BELOW_PARTS = 22
IN_SCOPE_NOT_DERIVED = 23
IN_SCOPE_ABOVE_TOTAL = 24
FEES_ABOVE_IN_SCOPE = 25
BASE_WITHOUT_BASIC = 26
CRITICAL_WITHOUT_BASIC = 27
PAYMENTS_ABOVE_IN_SCOPE = 28
BASE_ABOVE_ITS_PARTS = 29
# what needs the policy
WRONG_SCHEME = 30
UNKNOWN_LEVEL = 31
UNKNOWN_SERVICE = 32
INSTITUTION_ADMITTED = 33

# (parse_amount's own words for an amount out of a claim's range: a value refused as it is read
# and one refused here read the same; tests/test_claim_checks.py holds them equal)
_NEGATIVE = "amount must not be negative"
_NEEDS_BASIC = "needs basic_paid: a 大病 figure settled elsewhere goes with the basic payment it was settled after"

_REASONS = {
    NO_PERSON: ("person_id", "required"),
    NO_SETTLED_ON: ("settled_on", "required: a date such as 2025-03-01"),
    TOTAL_NEGATIVE: ("total", _NEGATIVE),
    TOTAL_TOO_LARGE: ("total", f"amount must not exceed {format_yuan(MAX_TOTAL)} yuan (1000万)"),
    UNKNOWN_VISIT: ("visit", "must be one of {visits}"),
    UNKNOWN_PLACE: ("place", "must be one of {places}"),
    UNKNOWN_REFERRAL: ("referral", "must be one of {referrals}"),
    UNKNOWN_CATEGORY: ("category", "must be one of {categories}"),
    AGE_OUT_OF_RANGE: ("age", "must be whole years between 0 and 150"),
    SELF_FUNDED_NEGATIVE: ("self_funded", _NEGATIVE),
    OVER_LIMIT_NEGATIVE: ("over_limit", _NEGATIVE),
    PRE_SELF_PAY_NEGATIVE: ("pre_self_pay", _NEGATIVE),
    BED_FEES_NEGATIVE: ("bed_fees", _NEGATIVE),
    NURSING_FEES_NEGATIVE: ("nursing_fees", _NEGATIVE),
    BASIC_PAID_NEGATIVE: ("basic_paid", _NEGATIVE),
    CRITICAL_BASE_NEGATIVE: ("critical_base", _NEGATIVE),
    CRITICAL_PAID_NEGATIVE: ("critical_paid", _NEGATIVE),
    SERVICE_REQUIRED: (
        "service",
        "required for an outpatient claim: the outpatient service of the policy (see `medcalc policy show`)",
    ),
    SERVICE_FOR_ADMISSION: ("service", "only outpatient claims name a service"),
    ADMITTED_AFTER_SETTLED: ("admitted_on", "must not be after settled_on[ ({settled_on})]"),
    REFERRAL_REQUIRED: (
        "referral",
        "required for care outside the insured area: one of referred, emergency, resident, not_referred",
    ),
    TOTAL_BELOW_PARTS: ("total", "must be at least 全自费 + 超限价 + 乙类先行自付[ = {parts} yuan]"),
    IN_SCOPE_NOT_DERIVED: (
        "in_scope",
        "must equal total − 全自费 − 超限价 − 乙类先行自付[ = {derived} yuan] when the parts are given",
    ),
    IN_SCOPE_ABOVE_TOTAL: ("in_scope", "must not exceed total[ ({total} yuan)]"),
    FEES_ABOVE_IN_SCOPE: (
        "bed_fees",
        "bed and nursing fees are part of the in-scope cost and must not exceed it[ ({cost} yuan)]",
    ),
    BASE_WITHOUT_BASIC: ("critical_base", _NEEDS_BASIC),
    CRITICAL_WITHOUT_BASIC: ("critical_paid", _NEEDS_BASIC),
    PAYMENTS_ABOVE_IN_SCOPE: (
        "basic_paid",
        "the payments given (basic_paid + critical_paid) must not exceed the in-scope cost[ ({cost} yuan)]",
    ),
    BASE_ABOVE_ITS_PARTS: (
        "critical_base",
        "must not exceed the in-scope cost − basic_paid + 乙类先行自付[ ({most} yuan)]: what a 大病 base is made of",
    ),
    WRONG_SCHEME: ("scheme", "claim is for another scheme[ ({claimed})] but policy {policy} is for {scheme}"),
    UNKNOWN_LEVEL: ("level", "unknown hospital level for policy {policy}; one of {levels}"),
    UNKNOWN_SERVICE: ("service", "policy {policy} has no outpatient service[ {claimed}]; it has {services}"),
    INSTITUTION_ADMITTED: (
        "level",
        "[{claimed} is ]an outpatient institution of policy {policy}; "
        "an admission needs a hospital level: one of {levels}",
    ),
}

#: (field, reason) of each check, by code (code 0: the claim passes); see ``reason``.
CHECKS = (None, *(_REASONS[code] for code in range(1, len(_REASONS) + 1)))

_DETAIL = re.compile(r"\[([^\]]*)\]")


def field_of(code: int) -> str:
    """The claim field failing check ``code`` (>= 1) is about."""
    return _REASONS[code][0]


def reason(code: int, figures: Mapping[str, object] | None = None, **words: object) -> str:
    """The reason of check ``code``: its ``{…}`` filled with ``words`` (the policy's: policy, levels,
    services …), and its ``[…]`` detail with the claim's ``figures`` where given, else left out."""
    text = _REASONS[code][1]
    text = _DETAIL.sub(r"\1" if figures is not None else "", text)
    return text.format(**words, **(figures or {})) if "{" in text else text


#: A claim's values as ``check_row`` reads them: integers (codes, day numbers, fen; see there).
ClaimValues = namedtuple(
    "ClaimValues",
    (
        "person_missing",
        "day",
        "admitted",
        "total",
        "visit",
        "place",
        "referral",
        "category",
        "age",
        "self_funded",
        "over_limit",
        "pre_self_pay",
        "in_scope",
        "bed_fees",
        "nursing_fees",
        "basic_paid",
        "critical_base",
        "critical_paid",
        "service",
        "wrong_scheme",
        "level",
    ),
)

#: A batch's columns as ``check_rows`` reads them: one array per value of ClaimValues (``person``:
#: each row's person code, for ``person_missing``), of length 0 where the batch does not give it.
CheckColumns = namedtuple(
    "CheckColumns",
    (
        "person",
        "day",
        "admitted",
        "total",
        "visit",
        "place",
        "referral",
        "category",
        "age",
        "self_funded",
        "over_limit",
        "pre_self_pay",
        "in_scope",
        "bed_fees",
        "nursing_fees",
        "basic_paid",
        "critical_base",
        "critical_paid",
        "service",
        "wrong_scheme",
        "level",
    ),
)
# (written out, not derived from ClaimValues: a type checker reads only literal field names)
assert CheckColumns._fields[1:] == ClaimValues._fields[1:], "CheckColumns and ClaimValues differ"


def in_scope_cost(in_scope, total, self_funded, over_limit, pre_self_pay):
    """政策范围内费用: the one given (>= 0), or total − 全自费 − 超限价 − 乙类先行自付."""
    return in_scope if in_scope >= 0 else total - self_funded - over_limit - pre_self_pay


def check_row(claim, service_given, levels):
    """The code of a claim's first failing check (PASSES: none), from its values as integers
    (``claim``: a ClaimValues).

    Days are day numbers (any one count for both), NOT_A_DAY where none. ``visit``, ``place``,
    ``referral``, ``category``, ``service``, ``level``: codes (index in the choices; place 0 local,
    referral 0 none, visit 0 inpatient, 1 outpatient), < 0 where the word is unknown (service:
    also where none is named). ``age`` −1 where not given. Amounts in fen; ``in_scope`` < 0: derived
    from the parts; ``basic_paid``, ``critical_base``, ``critical_paid`` NOT_GIVEN where not given.
    ``service_given``: whether services are named at all (a batch without the column).
    ``levels``: how many hospital levels the policy has (higher level codes are outpatient
    institutions). ``person_missing``, ``wrong_scheme``: nonzero where so.
    """
    person_missing, day, admitted, total = claim.person_missing, claim.day, claim.admitted, claim.total
    visit, place, referral, category = claim.visit, claim.place, claim.referral, claim.category
    age, service, level, wrong_scheme = claim.age, claim.service, claim.level, claim.wrong_scheme
    self_funded, over_limit, pre_self_pay = claim.self_funded, claim.over_limit, claim.pre_self_pay
    in_scope, bed_fees, nursing_fees = claim.in_scope, claim.bed_fees, claim.nursing_fees
    basic_paid, critical_base, critical_paid = claim.basic_paid, claim.critical_base, claim.critical_paid
    if person_missing != 0:
        return NO_PERSON
    if day == NOT_A_DAY:
        return NO_SETTLED_ON
    if total < 0:
        return TOTAL_NEGATIVE
    if total > MAX_TOTAL:
        return TOTAL_TOO_LARGE
    if visit < 0:
        return UNKNOWN_VISIT
    if place < 0:
        return UNKNOWN_PLACE
    if referral < 0:
        return UNKNOWN_REFERRAL
    if category < 0:
        return UNKNOWN_CATEGORY
    if age < -1 or age > 150:
        return AGE_OUT_OF_RANGE
    if self_funded < 0:
        return SELF_FUNDED_NEGATIVE
    if over_limit < 0:
        return OVER_LIMIT_NEGATIVE
    if pre_self_pay < 0:
        return PRE_SELF_PAY_NEGATIVE
    if bed_fees < 0:
        return BED_FEES_NEGATIVE
    if nursing_fees < 0:
        return NURSING_FEES_NEGATIVE
    if basic_paid < 0 and basic_paid != NOT_GIVEN:
        return BASIC_PAID_NEGATIVE
    if critical_base < 0 and critical_base != NOT_GIVEN:
        return CRITICAL_BASE_NEGATIVE
    if critical_paid < 0 and critical_paid != NOT_GIVEN:
        return CRITICAL_PAID_NEGATIVE
    if not service_given and visit == 1:
        return SERVICE_REQUIRED
    if visit == 0 and service >= 0:
        return SERVICE_FOR_ADMISSION
    if admitted != NOT_A_DAY and admitted > day:
        return ADMITTED_AFTER_SETTLED
    if place > 0 and referral == 0:
        return REFERRAL_REQUIRED
    parts = self_funded + over_limit + pre_self_pay
    if parts > total:
        return TOTAL_BELOW_PARTS
    if in_scope >= 0 and parts > 0 and in_scope != total - parts:
        return IN_SCOPE_NOT_DERIVED
    if in_scope > total:
        return IN_SCOPE_ABOVE_TOTAL
    cost = in_scope_cost(in_scope, total, self_funded, over_limit, pre_self_pay)
    if bed_fees + nursing_fees > cost:
        return FEES_ABOVE_IN_SCOPE
    if critical_base >= 0 and basic_paid < 0:
        return BASE_WITHOUT_BASIC
    if critical_paid >= 0 and basic_paid < 0:
        return CRITICAL_WITHOUT_BASIC
    if max(basic_paid, 0) + max(critical_paid, 0) > cost:
        return PAYMENTS_ABOVE_IN_SCOPE
    if critical_base > cost - basic_paid + pre_self_pay:  # (basic_paid given: checked above)
        return BASE_ABOVE_ITS_PARTS
    if wrong_scheme != 0:
        return WRONG_SCHEME
    if level < 0:
        return UNKNOWN_LEVEL
    if service_given and visit == 1 and service < 0:
        return UNKNOWN_SERVICE
    if visit == 0 and level >= levels:
        return INSTITUTION_ADMITTED
    return PASSES


def value_at(column, i, default):
    """A row's value of a column, or the default where the column was not given."""
    return int(column[i]) if len(column) else default  # int: exact in CPython, int64 in numba


def check_rows(columns, service_given, levels, missing_person, code, in_scope):
    """Write each row's first failing check into ``code`` (PASSES: none) and its in-scope cost into
    ``in_scope``: the one given, or total − 全自费 − 超限价 − 乙类先行自付 where not (or negative).

    ``columns``: a CheckColumns, each row's values as ``check_row`` reads them (a column of length
    0: not given, the field's default; ``admitted`` NOT_A_DAY where a row gives none).
    ``missing_person[columns.person[i]]`` is 1 where the person's id is absent.
    """
    c = columns
    for i in range(len(c.total)):
        claim = ClaimValues(
            int(missing_person[c.person[i]]),
            int(c.day[i]),
            value_at(c.admitted, i, NOT_A_DAY),
            int(c.total[i]),
            value_at(c.visit, i, 0),
            value_at(c.place, i, 0),
            value_at(c.referral, i, 0),
            value_at(c.category, i, 0),
            value_at(c.age, i, -1),
            value_at(c.self_funded, i, 0),
            value_at(c.over_limit, i, 0),
            value_at(c.pre_self_pay, i, 0),
            value_at(c.in_scope, i, -1),
            value_at(c.bed_fees, i, 0),
            value_at(c.nursing_fees, i, 0),
            value_at(c.basic_paid, i, NOT_GIVEN),
            value_at(c.critical_base, i, NOT_GIVEN),
            value_at(c.critical_paid, i, NOT_GIVEN),
            value_at(c.service, i, -1),
            value_at(c.wrong_scheme, i, 0),
            int(c.level[i]),
        )
        code[i] = check_row(claim, service_given, levels)
        in_scope[i] = in_scope_cost(
            claim.in_scope, claim.total, claim.self_funded, claim.over_limit, claim.pre_self_pay
        )


#: The functions numba compiles, callees first.
FUNCTIONS = ("in_scope_cost", "check_row", "value_at", "check_rows")
