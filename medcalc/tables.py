"""Batch scoring of tables: pyarrow Tables and record batches, pandas and polars DataFrames.

Everything passes through Arrow into the column engine (``medcalc.batch``): no per-row
objects. Columns take medcalc's names or the national interface's (psn_no, setl_time,
medfee_sumamt …); output columns of a settled file (row, hifp_pay …) are ignored, any
other unknown column is an error, so a misspelt optional column cannot silently read as 0.

Amounts: decimal columns are yuan (exact); integer columns are fen, or yuan with
``amounts="yuan"`` (what a file means by 150); text is yuan ("150", "1.5万", "150元");
floating-point columns are refused, since a float cannot hold every amount of fen exactly.

Which policy: one for the whole table, or per row from a ``policy`` column (ids) or a
``region`` column (with ``scheme`` if the region has several): each row is settled on the
policy of its region in force on its day, and each policy's rule versions by day.

Large inputs are settled a slice of people at a time (``chunk_rows``): accumulators
belong to a person, so slicing by person changes nothing but the memory needed.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path
from typing import Any, Iterable, Sequence

import attrs
import numpy as np

from .claims import FIELD_ALIASES, parse_day
from .errors import MedcalcError
from .money import AmountError, parse_amount
from .policy.model import Policy
from .policy.registry import find_policy, load_policy
from .settlement import Reject, Step

__all__ = ["ScoredTable", "settle_table", "to_arrow", "RESULT_FIELDS", "CLAIM_FIELDS", "REJECT_COLUMNS"]

#: Result columns in fen (int64), after row, claim_id, person_id, settled_on (and policy).
RESULT_FIELDS = ("total", "in_scope", "deductible", "basic", "critical", "assistance", "backstop", "funds", "patient")
REJECT_COLUMNS = ("row", "claim_id", "field", "reason")
_LAYERS = ("basic", "critical", "assistance", "backstop")
#: Result columns a table keeps while its parts settle; funds and patient follow from them.
_STORED = tuple(f for f in RESULT_FIELDS if f not in ("funds", "patient"))

_AMOUNTS = ("total", "self_funded", "over_limit", "pre_self_pay", "in_scope", "bed_fees", "nursing_fees")
_NAMES = ("level", "place", "referral", "category", "visit", "service", "scheme")
#: Columns the batch engine reads, beside the amounts and names.
CLAIM_FIELDS = ("person_id", "claim_id", "settled_on", "admitted_on", "age", "retired", "diseases", "certified",
                *_NAMES, *_AMOUNTS)
_ROUTING = ("policy", "region")
#: Columns of a settled file (ours or the national interface's): read back, they are not claim data.
_OUTPUT_COLUMNS = frozenset({"row", "deductible", "basic", "critical", "assistance", "backstop", "funds", "patient",
                             "act_pay_dedc", "hifp_pay", "hifmi_pay", "maf_pay", "backstop_pay", "fund_pay_sumamt",
                             "psn_part_amt", "tier"})
_REQUIRED = ("person_id", "settled_on", "level", "total")
#: Set by a reader on rows it could not read at all (the reason); they are refused as they are.
INVALID_COLUMN = "_invalid"
#: Below this many rows a table is settled in one piece: threads would cost more than they save.
_MIN_PARALLEL_ROWS = 1 << 16


@attrs.frozen
class ScoredTable:
    """Settled rows and rejected rows of one table, in input-row order.

    ``results``: row (0-based input row), claim_id, person_id, settled_on, policy, and the
    amounts of RESULT_FIELDS in fen. ``rejects``: row, claim_id, field, reason.
    Every input row is in exactly one of them. ``traces``: the explanation of chosen rows.
    """

    results: Any  # pyarrow.Table
    rejects: Any  # pyarrow.Table
    traces: dict[int, tuple[Step, ...]] = attrs.field(factory=dict)

    @property
    def rows(self) -> int:
        return self.results.num_rows + self.rejects.num_rows

    def reject_records(self) -> list[Reject]:
        return [Reject(r["row"], r["field"], r["reason"], r["claim_id"]) for r in self.rejects.to_pylist()]


def to_arrow(data: Any):
    """A pyarrow Table from a Table, RecordBatch, pandas or polars DataFrame, or a dict of columns."""
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    module = type(data).__module__
    if module.startswith("pandas"):
        return pa.Table.from_pandas(data, preserve_index=False)
    if module.startswith("polars"):
        return data.to_arrow()
    if isinstance(data, dict):
        return pa.table({k: v if type(v).__module__.startswith("pyarrow") else pa.array(np.asarray(v)) for k, v in data.items()})
    raise TypeError(f"cannot score a {type(data).__name__}: give a pyarrow Table or RecordBatch, "
                    "a pandas or polars DataFrame, or a dict of columns")


def canonical_names(names: Sequence[str]) -> dict[str, str]:
    """Column name -> medcalc field, for the claim and routing columns; unknown names are an error."""
    known = set(CLAIM_FIELDS) | set(_ROUTING)
    out: dict[str, str] = {}
    for name in names:
        field = FIELD_ALIASES.get(name, name)
        if field in _OUTPUT_COLUMNS:
            continue
        if field == INVALID_COLUMN:
            out[name] = field
            continue
        if field not in known:
            raise MedcalcError(f"column {name!r} is not a claim field; known: {', '.join(sorted(known))} "
                               f"(or the national interface's names: {', '.join(sorted(FIELD_ALIASES))})")
        if field in out.values():
            raise MedcalcError(f"column {name!r} gives {field!r} a second time")
        out[name] = field
    return out


def settle_table(
    data: Any,
    policy: Policy | str | Path | None = None,
    *,
    amounts: str = "fen",
    chunk_rows: int = 1 << 16,
    trace: Iterable[int] = (),
    first_row: int = 0,
    threads: int | None = None,
) -> ScoredTable:
    """Settle every row of a table of claims; see the module docstring for columns and policies.

    ``trace``: input rows (0-based) to explain step by step. ``first_row``: the number of the
    table's first row in the results (for a table that is one slice of a larger file).
    ``threads``: slices of people settled at once (default: the machine's cores); the
    results are the same for any number, since no two slices share a person.
    """
    import pyarrow as pa

    if amounts not in ("fen", "yuan"):
        raise ValueError("amounts must be 'fen' or 'yuan'")
    table = to_arrow(data)
    del data  # the table given is not kept: once its amounts are fen, its decimals can be freed
    fields = canonical_names(table.column_names)
    table = table.select(list(fields)).rename_columns([fields[c] for c in fields])
    n = table.num_rows
    collector = _Collector(table, first_row)
    readable = None  # rows a reader could read (None: all)
    if INVALID_COLUMN in table.column_names:
        invalid = table.column(INVALID_COLUMN).is_valid().to_numpy(zero_copy_only=False)
        reasons = table.column(INVALID_COLUMN).to_pylist()
        for reason in set(reasons) - {None}:
            collector.reject(np.flatnonzero(np.array([r == reason for r in reasons])), "row", reason)
        readable = np.flatnonzero(~invalid)
        table = table.drop_columns([INVALID_COLUMN])
    rows_left = readable  # input row numbers of the table's rows (None: the same, row for row)
    missing = [f for f in _REQUIRED if f not in table.column_names]
    if missing:  # every row is refused, none dropped
        collector.reject(np.arange(n) if rows_left is None else rows_left, missing[0],
                         "required: the file has no such column")
        return collector.finish(trace)
    if readable is not None:
        table = table.take(pa.array(readable))
    # Amounts become int64 fen once, for the whole table: half the memory of decimals, and the
    # slices of people below then copy 8 bytes an amount. Unreadable amounts are refused by row.
    refused: list[tuple[np.ndarray, str, str]] = []
    for name in [c for c in table.column_names if c in _AMOUNTS]:
        fen = _fen(table.column(name), name, amounts, refused, required=name == "total")
        table = table.set_column(table.column_names.index(name), name, pa.array(fen))
    marks = _row_marks(refused, table.num_rows)
    pool = pa.default_memory_pool()
    pool.release_unused()  # the decimals just replaced: returned, not kept by the allocator
    if n > chunk_rows:
        # Slices of people are gathered from every column many times, and gathering from one
        # buffer is ~10x faster than from many chunks. Combined a column at a time, so that when
        # the caller keeps no reference the chunked original is freed as its copy is made.
        for i, name in enumerate(table.column_names):
            if table.column(i).num_chunks > 1:
                table = table.set_column(i, name, table.column(i).combine_chunks())
                if readable is None and name in collector.table.column_names:  # its rows are the input's
                    collector.table = collector.table.set_column(collector.table.column_names.index(name), name,
                                                                 table.column(i))
                pool.release_unused()
    threads = max(1, threads if threads is not None else (os.cpu_count() or 1))
    if threads > 1 and n >= _MIN_PARALLEL_ROWS:  # at least one slice per thread
        chunk_rows = min(chunk_rows, -(-n // threads))

    def parts():
        for pol, rows in _route(table, policy, collector, rows_left):
            sub = table if rows is None else table.take(pa.array(rows))
            for chunk in _person_chunks(sub.column("person_id"), chunk_rows):
                # the part's rows as positions in ``table``, then as input row numbers
                at = (np.arange(sub.num_rows) if rows is None else rows) if chunk is None else (
                    chunk if rows is None else rows[chunk])
                yield pol, sub, chunk, (at if rows_left is None else rows_left[at]), at
            del sub

    def settle(pol, sub, chunk, where, at) -> None:
        part = sub if chunk is None else sub.take(pa.array(chunk))
        _settle_part(pol, part, where, collector, trace, [(np.flatnonzero(m[at]), f, r) for m, f, r in marks])
        del part
        pool.release_unused()  # each part's gathered columns: returned, so memory stays flat across parts

    _run_parts(parts(), settle, threads)
    del table  # amounts and names are settled: freed before the results are assembled
    pool.release_unused()
    return collector.finish(trace)


def _run_parts(parts, settle, threads: int) -> None:
    """Settle parts one after another, or ``threads`` at a time (never more in memory at once).

    Threads suffice: numpy and Arrow release the interpreter lock in their loops, and
    parts write disjoint rows of the collector.
    """
    if threads == 1:
        for part in parts:
            settle(*part)
        return
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    with ThreadPoolExecutor(threads) as executor:
        running: set = set()
        for part in parts:
            if len(running) >= threads:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    future.result()
            running.add(executor.submit(settle, *part))
        for future in running:
            future.result()


def _row_marks(refused: list[tuple[np.ndarray, str, str]], n: int) -> list[tuple[np.ndarray, str, str]]:
    """Refused rows as one boolean mask per (field, reason), so any slice of rows can look them up."""
    marks: dict[tuple[str, str], np.ndarray] = {}
    for rows, field, reason in refused:
        mask = marks.setdefault((field, reason), np.zeros(n, bool))
        mask[rows] = True
    return [(mask, field, reason) for (field, reason), mask in marks.items()]


class _Collector:
    """Gathers settled and rejected rows of the parts, and returns them in input-row order."""

    def __init__(self, table, first_row: int) -> None:
        # only the columns results repeat are kept (not the amounts: they are replaced by fen)
        self.table = table.select([c for c in ("claim_id", "person_id", "settled_on") if c in table.column_names])
        self.first_row = first_row
        n = table.num_rows
        # results go straight to their input row: no list of parts to gather and copy at the end
        self.seen = np.zeros(n, np.int8)
        self.is_settled = np.zeros(n, bool)
        self.values: dict[str, np.ndarray] = {}
        self.policy_code = np.zeros(n, np.int32)
        self.policy_ids: list[str] = []
        self._lock = threading.Lock()  # parts settle in threads; each writes only its own rows
        self.reject_groups: list[tuple[np.ndarray, str, str]] = []
        self.traces: dict[int, tuple[Step, ...]] = {}

    def reject(self, rows: np.ndarray, field: str, reason: str) -> None:
        if len(rows):
            rows = np.asarray(rows, np.int64)
            self.seen[rows] += 1
            self.reject_groups.append((rows, field, reason))

    def settled(self, rows: np.ndarray, columns: dict[str, np.ndarray], policy_id: str) -> None:
        with self._lock:
            if not self.values:
                self.values = {name: np.zeros(len(self.seen), np.int64) for name in _STORED}
            if policy_id not in self.policy_ids:
                self.policy_ids.append(policy_id)
            code = self.policy_ids.index(policy_id)
        for name in _STORED:
            self.values[name][rows] = columns[name]
        # funds and patient are not stored but derived at the end: the identity they rest on is checked
        funds = sum(columns[name] for name in _LAYERS)
        if not (np.array_equal(funds, columns["funds"]) and np.array_equal(columns["total"] - funds, columns["patient"])):
            raise RuntimeError("a settled row breaks total = funds + patient")
        self.seen[rows] += 1
        self.is_settled[rows] = True
        self.policy_code[rows] = code

    def finish(self, trace: Iterable[int]) -> ScoredTable:
        import pyarrow as pa

        n = self.table.num_rows
        # every input row exactly once, settled or rejected: checked, never assumed
        seen = self.seen
        if not (seen == 1).all():
            settled, rejected = int(self.is_settled.sum()), sum(len(g[0]) for g in self.reject_groups)
            raise RuntimeError(f"{n} rows in but {settled} settled and {rejected} rejected, "
                               f"{int((seen == 0).sum())} missing and {int((seen > 1).sum())} twice")
        rows = np.flatnonzero(self.is_settled)
        every = len(rows) == n  # then the result columns are the arrays themselves, not copies
        taken = pa.array(rows)
        results = {"row": pa.array(rows + self.first_row)}
        for name in ("claim_id", "person_id", "settled_on"):
            if name in self.table.column_names:
                results[name] = self.table.column(name).take(taken)
        codes = self.policy_code if every else self.policy_code[rows]
        results["policy"] = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(self.policy_ids, pa.string()))
        columns: dict[str, np.ndarray] = {}
        for name in _STORED:  # one column copied at a time, the full-length array freed after it
            values = self.values.pop(name, None)
            columns[name] = np.zeros(len(rows), np.int64) if values is None else values if every else values[rows]
            del values
        columns["funds"] = sum(columns[name] for name in _LAYERS)
        columns["patient"] = columns["total"] - columns["funds"]
        for name in RESULT_FIELDS:
            results[name] = pa.array(columns.pop(name))
        groups = self.reject_groups
        reject_rows = np.concatenate([g[0] for g in groups]) if groups else np.zeros(0, np.int64)
        reasons = list(dict.fromkeys((g[1], g[2]) for g in groups))  # one dictionary entry per distinct reason
        which = np.repeat([reasons.index((g[1], g[2])) for g in groups], [len(g[0]) for g in groups]).astype(np.int32)
        by_row = np.argsort(reject_rows, kind="stable")
        reject_rows, which = reject_rows[by_row], which[by_row]
        ids_col = (self.table.column("claim_id").take(pa.array(reject_rows)).cast(pa.string())
                   if "claim_id" in self.table.column_names else pa.nulls(len(reject_rows), pa.string()))
        rejects = pa.table({
            "row": pa.array(reject_rows + self.first_row),
            "claim_id": ids_col,
            "field": pa.DictionaryArray.from_arrays(pa.array(which, pa.int32()), pa.array([f for f, _ in reasons], pa.string())),
            "reason": pa.DictionaryArray.from_arrays(pa.array(which, pa.int32()), pa.array([r for _, r in reasons], pa.string())),
        })
        return ScoredTable(pa.table(results), rejects, self.traces)


def _route(table, policy, collector: _Collector, numbers: np.ndarray):
    """(policy, rows or None for all) pairs: the one policy given, or each row's by its columns.

    Rows are positions in ``table``; ``numbers`` are their input row numbers (for rejects).
    """
    if policy is not None:
        yield (policy if isinstance(policy, Policy) else load_policy(policy)), None
        return
    from .batch import factorize

    if numbers is None:  # positions are the input rows
        numbers = np.arange(table.num_rows)

    if "policy" in table.column_names:
        names, codes = factorize(table.column("policy"))
        for code, name in enumerate(names):
            rows = np.flatnonzero(codes == code)
            if not len(rows) or name is None:
                continue
            try:
                yield load_policy(str(name)), rows
            except MedcalcError as exc:
                collector.reject(numbers[rows], "policy", str(exc))
        if None in names:
            collector.reject(numbers[codes == names.index(None)], "policy", "required")
        return
    if "region" not in table.column_names:
        raise MedcalcError("no policy given: name one, or give the claims a 'policy' column (ids) "
                           "or a 'region' column (with 'scheme' where a region has several)")
    undated: list[tuple[np.ndarray, str, str]] = []
    day = _days(table.column("settled_on"), undated)
    scheme = table.column("scheme") if "scheme" in table.column_names else None
    regions, region_code = factorize(table.column("region"))
    schemes, scheme_code = factorize(scheme) if scheme is not None else ([None], np.zeros(len(day), np.int64))
    valid = ~np.isnat(day)
    for rows, field, reason in undated:  # a row without a day has no policy in force
        collector.reject(numbers[rows], field, reason)
    key = (region_code * len(schemes) + scheme_code) * 1_000_000 + np.where(valid, day.astype(np.int64), 0) + 100_000
    keys, key_code = np.unique(key[valid], return_inverse=True)
    found: dict[str, Policy] = {}
    key_policy = np.full(len(keys), -1, np.int64)
    problems: dict[str, list[int]] = {}
    for k, value in enumerate(keys.tolist()):
        combo, offset = divmod(value, 1_000_000)
        region, sch = regions[combo // len(schemes)], schemes[combo % len(schemes)]
        on = dt.date(1970, 1, 1) + dt.timedelta(days=offset - 100_000)
        if region is None:
            problems.setdefault("required", []).append(k)
            continue
        try:
            pol = find_policy(str(region), on, scheme=None if sch is None else str(sch))
        except MedcalcError as exc:
            problems.setdefault(str(exc), []).append(k)
            continue
        found.setdefault(pol.id, pol)
        key_policy[k] = list(found).index(pol.id)
    live = np.flatnonzero(valid)
    for reason, ks in problems.items():
        collector.reject(numbers[live[np.isin(key_code, ks)]], "region", reason)
    assigned = np.full(len(day), -1, np.int64)
    assigned[live] = key_policy[key_code]
    for index, pol in enumerate(found.values()):
        yield pol, np.flatnonzero(assigned == index)


def _person_chunks(person, chunk_rows: int):
    """Row sets of whole people, each about ``chunk_rows`` rows (None: the table in one piece)."""
    if len(person) <= chunk_rows:
        yield None
        return
    from .batch import factorize

    _, code = factorize(person)
    counts = np.bincount(code)
    chunk_of_person = (np.cumsum(counts) - counts) // chunk_rows
    chunk = chunk_of_person[code].astype(np.int32)
    del code, counts  # only the order is kept while the chunks are settled
    order = np.argsort(chunk, kind="stable")
    bounds = np.searchsorted(chunk[order], np.arange(chunk_of_person[-1] + 2))
    del chunk
    for c in range(len(bounds) - 1):
        yield order[bounds[c]:bounds[c + 1]]


def _settle_part(policy: Policy, part, where: np.ndarray, collector: _Collector, trace,
                 rejected: list[tuple[np.ndarray, str, str]]) -> None:
    """Settle one slice of whole people on one policy; rows are numbered ``where`` in the input.

    Amounts are int64 fen already; ``rejected``: rows of the part refused so far (field, reason).
    """
    from .batch import settle_arrays

    rejected = [r for r in rejected if len(r[0])]
    kwargs: dict[str, Any] = {}
    for name in part.column_names:
        column = part.column(name)
        if name in _AMOUNTS:
            kwargs[name] = column.to_numpy()
        elif name in ("settled_on", "admitted_on"):
            day = _days(column, rejected, name)
            if name == "settled_on":
                kwargs[name] = day
        elif name in ("age", "retired"):
            kwargs[name] = _integers(column, name, rejected, default=-1 if name == "age" else 0)
        elif name in CLAIM_FIELDS:
            kwargs[name] = column
    wanted = sorted({int(r) for r in trace} & set(where.tolist())) if trace else []
    batch = settle_arrays(policy, **kwargs, rejected=rejected, trace=bool(wanted))
    for rows, field, reason in batch.reject_groups:
        collector.reject(where[rows], field, reason)
    collector.settled(where[batch.row], dict(batch.columns), policy.id)
    if wanted:
        from .explain import steps_for

        outcome = batch._outcome
        settled = set(batch.row.tolist())
        local = {int(w): i for i, w in enumerate(where.tolist())}
        for row in wanted:
            i = local[row]
            if i in settled:
                r = {k: int(v[i]) for k, v in outcome.results.items()}
                c = {k: int(v[i]) for k, v in outcome.columns.items()}
                collector.traces[row] = tuple(steps_for(outcome, i, r, c))


def _fen(column, name: str, amounts: str, rejected: list, *, required: bool) -> np.ndarray:
    """An amount column as int64 fen; rows that are not amounts are refused, not zeroed."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    kind = column.type
    nulls = column.is_null().to_numpy(zero_copy_only=False) if column.null_count else None
    if required and nulls is not None:
        rejected.append((np.flatnonzero(nulls), name, "required: an amount of yuan such as 12000 or \"1.2万\""))
    if pa.types.is_null(kind):
        return np.zeros(len(column), np.int64)
    if pa.types.is_floating(kind):
        raise MedcalcError(f"column {name!r} holds floating-point numbers ({kind}), which cannot carry every amount of "
                           "fen exactly; give decimals, integer fen or text")
    if pa.types.is_integer(kind):
        values = column.fill_null(0).to_numpy().astype(np.int64)
        if amounts == "yuan":
            too_big = np.abs(values) > (1 << 62) // 100
            if too_big.any():
                rejected.append((np.flatnonzero(too_big), name, "amount is out of range"))
            values = np.where(too_big, 0, values) * 100
        return values
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        try:
            column = pc.cast(column, pa.decimal128(38, 2))
            kind = column.type
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return _fen_from_text(column, name, rejected)
    if pa.types.is_decimal(kind):
        return _fen_from_decimal(column, name, rejected)
    raise MedcalcError(f"column {name!r} has type {kind}; amounts are decimals, integers or text")


def _fen_from_text(column, name: str, rejected: list) -> np.ndarray:
    """Text amounts the fast cast could not read ("1.5万", "150元", or mistakes): one parse per distinct value."""
    from .batch import factorize

    names, code = factorize(column)
    fen = np.zeros(len(names), np.int64)
    errors: dict[str, list[int]] = {}
    for i, value in enumerate(names):
        if value is None or value == "":
            continue
        try:
            fen[i] = int(parse_amount(str(value)))
        except AmountError as exc:  # worded as the claim record words it
            errors.setdefault(f"{str(exc).split(' (got')[0]} (got {value!r})", []).append(i)
    for reason, codes in errors.items():
        rejected.append((np.flatnonzero(np.isin(code, codes)), name, reason))
    return fen[code]


def _fen_from_decimal(column, name: str, rejected: list) -> np.ndarray:
    """Decimal yuan to fen exactly, from the unscaled 128-bit integers Arrow stores."""
    import pyarrow as pa

    scale = column.type.scale
    parts = []
    for chunk in (column.chunks if isinstance(column, pa.ChunkedArray) else [column]):
        if pa.types.is_decimal64(chunk.type):  # 64-bit unscaled values: read as they are
            low = np.frombuffer(chunk.buffers()[1], dtype=np.int64)[chunk.offset: chunk.offset + len(chunk)]
            if chunk.null_count:
                low = np.where(chunk.is_valid().to_numpy(zero_copy_only=False), low, 0)
            parts.append((low, np.zeros(len(low), bool)))
            continue
        if not pa.types.is_decimal128(chunk.type):
            chunk = chunk.cast(pa.decimal128(38, scale))
        words = np.frombuffer(chunk.buffers()[1], dtype=np.int64)[2 * chunk.offset: 2 * (chunk.offset + len(chunk))]
        low, high = words[0::2], words[1::2]
        fits = high == (low >> 63)  # the 128-bit value is the sign extension of its low word
        if chunk.null_count:
            valid = chunk.is_valid().to_numpy(zero_copy_only=False)
            low, fits = np.where(valid, low, 0), fits | ~valid
        parts.append((np.where(fits, low, 0), ~fits))
    unscaled = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    overflow = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, bool)
    if overflow.any():
        rejected.append((np.flatnonzero(overflow), name, "amount is out of range"))
    if scale <= 2:
        return unscaled * 10 ** (2 - scale)
    step = 10 ** (scale - 2)
    finer = unscaled % step != 0
    if finer.any():
        rejected.append((np.flatnonzero(finer), name, "amount has more than two decimals of a yuan (fen)"))
    return unscaled // step


