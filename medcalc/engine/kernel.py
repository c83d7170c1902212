"""The settlement kernel's loop: the claims in settlement order, each paid by the layers in turn.

One loop walks the claims in settlement order. A person-year's accumulators live in a
small array ``st`` (laid out by ``medcalc.engine.state``) that is reset when the person or
the year changes; each claim is paid by the layers in turn (``medcalc.engine.layers``), each
taking what the previous ones left:

1. 基本医保: an admission (``basic.settle_admission``) or an outpatient visit
   (``outpatient.settle_visit``), or the payment as the claim gives it (``basic.settle_given``);
2. 大病保险 / 大额医疗费用补助 on the year's qualifying self-pay (``critical.settle_critical``);
3. 医疗救助 on the in-scope self-pay left (``assistance.settle_assistance``);
4. 兜底 backstops on the year's burden (``backstop.settle_backstop``).

What depends only on a claim's kind and the rules in force is looked up beforehand,
vectorized, by each layer's ``build`` into its parameter table, one row per *profile*:
claims that share level, place, category, … and rule versions share a profile. The loop
passes each layer its own table and the row of the claim's profile.

The code is plain Python on integers and numpy arrays, with no decorator: CPython runs it
as it is for single claims and explanations, and ``medcalc.engine.compiled`` hands the
same functions to numba for batches. So it uses only what both understand: int64
arithmetic, loops, arrays indexed by integers, tuples (named ones too). The integer bounds
that keep every product within int64 are in ``medcalc.engine.arithmetic``.
"""

from __future__ import annotations

from collections import namedtuple

from . import arithmetic
from .arithmetic import copy_state, given_at
from .layers import CHAIN, assistance, backstop, basic, critical, outpatient
from .layers.assistance import settle_assistance
from .layers.backstop import settle_backstop
from .layers.basic import settle_admission, settle_given
from .layers.critical import settle_critical
from .layers.outpatient import settle_visit

__all__ = ["ClaimRows", "PolicyTables", "Traces", "PROFILE_CODES", "RESULTS", "TRACE", "BANDED", "settle_rows"]

#: A chunk's rows in settlement order, one column each: the person-year's keys (``person``,
#: ``year``; the rows of one person-year are consecutive), ``month`` (0-11, for caps per month
#: or quarter), the row's ``profile``, its amounts, and the amounts of earlier layers it gives
#: (negative: not given; all of length 0 when no row gives one).
ClaimRows = namedtuple(
    "ClaimRows",
    (
        "person",
        "year",
        "month",
        "profile",
        "total",
        "in_scope",
        "pre_self_pay",
        "basic_paid",
        "critical_base",
        "critical_paid",
    ),
)

#: The policy's tables for a batch: each profile's codes (PROFILE_CODES), each layer's parameter
#: table (by profile: the layer's PARAMS), the lookups they index (deductible schedules, band
#: schedules), and the keyed state's sizes (``state.sizes``).
PolicyTables = namedtuple(
    "PolicyTables",
    (
        "codes",
        "basic",
        "outpatient",
        "critical",
        "assistance",
        "backstop",
        "schedules",
        "later_fractions",
        "basic_edges",
        "basic_rates",
        "basic_step",
        "basic_basis",
        "critical_edges",
        "critical_rates",
        "services",
        "groups",
    ),
)

#: What a traced run writes: ``on``; ``tr`` (TRACE x rows), ``tb`` (band traces: ``tb[layer,
#: 0 portion / 1 rate, row, band]``) and ``acc[0 / 1, row]`` (the accumulators before / after the
#: row). Arrays of size 0 when not tracing.
Traces = namedtuple("Traces", ("on", "tr", "tb", "acc"))

#: The codes of a profile, its columns in ``PolicyTables.codes``.
PROFILE_CODES = ("level", "visit", "service")
P_LEVEL = PROFILE_CODES.index("level")
P_VISIT = PROFILE_CODES.index("visit")
P_SERVICE = PROFILE_CODES.index("service")

#: Result rows of ``res``, one column per input row.
RESULTS = ("deductible", "basic", "critical", "assistance", "backstop")

#: The loop's own traces: layer 1's payable cost and raw payment, whichever of its modules settled the row.
LOOP_TRACE = ("payable", "basic_raw")
T_PAYABLE = LOOP_TRACE.index("payable")
T_BASIC_RAW = LOOP_TRACE.index("basic_raw")
#: Where each layer's TRACE starts in the trace table: after the loop's, in paying order.
TRACE_AT = {}
_at = len(LOOP_TRACE)
for _name, _layer in CHAIN.items():
    TRACE_AT[_name] = _at
    _at += len(_layer.TRACE)
