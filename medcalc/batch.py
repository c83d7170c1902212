"""Batch scoring over columns: numpy arrays in, result columns and rejects out.

No per-row Python objects: validation, encoding and settlement are vectorized, and the
engine is the same one the single-claim API uses (a claim is a batch of one), so both
agree to the fen. Amounts here are integer fen; dates are numpy ``datetime64[D]`` (or
anything ``np.asarray(..., "datetime64[D]")`` accepts, such as ISO strings).
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

import attrs
import numpy as np

from .claims import MAX_TOTAL
from .engine.accumulators import Accumulators
from .engine.pipeline import COLUMNS, Encoded, run, vocabulary
from .policy.model import CATEGORIES, PLACES, REFERRALS, Policy
from .settlement import Reject

__all__ = ["BatchColumns", "settle_arrays", "RESULT_COLUMNS"]

#: Result columns, in fen (int64), one entry per settled row.
RESULT_COLUMNS = ("total", "in_scope", "deductible", "basic", "critical", "assistance", "backstop", "funds", "patient")

# datetime64[D] counts days from 1970-01-01, which is date.toordinal() 719163.
_EPOCH_ORDINAL = 719163


@attrs.frozen
class BatchColumns:
    """Settled rows as columns (``row`` = input row index) and rejected rows beside them."""

    row: np.ndarray
    columns: Mapping[str, np.ndarray]
    _outcome: Any = attrs.field(repr=False)

    @property
    def rejects(self) -> tuple[Reject, ...]:
        """Rejected rows as records, by row (built on first use: one object per row)."""
        return tuple(self._outcome.rejects)

    @property
    def reject_groups(self) -> list[tuple[np.ndarray, str, str]]:
        """The same rejects as (rows, field, reason) groups of row arrays: cheap at any size."""
        return self._outcome.reject_groups

    @property
    def accumulators(self) -> dict[tuple[str, int], Accumulators]:
        """(person id, year) -> accumulators after the batch (built on first use)."""
        return self._outcome.accumulators

    @property
    def state(self) -> Mapping[str, np.ndarray]:
        """The same accumulators as columns, one entry per person-year of ``state_keys``."""
        return self._outcome.state

    @property
    def state_keys(self) -> list[tuple[str, int]]:
        return self._outcome.keys

    def __len__(self) -> int:
        return len(self.row)


def _is_arrow(values: Any) -> bool:
    return type(values).__module__.startswith("pyarrow")


def factorize(values: Any) -> tuple[list, np.ndarray]:
    """(distinct values, code of each row): Arrow arrays by hashing, numpy by sorting.

    A null (Arrow) becomes the value None. Integer arrays stay integers; other values
    are compared as text.
    """
    if _is_arrow(values):
        import pyarrow as pa
        import pyarrow.compute as pc

        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        encoded = values if pa.types.is_dictionary(values.type) else pc.dictionary_encode(values)
        names = encoded.dictionary.to_pylist() + [None]
        codes = encoded.indices.fill_null(len(names) - 1).to_numpy(zero_copy_only=False).astype(np.int64)
        return names, codes
    array = np.asarray(values)
    packed = close_packed_codes(array) if array.dtype.kind in "iu" else None
    if packed is not None:  # (a table's person codes): no sort needed
        return packed[0].tolist(), packed[1]
    if array.dtype.kind not in "iu":
        array = array.astype(str)
    names, inverse = np.unique(array, return_inverse=True)
    return names.tolist(), inverse.reshape(-1).astype(np.int64)


def close_packed_codes(array: np.ndarray, dtype=np.int64) -> tuple[np.ndarray, np.ndarray] | None:
    """(distinct values, rank of each row's value among them) for integers whose range is at most
    four times their count, without sorting or hashing; None for any other array."""
    if not len(array):
        return None
    low, high = int(array.min()), int(array.max())
    if high - low > 4 * len(array):
        return None
    if low > 0 and high <= 4 * len(array):
        low = 0  # saves a pass
    offset = array - low if low else array
    present = np.zeros(high - low + 1, bool)
    present[offset] = True
    return np.flatnonzero(present) + low, (np.cumsum(present, dtype=dtype) - 1)[offset]


def _codes(values: Any, vocabulary: tuple[str, ...] | list[str], default: str | None, n: int):
    """Map an array of names to codes; -1 marks a name outside the vocabulary."""
    if values is None:
        return np.full(n, vocabulary.index(default), np.int64), None
    names, inverse = factorize(values)
    lookup = np.array([vocabulary.index(v) if v in vocabulary else -1 for v in names], np.int64)
    return lookup[inverse], names


def _disease_masks(values: Any, vocab, n: int) -> np.ndarray:
    """Names per row (a list, or a string separated by , ; | 、) as bit masks over the policy's diseases."""
    if values is None:
        return np.zeros(n, np.int64)
    if _is_arrow(values):
        values = values.to_pylist()
    texts = np.array([",".join(v) if isinstance(v, (list, tuple, set, frozenset)) else ("" if v is None else str(v))
                      for v in values], dtype=str)
    names, inverse = np.unique(texts, return_inverse=True)
    masks = np.array([vocab.disease_mask([x.strip() for x in re.split(r"[,;|、，]", t) if x.strip()]) for t in names],
                     np.int64)
    return masks[inverse.reshape(-1)]


class ClaimIds:
    """Claim ids of a batch, looked up per row (as text, None when absent) without copying them all.

    ``rows``: where the batch's rows lie in ``values`` (a batch that is one slice of a larger
    column), so that only the few ids ever asked for are gathered.
    """

    def __init__(self, values: Any, rows: np.ndarray | None = None, n: int | None = None) -> None:
        self._values = values if values is None or _is_arrow(values) else np.asarray(values)
        self._rows = rows
        self._n = len(rows) if rows is not None else n if n is not None else len(self._values)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, row: int) -> str | None:
        if self._values is None:
            return None
        value = self._values[int(row if self._rows is None else self._rows[row])]
        value = value.as_py() if hasattr(value, "as_py") else value
        return None if value is None else str(value)

    def texts(self, rows: np.ndarray) -> np.ndarray:
        """The ids of ``rows`` as a numpy array of text ("" where absent), for ranking."""
        if self._values is None:
            return np.full(len(rows), "", dtype=str)
        if self._rows is not None:
            rows = self._rows[rows]
        if _is_arrow(self._values):
            taken = self._values.take(rows).to_pylist()
            return np.array(["" if v is None else str(v) for v in taken], dtype=str)
        return np.array(["" if v is None else str(v) for v in self._values[rows].tolist()], dtype=str)


