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

from ..accumulators import Accumulators
from ..claims import GIVEN_FIELDS, Claim
from ..errors import ClaimError
from ..policy.model import CATEGORIES, PLACES, REFERRALS, Policy, ResolvedPolicy
from ..vocabulary import resolve_level, resolve_service, service_hint
from . import kernel
from . import rows as row_moves
from .checks import NOT_GIVEN
from .common import GIVEN_BASE, GIVEN_BASIC, GIVEN_CRITICAL, Vocabulary
from .compiled import choose_engine, in_ranges, kernel_functions, low_high
from .compiled_policy import CompiledPolicy
from .layers import CHAIN, outpatient
from .layers.basic import REQUIRED_RULES
from .outcome import Outcome, ProfileParams, StateKeys
from .profiles import KEY_COLUMNS, profile_codes
from .state import from_vector, sizes, to_vector
from .state import width as state_width

#: The payer chain, in order: each layer takes what the previous ones left. Layer 1 is
#: basic insurance: ``basic`` settles admissions, ``outpatient`` the outpatient services.
LAYERS = CHAIN
#: Rows the kernel settles in one call: its inputs gathered into settlement order stay in cache.
CHUNK_ROWS = 1 << 15
#: A column of given amounts no row gives: read as not given by the kernel.
_NOTHING_GIVEN = np.zeros(0, np.int64)
#: Intermediate columns of a traced run (what explanations read).
TRACE_FIELDS = kernel.TRACE

__all__ = ["COLUMNS", "Encoded", "Outcome", "encode_claims", "run", "settle_claims", "settlement_order"]


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
    return CompiledPolicy.of(policy).vocab


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
            enc.reject([i], "scheme", f"claim is for {c.scheme!r} but policy {policy.id} is for {policy.scheme!r}")
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
                    f"policy {policy.id} has no outpatient service {c.service!r}; it has {have}"
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
                f"{c.level!r} is an outpatient institution of policy {policy.id}; an admission needs "
                f"a hospital level: one of {known_levels}",
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
    compiled: CompiledPolicy, enc: Encoded, live: np.ndarray, engine: str | None = None, threads: int = 1
) -> tuple[np.ndarray, list[ResolvedPolicy]]:
    """The rule versions in force for each row's day; rows on a day without them are rejected.

    Rules are looked up once per distinct day, and rows mapped through a table of the days
    in their range (no sort).
    """
    policy, services = compiled.policy, compiled.vocab.services
    variant = np.empty(len(enc.ok), np.int32)
    variant.fill(-1)  # (np.full's Python wrapper costs more than a single claim's whole lookup)
    variants: list[ResolvedPolicy] = []
    index: dict[int, int] = {}
    if not len(live):
        return variant, variants
    day = enc.cols["day"]
    if len(live) == 1:  # one claim: its day's rules, without a table of days
        row = int(live[0])
        resolved, in_force = compiled.rules_on(int(day[row]))
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
        resolved, in_force[d] = compiled.rules_on(first + d)
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
    compiled = CompiledPolicy.of(policy)
    vocab = compiled.vocab
    live = _still_live(enc)
    variant, variants = _resolve_variants(compiled, enc, live, engine, threads)
    live = _still_live(enc, live)
    profile, representative = profile_codes(cols, variant, live, engine, threads)
    made = compiled.profile_tables(
        variants, variant[representative], {name: cols[name][representative] for name in KEY_COLUMNS}
    )
    builds, prof = made.builds, made.params
    for build in builds.values():
        for rows, field, reason in build.problems:
            bad = np.zeros(len(representative), bool)
            bad[rows] = True
            enc.reject(live[bad[profile[live]]], field, reason)
    settled = _still_live(enc, live)
    if len(settled) < n:
        profile[~enc.ok] = -1

    # fees counted at half are off the bill before anything is paid (日间病床)
    bed, nursing = prof["outpatient"][:, outpatient.HALVE_BED], prof["outpatient"][:, outpatient.HALVE_NURSING]
    if made.halving is None:
        made.halving = bool((bed | nursing).any())
    if made.halving and len(settled):
        p = profile[settled]
        reduction = np.zeros(n, np.int64)
        reduction[settled] = outpatient.fee_reduction(
            bed[p], nursing[p], cols["bed_fees"][settled], cols["nursing_fees"][settled]
        )
        cols = dict(
            cols, total=cols["total"] - reduction, in_scope=cols["in_scope"] - reduction, fee_reduction=reduction
        )

    ordered, person_at, day_at = _ordered(enc, settled, engine, threads)
    year_at, month_at = _years(day_at)
    initial = {(a.person_id, a.year): a for a in accumulators}
    starts, groups = _person_years(person_at, year_at)
    keys = StateKeys(enc.people, groups)
    width = state_width(vocab)
    init = np.zeros((len(groups) if initial else 0, width), np.int64)
    for j, key in enumerate(keys if initial else ()):
        if key in initial:
            init[j] = to_vector(initial[key], vocab, width)
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
    traces = kernel.Traces(trace, tr, tb, acc)
    chosen = choose_engine(engine, len(ordered))
    inputs = (profile, cols["total"], cols["in_scope"], cols["pre_self_pay"])  # by input row: gathered per chunk
    # amounts of earlier layers, gathered only where some row gives one (else the kernel reads
    # columns of length 0 as not given)
    given = cols["given"].strides != (0,) and bool(cols["given"][settled].any())
    if given:
        inputs += tuple(cols[name] for name in GIVEN_FIELDS)
    native = chosen == "interpreted"
    tables = made.kernel.get(chosen)
    if tables is None:
        arrays = (
            *(prof[name] for name in ("codes", *LAYERS)),
            np.ascontiguousarray(t_basic.schedules, np.int64),
            t_basic.edges,
            t_basic.rates,
            t_basic.step.astype(np.int64),
            t_basic.basis_in_scope.astype(np.int64),
            t_critical.edges,
            t_critical.rates,
        )
        if native:
            # CPython runs the kernel on Python ints: indexing an object array returns the int
            # itself, not a numpy scalar, whose arithmetic is several times slower (exact either way)
            arrays = tuple(t.astype(object) for t in arrays)
        tables = made.kernel[chosen] = kernel.PolicyTables(*arrays, *sizes(vocab))

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
            person, year, month, scratch = person.tolist(), year.tolist(), month.tolist(), [0] * width
        else:
            gathered = np.empty((len(inputs), stop - start), np.int64)
            for column, target in zip(inputs, gathered):
                gather(rows, column, target)
            if not given:
                gathered = list(gathered) + [_NOTHING_GIVEN] * len(GIVEN_FIELDS)
            scratch = np.zeros(width, np.int64)
        out = np.empty((len(kernel.RESULTS), stop - start), np.int64)
        rows_in = kernel.ClaimRows(person, year, month, *gathered)
        settle_rows(rows_in, tables, first_group, init, final, scratch, out, traces)
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
            before[row] = from_vector(key, acc[0, at], vocab)
            after[row] = from_vector(key, acc[1, at], vocab)
    return Outcome(
        policy,
        claims,
        settled,
        cols,
        results,
        band_traces,
        variant,
        variants,
        {name: ProfileParams(prof[name], profile, layer.PARAMS) for name, layer in LAYERS.items()},
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
