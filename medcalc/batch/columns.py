"""Batch scoring over columns: numpy arrays in, result columns and rejects out.

No per-row Python objects: validation, encoding and settlement are vectorized, and the
engine is the same one the single-claim API uses (a claim is a batch of one), so both
agree to the fen. Amounts here are integer fen; dates are numpy ``datetime64[D]`` (or
anything ``np.asarray(..., "datetime64[D]")`` accepts, such as ISO strings).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from ..accumulators import Accumulators
from ..claims import GIVEN_FIELDS, VISITS
from ..engine import checks
from ..engine import rows as row_moves
from ..engine.compiled import choose_engine, in_ranges, kernel_functions
from ..engine.encoding import Encoded, given_columns
from ..engine.kernel import RESULTS as PAYMENTS
from ..engine.pipeline import run, vocabulary
from ..policy.model import CATEGORIES, PLACES, REFERRALS, Policy
from ..settlement import Reject, Step
from ..vocabulary import WORDS, choices_text, fold, level_words, service_words
from .arrays import Numbers, factorize, is_arrow, picked, take_rows

__all__ = ["ARRAY_FIELDS", "BatchColumns", "ClaimArrays", "settle_arrays", "RESULT_COLUMNS"]

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

    @property
    def persons(self) -> int:
        """How many people the settled rows belong to."""
        return self._outcome.persons

    def steps(self, row: int) -> tuple[Step, ...]:
        """The explanation of input row ``row`` (settled, of a batch settled with ``trace=True``)."""
        from ..engine.explain import steps_for  # (only a traced batch is explained)

        outcome = self._outcome
        r = {k: int(v[row]) for k, v in outcome.results.items()}
        c = {k: int(v[row]) for k, v in outcome.columns.items()}
        return tuple(steps_for(outcome, row, r, c))

    def __len__(self) -> int:
        return len(self.row)


def _codes(
    values: Any,
    vocabulary: tuple[str, ...] | list[str],
    n: int,
    gather=None,
    words: Mapping[str, str] | None = None,
    empty: int = -1,
) -> np.ndarray:
    """Names as int16 codes in the vocabulary, -1 where outside it; length 0 when not given.
    ``gather``: the compiled row gather, for large batches (one pass, not numpy's fancy index).
    ``words``: folded word -> name (medcalc.vocabulary: 跨省, 三级 …), for names not in the
    vocabulary; applied to the distinct names (a dictionary's values), never row by row.
    ``empty``: the code of an empty cell (null, or only spaces): not given, so the field's default."""
    if values is None:
        return np.zeros(0, np.int16)

    def code(v: Any) -> int:
        if v is None or (isinstance(v, str) and not v.strip()):
            return empty
        if v in vocabulary:  # a code is always its own: words only add ways of writing one
            return vocabulary.index(v)
        name = words.get(fold(v)) if words is not None and isinstance(v, str) else None
        return -1 if name is None else vocabulary.index(name)

    def lookup(names: Sequence) -> np.ndarray:
        return np.array([code(v) for v in names], np.int16)

    if is_arrow(values) and _is_dictionary(values.type):
        # each chunk's own dictionary looked up, its indices mapped in place: no unifying of
        # the chunks' dictionaries, no copy of the indices
        out = np.empty(n, np.int16)
        at = 0
        for chunk in getattr(values, "chunks", [values]):
            table = lookup(chunk.dictionary.to_pylist() + [None])
            indices = chunk.indices
            if indices.null_count:
                indices = indices.fill_null(len(table) - 1)
            if gather is None:
                out[at : at + len(chunk)] = table[indices.to_numpy()]
            else:
                gather(indices.to_numpy(), table, out[at : at + len(chunk)])
            at += len(chunk)
        return out
    names, inverse = factorize(values)
    return lookup(names)[inverse]


def _is_dictionary(kind: Any) -> bool:
    import pyarrow as pa

    return pa.types.is_dictionary(kind)


def _disease_masks(values: Any, vocab, n: int) -> np.ndarray:
    """Names per row (a list, or a string separated by , ; | 、) as bit masks over the policy's diseases."""
    if values is None:
        return np.broadcast_to(np.int64(0), (n,))
    if is_arrow(values):
        values = values.to_pylist()
    texts = np.array(
        [
            ",".join(v) if isinstance(v, (list, tuple, set, frozenset)) else ("" if v is None else str(v))
            for v in values
        ],
        dtype=str,
    )
    names, inverse = np.unique(texts, return_inverse=True)
    masks = np.array(
        [vocab.disease_mask([x.strip() for x in re.split(r"[,;|、，]", t) if x.strip()]) for t in names], np.int64
    )
    return masks[inverse.reshape(-1)]


class ClaimIds:
    """Claim ids of a batch, looked up per row (as text, None when absent) without copying them all.

    ``rows``: where the batch's rows lie in ``values`` (a batch that is one slice of a larger
    column), so that only the few ids ever asked for are gathered.
    """

    def __init__(self, values: Any, rows: np.ndarray | None = None, n: int | None = None) -> None:
        self._values = values if values is None or is_arrow(values) else np.asarray(values)
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

    def ranks(self, rows: np.ndarray) -> np.ndarray:
        """The rank of each of ``rows``' ids among them, compared as text ("" where absent):
        claims on the same day are settled in this order."""
        if self._values is None:
            return np.zeros(len(rows), np.int64)
        if self._rows is not None:
            rows = self._rows[rows]
        if is_arrow(self._values):  # ranked by Arrow, without a Python object per id
            import pyarrow as pa
            import pyarrow.compute as pc

            taken = take_rows(self._values, rows)
            if not (pa.types.is_string(taken.type) or pa.types.is_large_string(taken.type)):
                taken = taken.cast(pa.string())
            return pc.rank(taken.fill_null(""), sort_keys="ascending", tiebreaker="dense").to_numpy()
        texts = np.array(["" if v is None else str(v) for v in self._values[rows].tolist()], dtype=str)
        return np.unique(texts, return_inverse=True)[1].reshape(-1)


def _fen(values: Any, name: str) -> np.ndarray:
    """An amount column as integer fen (int32 kept, other integers as int64); length 0 when not given."""
    if values is None:
        return np.zeros(0, np.int32)
    array = np.asarray(values)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name}: amounts in a batch are integer fen (int64), got dtype {array.dtype}")
    return array if array.dtype == np.int32 else array.astype(np.int64, copy=False)


@attrs.frozen(kw_only=True)
class ClaimArrays:
    """A batch of claims as columns of equal length, one per claim field (None: not given, every
    row takes the claim record's default). Amounts in integer fen; days as ``datetime64[D]`` or ISO
    text; codes and names as text (numpy or Arrow arrays); see ``settle_arrays``."""

    person_id: Any
    settled_on: Any
    level: Any
    total: Any
    admitted_on: Any = None
    self_funded: Any = None
    over_limit: Any = None
    pre_self_pay: Any = None
    in_scope: Any = None
    claim_id: Any = None
    place: Any = None
    referral: Any = None
    category: Any = None
    age: Any = None
    retired: Any = None
    visit: Any = None
    service: Any = None
    diseases: Any = None
    certified: Any = None
    bed_fees: Any = None
    nursing_fees: Any = None
    basic_paid: Any = None
    critical_base: Any = None
    critical_paid: Any = None
    scheme: Any = None

    @classmethod
    def of(cls, columns: Mapping[str, Any]) -> ClaimArrays:
        """The bundle of a mapping of claim field -> column; TypeError naming an unknown or missing field."""
        unknown = sorted(set(columns) - set(ARRAY_FIELDS))
        if unknown:
            raise TypeError(
                f"settle_arrays: {unknown[0]!r} is no claim field; the fields are {', '.join(ARRAY_FIELDS)}"
            )
        missing = [name for name in _REQUIRED_ARRAYS if columns.get(name) is None]
        if missing:
            raise TypeError(f"settle_arrays: the column {missing[0]!r} is required")
        return cls(**columns)


#: The claim fields ``settle_arrays`` takes as columns (ClaimArrays'), the required ones first.
ARRAY_FIELDS = tuple(field.name for field in attrs.fields(ClaimArrays))
_REQUIRED_ARRAYS = ARRAY_FIELDS[:4]


def _claim_arrays(columns: ClaimArrays | Mapping[str, Any] | None, named: Mapping[str, Any]) -> ClaimArrays:
    """settle_arrays' columns as one bundle, whether given as one or by name (not both for a field)."""
    if isinstance(columns, ClaimArrays):
        if named:
            raise TypeError("settle_arrays: columns given as a ClaimArrays and by name; give them one way")
        return columns
    given = dict(columns or {})
    twice = sorted(set(given) & set(named))
    if twice:
        raise TypeError(f"settle_arrays: the column {twice[0]!r} is given twice")
    return ClaimArrays.of({**given, **named})


def settle_arrays(
    policy: Policy,
    columns: ClaimArrays | Mapping[str, Any] | None = None,
    *,
    accumulators: Iterable[Accumulators] = (),
    rejected: Iterable[tuple[np.ndarray, str, str]] = (),
    trace: bool = False,
    engine: str | None = None,
    threads: int = 1,
    keep_state: bool = True,
    chunk_rows: int | None = None,
    **named: Any,
) -> BatchColumns:
    """Settle a batch of claims given as columns of equal length: ``columns`` (a ClaimArrays, or a
    mapping of claim field to column), or the columns by name as keywords (``total=…``); the fields
    are ``ARRAY_FIELDS``, of which ``person_id``, ``settled_on``, ``level`` and ``total`` are required.

    Defaults are those of the claim record: place local, referral none, category
    ordinary, parts 0, in-scope cost derived from the parts (``in_scope`` < 0 also means
    "derive"), earlier layers computed (``basic_paid``, ``critical_base``, ``critical_paid``:
    amounts settled elsewhere, ``engine.checks.NOT_GIVEN`` where a row gives none). Every row comes back
    settled or rejected with its reason. Name columns
    (person, level, place …) may be numpy arrays or pyarrow arrays (encoded by hashing,
    much faster than numpy's sort of strings). ``rejected``: rows the caller already
    refused, as (rows, field, reason); they are reported and never settled. ``trace``
    keeps what explanations need (band portions, accumulators before and after each row).
    ``engine``: "auto" (compiled from 20 000 rows), "compiled" or "interpreted": the same
    kernel either way, to the fen. ``threads``: slices of people the compiled kernel settles
    at once, each about ``chunk_rows`` rows of whole people. ``keep_state=False`` skips the
    accumulators after the batch.
    """
    arrays = _claim_arrays(columns, named)
    n = len(arrays.total)
    vocab = vocabulary(policy)
    days = np.asarray(arrays.settled_on, dtype="datetime64[D]").view(np.int64)
    # (admission days are only checked: none after its settlement; NaT where a row gives none)
    admitted = (
        np.zeros(0, np.int64)
        if arrays.admitted_on is None
        else np.asarray(arrays.admitted_on, "datetime64[D]").view(np.int64)
    )
    # Codes and amounts as given (int16 codes; amounts int32 or int64, as the caller holds them);
    # a column not given is length 0 for the checks and a constant view for the engine.
    chosen = choose_engine(engine, n)
    gather = kernel_functions(chosen, row_moves)["gather"] if chosen == "compiled" else None
    level_code = _codes(arrays.level, list(vocab), n, gather, level_words(policy)[0])
    # an empty cell is not given: the claim's default (local, no referral, ordinary, inpatient), as in the API
    codes = {
        field: _codes(values, choices, n, gather, WORDS[field], choices.index(default))
        for field, values, choices, default in (
            ("place", arrays.place, PLACES, "local"),
            ("referral", arrays.referral, REFERRALS, "none"),
            ("category", arrays.category, CATEGORIES, "ordinary"),
            ("visit", arrays.visit, VISITS, "inpatient"),
        )
    }
    if arrays.service is None:
        service_code = np.zeros(0, np.int16)
    else:
        service_names = np.asarray(arrays.service).astype(str)
        service_code = _codes(
            np.where(service_names == "None", "", service_names),
            vocab.services + [""],
            n,
            words=service_words(policy, vocab.services),
        )
        service_code[service_code == len(vocab.services)] = -1
    # ages are checked as given, never narrowed
    ages = np.zeros(0, np.int64) if arrays.age is None else np.asarray(arrays.age, np.int64)
    amounts = {
        name: _fen(values, name)
        for name, values in (
            ("total", arrays.total),
            ("self_funded", arrays.self_funded),
            ("over_limit", arrays.over_limit),
            ("pre_self_pay", arrays.pre_self_pay),
            ("in_scope", arrays.in_scope),
            ("bed_fees", arrays.bed_fees),
            ("nursing_fees", arrays.nursing_fees),
            ("basic_paid", arrays.basic_paid),
            ("critical_base", arrays.critical_base),
            ("critical_paid", arrays.critical_paid),
        )
    }
    kind = np.int32 if all(a.dtype == np.int32 for a in amounts.values() if len(a)) else np.int64
    amounts = {name: a.astype(kind, copy=False) for name, a in amounts.items()}
    wrong_scheme = np.zeros(0, np.int8)
    if arrays.scheme is not None:
        schemes, scheme_code = factorize(arrays.scheme)
        # 居民, 职工 … name a scheme as its code does (looked up once per distinct value)
        wrong_scheme = np.array(
            [v is not None and WORDS["scheme"].get(fold(str(v)), str(v)) != policy.scheme for v in schemes], np.int8
        )[scheme_code]
    people, person = factorize(arrays.person_id)
    missing_person = np.zeros(len(people) + 1, np.int8)
    for i, name in enumerate(() if isinstance(people, Numbers) else people):
        if name is None or name == "":
            missing_person[i] = 1

    check = np.zeros(n, np.int8)
    in_scope_cost = np.zeros(n, kind)
    check_rows = kernel_functions(chosen, checks)["check_rows"]
    check_columns = checks.CheckColumns(
        person=person,
        day=days,
        admitted=admitted,
        total=amounts["total"],
        visit=codes["visit"],
        place=codes["place"],
        referral=codes["referral"],
        category=codes["category"],
        age=ages,
        self_funded=amounts["self_funded"],
        over_limit=amounts["over_limit"],
        pre_self_pay=amounts["pre_self_pay"],
        in_scope=amounts["in_scope"],
        bed_fees=amounts["bed_fees"],
        nursing_fees=amounts["nursing_fees"],
        basic_paid=amounts["basic_paid"],
        critical_base=amounts["critical_base"],
        critical_paid=amounts["critical_paid"],
        service=service_code,
        wrong_scheme=wrong_scheme,
        level=level_code,
    )
    # the columns and the two outputs are per row: cut to ranges
    args = (check_columns, arrays.service is not None, len(policy.levels), missing_person, check, in_scope_cost)
    in_ranges(check_rows, n, threads, args, (0, 4, 5))
    known = ", ".join(f"{c} ({policy.levels[c]})" for c in policy.levels)
    words = {
        "policy": policy.id,
        "levels": known,
        "places": choices_text("place", PLACES),
        "referrals": choices_text("referral", REFERRALS),
        "categories": choices_text("category", CATEGORIES),
        "visits": choices_text("visit", VISITS),
        "services": ", ".join(vocab.services) or "none",
        "scheme": repr(policy.scheme),
    }
    rejects: list[tuple[np.ndarray, str, str]] = list(rejected)
    for c in np.flatnonzero(np.bincount(check.view(np.uint8), minlength=len(checks.CHECKS))[1:]) + 1:
        code = int(c)
        rejects.append((np.flatnonzero(check == code), checks.field_of(code), checks.reason(code, None, **words)))
    del check

    def column(values: np.ndarray, default: int) -> np.ndarray:
        return values if len(values) else np.broadcast_to(np.int64(default), (n,))

    # day ordinals as int32 (they are below 2^22; a row without a date is refused by the checks)
    ordinals = np.add(days, _EPOCH_ORDINAL, out=np.empty(n, np.int32), casting="unsafe")
    cols = {
        "level": level_code,
        "day": ordinals,
        "age": column(ages, -1),
        "retired": column(np.zeros(0) if arrays.retired is None else np.asarray(arrays.retired).astype(np.int64), 0),
        "service": column(service_code, -1),
        "diseases": _disease_masks(arrays.diseases, vocab, n),
        "certified": _disease_masks(arrays.certified, vocab, n),
        "in_scope": in_scope_cost,
        "fee_reduction": column(np.zeros(0), 0),
    }
    cols.update((name, column(values, 0)) for name, values in codes.items())
    cols.update(
        (name, column(values, 0)) for name, values in amounts.items() if name != "in_scope" and name not in GIVEN_FIELDS
    )
    cols.update(given_columns({name: amounts[name] for name in GIVEN_FIELDS}, n))
    # ties on a day are broken by claim id: ranked later, only for the rows that tie
    ids = arrays.claim_id if isinstance(arrays.claim_id, ClaimIds) else ClaimIds(arrays.claim_id, n=n)
    # ClaimIds gives len() and [row], all that Encoded reads of claim_ids (annotated there as a Sequence)
    enc = Encoded(cols, person, people, None, ids, np.ones(n, bool), [])  # type: ignore[arg-type]
    for rows, field, reason in rejects:
        enc.reject(rows, field, reason)
    outcome = run(
        policy, enc, accumulators, trace, engine=engine, threads=threads, keep_state=keep_state, chunk_rows=chunk_rows
    )
    return BatchColumns(outcome.settled, _SettledColumns(outcome, threads), outcome)


class _SettledColumns(Mapping):
    """RESULT_COLUMNS of the settled rows (int64 fen), each gathered when first asked for."""

    def __init__(self, outcome: Any, threads: int = 1) -> None:
        self._outcome = outcome
        self._threads = threads
        self._done: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def _payments(self) -> np.ndarray:
        """The settled rows' payments, (RESULTS, rows) int64, from their rows' packed payments."""
        outcome = self._outcome
        if outcome.engine != "compiled":
            return outcome.payments[outcome.settled].T.astype(np.int64, order="C")
        out = np.empty((len(PAYMENTS), len(outcome.settled)), np.int64)
        in_ranges(
            kernel_functions("compiled", row_moves)["take_columns"],
            len(outcome.settled),
            self._threads,
            (outcome.settled, outcome.payments, out.T),
            (0, 2),
        )
        return out

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in RESULT_COLUMNS:
            raise KeyError(name)
        if name not in self._done:
            if name == "funds":
                values = sum(self[k] for k in ("basic", "critical", "assistance", "backstop"))
            elif name == "patient":
                values = self["total"] - self["funds"]
            elif name in ("total", "in_scope"):
                values = picked(self._outcome.settled, self._outcome.columns[name], self._outcome.engine)
            else:
                with self._lock:  # every payment at once (threads may ask for several)
                    if name not in self._done:
                        self._done.update(zip(PAYMENTS, self._payments()))
                return self._done[name]
            self._done[name] = np.asarray(values).astype(np.int64, copy=False)
        return self._done[name]

    def __iter__(self):
        return iter(RESULT_COLUMNS)

    def __len__(self) -> int:
        return len(RESULT_COLUMNS)
