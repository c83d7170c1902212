"""The pipeline: claims -> columns -> rules in force -> profiles -> settlement order -> kernel.

One engine for every entry point: a single claim is a batch of one. Rows that cannot
be settled are rejected with a reason before any accumulator sees them; every other
row comes back, in input order, with its layers' payments and, when traced, the named
intermediate columns that explain it. The stateful settlement itself is the kernel
(``medcalc.engine.kernel``), interpreted or compiled (``medcalc.engine.compiled``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

import attrs
import numpy as np

from ..accumulators import DEFAULT_CAP_GROUP, KEYED_FIELDS, STATE_FIELDS, Accumulators, period_code
from ..claims import GIVEN_FIELDS, Claim
from ..errors import ClaimError
from ..policy.model import CATEGORIES, PLACES, REFERRALS, Policy, ResolvedPolicy
from ..settlement import Reject
from ..vocabulary import resolve_level, resolve_service, service_hint
from . import assistance, backstop, basic, critical, kernel, outpatient
from . import rows as row_moves
from .basic import REQUIRED_RULES
from .checks import INSTITUTION_ADMITTED, NOT_GIVEN, UNKNOWN_SERVICE, WRONG_SCHEME
from .checks import reason as check_reason
from .common import GIVEN_BASE, GIVEN_BASIC, GIVEN_CRITICAL, Vocabulary
from .compiled import choose_engine, in_ranges, kernel_functions, low_high
from .profiles import KEY_COLUMNS, profile_codes

#: The payer chain, in order: each layer takes what the previous ones left. Layer 1 is
#: basic insurance: ``basic`` settles admissions, ``outpatient`` the outpatient services.
LAYERS = {
    "basic": basic,
    "outpatient": outpatient,
    "critical": critical,
    "assistance": assistance,
    "backstop": backstop,
}
#: Rows the kernel settles in one call: its inputs gathered into settlement order stay in cache.
CHUNK_ROWS = 1 << 15
#: A column of given amounts no row gives: read as not given by the kernel.
_NOTHING_GIVEN = np.zeros(0, np.int64)
#: Intermediate columns of a traced run (what explanations read).
TRACE_FIELDS = kernel.TRACE

__all__ = ["COLUMNS", "Encoded", "Outcome", "encode_claims", "run", "settle_claims", "settlement_order"]


@attrs.define
class Outcome:
    """Everything one pipeline run produced, in input-row order."""

    policy: Policy
    claims: Sequence[Claim] | None  # the claim objects, when the input was objects
    settled: np.ndarray  # input rows that were settled
    columns: dict[str, np.ndarray]  # input columns, all rows
    results: dict[str, np.ndarray]  # kernel.RESULTS (and TRACE_FIELDS when traced), all rows (0 where rejected)
    bands: dict[str, dict[str, np.ndarray]] | None  # per banded layer: portions, rates (when traced)
    variant: np.ndarray
    variants: list[ResolvedPolicy]
    params: dict[str, Mapping]  # per layer: parameter -> value per input row (read from its profile)
    tables: dict[str, object]  # per layer: lookups and the rules they came from
    reject_groups: list[tuple[np.ndarray, str, str]]  # (rows, field, reason)
    final: np.ndarray  # each person-year's accumulators after the run, as kernel state vectors (none: not kept)
    keys: _StateKeys  # (person id, year) of each person-year
    vocab: Vocabulary  # names the columns of the keyed state (services, assistance cap groups)
    initial: dict[tuple[str, int], Accumulators]  # the accumulators given as input
    accumulators_before: dict[int, Accumulators]  # input row -> its person-year's state before it (when traced)
    accumulators_after: dict[int, Accumulators]  # ... and after it
    claim_ids: Sequence[str | None] = ()
    engine: str = "interpreted"  # the engine that settled them
    payments: np.ndarray | None = None  # the same results by input row, side by side: (rows, RESULTS)
    _accumulators: dict[tuple[str, int], Accumulators] | None = None
    _rejects: list[Reject] | None = None

    @property
    def rejects(self) -> list[Reject]:
        """Rejected rows as records, by row (built on first use)."""
        if self._rejects is None:
            self._rejects = reject_objects(self.reject_groups, self.claim_ids)
        return self._rejects

    @property
    def persons(self) -> int:
        """How many people the settled rows belong to."""
        return self.keys.persons()

    @property
    def state(self) -> dict[str, np.ndarray]:
        """The final accumulators as columns, one entry per person-year (keyed ones as blocks; the
        ``service_period`` block holds the kernel's period keys, ``accumulators.period_text`` words one)."""
        state = {name: self.final[:, j] for j, name in enumerate(STATE_FIELDS)}
        state.update((name, self.final[:, where]) for name, where in _keyed_slices(self.vocab).items())
        return state

    @property
    def accumulators(self) -> dict[tuple[str, int], Accumulators]:
        """(person id, year) -> accumulators after the run, built on first use (objects are costly)."""
        if self._accumulators is None:
            if len(self.final) < len(self.keys):
                raise ValueError("the accumulators after the run were not kept (keep_state=False)")
            final = {key: _accumulators_from(key, self.final[j], self.vocab) for j, key in enumerate(self.keys)}
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
    claim_ids: Sequence[str | None]  # (batch input may also rank a subset: ``claim_ids.ranks(rows)``)
    ok: np.ndarray  # rows still to settle (False once rejected)
    reject_groups: list[tuple[np.ndarray, str, str]]  # (rows, field, reason): arrays, not one object per row
    _counted: int = 0  # reject groups when the live rows were last listed (_still_live)

    def reject(self, rows: Iterable[int] | np.ndarray, field: str, reason: str) -> None:
        """Refuse rows (those not refused already) for a reason; the first reason of a row stands."""
        rows = np.asarray(rows, np.int64).reshape(-1)
        if len(rows) > 1 and not (rows[1:] > rows[:-1]).all():  # (groups of rows come sorted, mostly)
            rows = np.unique(rows)
        rows = rows[self.ok[rows]]
        if len(rows):
            self.ok[rows] = False
            self.reject_groups.append((rows, field, reason))


def reject_objects(groups: Sequence[tuple[np.ndarray, str, str]], claim_ids: Sequence[str | None]) -> list[Reject]:
    """Reject records, by row, from grouped rejects (built only when someone asks for objects)."""
    out = [Reject(int(r), field, reason, claim_ids[r]) for rows, field, reason in groups for r in rows.tolist()]
    return sorted(out, key=lambda r: r.row)


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
    services = sorted(k[len(prefix) :] for k in policy.timelines if k.startswith(prefix))
    diseases: set[str] = set()
    for key in policy.timelines:
        if key.startswith(prefix):
            for layer in policy.timelines[key].layers:
                for version in layer:
                    diseases |= (
                        set(version.get("disease_caps") or ())
                        | set(version.get("excluded_if_certified") or ())
                        | set(version.get("diseases") or ())
                    )
    if len(diseases) > 62:
        raise ValueError(f"policy {policy.id} names {len(diseases)} diseases; medcalc handles at most 62")
    groups = sorted(
        {
            version.get("cap_group") or DEFAULT_CAP_GROUP
            for key, timeline in policy.timelines.items()
            if key.startswith("assistance.category.")
            for layer in timeline.layers
            for version in layer
            if not version.disabled
        }
    )
    return Vocabulary(list(policy.levels) + list(policy.institutions), services, sorted(diseases), groups)


def encode_claims(policy: Policy, claims: Sequence[Claim]) -> Encoded:
    """Claim objects as columns; a claim of another scheme or an unknown level is rejected here."""
    n = len(claims)
    vocab = vocabulary(policy)
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


def _coverage_text(policy: Policy) -> str:
    spans = policy.coverage(REQUIRED_RULES)
    if not spans:
        return f"policy {policy.id} has no inpatient rules in force on any day"
    shown = ", ".join(f"{a} to {b if b else 'open'}" for a, b in spans)
    return f"policy {policy.id} covers {shown}"


def _resolve_variants(
    policy: Policy, enc: Encoded, services: list[str], live: np.ndarray, engine: str | None = None, threads: int = 1
) -> tuple[np.ndarray, list[ResolvedPolicy]]:
    """The rule versions in force for each row's day; rows on a day without them are rejected.

    Rules are looked up once per distinct day, and rows mapped through a table of the days
    in their range (no sort).
    """
    variant = np.empty(len(enc.ok), np.int32)
    variant.fill(-1)  # (np.full's Python wrapper costs more than a single claim's whole lookup)
    variants: list[ResolvedPolicy] = []
    index: dict[int, int] = {}
    if not len(live):
        return variant, variants
    day = enc.cols["day"]
    if len(live) == 1:  # one claim: its day's rules, without a table of days
        row = int(live[0])
        resolved, in_force = _rules_on(policy, int(day[row]), services)
        service = int(enc.cols["service"][row])
        if in_force[service if service >= 0 else len(services)] or enc.cols["given"][row] & GIVEN_BASIC:
            variant[row] = 0
            return variant, [resolved]
        # (not in force: the general path below words the reject)
    move = kernel_functions(choose_engine(engine, len(live)), row_moves)
    first, last = low_high(move["value_range"], live, day, threads)
    present = np.zeros(last - first + 1, np.int8)
    in_ranges(move["mark_days"], len(live), threads, (live, day, first, present), (0,))  # (same-value writes)
    present = present.astype(bool)
    day_variant = np.full(len(present), -1, np.int32)
    in_force = np.ones((len(present), len(services) + 1), bool)  # per day: each service, then admissions
    for d in np.flatnonzero(present).tolist():
        resolved, in_force[d] = _rules_on(policy, first + d, services)
        if id(resolved) not in index:
            index[id(resolved)] = len(variants)
            variants.append(resolved)
        day_variant[d] = index[id(resolved)]
    in_ranges(move["look_up_days"], len(live), threads, (live, day, first, day_variant, variant), (0,))
    if not in_force[present].all():  # some rows' visits have no rules on their day
        offset = day[live] - first
        service = enc.cols["service"][live]
        column = np.where(service >= 0, service, len(services))
        missing = ~in_force[offset, column] & (
            enc.cols["given"][live] & GIVEN_BASIC == 0
        )  # (a layer 1 given needs no rule)
        for d, s in sorted(set(zip(offset[missing].tolist(), column[missing].tolist()))):
            rows = live[missing & (offset == d) & (column == s)]
            date = dt.date.fromordinal(first + d)
            if s == len(services):
                resolved = variants[day_variant[d]]
                absent = next(k for k in REQUIRED_RULES if resolved.rule(k) is None)
                enc.reject(
                    rows,
                    "settled_on",
                    f"no {absent} rule in force on {date}; {_coverage_text(policy)}"
                    + (
                        ""
                        if policy.coverage(REQUIRED_RULES)
                        else " (a claim that gives basic_paid, the basic payment settled elsewhere, needs none)"
                    ),
                )
            else:
                key = f"outpatient.service.{services[s]}"
                spans = ", ".join(f"{a} to {b or 'open'}" for a, b in policy.coverage((key,))) or "no day"
                enc.reject(
                    rows,
                    "settled_on",
                    f"outpatient service {services[s]!r} is not in force on {date}; it covers {spans}",
                )
        variant[~enc.ok] = -1
        used = np.flatnonzero(np.bincount(variant[variant >= 0], minlength=len(variants)))
        if len(used) < len(variants):  # keep only the versions some settled row uses, numbered densely
            renumber = np.full(len(variants), -1, np.int32)
            renumber[used] = np.arange(len(used))
            variants = [variants[i] for i in used.tolist()]
            variant = np.where(variant >= 0, renumber[np.maximum(variant, 0)], -1).astype(np.int32)
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


def settlement_order(
    person: np.ndarray,
    day: np.ndarray,
    tie: np.ndarray | None = None,
    rank_ties=None,
    rows: np.ndarray | None = None,
    engine: str | None = None,
    threads: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``rows`` (default: all) sorted by (person, settlement day, claim-id rank, input row):
    the settling order, with the person and the day of each position in it.

    The year need not be a key: it follows from the day. ``tie`` ranks claim ids over all
    rows; without it, ``rank_ties(rows)`` ranks the ids of just the (input) rows that share a
    person and day with another (few), which avoids sorting every claim id.
    """
    rows = np.arange(len(person)) if rows is None else rows
    n = len(rows)
    if n <= 1:  # nothing to sort (a single claim)
        return rows.astype(np.int64), person[rows].astype(np.int64), day[rows].astype(np.int32)
    move = kernel_functions(choose_engine(engine, n), row_moves)
    first, last = low_high(move["value_range"], rows, day, threads)
    day_bits = (last - first).bit_length()
    row_bits = max(1, (len(person) - 1).bit_length())
    people = int(person.max()) + 1 if len(person) else 1
    if people.bit_length() + day_bits + row_bits > 63:  # pragma: no cover - beyond 2^63 person-day-rows
        p, d = person[rows], day[rows]
        order = np.lexsort((rows, tie[rows] if tie is not None else np.zeros(n, np.int64), d, p))
        return rows[order], p[order], d[order].astype(np.int32)
    # One sort of a packed key (person | day | row): the row in the low bits makes every key
    # distinct, so an unstable sort is stable, and the key gives the row back.
    key = np.empty(n, np.int64)
    in_ranges(move["pack_keys"], n, threads, (rows, person, day, first, day_bits, row_bits, key), (0, 6))
    key.sort()
    order = np.empty(n, np.int64)
    person_at = np.empty(n, np.int32 if people < (1 << 31) else np.int64)
    day_at = np.empty(n, np.int32)  # (day ordinals are below 2^22)
    in_ranges(move["unpack_keys"], n, threads, (key, day_bits, row_bits, first, order, person_at, day_at), (0, 4, 5, 6))
    del key
    if tie is not None or rank_ties is not None:
        same = (person_at[1:] == person_at[:-1]) & (day_at[1:] == day_at[:-1])
        if same.any():
            tied = np.zeros(n, bool)
            tied[1:] |= same
            tied[:-1] |= same
            at = np.flatnonzero(tied)  # positions in the order; runs of equal keys are contiguous
            input_rows = order[at]
            ranks = tie[input_rows] if tie is not None else rank_ties(input_rows)
            order[at] = input_rows[np.lexsort((input_rows, ranks, day_at[at], person_at[at]))]
    return order, person_at, day_at


class _StateKeys(Sequence):
    """(person id, year) of each state row, made into tuples only when asked for."""

    def __init__(self, people: Sequence[str], groups: np.ndarray) -> None:
        self._people, self._groups = people, groups
        self._list: list[tuple[str, int]] | None = None

    def _keys(self) -> list[tuple[str, int]]:
        if self._list is None:
            people = self._people
            self._list = list(
                zip([str(people[p]) for p in (self._groups // 10000).tolist()], (self._groups % 10000).tolist())
            )
        return self._list

    def __len__(self) -> int:
        return len(self._groups)

    def persons(self) -> int:
        """How many people the person-years belong to (they come grouped by person)."""
        return int(np.count_nonzero(np.diff(self._groups // 10000))) + 1 if len(self._groups) else 0

    def __getitem__(self, j):
        return self._keys()[j]

    def __iter__(self):
        return iter(self._keys())


def _years(day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The calendar year and the month in it (0-11) of each day (ordinals), through a table of
    the days in their range."""
    if len(day) <= 1:
        dates = [dt.date.fromordinal(d) for d in day.tolist()]
        return np.array([d.year for d in dates], np.int32), np.array([d.month - 1 for d in dates], np.int32)
    first, last = int(day.min()), int(day.max())
    start, end = dt.date.fromordinal(first), dt.date.fromordinal(last)
    # the days of the range by month: each month's first day (clipped to the range) as an offset
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    firsts = [
        max(dt.date(start.year + (start.month - 1 + k) // 12, (start.month - 1 + k) % 12 + 1, 1).toordinal() - first, 0)
        for k in range(months)
    ]
    index = np.zeros(last - first + 1, np.int32)  # month number in the range, by day
    index[firsts[1:]] = 1
    index = np.cumsum(index, dtype=np.int32)
    absolute = start.year * 12 + start.month - 1 + np.arange(months, dtype=np.int32)
    at = index[day - first]
    return (absolute // 12)[at], (absolute % 12)[at]


#: Profile parameter sets a policy keeps for later calls (a single claim's kinds recur).
_KEPT_PROFILE_SETS = 256


def _profile_parameters(
    policy: Policy, vocab: Vocabulary, variants: list[ResolvedPolicy], variant: np.ndarray, pcols: dict[str, np.ndarray]
) -> tuple[dict, np.ndarray, dict]:
    """Each layer's build on the profiles' representative rows, the profile table ``prof``, and
    a dict for what callers derive from them (kept with them: the kernel's tables per engine).

    The builds read only the profile's codes and rule versions, so a set of profiles seen
    before (as every single claim of a known kind is) takes its parameters from the policy's
    cache instead of looking them up again.
    """
    key = (
        "profiles",
        tuple(id(v) for v in variants),
        tuple(variant.tolist()),
        tuple(tuple(pcols[name].tolist()) for name in KEY_COLUMNS),
    )  # (values, whatever their dtype)
    kept = policy._cache.get(key)
    if kept is not None:
        return kept[1], kept[2], kept[3]
    builds = {name: layer.build(variants, variant, pcols, vocab) for name, layer in LAYERS.items()}
    derived: dict = {}
    prof = np.zeros((len(variant), len(kernel.PROFILE_FIELDS)), np.int64)
    for j, name in enumerate(kernel.PROFILE_CODES):
        prof[:, j] = pcols[name]
    for name, params in kernel.LAYER_PARAMS.items():
        for name_in_layer in params:
            prof[:, _PARAM_COLUMNS[name][name_in_layer]] = builds[name].columns[name_in_layer]
    if len(variant) <= 64:  # small sets only: a batch's hundreds of profiles rarely recur
        kept_sets = [k for k in policy._cache if isinstance(k, tuple) and k and k[0] == "profiles"]
        if len(kept_sets) >= _KEPT_PROFILE_SETS:
            for old in kept_sets:
                del policy._cache[old]
        policy._cache[key] = (
            tuple(variants),
            builds,
            prof,
            derived,
        )  # holding the variants keeps their ids in the key theirs
    return builds, prof, derived


def _person_years(person: np.ndarray, year: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows in settlement order: where each person-year starts, and its key person * 10000 + year."""
    if len(person) <= 1:  # (no claim, or one: nothing to compare)
        return (
            np.zeros(len(person), np.int64),
            np.array([p * 10000 + y for p, y in zip(person.tolist(), year.tolist())], np.int64),
        )
    new = np.empty(len(person), bool)
    new[0] = True
    np.not_equal(person[1:], person[:-1], out=new[1:])
    new[1:] |= year[1:] != year[:-1]
    starts = np.flatnonzero(new)
    return starts, person[starts].astype(np.int64) * 10000 + year[starts]


def settle_claims(
    policy: Policy,
    claims: Sequence[Claim],
    accumulators: Iterable[Accumulators] = (),
    trace: bool = False,
    engine: str | None = None,
) -> Outcome:
    """Settle Claim objects of any number of people in settlement order; see Outcome."""
    claims = list(claims)
    return run(policy, encode_claims(policy, claims), accumulators, trace, claims, engine=engine)


def run(
    policy: Policy,
    enc: Encoded,
    accumulators: Iterable[Accumulators] = (),
    trace: bool = False,
    claims: Sequence[Claim] | None = None,
    *,
    engine: str | None = None,
    threads: int = 1,
    keep_state: bool = True,
    chunk_rows: int | None = None,
) -> Outcome:
    """Settle encoded claims: rules in force, profiles and their parameters, settlement order, kernel.

    ``engine``: "auto" (by size), "compiled" or "interpreted" (see ``medcalc.engine.compiled``).
    ``threads``: chunks of whole person-years (about ``chunk_rows`` rows each) settled at once.
    ``keep_state``: return each person-year's accumulators after the batch.
    """
    n = len(enc.ok)
    cols = enc.cols
    vocab = vocabulary(policy)
    live = _still_live(enc)
    variant, variants = _resolve_variants(policy, enc, vocab.services, live, engine, threads)
    live = _still_live(enc, live)
    profile, representative = profile_codes(cols, variant, live, engine, threads)
    builds, prof, derived = _profile_parameters(
        policy, vocab, variants, variant[representative], {name: cols[name][representative] for name in KEY_COLUMNS}
    )
    for build in builds.values():
        for rows, field, reason in build.problems:
            bad = np.zeros(len(representative), bool)
            bad[rows] = True
            enc.reject(live[bad[profile[live]]], field, reason)
    settled = _still_live(enc, live)
    if len(settled) < n:
        profile[~enc.ok] = -1

    # fees counted at half are off the bill before anything is paid (日间病床)
    bed, nursing = _PARAM_COLUMNS["outpatient"]["halve_bed"], _PARAM_COLUMNS["outpatient"]["halve_nursing"]
    if "halving" not in derived:
        derived["halving"] = bool((prof[:, bed] | prof[:, nursing]).any())
    if derived["halving"] and len(settled):
        p = profile[settled]
        reduction = np.zeros(n, np.int64)
        reduction[settled] = outpatient.fee_reduction(
            prof[p, bed], prof[p, nursing], cols["bed_fees"][settled], cols["nursing_fees"][settled]
        )
        cols = dict(
            cols, total=cols["total"] - reduction, in_scope=cols["in_scope"] - reduction, fee_reduction=reduction
        )

    ordered, person_at, day_at = _ordered(enc, settled, engine, threads)
    year_at, month_at = _years(day_at)
    initial = {(a.person_id, a.year): a for a in accumulators}
    starts, groups = _person_years(person_at, year_at)
    keys = _StateKeys(enc.people, groups)
    width = _state_width(vocab)
    init = np.zeros((len(groups) if initial else 0, width), np.int64)
    for j, key in enumerate(keys if initial else ()):
        if key in initial:
            init[j] = _state_vector(initial[key], vocab, width)
    final = np.zeros((len(groups) if keep_state else 0, width), np.int64)

    t_basic, t_critical = builds["basic"].tables, builds["critical"].tables
    # payments by input row: int32, since every payment is at most its claim's total, which
    # the checks cap at MAX_TOTAL < 2^31 fen
    res = np.zeros((n, len(kernel.RESULTS)), np.int32)  # (a row's payments side by side)
    bands = max(t_basic.rates.shape[2], t_critical.rates.shape[2])
    traced = len(ordered) if trace else 0  # trace columns by position in settlement order
    tr = np.zeros((len(kernel.TRACE), traced), np.int64)
    tb = np.zeros((2, 2, traced, bands), np.int64)
    acc = np.zeros((2, traced, width), np.int64)
    chosen = choose_engine(engine, len(ordered))
    inputs = (profile, cols["total"], cols["in_scope"], cols["pre_self_pay"])  # by input row: gathered per chunk
    # amounts of earlier layers, gathered only where some row gives one (else the kernel reads
    # columns of length 0 as not given)
    given = cols["given"].strides != (0,) and bool(cols["given"][settled].any())
    if given:
        inputs += tuple(cols[name] for name in GIVEN_FIELDS)
    native = chosen == "interpreted"
    tables = derived.get(chosen)
    if tables is None:
        tables = (
            prof,
            np.ascontiguousarray(t_basic.schedules, np.int64),
            t_basic.edges,
            t_basic.rates,
            t_basic.step.astype(np.int64),
            t_basic.basis_in_scope.astype(np.int64),
            t_critical.edges,
            t_critical.rates,
            max(1, len(vocab.services)),
            max(1, len(vocab.assistance_groups)),
        )
        if native:
            # CPython runs the kernel on Python ints: indexing an object array returns the int
            # itself, not a numpy scalar, whose arithmetic is several times slower (exact either way)
            tables = tuple(t.astype(object) if isinstance(t, np.ndarray) else t for t in tables)
        derived[chosen] = tables

    settle_rows = kernel_functions(chosen)["settle_rows"]
    moves = kernel_functions(chosen, row_moves)
    gather, scatter = moves["gather"], moves["scatter"]
    if native:
        init = init.astype(object)

    def settle_chunk(chunk: tuple[int, int, int]) -> None:
        # The chunk's rows gathered into settlement order first, so that the kernel reads and
        # writes contiguous memory: gathers run many loads at once, the kernel one row at a time.
        start, stop, first_group = chunk
        rows = ordered[start:stop]
        person, year, month = person_at[start:stop], year_at[start:stop], month_at[start:stop]
        if native:  # Python lists of Python ints: what CPython indexes fastest (rows are few)
            gathered = [column[rows].tolist() for column in inputs] + [[]] * (0 if given else len(GIVEN_FIELDS))
            person, year, month, state = person.tolist(), year.tolist(), month.tolist(), [0] * width
        else:
            gathered = np.empty((len(inputs), stop - start), np.int64)
            for column, target in zip(inputs, gathered):
                gather(rows, column, target)
            if not given:
                gathered = list(gathered) + [_NOTHING_GIVEN] * len(GIVEN_FIELDS)
            state = np.zeros(width, np.int64)
        out = np.empty((len(kernel.RESULTS), stop - start), np.int64)
        settle_rows(person, year, month, *gathered, *tables, first_group, init, final, state, out, trace, tr, tb, acc)
        if native:
            res[rows] = out.T
        else:
            scatter(rows, out, res)

    chunks = [(0, len(ordered), 0)] if trace else _chunks(len(ordered), starts, chunk_rows or CHUNK_ROWS)
    if threads > 1 and len(chunks) > 1:
        from concurrent.futures import ThreadPoolExecutor  # the compiled kernel and numpy's gathers release the GIL

        with ThreadPoolExecutor(threads) as executor:
            list(executor.map(settle_chunk, chunks))
    else:
        for chunk in chunks:
            settle_chunk(chunk)

    results = dict(zip(kernel.RESULTS, res.T))
    before: dict[int, Accumulators] = {}
    after: dict[int, Accumulators] = {}
    band_traces = None
    if trace:  # by input row, as the results are

        def by_row(values: np.ndarray) -> np.ndarray:
            out = np.zeros((n,) + values.shape[1:], np.int64)
            out[ordered] = values
            return out

        results.update((name, by_row(tr[j])) for j, name in enumerate(kernel.TRACE) if name not in results)
        band_traces = {}
        for k, name in enumerate(kernel.BANDED):
            used = builds[name].tables.rates.shape[2]
            band_traces[name] = {"portions": by_row(tb[k, 0, :, :used]), "rates": by_row(tb[k, 1, :, :used])}
        band_traces["basic"]["step_band"] = results["step_band"]
        key_of_position = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(ordered))))
        for at, row in enumerate(ordered.tolist()):
            key = keys[int(key_of_position[at])]
            before[row] = _accumulators_from(key, acc[0, at], vocab)
            after[row] = _accumulators_from(key, acc[1, at], vocab)
    return Outcome(
        policy,
        claims,
        settled,
        cols,
        results,
        band_traces,
        variant,
        variants,
        {name: _ProfileParams(prof, profile, name) for name in LAYERS},
        {name: b.tables for name, b in builds.items()},
        enc.reject_groups,
        final,
        keys,
        vocab,
        initial,
        before,
        after,
        enc.claim_ids,
        chosen,
        res,
    )


def _still_live(enc: Encoded, live: np.ndarray | None = None) -> np.ndarray:
    """The rows not rejected: ``live`` as it was when no row has been rejected since (the
    groups of rejects have not grown), so that a batch with no new rejects is not scanned again."""
    if live is not None and enc._counted == len(enc.reject_groups):
        return live
    enc._counted = len(enc.reject_groups)
    return enc.ok.nonzero()[0]


def _ordered(enc: Encoded, settled: np.ndarray, engine: str, threads: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The settled input rows in settlement order, with the person code and day of each."""
    rank_ties = enc.claim_ids.ranks if enc.tie is None and enc.claim_ids is not None else None
    return settlement_order(enc.person, enc.cols["day"], enc.tie, rank_ties, settled, engine, threads)


def _chunks(rows: int, starts: np.ndarray, size: int) -> list[tuple[int, int, int]]:
    """(start, stop, first person-year) of chunks of about ``size`` rows of whole person-years."""
    if rows <= size or len(starts) < 2:
        return [(0, rows, 0)]
    firsts = np.unique(np.searchsorted(starts, np.arange(0, rows, size), side="right") - 1)
    bounds = np.append(starts[firsts], rows)
    return [
        (int(bounds[k]), int(bounds[k + 1]), int(firsts[k])) for k in range(len(firsts)) if bounds[k + 1] > bounds[k]
    ]


#: Per layer: where each of its parameters lies in a profile row.
_PARAM_COLUMNS = {
    layer: {name: kernel.PROFILE_FIELDS.index(f"{layer}.{name}") for name in params}
    for layer, params in kernel.LAYER_PARAMS.items()
}


class _ProfileParams(Mapping):
    """A layer's parameters per input row, read from the row's profile when asked for."""

    def __init__(self, prof: np.ndarray, profile: np.ndarray, layer: str) -> None:
        self._prof, self._profile = prof, profile
        self._at = _PARAM_COLUMNS[layer]

    def __getitem__(self, name: str) -> _ProfileColumn:
        return _ProfileColumn(self._prof, self._profile, self._at[name])

    def __iter__(self):
        return iter(self._at)

    def __len__(self) -> int:
        return len(self._at)


class _ProfileColumn:
    """One parameter per input row: ``column[row]``."""

    def __init__(self, prof: np.ndarray, profile: np.ndarray, at: int) -> None:
        self._prof, self._profile, self._at = prof, profile, at

    def __getitem__(self, row: int) -> int:
        return int(self._prof[self._profile[row], self._at])


def _state_width(vocab: Vocabulary) -> int:
    """The length of a person-year's state vector: the fields, then the keyed ones."""
    return _keyed_slices(vocab)["assistance_paid"].stop


def _keyed_slices(vocab: Vocabulary) -> dict[str, slice]:
    """Where each keyed accumulator (per service, per assistance cap group) lies in a state vector
    (worked out once per vocabulary: every run asks)."""
    kept = vocab.__dict__.get("_keyed_slices")
    if kept is None:
        kept = vocab.__dict__["_keyed_slices"] = _slices_of(vocab)
    return kept


def _slices_of(vocab: Vocabulary) -> dict[str, slice]:
    sizes = {"services": max(1, len(vocab.services)), "assistance_groups": max(1, len(vocab.assistance_groups))}
    start = kernel.S_KEYED
    out = {}
    for name, names in KEYED_FIELDS.items():  # (the kernel's order)
        size = sizes[names]
        out[name] = slice(start, start + size)
        start += size
    return out


def _state_vector(acc: Accumulators, vocab: Vocabulary, width: int) -> np.ndarray:
    vector = np.zeros(width, np.int64)
    vector[: len(STATE_FIELDS)] = acc.values()
    for name, where in _keyed_slices(vocab).items():
        names = getattr(vocab, KEYED_FIELDS[name])
        for item, value in getattr(acc, name).items():
            if item in names:
                vector[where.start + names.index(item)] = (
                    period_code(value, acc.year) if name == "service_period" else value
                )
    return vector


def _accumulators_from(key: tuple[str, int], vector: np.ndarray, vocab: Vocabulary) -> Accumulators:
    values = vector.tolist()
    keyed = {
        name: {
            item: values[where.start + i]
            for i, item in enumerate(getattr(vocab, KEYED_FIELDS[name]))
            if values[where.start + i]
        }
        for name, where in _keyed_slices(vocab).items()
    }
    return Accumulators.from_fen(key[0], key[1], dict(zip(STATE_FIELDS, values)), keyed)
