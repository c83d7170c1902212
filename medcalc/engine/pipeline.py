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
from .common import Vocabulary

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
    rejects: list[Reject]
    state: dict[str, np.ndarray]  # final accumulators, one entry per state row
    keys: list[tuple[str, int]]  # (person id, year) of each state row
    vocab: Vocabulary  # names the columns of the keyed state (services, assistance cap groups)
    initial: dict[tuple[str, int], Accumulators]  # the accumulators given as input
    accumulators_before: dict[int, Accumulators]  # input row -> its person-year's state before it (when traced)
    accumulators_after: dict[int, Accumulators]  # ... and after it
    _accumulators: dict[tuple[str, int], Accumulators] | None = None

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
    people: list[str]  # the person id of each code
    tie: np.ndarray  # rank of the claim id among all ids: breaks ties on a day
    claim_ids: Sequence[str | None]
    ok: np.ndarray  # rows still to settle (False once rejected)
    rejects: list[Reject]

    def reject(self, rows: Iterable[int], field: str, reason: str) -> None:
        for r in rows:
            if self.ok[r]:
                self.ok[r] = False
                self.rejects.append(Reject(int(r), field, reason, self.claim_ids[r]))


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
    days = enc.cols["day"]
    for day in np.unique(days[enc.ok]):
        date = dt.date.fromordinal(int(day))
        resolved = policy.at(date)
        rows = np.flatnonzero(enc.ok & (days == day))
        inpatient = enc.cols["visit"][rows] == 0
        missing = [k for k in REQUIRED_RULES if resolved.rule(k) is None]
        if missing:
            enc.reject(rows[inpatient], "settled_on", f"no {missing[0]} rule in force on {date}; {_coverage_text(policy)}")
        for code in np.unique(enc.cols["service"][rows[~inpatient]]):
            key = f"outpatient.service.{services[code]}"
            if resolved.rule(key) is None:
                spans = ", ".join(f"{a} to {b or 'open'}" for a, b in policy.coverage((key,))) or "no day"
                enc.reject(rows[~inpatient][enc.cols["service"][rows[~inpatient]] == code], "settled_on",
                           f"outpatient service {services[code]!r} is not in force on {date}; it covers {spans}")
        if not enc.ok[rows].any():
            continue
        if id(resolved) not in index:
            index[id(resolved)] = len(variants)
            variants.append(resolved)
        variant[rows[enc.ok[rows]]] = index[id(resolved)]
    return variant, variants


def settlement_order(person: np.ndarray, year: np.ndarray, day: np.ndarray, tie: np.ndarray) -> np.ndarray:
    """Rows sorted by (person, year, settlement day, claim-id rank, input row): the settling order."""
    rows = np.arange(len(person))
    return np.lexsort((rows, tie, day, year, person))


def _round_layout(group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From rows in settling order with group codes, the permutation that makes round k contiguous.

    Returns (permutation, round offsets, group of each state row). State row j is the
    group with the j-th most claims, so round k's person-years are state rows 0..n_k-1.
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
    perm = np.lexsort((state_row[group_of_row], rank))
    offsets = np.concatenate(([0], np.cumsum(np.bincount(rank))))
    return perm, offsets, by_count


def _layout(enc: Encoded, settled: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[tuple[str, int]]]:
    """Input rows in round-major order, the round offsets, and the person-year of each state row."""
    person = enc.person[settled]
    by_order = settlement_order(person, enc.cols["year"][settled], enc.cols["day"][settled], enc.tie[settled])
    group = person[by_order] * 10000 + enc.cols["year"][settled[by_order]]
    perm, offsets, state_group = _round_layout(group)
    starts = np.flatnonzero(np.concatenate(([True], group[1:] != group[:-1]))) if len(group) else np.zeros(0, np.int64)
    keys = [(enc.people[int(k // 10000)], int(k % 10000)) for k in group[starts][state_group]]
    return settled[by_order][perm], offsets, keys


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
    work = {k: v[layout] for k, v in cols.items()}
    wparams = {name: {k: v[layout] for k, v in b.columns.items()} for name, b in builds.items()}
    state = _columns(STATE_FIELDS, len(keys))
    for name, names in KEYED_FIELDS.items():  # per person-year and service / assistance cap group
        state[name] = np.zeros((len(keys), max(1, len(getattr(vocab, names)))), np.int64)
    initial = {(a.person_id, a.year): a for a in accumulators}
    for j, key in enumerate(keys):
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
            layer.settle(rows, work, wparams[name], builds[name].tables, state, wout,
                         wbands.get(name) if wbands is not None else None)
        if trace:
            for j in range(rows.stop - rows.start):
                after[int(layout[rows.start + j])] = _accumulators(keys[j], state, j, vocab)
    block = np.zeros((len(TRACE_FIELDS), n), np.int64)
    block[:, layout] = np.stack([wout[name] for name in TRACE_FIELDS]) if n else block[:, layout]
    out = dict(zip(TRACE_FIELDS, block))
    bands = None
    if wbands is not None:
        bands = {}
        for name, arrays in wbands.items():
            bands[name] = {k: np.zeros((n,) + v.shape[1:], np.int64) for k, v in arrays.items()}
            for k, v in arrays.items():
                bands[name][k][layout] = v
    rejects = sorted(enc.rejects, key=lambda r: r.row)
    return Outcome(policy, claims, settled, cols, out, bands, variant, variants,
                   {name: b.columns for name, b in builds.items()}, {name: b.tables for name, b in builds.items()},
                   rejects, state, keys, vocab, initial, before, after)


def _columns(names: Sequence[str], n: int) -> dict[str, np.ndarray]:
    """Zeroed int64 columns as rows of one block: one allocation instead of one per name."""
    return dict(zip(names, np.zeros((len(names), n), np.int64)))


def _accumulators(key: tuple[str, int], state: Mapping[str, np.ndarray], j: int, vocab: Vocabulary) -> Accumulators:
    keyed = {name: {item: int(state[name][j, i]) for i, item in enumerate(getattr(vocab, names)) if state[name][j, i]}
             for name, names in KEYED_FIELDS.items()}
    return Accumulators.from_fen(key[0], key[1], {name: state[name][j] for name in STATE_FIELDS}, keyed)
