"""The Python API for claim simulation: settle one claim, a person's sequence, or many people."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .accumulators import Accumulators
from .claims import Claim
from .engine.settlements import build_settlements
from .errors import ClaimError
from .policy.model import Policy
from .settlement import Batch, Settlement

__all__ = ["settle", "settle_sequence", "settle_many"]

PolicyLike = Policy | str | os.PathLike  # a loaded policy, its id, or a policy file's path


def _policy(policy: PolicyLike) -> Policy:
    if isinstance(policy, Policy):
        return policy
    from .policy.registry import load_policy  # (the registry loads on first use, not at import)

    return load_policy(policy if isinstance(policy, str) else Path(policy))  # (a PathLike's str() need not be its path)


def settle_many(
    policy: PolicyLike,
    claims: Iterable[Claim],
    *,
    accumulators: Iterable[Accumulators] = (),
    explain: bool = True,
) -> Batch:
    """Settle claims of many people, each person's claims in settlement-date order.

    Returns every settlement in input order, the rejected rows with their reasons, and
    each person-year's accumulators afterwards. ``accumulators`` gives starting values
    for person-years that had claims before these.
    """
    outcome = _settled(policy, claims, accumulators, explain)
    return Batch(tuple(build_settlements(outcome, explain)), tuple(outcome.rejects), outcome.accumulators)


def _settled(policy: PolicyLike, claims: Iterable[Claim], accumulators: Iterable[Accumulators], explain: bool):
    """The engine's outcome for the claims (what settle_many and settle make their objects from)."""
    from .engine.pipeline import settle_claims  # numpy loads on first use, not at import

    return settle_claims(_policy(policy), list(claims), accumulators, trace=explain)


def settle_sequence(
    policy: PolicyLike,
    claims: Sequence[Claim],
    *,
    accumulators: Accumulators | None = None,
    explain: bool = True,
) -> Batch:
    """Settle one person's claims in settlement order (claims of other people are refused)."""
    people = {c.person_id for c in claims}
    if len(people) > 1:
        raise ClaimError("person_id", sorted(people), "a sequence must belong to one person")
    return settle_many(policy, claims, accumulators=[accumulators] if accumulators else (), explain=explain)


def settle(
    policy: PolicyLike,
    claim: Claim,
    *,
    history: Sequence[Claim] = (),
    accumulators: Accumulators | None = None,
    explain: bool = True,
) -> Settlement:
    """Settle one claim, after the person's earlier ``history`` claims or given ``accumulators``.

    Raises ClaimError when the policy cannot settle the claim.
    """
    others = [c for c in history if c.person_id != claim.person_id]
    if others:
        raise ClaimError("history", others[0].person_id, f"earlier claims must belong to person {claim.person_id!r}")
    later = [c for c in history if c.settled_on > claim.settled_on]
    if later:
        raise ClaimError(
            "history",
            later[0].settled_on.isoformat(),
            f"earlier claims must be settled on or before {claim.settled_on}",
        )
    # only the claim's own settlement is made (not the history's, nor the accumulators' objects)
    outcome = _settled(policy, [*history, claim], [accumulators] if accumulators else (), explain)
    last = len(history)
    for reject in outcome.rejects:
        if reject.row == last:
            raise ClaimError(reject.field, _claim_value(claim, reject.field), reject.reason)
        raise ClaimError(
            "history", reject.row, f"earlier claim {reject.row} was rejected: {reject.field}: {reject.reason}"
        )
    return build_settlements(outcome, explain, rows=[last])[0]


def _claim_value(claim: Claim, field: str) -> object:
    value: Any = getattr(claim, field, None)
    return value.isoformat() if hasattr(value, "isoformat") else value
