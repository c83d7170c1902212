"""The payer layers, one module each, in the order they pay.

Each takes what the ones before it left of a claim's in-scope cost:

1. 基本医保: ``basic`` settles admissions, ``outpatient`` the outpatient services;
2. ``critical``: 大病保险 (residents) or 大额医疗费用补助 (employees), on the year's qualifying self-pay;
3. ``assistance``: 医疗救助 on the in-scope self-pay left, then 再次救助;
4. ``backstop``: 兜底, a cap on the year's burden and paying the rest again.

A layer's module holds everything about its mechanism: ``PARAMS`` (its parameter table's
columns, one row per profile), ``build`` (those parameters from the policy, vectorized),
its kernel functions (``FUNCTIONS``: plain Python that CPython runs for a claim and numba
compiles for a batch), ``TRACE`` (the intermediate amounts it writes when tracing) and
``explain`` (its steps, read back from them). The loop that calls them row by row is
``medcalc.engine.kernel``; the accumulators they share are laid out by ``medcalc.engine.state``.
"""

from __future__ import annotations

from . import assistance, backstop, basic, critical, outpatient

__all__ = ["CHAIN", "assistance", "backstop", "basic", "critical", "outpatient"]

#: The layers by name, in paying order (layer 1 is ``basic`` or ``outpatient`` by the visit).
CHAIN = {
    "basic": basic,
    "outpatient": outpatient,
    "critical": critical,
    "assistance": assistance,
    "backstop": backstop,
}
