"""The columnar pipeline: claims -> columns -> rules in force -> settlement order -> rounds.

One engine for every entry point: a single claim is a batch of one. Rows that cannot
be settled are rejected with a reason before any accumulator sees them; every other
row comes back, in input order, with the named intermediate columns that explain it.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable, Mapping, Sequence

import attrs
import numpy as np

from ..claims import Claim
from ..settlement import Reject
from ..policy.model import CATEGORIES, PLACES, REFERRALS, Policy, ResolvedPolicy
from . import assistance, backstop, basic, critical, outpatient
from .accumulators import DEFAULT_CAP_GROUP, KEYED_FIELDS, STATE_FIELDS, Accumulators
from .basic import REQUIRED_RULES
from .common import Gathered, Vocabulary

#: The payer chain, in order: each layer takes what the previous ones left. Layer 1 is
#: basic insurance: ``basic`` settles admissions, ``outpatient`` the outpatient services.
LAYERS = {"basic": basic, "outpatient": outpatient, "critical": critical, "assistance": assistance, "backstop": backstop}
#: Layers whose band portions and rates are traced for explanations.
BANDED = ("basic", "critical")
TRACE_FIELDS = tuple(f for layer in LAYERS.values() for f in layer.TRACE)

__all__ = ["COLUMNS", "Encoded", "Outcome", "encode_claims", "run", "settle_claims", "settlement_order"]


@attrs.define
class Outcome:
    """Everything one pipeline run produced, in input-row order."""

    policy: Policy
    claims: Sequence[Claim] | None  # the claim objects, when the input was objects
    settled: np.ndarray  # input rows that were settled
    columns: dict[str, np.ndarray]  # input columns, all rows
    results: dict[str, np.ndarray]  # TRACE_FIELDS, all rows (meaningless where rejected)
    bands: dict[str, dict[str, np.ndarray]] | None  # per banded layer: portions, rates (when traced)
    variant: np.ndarray
    variants: list[ResolvedPolicy]
    params: dict[str, dict[str, np.ndarray]]  # per layer: per-row parameter columns
    tables: dict[str, object]  # per layer: lookups and the rules they came from
    reject_groups: list[tuple[np.ndarray, str, str]]  # (rows, field, reason)
    state: dict[str, np.ndarray]  # final accumulators, one entry per state row
    keys: Sequence[tuple[str, int]]  # (person id, year) of each state row
    vocab: Vocabulary  # names the columns of the keyed state (services, assistance cap groups)
    initial: dict[tuple[str, int], Accumulators]  # the accumulators given as input
    accumulators_before: dict[int, Accumulators]  # input row -> its person-year's state before it (when traced)
    accumulators_after: dict[int, Accumulators]  # ... and after it
    claim_ids: Sequence[str | None] = ()
    _accumulators: dict[tuple[str, int], Accumulators] | None = None
    _rejects: list[Reject] | None = None

    @property
    def rejects(self) -> list[Reject]:
        """Rejected rows as records, by row (built on first use)."""
        if self._rejects is None:
            self._rejects = reject_objects(self.reject_groups, self.claim_ids)
        return self._rejects

    @property
    def accumulators(self) -> dict[tuple[str, int], Accumulators]:
        """(person id, year) -> accumulators after the run, built on first use (objects are costly)."""
        if self._accumulators is None:
            final = {key: _accumulators(key, self.state, j, self.vocab) for j, key in enumerate(self.keys)}
            for key, acc in self.initial.items():
                final.setdefault(key, acc)
            self._accumulators = final
        return self._accumulators


@attrs.define
class Encoded:
    """Claims as columns: what the pipeline runs on, whatever the claims came from."""

    cols: dict[str, np.ndarray]  # int64: level, place, referral, category, age, retired, day, year, amounts
    person: np.ndarray  # dense person code per row
    people: Sequence[object]  # the person id of each code (text, or an integer from a batch)
    tie: np.ndarray | None  # rank of the claim id among all ids (None: ranked when needed, from claim_ids)
    claim_ids: Sequence[str | None]  # (batch input may also rank a subset: ``claim_ids.texts(rows)``)
    ok: np.ndarray  # rows still to settle (False once rejected)
    reject_groups: list[tuple[np.ndarray, str, str]]  # (rows, field, reason): arrays, not one object per row

    def reject(self, rows: Iterable[int] | np.ndarray, field: str, reason: str) -> None:
        """Refuse rows (those not refused already) for a reason; the first reason of a row stands."""
        rows = np.unique(np.asarray(rows, np.int64).reshape(-1))
        rows = rows[self.ok[rows]]
        if len(rows):
            self.ok[rows] = False
            self.reject_groups.append((rows, field, reason))


def reject_objects(groups: Sequence[tuple[np.ndarray, str, str]], claim_ids: Sequence[str | None]) -> list[Reject]:
    """Reject records, by row, from grouped rejects (built only when someone asks for objects)."""
    out = [Reject(int(r), field, reason, claim_ids[r]) for rows, field, reason in groups for r in rows.tolist()]
    return sorted(out, key=lambda r: r.row)


COLUMNS = ("level", "place", "referral", "category", "age", "retired", "day", "year",
           "total", "self_funded", "over_limit", "pre_self_pay", "in_scope",
           "visit", "service", "diseases", "certified", "bed_fees", "nursing_fees", "fee_reduction")


def vocabulary(policy: Policy) -> Vocabulary:
    """The policy's level codes, outpatient service names and disease names, in a fixed order.

    Computed once per loaded policy: every settlement (encoding and running) asks for it.
    """
    cached = policy._cache.get("vocabulary")
    if cached is None:
        cached = policy._cache["vocabulary"] = _vocabulary(policy)
    return cached


def _vocabulary(policy: Policy) -> Vocabulary:
    prefix = "outpatient.service."
    services = sorted(k[len(prefix):] for k in policy.timelines if k.startswith(prefix))
    diseases: set[str] = set()
    for key in policy.timelines:
        if key.startswith(prefix):
            for layer in policy.timelines[key].layers:
                for version in layer:
                    diseases |= (set(version.get("disease_caps") or ()) | set(version.get("excluded_if_certified") or ())
                                 | set(version.get("diseases") or ()))
    if len(diseases) > 62:
        raise ValueError(f"policy {policy.id} names {len(diseases)} diseases; medcalc handles at most 62")
    groups = sorted({version.get("cap_group") or DEFAULT_CAP_GROUP
                     for key, timeline in policy.timelines.items() if key.startswith("assistance.category.")
                     for layer in timeline.layers for version in layer if not version.disabled})
    return Vocabulary(list(policy.levels) + list(policy.institutions), services, sorted(diseases), groups)


def encode_claims(policy: Policy, claims: Sequence[Claim]) -> Encoded:
    """Claim objects as columns; a claim of another scheme or an unknown level is rejected here."""
    n = len(claims)
    level_index = {code: i for i, code in enumerate(list(policy.levels) + list(policy.institutions))}
    cols = {name: np.zeros(n, np.int64) for name in COLUMNS}
    people: dict[str, int] = {}
    person = np.array([people.setdefault(c.person_id, len(people)) for c in claims], np.int64)
    ids = [c.claim_id for c in claims]
    rank = {cid: i for i, cid in enumerate(sorted({cid or "" for cid in ids}))}
    enc = Encoded(cols, person, list(people), np.array([rank[cid or ""] for cid in ids], np.int64), ids,
                  np.ones(n, bool), [])
    known_levels = ", ".join(f"{c} ({policy.levels[c]})" for c in policy.levels)
    vocab = vocabulary(policy)
    cols["service"][:] = -1
    for i, c in enumerate(claims):
        if c.scheme is not None and c.scheme != policy.scheme:
            enc.reject([i], "scheme", f"claim is for {c.scheme!r} but policy {policy.id} is for {policy.scheme!r}")
            continue
        code = level_index.get(c.level)  # type: ignore[arg-type]
        if code is None:
            enc.reject([i], "level", f"unknown hospital level {c.level!r} for policy {policy.id}; one of {known_levels}")
            continue
        if c.visit == "outpatient":
            if c.service not in vocab.services:
                have = ", ".join(vocab.services) or "none"
                enc.reject([i], "service", f"policy {policy.id} has no outpatient service {c.service!r}; it has {have}")
                continue
            cols["visit"][i] = 1
            cols["service"][i] = vocab.services.index(c.service)
        cols["diseases"][i] = vocab.disease_mask(c.diseases)
        cols["certified"][i] = vocab.disease_mask(c.certified)
        cols["bed_fees"][i] = c.bed_fees
        cols["nursing_fees"][i] = c.nursing_fees
        if c.visit == "inpatient" and c.level in policy.institutions:
            enc.reject([i], "level", f"{c.level!r} is an outpatient institution of policy {policy.id}; an admission needs "
                                     f"a hospital level: one of {known_levels}")
            continue
        cols["level"][i] = code
        cols["place"][i] = PLACES.index(c.place)
        cols["referral"][i] = REFERRALS.index(c.referral)
        cols["category"][i] = CATEGORIES.index(c.category)
        cols["age"][i] = -1 if c.age is None else c.age
        cols["retired"][i] = c.retired
        cols["day"][i] = c.settled_on.toordinal()
        cols["year"][i] = c.settled_on.year
        cols["total"][i] = c.total
        cols["self_funded"][i] = c.self_funded
        cols["over_limit"][i] = c.over_limit
        cols["pre_self_pay"][i] = c.pre_self_pay
        cols["in_scope"][i] = c.in_scope_cost
    return enc


def _coverage_text(policy: Policy) -> str:
    spans = policy.coverage(REQUIRED_RULES)
    if not spans:
        return f"policy {policy.id} has no inpatient rules in force on any day"
    shown = ", ".join(f"{a} to {b if b else 'open'}" for a, b in spans)
    return f"policy {policy.id} covers {shown}"


def _resolve_variants(policy: Policy, enc: Encoded, services: list[str]) -> tuple[np.ndarray, list[ResolvedPolicy]]:
    """The rule versions in force for each row's day; rows on a day without them are rejected."""
    variant = np.full(len(enc.ok), -1, np.int64)
    variants: list[ResolvedPolicy] = []
    index: dict[int, int] = {}
    live = np.flatnonzero(enc.ok)
    days, day_of = np.unique(enc.cols["day"][live], return_inverse=True)
    day_variant = np.full(len(days), -1, np.int64)
    service = enc.cols["service"][live]
    outpatient = service >= 0
    # one lookup per distinct day and service; rows are then mapped in one gather
    in_force = np.ones((len(days), len(services) + 1), bool)  # last column: admissions
    for d, day in enumerate(days.tolist()):
        resolved, in_force[d] = _rules_on(policy, day, services)
        if id(resolved) not in index:
            index[id(resolved)] = len(variants)
            variants.append(resolved)
        day_variant[d] = index[id(resolved)]
    column = np.where(outpatient, service, len(services))
    missing = ~in_force[day_of, column]
    for d, s in sorted(set(zip(day_of[missing].tolist(), column[missing].tolist()))):
        rows = live[missing & (day_of == d) & (column == s)]
        date = dt.date.fromordinal(int(days[d]))
        if s == len(services):
            resolved = variants[day_variant[d]]
            absent = next(k for k in REQUIRED_RULES if resolved.rule(k) is None)
            enc.reject(rows, "settled_on", f"no {absent} rule in force on {date}; {_coverage_text(policy)}")
        else:
            key = f"outpatient.service.{services[s]}"
            spans = ", ".join(f"{a} to {b or 'open'}" for a, b in policy.coverage((key,))) or "no day"
            enc.reject(rows, "settled_on", f"outpatient service {services[s]!r} is not in force on {date}; it covers {spans}")
    variant[live] = day_variant[day_of]
    variant[~enc.ok] = -1
    used = np.unique(variant[variant >= 0])
    if len(used) < len(variants):  # keep only the versions some settled row uses, numbered densely
        renumber = np.full(len(variants), -1, np.int64)
        renumber[used] = np.arange(len(used))
        variants = [variants[i] for i in used.tolist()]
        variant = np.where(variant >= 0, renumber[np.maximum(variant, 0)], -1)
    return variant, variants


