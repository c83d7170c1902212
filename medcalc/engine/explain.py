"""Explanations: a settled row's intermediate columns read back as ordered, cited steps.

No amount is computed here that the engine did not compute; each layer says, in Chinese
terms with English beside, which rule produced each of its numbers and quotes it (its
``explain``, in ``medcalc.engine.layers``). This module puts the steps in paying order: the
in-scope cost, layer 1 (an admission, an outpatient visit, or the payment the claim gives),
the later layers, and what the patient pays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..money import Fen, format_yuan
from ..settlement import Step
from .layers import assistance, backstop, basic, critical, outpatient

if TYPE_CHECKING:
    from .outcome import Outcome

__all__ = ["steps_for"]

#: The layers after layer 1, in paying order.
_LATER_LAYERS = (critical, assistance, backstop)


def steps_for(o: Outcome, i: int, r: dict, c: dict) -> list[Step]:
    """Every step of every layer for input row ``i`` (``r``: its results, ``c``: its columns)."""
    steps = _decompose(c)
    if c["basic_paid"] >= 0:
        steps.append(
            Step(
                "basic_given",
                "基本医保统筹支付 basic insurance pays, as the claim gives it",
                "settled elsewhere (basic_paid), not computed: no deductible is known, and the rest of the "
                f"in-scope cost {format_yuan(c['in_scope'] - r['basic'])} counts as its co-insurance",
                amount=Fen(r["basic"]),
            )
        )
    else:
        steps += (outpatient if c["visit"] == 1 else basic).explain(o, i, r, c)
    for layer in _LATER_LAYERS:
        steps += layer.explain(o, i, r, c)
    funds = r["basic"] + r["critical"] + r["assistance"] + r["backstop"]
    steps.append(
        Step(
            "patient",
            "个人负担 patient pays",
            f"total {format_yuan(c['total'])} − all funds {format_yuan(funds)}",
            amount=Fen(c["total"] - funds),
        )
    )
    return steps


def _decompose(c: dict) -> list[Step]:
    out_of_scope = c["total"] - c["in_scope"] - c["self_funded"] - c["over_limit"] - c["pre_self_pay"]
    parts = [f"total {format_yuan(c['total'])}"]
    for name, label in (("self_funded", "全自费"), ("over_limit", "超限价"), ("pre_self_pay", "乙类先行自付")):
        if c[name]:
            parts.append(f"− {label} {format_yuan(c[name])}")
    if out_of_scope:
        parts.append(f"− outside the policy scope (not itemised) {format_yuan(out_of_scope)}")
    return [
        Step(
            "decompose",
            "政策范围内费用 in-scope cost",
            " ".join(parts) + f" = {format_yuan(c['in_scope'])}",
            amount=Fen(c["in_scope"]),
            base=Fen(c["total"]),
        )
    ]
