"""Claims as columns: what the pipeline runs on, whatever the claims came from.

``Encoded`` holds a batch's columns (int64 codes and fen), its people and claim ids, and the
rows refused so far with their reasons, by group. ``encode_claims`` makes one from Claim
objects (the Python API; a claim of another scheme or an unknown level is refused here);
``medcalc.batch.columns`` makes one from columns. ``given_columns`` lays out the amounts of
earlier layers a claim may give.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import attrs
import numpy as np

from ..claims import GIVEN_FIELDS, Claim
from ..errors import ClaimError
from ..policy.model import CATEGORIES, PLACES, REFERRALS, Policy
from ..vocabulary import resolve_level, resolve_service, service_hint
from .checks import INSTITUTION_ADMITTED, NOT_GIVEN, UNKNOWN_SERVICE, WRONG_SCHEME
from .checks import reason as check_reason
from .common import GIVEN_BASE, GIVEN_BASIC, GIVEN_CRITICAL
from .compiled_policy import CompiledPolicy

__all__ = ["COLUMNS", "Encoded", "encode_claims", "given_columns"]


@attrs.define
class Encoded:
    """Claims as columns: what the pipeline runs on, whatever the claims came from."""

    cols: dict[str, np.ndarray]  # int64: level, place, referral, category, age, retired, day, year, amounts
    person: np.ndarray  # dense person code per row
    people: Sequence[object]  # the person id of each code (text, or an integer from a batch)
    tie: np.ndarray | None  # rank of the claim id among all ids (None: ranked when needed, from claim_ids)
    claim_ids: Sequence[str | None]  # (batch input may also rank a subset: ``claim_ids.ranks(rows)``)
    ok: np.ndarray  # rows still to settle (False once rejected)
    reject_groups: list[tuple[np.ndarray, str, str]]  # (rows, field, reason): arrays, not one object per row
    _counted: int = 0  # reject groups when the live rows were last listed (_still_live)

    def reject(self, rows: Iterable[int] | np.ndarray, field: str, reason: str) -> None:
        """Refuse rows (those not refused already) for a reason; the first reason of a row stands."""
        index = np.asarray(rows, np.int64).reshape(-1)
        if len(index) > 1 and not (index[1:] > index[:-1]).all():  # (groups of rows come sorted, mostly)
            index = np.unique(index)
        index = index[self.ok[index]]
        if len(index):
            self.ok[index] = False
            self.reject_groups.append((index, field, reason))


COLUMNS = (
    "level",
    "place",
    "referral",
    "category",
    "age",
    "retired",
    "day",
    "total",
    "self_funded",
    "over_limit",
    "pre_self_pay",
    "in_scope",
    "visit",
    "service",
    "diseases",
    "certified",
    "bed_fees",
    "nursing_fees",
    "fee_reduction",
    *GIVEN_FIELDS,
    "given",
)


_GIVEN_BITS = dict(zip(GIVEN_FIELDS, (GIVEN_BASIC, GIVEN_BASE, GIVEN_CRITICAL)))


def given_columns(values: Mapping[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """The columns of the given amounts (NOT_GIVEN where a row gives none; a column not given at
    all is a constant view) and ``given``, the bits of those each row gives."""
    out: dict[str, np.ndarray] = {}
    mask = None
    for name, bit in _GIVEN_BITS.items():
        column = values.get(name)
        if column is None or not len(column):
            out[name] = np.broadcast_to(np.int64(NOT_GIVEN), (n,))
            continue
        out[name] = column
        bits = np.where(column != NOT_GIVEN, bit, 0)
        mask = bits if mask is None else mask | bits
    out["given"] = np.broadcast_to(np.int64(0), (n,)) if mask is None else mask.astype(np.int64)
    return out


def encode_claims(policy: Policy, claims: Sequence[Claim]) -> Encoded:
    """Claim objects as columns; a claim of another scheme or an unknown level is rejected here."""
    n = len(claims)
    vocab = CompiledPolicy.of(policy).vocab
    level_index = vocab.index_of  # (levels, then outpatient institutions)
    cols = dict(zip(COLUMNS, np.zeros((len(COLUMNS), n), np.int64)))  # (one allocation: a claim is often alone)
    people: dict[str, int] = {}
    person = np.array([people.setdefault(c.person_id, len(people)) for c in claims], np.int64)
    ids = [c.claim_id for c in claims]
    rank = {cid: i for i, cid in enumerate(sorted({cid or "" for cid in ids}))}
    enc = Encoded(
        cols, person, list(people), np.array([rank[cid or ""] for cid in ids], np.int64), ids, np.ones(n, bool), []
    )
    cols["service"][:] = -1
    given = False  # some claim gives an amount of an earlier layer
    for i, c in enumerate(claims):
        if c.scheme is not None and c.scheme != policy.scheme:
            claimed = {"claimed": repr(c.scheme)}
            enc.reject([i], "scheme", check_reason(WRONG_SCHEME, claimed, policy=policy.id, scheme=repr(policy.scheme)))
            continue
        try:  # the level as its code, the policy's label or a common form of it (三级, 三级医院, 3)
            level = resolve_level(policy, c.level)
        except ClaimError as exc:
            enc.reject([i], "level", exc.reason)
            continue
        code = level_index[level]
        if c.visit == "outpatient":
            service = resolve_service(policy, vocab.services, c.service or "")
            if service is None:
                have = ", ".join(vocab.services) or "none"
                enc.reject(
                    [i],
                    "service",
                    check_reason(UNKNOWN_SERVICE, {"claimed": repr(c.service)}, policy=policy.id, services=have)
                    + service_hint(policy, vocab.services, c.service or ""),
                )
                continue
            cols["visit"][i] = 1
            cols["service"][i] = vocab.services.index(service)
        cols["diseases"][i] = vocab.disease_mask(c.diseases)
        cols["certified"][i] = vocab.disease_mask(c.certified)
        cols["bed_fees"][i] = c.bed_fees
        cols["nursing_fees"][i] = c.nursing_fees
        if c.visit == "inpatient" and level in policy.institutions:
            known_levels = ", ".join(f"{c} ({policy.levels[c]})" for c in policy.levels)
            enc.reject(
                [i],
                "level",
                check_reason(INSTITUTION_ADMITTED, {"claimed": repr(c.level)}, policy=policy.id, levels=known_levels),
            )
            continue
        cols["level"][i] = code
        cols["place"][i] = PLACES.index(c.place)
        cols["referral"][i] = REFERRALS.index(c.referral)
        cols["category"][i] = CATEGORIES.index(c.category)
        cols["age"][i] = -1 if c.age is None else c.age
        cols["retired"][i] = c.retired
        cols["day"][i] = c.settled_on.toordinal()
        cols["total"][i] = c.total
        cols["self_funded"][i] = c.self_funded
        cols["over_limit"][i] = c.over_limit
        cols["pre_self_pay"][i] = c.pre_self_pay
        cols["in_scope"][i] = c.in_scope_cost
        for name, bit in _GIVEN_BITS.items():
            value = getattr(c, name)
            cols[name][i] = NOT_GIVEN if value is None else value
            if value is not None:
                cols["given"][i] |= bit
                given = True
    if not given:  # as a batch without the columns: a constant view, so no run scans it (a single claim's path)
        cols["given"] = np.broadcast_to(np.int64(0), (n,))
    return enc
