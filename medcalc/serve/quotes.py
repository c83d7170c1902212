"""``POST /quote``: one claim, or a person's claims of the year in order, settled and explained.

The request is JSON read exactly (decimals as ``Decimal``, never float: ``medcalc.batch.files.parse_json``),
and each claim is built by ``Claim.from_mapping``, as the CLI builds ``--claim`` files, so the
field names, the words (三级, 跨省, 低保), the amounts (``"1.5万"``, ``"150元"``, plain numbers in
yuan) and the error messages are the CLI's. The answer has ``Settlement.to_dict()``'s fields.

Request keys: the policy (``policy`` id, or ``region`` with ``on``, ``scheme``, ``tier``); the
claim (``claim``: an object, or its fields at the top level; ``history``: the person's earlier
claims this year) or ``claims`` (a person's year, in order); ``accumulators`` (year-to-date
values known before these claims); ``explain`` (every step with its policy quote and the
accumulators before and after); ``table`` (the CLI's table, as ``view``: see ``view``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..accumulators import Accumulators
from ..api import settle, settle_sequence
from ..batch.files import parse_json
from ..claims import FIELD_ALIASES, Claim
from ..errors import ClaimError, MedcalcError
from .lookup import choose_policy
from .problems import ApiError

__all__ = ["quote", "read_json", "REQUEST_KEYS"]

#: Keys of a quote request that are not claim fields (the others, at the top level, are the claim's).
REQUEST_KEYS = frozenset(
    {"policy", "region", "on", "scheme", "tier", "claim", "claims", "history", "accumulators", "explain", "table"}
)
#: The person of a claim that names none (as ``medcalc quote`` without ``--person``).
DEFAULT_PERSON = "person"


def read_json(body: bytes) -> dict[str, Any]:
    """A request body as a JSON object, numbers exact; 422 if it is not one."""
    try:
        data = parse_json(body.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ApiError(422, f"body: not UTF-8 text: {exc}", "body") from None
    except ValueError as exc:  # JSONDecodeError, NaN or Infinity
        raise ApiError(422, f"body: not valid JSON: {exc}", "body") from None
    if not isinstance(data, dict):
        raise ApiError(422, "body: must be a JSON object (a quote request)", "body")
    return data


def _flag(request: Mapping[str, Any], key: str) -> bool:
    value = request.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ApiError(422, f"{key}: must be true or false (got {value!r})", key)
    return value


def _claim(fields: Any, where: str, person: str = DEFAULT_PERSON) -> Claim:
    """A claim from its JSON object; ``where`` prefixes the message as the CLI's files do."""
    if not isinstance(fields, dict):
        raise ApiError(422, f"{where}must be a JSON object (got {fields!r})", where.split(":")[0] or "claim")
    row = dict(fields)
    if not any(FIELD_ALIASES.get(key, key) == "person_id" for key in row):  # (psn_no, 人员编号 name the person too)
        row["person_id"] = person
    try:
        return Claim.from_mapping(row)
    except ClaimError as exc:
        raise ApiError(422, f"{where}{exc}", exc.field) from None


def _claims(value: Any, key: str, person: str) -> list[Claim]:
    if not isinstance(value, list):
        raise ApiError(422, f"{key}: must be an array of claims", key)
    return [_claim(row, f"{key}: claim {i}: ", person) for i, row in enumerate(value, 1)]


def _accumulators(value: Any, person: str, year: int) -> Accumulators | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ApiError(422, "accumulators: must be a JSON object of year-to-date values", "accumulators")
    fields = {"person_id": person, "year": year, **value}
    try:
        return Accumulators(**fields)
    except TypeError as exc:
        raise ApiError(422, f"accumulators: {exc}".replace("Accumulators.__init__() ", ""), "accumulators") from None
    except (ValueError, MedcalcError) as exc:
        raise ApiError(422, f"accumulators: {exc}", "accumulators") from None


def _answer(settlement, table: bool, explain: bool, policy=None) -> dict[str, Any]:
    out = settlement.to_dict()
    if table:  # (the policy names the level in the heading, as the CLI's quote does)
        from .view import settlement_tables

        out["view"] = settlement_tables(settlement, explain, policy)
    return out


def quote(request: Mapping[str, Any]) -> dict[str, Any]:
    """The answer to a quote request (see the module docstring); ApiError when it cannot be given."""
    explain, table = _flag(request, "explain"), _flag(request, "table")
    if "claims" in request:
        if "claim" in request or "history" in request:
            raise ApiError(422, "give claims (a person's year, in order) or claim with its history, not both", "claims")
        return _sequence(request, explain, table)
    if "claim" in request:
        extra = sorted(set(request) - REQUEST_KEYS)
        if extra:
            raise ApiError(422, f"{extra[0]}: a claim field beside claim; put it inside claim", extra[0])
        fields = request["claim"]
    else:
        fields = {k: v for k, v in request.items() if k not in REQUEST_KEYS}
        if not fields:
            raise ApiError(
                422, "claim: required: the claim (an object, or its fields at the top level), or claims", "claim"
            )
    claim = _claim(fields, "")
    history = _claims(request["history"], "history", claim.person_id) if request.get("history") is not None else []
    policy = choose_policy(request, claim.settled_on)
    start = (history[0] if history else claim).settled_on.year
    accumulators = _accumulators(request.get("accumulators"), claim.person_id, start)
    settlement = settle(policy, claim, history=history, accumulators=accumulators, explain=explain)
    return _answer(settlement, table, explain, policy)


def _sequence(request: Mapping[str, Any], explain: bool, table: bool) -> dict[str, Any]:
    value = request["claims"]
    if not isinstance(value, list) or not value:
        raise ApiError(422, "claims: must be a non-empty array of claims", "claims")
    first = (
        next((v for k, v in value[0].items() if FIELD_ALIASES.get(k, k) == "person_id"), DEFAULT_PERSON)
        if isinstance(value[0], dict)
        else DEFAULT_PERSON
    )
    claims = _claims(value, "claims", str(first))
    policy = choose_policy(request, max(c.settled_on for c in claims))
    accumulators = _accumulators(
        request.get("accumulators"), claims[0].person_id, min(c.settled_on for c in claims).year
    )
    batch = settle_sequence(policy, claims, accumulators=accumulators, explain=explain)
    if batch.rejects:  # a person's year is settled whole or not at all, as a quote with its history is
        r = batch.rejects[0]
        raise ApiError(422, f"claims: claim {r.row + 1}: {r.field}: {r.reason}", r.field, claim=r.row + 1)
    return {
        "policy": policy.id,
        "settlements": [_answer(s, table, explain, policy) for s in batch.settlements],
        "accumulators": [a.to_dict() for a in batch.accumulators.values()],
    }