def _rules_on(policy: Policy, day: int, services: list[str]) -> tuple[ResolvedPolicy, np.ndarray]:
    """The versions in force on a day (an ordinal), and which visits they settle: one flag per
    outpatient service, then admissions. Kept per policy: a file's parts share its days."""
    key = ("rules_on", day)
    cached = policy._cache.get(key)
    if cached is None:
        resolved = policy.at(dt.date.fromordinal(day))
        flags = [resolved.rule(f"outpatient.service.{name}") is not None for name in services]
        flags.append(all(resolved.rule(k) is not None for k in REQUIRED_RULES))
        cached = policy._cache[key] = (resolved, np.array(flags, bool))
    return cached


def settlement_order(person: np.ndarray, day: np.ndarray, tie: np.ndarray | None = None,
                     rank_ties=None) -> np.ndarray:
    """Rows sorted by (person, settlement day, claim-id rank, input row): the settling order.

    The year need not be a key: it follows from the day. ``tie`` ranks claim ids over all
    rows; without it, ``rank_ties(rows)`` ranks the ids of just the rows that share a
    person and day with another (few), which avoids sorting every claim id.
    """
    n = len(person)
    if n == 0:
        return np.zeros(0, np.int64)
    first = int(day.min())
    span = int(day.max()) - first + 1
    if int(person.max()) < (1 << 62) // span:  # one int64 key and a stable radix sort
        key = person * span + (day - first)
        order = np.argsort(key, kind="stable")
    else:  # pragma: no cover - beyond 10^13 person-days
        key = None
        order = np.lexsort((np.arange(n), day, person))
    if tie is None and rank_ties is None:
        return order
    if key is None:  # pragma: no cover
        return np.lexsort((np.arange(n), tie, day, person))
    sorted_key = key[order]
    same = sorted_key[1:] == sorted_key[:-1]
    if not same.any():
        return order
    tied = np.zeros(n, bool)
    tied[1:] |= same
    tied[:-1] |= same
    at = np.flatnonzero(tied)  # positions in the order; runs of equal keys are contiguous
    rows = order[at]
    ranks = tie[rows] if tie is not None else rank_ties(rows)
    order[at] = rows[np.lexsort((rows, ranks, sorted_key[at]))]
    return order