AT_BASIC = TRACE_AT["basic"]
AT_OUTPATIENT = TRACE_AT["outpatient"]
AT_CRITICAL = TRACE_AT["critical"]
AT_ASSISTANCE = TRACE_AT["assistance"]
AT_BACKSTOP = TRACE_AT["backstop"]
#: Intermediate columns of a traced run (what explanations read), in the trace table's order.
TRACE = LOOP_TRACE + tuple(name for layer in CHAIN.values() for name in layer.TRACE)
assert len(set(TRACE)) == len(TRACE), "a traced column is named twice"

#: The banded layers, by their row of the band traces.
BANDED = ("basic", "critical")
assert (basic.BANDED_AS, critical.BANDED_AS) == (0, 1)


def settle_rows(rows, tables, first_group, initial, final, st, res, traces):
    """Settle ``rows`` (a ClaimRows, in settlement order), writing their payments to ``res[:, i]``.

    ``tables``: a PolicyTables. Person-years are numbered from ``first_group`` in the order met;
    ``initial[g]`` (when given: rows > 0) are their starting accumulators and ``final[g]``
    receives the ones after. ``st``: room for one person-year's accumulators. ``traces``: a
    Traces. Nothing is allocated here, so the compiled loop keeps no reference counts.
    """
    person, year, month, profile = rows.person, rows.year, rows.month, rows.profile
    total, in_scope, pre_self_pay = rows.total, rows.in_scope, rows.pre_self_pay
    basic_paid, critical_base, critical_paid = rows.basic_paid, rows.critical_base, rows.critical_paid
    codes, services, groups = tables.codes, tables.services, tables.groups
    basic_par, outpatient_par, critical_par = tables.basic, tables.outpatient, tables.critical
    assistance_par, backstop_par = tables.assistance, tables.backstop
    schedules, basic_step, basic_basis = tables.schedules, tables.basic_step, tables.basic_basis
    later_fractions = tables.later_fractions
    basic_edges, basic_rates = tables.basic_edges, tables.basic_rates
    critical_edges, critical_rates = tables.critical_edges, tables.critical_rates
    trace, tr, tb, acc = traces.on, traces.tr, traces.tb, traces.acc
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
        level = codes[p, P_LEVEL]
        cost = in_scope[i]
        given_basic = given_at(basic_paid, i)
        if given_basic >= 0:
            deductible, payable, above, raw, paid = settle_given(
                codes[p, P_VISIT], codes[p, P_SERVICE], st, cost, given_basic, services
            )
        elif codes[p, P_VISIT] == 0:
            deductible, payable, above, raw, paid = settle_admission(
                i,
                p,
                basic_par,
                st,
                level,
                cost,
                total[i],
                schedules,
                later_fractions,
                basic_edges,
                basic_rates,
                basic_step,
                basic_basis,
                trace,
                tr,
                AT_BASIC,
                tb,
            )
        else:
            deductible, payable, above, raw, paid = settle_visit(
                i, p, outpatient_par, st, codes[p, P_SERVICE], cost, month[i], services, trace, tr, AT_OUTPATIENT
            )
        if trace:
            tr[T_PAYABLE, i] = payable
            tr[T_BASIC_RAW, i] = raw
        second = settle_critical(
            i,
            p,
            critical_par,
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
            AT_CRITICAL,
            tb,
        )
        third = settle_assistance(
            i, p, assistance_par, st, cost, paid + second, services, groups, trace, tr, AT_ASSISTANCE
        )
        fourth = settle_backstop(i, p, backstop_par, st, cost, paid + second + third, trace, tr, AT_BACKSTOP)
        res[0, i] = deductible
        res[1, i] = paid
        res[2, i] = second
        res[3, i] = third
        res[4, i] = fourth
        if trace:
            copy_state(st, acc[1, i])
    if g >= first_group and final.shape[0] > 0:
        copy_state(st, final[g])


#: The modules whose kernel functions the loop calls, callees' modules first (the order
#: ``medcalc.engine.compiled`` compiles them in).
CALLS = (arithmetic, basic, outpatient, critical, assistance, backstop)
#: The kernel functions of this module: the loop, the one not inlined.
FUNCTIONS = ("settle_rows",)
