"""Settlement records from a pipeline outcome: each settled row's breakdown, and its explanation.

The pipeline (``medcalc.engine.pipeline``) returns columns; this module turns the rows a caller
asks for into ``Settlement`` objects, with the steps ``medcalc.engine.explain`` reads off the
traced columns when explained.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..money import Fen
from ..settlement import Settlement

if TYPE_CHECKING:
    from .outcome import Outcome

__all__ = ["build_settlements"]


#: The results and input columns a Settlement is made of (without its explanation).
_PAYMENTS = ("deductible", "basic", "critical", "assistance", "backstop")
_AMOUNTS = ("total", "self_funded", "over_limit", "pre_self_pay", "in_scope")


def build_settlements(outcome: Outcome, explain: bool = True, rows: Any = None) -> list[Settlement]:
    """Settlement objects for every settled row (or just the settled ``rows`` given), in input order."""
    import numpy as np  # (loaded with the engine already; not at import)

    if outcome.claims is None:
        raise ValueError("Settlement records are made for claim objects (settle_claims); a batch of columns has none")
    claims = outcome.claims
    wanted = outcome.settled if rows is None else np.asarray(rows, np.int64)
    rows = wanted.tolist()
    if explain:  # the steps read every column; a settlement alone, only its own
        from .explain import steps_for  # rendering of steps is only needed when explaining

        results = {k: v[wanted].tolist() for k, v in outcome.results.items()}
        columns = {k: v[wanted].tolist() for k, v in outcome.columns.items()}
    else:
        results = {k: outcome.results[k][wanted].tolist() for k in _PAYMENTS}
        columns = {k: outcome.columns[k][wanted].tolist() for k in _AMOUNTS}
    out = []
    for j, i in enumerate(rows):
        r = {k: v[j] for k, v in results.items()}
        c = {k: v[j] for k, v in columns.items()}
        funds = r["basic"] + r["critical"] + r["assistance"] + r["backstop"]
        out.append(
            Settlement(
                claim=claims[i],
                row=i,
                policy_id=outcome.policy.id,
                policy_scheme=outcome.policy.scheme,
                total=Fen(c["total"]),
                self_funded=Fen(c["self_funded"]),
                over_limit=Fen(c["over_limit"]),
                pre_self_pay=Fen(c["pre_self_pay"]),
                in_scope=Fen(c["in_scope"]),
                deductible=Fen(r["deductible"]),
                basic=Fen(r["basic"]),
                critical=Fen(r["critical"]),
                assistance=Fen(r["assistance"]),
                backstop=Fen(r["backstop"]),
                patient=Fen(c["total"] - funds),
                steps=tuple(steps_for(outcome, i, r, c)) if explain else (),
                before=outcome.accumulators_before.get(i),  # recorded only when explaining
                after=outcome.accumulators_after.get(i),
            )
        )
    return out