class _StateKeys(Sequence):
    """(person id, year) of each state row, made into tuples only when asked for."""

    def __init__(self, people: Sequence[str], groups: np.ndarray) -> None:
        self._people, self._groups = people, groups
        self._list: list[tuple[str, int]] | None = None

    def _keys(self) -> list[tuple[str, int]]:
        if self._list is None:
            people = self._people
            self._list = list(zip([str(people[p]) for p in (self._groups // 10000).tolist()],
                                  (self._groups % 10000).tolist()))
        return self._list

    def __len__(self) -> int:
        return len(self._groups)

    def __getitem__(self, j):
        return self._keys()[j]

    def __iter__(self):
        return iter(self._keys())


def _round_layout(group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From rows in settling order with group codes, the permutation that makes round k contiguous.

    Returns (permutation, round offsets, group of each state row). State row j is the
    group with the j-th most claims, so round k's person-years are state rows 0..n_k-1,
    and a row of rank k in state row j goes to position offsets[k] + j: no sort needed.
    """
    n = len(group)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.concatenate(([True], group[1:] != group[:-1])))
    counts = np.diff(np.append(starts, n))
    group_of_row = np.repeat(np.arange(len(starts)), counts)
    rank = np.arange(n) - starts[group_of_row]
    by_count = np.argsort(-counts, kind="stable")
    state_row = np.empty_like(by_count)
    state_row[by_count] = np.arange(len(by_count))
    offsets = np.concatenate(([0], np.cumsum(np.bincount(rank))))
    perm = np.empty(n, np.int64)
    perm[offsets[rank] + state_row[group_of_row]] = np.arange(n)
    return perm, offsets, by_count


def _layout(enc: Encoded, settled: np.ndarray) -> tuple[np.ndarray, np.ndarray, Sequence[tuple[str, int]]]:
    """Input rows in round-major order, the round offsets, and the person-year of each state row."""
    person = enc.person[settled]
    rank_ties = None
    if enc.tie is None and enc.claim_ids is not None:
        def rank_ties(rows: np.ndarray) -> np.ndarray:
            return np.unique(enc.claim_ids.texts(settled[rows]), return_inverse=True)[1].reshape(-1)
    tie = enc.tie[settled] if enc.tie is not None else None
    by_order = settlement_order(person, enc.cols["day"][settled], tie, rank_ties)
    ordered = settled[by_order]
    group = enc.person[ordered] * 10000 + enc.cols["year"][ordered]
    perm, offsets, state_group = _round_layout(group)
    starts = np.flatnonzero(np.concatenate(([True], group[1:] != group[:-1]))) if len(group) else np.zeros(0, np.int64)
    firsts = group[starts][state_group]
    return ordered[perm], offsets, _StateKeys(enc.people, firsts)


def settle_claims(
    policy: Policy,
    claims: Sequence[Claim],
    accumulators: Iterable[Accumulators] = (),
    trace: bool = False,
) -> Outcome:
    """Settle Claim objects of any number of people in settlement order; see Outcome."""
    claims = list(claims)
    return run(policy, encode_claims(policy, claims), accumulators, trace, claims)


def run(
    policy: Policy,
    enc: Encoded,
    accumulators: Iterable[Accumulators] = (),
    trace: bool = False,
    claims: Sequence[Claim] | None = None,
) -> Outcome:
    """Settle encoded claims: rules in force, per-row parameters, settlement order, rounds."""
    n = len(enc.ok)
    cols = enc.cols
    vocab = vocabulary(policy)
    variant, variants = _resolve_variants(policy, enc, vocab.services)
    builds = {name: layer.build(variants, variant, cols, vocab) for name, layer in LAYERS.items()}
    for build in builds.values():
        for rows, field, reason in build.problems:
            enc.reject(rows, field, reason)
    # fees counted at half are off the bill before anything is paid (日间病床)
    reduction = np.where(enc.ok, outpatient.fee_reduction(builds["outpatient"]), 0)
    if reduction.any():
        cols = dict(cols, total=cols["total"] - reduction, in_scope=cols["in_scope"] - reduction,
                    fee_reduction=reduction)
    settled = np.flatnonzero(enc.ok)
    layout, offsets, keys = _layout(enc, settled)

    # Work on columns in round-major layout, then scatter back to input order.
    work = Gathered(_uniform_as_views(cols), layout)
    wparams = {name: Gathered(_uniform_as_views(b.columns), layout) for name, b in builds.items()}
    state = _columns(STATE_FIELDS, len(keys))
    for name, names in KEYED_FIELDS.items():  # per person-year and service / assistance cap group
        state[name] = np.zeros((len(keys), max(1, len(getattr(vocab, names)))), np.int64)
    initial = {(a.person_id, a.year): a for a in accumulators}
    for j, key in enumerate(keys if initial else ()):
        if key in initial:
            for name, value in zip(STATE_FIELDS, initial[key].values()):
                state[name][j] = value
            for name, names in KEYED_FIELDS.items():
                for item, value in getattr(initial[key], name).items():
                    if item in getattr(vocab, names):
                        state[name][j, getattr(vocab, names).index(item)] = value

    wout = _columns(TRACE_FIELDS, len(layout))
    wbands = None
    if trace:
        wbands = {}
        for name in BANDED:
            width = builds[name].tables.rates.shape[2]
            wbands[name] = {"portions": np.zeros((len(layout), width), np.int64),
                            "rates": np.zeros((len(layout), width), np.int64),
                            "step_band": np.zeros(len(layout), np.int64)}
    before: dict[int, Accumulators] = {}
    after: dict[int, Accumulators] = {}
    for k in range(len(offsets) - 1):
        rows = slice(int(offsets[k]), int(offsets[k + 1]))
        if trace:
            for j in range(rows.stop - rows.start):
                before[int(layout[rows.start + j])] = _accumulators(keys[j], state, j, vocab)
        for name, layer in LAYERS.items():
            if builds[name].idle:  # pays nothing, changes nothing, explains nothing: its outputs stay 0
                continue
            layer.settle(rows, work, wparams[name], builds[name].tables, state, wout,
                         wbands.get(name) if wbands is not None else None)
        if trace:
            for j in range(rows.stop - rows.start):
                after[int(layout[rows.start + j])] = _accumulators(keys[j], state, j, vocab)
    out = _Scattered(wout, layout, n)
    bands = None
    if wbands is not None:
        bands = {}
        for name, arrays in wbands.items():
            bands[name] = {k: np.zeros((n,) + v.shape[1:], np.int64) for k, v in arrays.items()}
            for k, v in arrays.items():
                bands[name][k][layout] = v
    return Outcome(policy, claims, settled, cols, out, bands, variant, variants,
                   {name: b.columns for name, b in builds.items()}, {name: b.tables for name, b in builds.items()},
                   enc.reject_groups, state, keys, vocab, initial, before, after, enc.claim_ids)


def _uniform_as_views(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Columns whose rows all hold one value become read-only broadcast views of it.

    Most parameters are the same on every row (one rule version, one cap): a view is
    gathered and sliced for free, where a real column costs a copy per round.
    """
    if len(next(iter(columns.values()), ())) < 4096:  # small batches: checking costs more than copying
        return dict(columns)
    out = {}
    for name, column in columns.items():
        if column.ndim == 1 and len(column) and column.strides[0] and (column == column[0]).all():
            column = np.broadcast_to(column[:1], column.shape)
        out[name] = column
    return out


class _Scattered(dict):
    """Result columns back in input-row order (0 where rejected), each scattered on first use."""

    def __init__(self, work: dict[str, np.ndarray], layout: np.ndarray, n: int) -> None:
        super().__init__()
        self._work, self._layout, self._n = work, layout, n

    def __missing__(self, name: str) -> np.ndarray:
        column = np.zeros(self._n, np.int64)
        column[self._layout] = self._work[name]
        self[name] = column
        return column

    def items(self):  # every field, as a plain dict would have them
        return [(name, self[name]) for name in self._work]

    def keys(self):
        return self._work.keys()

    def __iter__(self):
        return iter(self._work)

    def __len__(self) -> int:
        return len(self._work)


def _columns(names: Sequence[str], n: int) -> dict[str, np.ndarray]:
    """Zeroed int64 columns as rows of one block: one allocation instead of one per name."""
    return dict(zip(names, np.zeros((len(names), n), np.int64)))


def _accumulators(key: tuple[str, int], state: Mapping[str, np.ndarray], j: int, vocab: Vocabulary) -> Accumulators:
    keyed = {name: {item: int(state[name][j, i]) for i, item in enumerate(getattr(vocab, names)) if state[name][j, i]}
             for name, names in KEYED_FIELDS.items()}
    return Accumulators.from_fen(key[0], key[1], {name: state[name][j] for name in STATE_FIELDS}, keyed)