def _days(column, rejected: list | None = None, name: str = "settled_on") -> np.ndarray:
    """Dates as datetime64[D]; text that is not a date is refused by row (NaT)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    kind = column.type
    if pa.types.is_timestamp(kind) or pa.types.is_date64(kind):
        column = pc.cast(column, pa.date32())
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        try:
            column = pc.cast(column, pa.date32())
        except pa.ArrowInvalid:
            return _days_from_text(column, rejected, name)
    elif not pa.types.is_date32(kind):
        raise MedcalcError(f"column {name!r} has type {kind}; dates are dates, timestamps or text such as 2025-03-01")
    days = column.to_numpy(zero_copy_only=False).astype("datetime64[D]") if len(column) else np.zeros(0, "datetime64[D]")
    if rejected is not None and name == "settled_on" and column.null_count:
        rejected.append((np.flatnonzero(np.isnat(days)), name, "required: a date such as 2025-03-01"))
    return days


def _days_from_text(column, rejected: list | None, name: str) -> np.ndarray:
    from .batch import factorize

    names, code = factorize(column)
    days = np.full(len(names), np.datetime64("NaT"), "datetime64[D]")
    bad: dict[int, str] = {}
    for i, value in enumerate(names):
        if value is None or value == "":
            continue
        try:
            days[i] = np.datetime64(parse_day(str(value)).isoformat())
        except ValueError:
            bad[i] = str(value)
    out = days[code]
    if rejected is not None:
        for i, value in bad.items():
            rejected.append((np.flatnonzero(code == i), name, f"a date such as 2025-03-01 (got {value!r})"))
        if name == "settled_on":
            rejected.append((np.flatnonzero(np.isnat(out) & ~np.isin(code, list(bad))), name,
                             "required: a date such as 2025-03-01"))
    return out


def _integers(column, name: str, rejected: list, default: int) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_boolean(column.type):
        column = pc.cast(column, pa.int64())
    if not pa.types.is_integer(column.type):
        try:
            column = pc.cast(column, pa.int64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise MedcalcError(f"column {name!r} must hold whole numbers (got {column.type})") from None
    return column.fill_null(default).to_numpy().astype(np.int64)