def _fen(values: Any, n: int, name: str) -> np.ndarray:
    if values is None:
        return np.zeros(n, np.int64)
    array = np.asarray(values)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name}: amounts in a batch are integer fen (int64), got dtype {array.dtype}")
    return array.astype(np.int64, copy=False)


def settle_arrays(
    policy: Policy,
    *,
    person_id: Any,
    settled_on: Any,
    level: Any,
    total: Any,
    self_funded: Any = None,
    over_limit: Any = None,
    pre_self_pay: Any = None,
    in_scope: Any = None,
    claim_id: Any = None,
    place: Any = None,
    referral: Any = None,
    category: Any = None,
    age: Any = None,
    retired: Any = None,
    visit: Any = None,
    service: Any = None,
    diseases: Any = None,
    certified: Any = None,
    bed_fees: Any = None,
    nursing_fees: Any = None,
    scheme: Any = None,
    accumulators: Iterable[Accumulators] = (),
    rejected: Iterable[tuple[np.ndarray, str, str]] = (),
    trace: bool = False,
    engine: str | None = None,
    threads: int = 1,
    keep_state: bool = True,
) -> BatchColumns:
    """Settle a batch of inpatient claims given as columns of equal length.

    Defaults are those of the claim record: place local, referral none, category
    ordinary, parts 0, in-scope cost derived from the parts (``in_scope`` < 0 also means
    "derive"). Every row comes back settled or rejected with its reason. Name columns
    (person, level, place …) may be numpy arrays or pyarrow arrays (encoded by hashing,
    much faster than numpy's sort of strings). ``rejected``: rows the caller already
    refused, as (rows, field, reason); they are reported and never settled. ``trace``
    keeps what explanations need (band portions, accumulators before and after each row).
    ``engine``: "auto" (compiled from 20 000 rows), "compiled" or "interpreted": the same
    kernel either way, to the fen. ``threads``: slices of people the compiled kernel settles
    at once. ``keep_state=False`` skips the accumulators after the batch.
    """
    n = len(total)
    cols = {name: np.zeros(n, np.int64) for name in COLUMNS}
    rejects: list[tuple[np.ndarray, str, str]] = list(rejected)

    def bad(mask: np.ndarray, field: str, reason: str) -> None:
        if mask.any():
            rejects.append((np.flatnonzero(mask), field, reason))

    days = np.asarray(settled_on, dtype="datetime64[D]")
    bad(np.isnat(days), "settled_on", "required: a date such as 2025-03-01")
    safe_days = np.where(np.isnat(days), np.datetime64("1970-01-01"), days)
    cols["day"] = safe_days.astype(np.int64) + _EPOCH_ORDINAL
    cols["year"] = safe_days.astype("datetime64[Y]").astype(np.int64) + 1970

    vocab = vocabulary(policy)
    cols["level"], names = _codes(level, list(vocab), None, n)
    known = ", ".join(f"{c} ({policy.levels[c]})" for c in policy.levels)
    bad(cols["level"] < 0, "level", f"unknown hospital level for policy {policy.id}; one of {known}")
    for field, names_allowed, default in (("place", PLACES, "local"), ("referral", REFERRALS, "none"),
                                          ("category", CATEGORIES, "ordinary")):
        values = {"place": place, "referral": referral, "category": category}[field]
        cols[field], _ = _codes(values, names_allowed, default, n)
        bad(cols[field] < 0, field, "must be one of " + ", ".join(names_allowed))
    bad((cols["place"] > 0) & (cols["referral"] == 0), "referral",
        "required for care outside the insured area: one of referred, emergency, resident, not_referred")
    cols["age"] = np.full(n, -1, np.int64) if age is None else np.asarray(age, np.int64)
    bad((cols["age"] < -1) | (cols["age"] > 150), "age", "must be whole years between 0 and 150")
    cols["retired"] = np.zeros(n, np.int64) if retired is None else np.asarray(retired).astype(np.int64)

    cols["visit"], _ = _codes(visit, ("inpatient", "outpatient"), "inpatient", n)
    bad(cols["visit"] < 0, "visit", "must be one of inpatient, outpatient")
    if service is None:
        cols["service"] = np.full(n, -1, np.int64)
    else:
        named = np.asarray(service).astype(str)
        cols["service"], _ = _codes(np.where(named == "None", "", named), vocab.services + [""], "", n)
        cols["service"] = np.where(cols["service"] == len(vocab.services), -1, cols["service"])
        bad((cols["visit"] == 1) & (cols["service"] < 0), "service",
            f"policy {policy.id} has no such outpatient service; it has {', '.join(vocab.services) or 'none'}")
    bad((cols["visit"] == 1) & (cols["service"] == -1) & (service is None), "service", "required for an outpatient claim")
    bad((cols["visit"] == 0) & (cols["service"] >= 0), "service", "only outpatient claims name a service")
    bad((cols["visit"] == 0) & (cols["level"] >= len(policy.levels)), "level",
        f"an outpatient institution of policy {policy.id}; an admission needs a hospital level: one of {known}")
    cols["diseases"] = _disease_masks(diseases, vocab, n)
    cols["certified"] = _disease_masks(certified, vocab, n)
    for name, values in (("total", total), ("self_funded", self_funded), ("over_limit", over_limit),
                         ("pre_self_pay", pre_self_pay), ("bed_fees", bed_fees), ("nursing_fees", nursing_fees)):
        cols[name] = _fen(values, n, name)
        bad(cols[name] < 0, name, "amount must not be negative")
    bad(cols["total"] > MAX_TOTAL, "total", "must not exceed 1000万 yuan (the engine's exact integer range)")
    parts = cols["self_funded"] + cols["over_limit"] + cols["pre_self_pay"]
    bad(parts > cols["total"], "total", "must be at least 全自费 + 超限价 + 乙类先行自付")
    derived = cols["total"] - parts
    if in_scope is None:
        cols["in_scope"] = derived
    else:
        given = _fen(in_scope, n, "in_scope")
        cols["in_scope"] = np.where(given < 0, derived, given)
        bad((given >= 0) & (parts > 0) & (given != derived), "in_scope",
            "must equal total − 全自费 − 超限价 − 乙类先行自付 when the parts are given")
        bad(given > cols["total"], "in_scope", "must not exceed total")

    bad(cols["bed_fees"] + cols["nursing_fees"] > cols["in_scope"], "bed_fees",
        "bed and nursing fees are part of the in-scope cost and must not exceed it")

    if scheme is not None:
        schemes, code = factorize(scheme)
        wrong = np.array([v is not None and str(v) != policy.scheme for v in schemes], bool)[code]
        bad(wrong, "scheme", f"claim is for another scheme but policy {policy.id} is for {policy.scheme!r}")
    people, person = factorize(person_id)
    absent = [i for i in (len(people) - 1,) if people and people[i] is None] + ([people.index("")] if "" in people else [])
    bad(np.isin(person, absent), "person_id", "required")
    # ties on a day are broken by claim id: ranked later, only for the rows that tie
    ids = claim_id if isinstance(claim_id, ClaimIds) else ClaimIds(claim_id, n=n)
    enc = Encoded(cols, person, people, None, ids, np.ones(n, bool), [])
    for rows, field, reason in rejects:
        enc.reject(rows, field, reason)
    outcome = run(policy, enc, accumulators, trace, engine=engine, threads=threads, keep_state=keep_state)
    r, settled = outcome.results, outcome.settled
    cols = outcome.columns  # after the policy's fee reductions (日间病床)
    funds = r["basic"] + r["critical"] + r["assistance"] + r["backstop"]
    columns = {
        "total": cols["total"][settled], "in_scope": cols["in_scope"][settled],
        "deductible": r["deductible"][settled], "basic": r["basic"][settled], "critical": r["critical"][settled],
        "assistance": r["assistance"][settled], "backstop": r["backstop"][settled], "funds": funds[settled],
        "patient": (cols["total"] - funds)[settled],
    }
    return BatchColumns(settled, columns, outcome)
