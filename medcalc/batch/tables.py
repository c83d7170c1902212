"""Batch scoring of tables: pyarrow Tables and record batches, pandas and polars DataFrames.

Everything passes through Arrow into the column engine (``medcalc.batch.columns``): no per-row
objects. Columns take medcalc's names or the national interface's (psn_no, setl_time,
medfee_sumamt …) or its Chinese labels, headers normalized first (``medcalc.batch.headers``:
spaces, full-width forms, traditional characters, a unit in brackets); output columns of a
settled file (row, hifp_pay …) are ignored; any other column is passed through unused (listed in
``ScoredTable.unused``), except a name within a small edit distance of a known one, which is an
error ("did you mean"), so a misspelt optional column cannot silently read as 0.

Amounts, one rule: decimal columns are yuan (exact); text is yuan ("150", "1.5万", "150元");
an integer column under the national interface's name (medfee_sumamt, fulamt_ownpay_amt,
overlmt_selfpay, preselfpay_amt, inscp_scp_amt) or a Chinese name (医疗费总额, 全自费金额 …) is
yuan, as the interface defines it, whatever ``amounts`` says; an integer column under a medcalc
name (total, self_funded …) has the unit ``amounts`` states, "fen" or "yuan", and with no unit
stated (``amounts=None``, the default) it is refused (UnitNotStated) rather than guessed.
Floating-point columns are refused, since a float cannot hold every amount of fen exactly.

Which policy: one for the whole table, or per row from a ``policy`` column (ids) or a
``region`` column (with ``scheme`` if the region has several): each row is settled on the
policy of its region in force on its day, and each policy's rule versions by day.

Each policy's rows are settled in one call of the engine, which puts them in settlement
order and runs the kernel on chunks of whole people (``chunk_rows``), several at once
(``threads``): accumulators belong to a person, so chunking changes nothing but the time.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast

import attrs
import numpy as np

from ..claims import AMOUNT_FIELDS, FIELD_ALIASES, GIVEN_FIELDS, GIVEN_LAYERS, MAX_TOTAL
from ..engine.checks import NOT_GIVEN
from ..errors import MedcalcError, UnitNotStated
from ..policy.model import Policy
from ..policy.registry import find_policy, load_policy, policy_by_id
from ..settlement import Reject, Step
from ..vocabulary import CHINESE_NAMES
from .cells import BLANK_PATTERN, amount_column, day_column, flag_column, is_integer_column, whole_number_column
from .headers import HeaderMatch, match_headers, normalize

__all__ = [
    "ScoredTable",
    "settle_table",
    "to_arrow",
    "read_header",
    "canonical_names",
    "names_a_header",
    "ROW_COLUMN",
    "RowNumbers",
    "split_row_numbers",
    "RESULT_FIELDS",
    "CLAIM_FIELDS",
    "REJECT_COLUMNS",
]

#: Result columns in fen (int64), after row, claim_id, person_id, settled_on (and policy).
RESULT_FIELDS = ("total", "in_scope", "deductible", "basic", "critical", "assistance", "backstop", "funds", "patient")
REJECT_COLUMNS = ("row", "claim_id", "field", "reason")
_LAYERS = ("basic", "critical", "assistance", "backstop")
#: Result columns a table keeps while its parts settle; funds and patient follow from them.
_STORED = tuple(f for f in RESULT_FIELDS if f not in ("funds", "patient"))
_STORED_MAX = np.iinfo(np.int32).max
assert MAX_TOTAL <= _STORED_MAX  # so every stored amount (none exceeds its total) fits

_AMOUNTS = AMOUNT_FIELDS
_NAMES = ("level", "place", "referral", "category", "visit", "service", "scheme")
#: Columns the batch engine reads, beside the amounts and names.
CLAIM_FIELDS = (
    "person_id",
    "claim_id",
    "settled_on",
    "admitted_on",
    "age",
    "retired",
    "diseases",
    "certified",
    *_NAMES,
    *_AMOUNTS,
)
_ROUTING = ("policy", "region")
#: Columns of a settled file (ours or the national interface's): read back, they are not claim data.
_OUTPUT_COLUMNS = frozenset(
    {
        "row",
        "deductible",
        "basic",
        "critical",
        "assistance",
        "backstop",
        "funds",
        "patient",
        "act_pay_dedc",
        "hifp_pay",
        "hifmi_pay",
        "maf_pay",
        "backstop_pay",
        "fund_pay_sumamt",
        "psn_part_amt",
        "tier",
        # the Chinese headers of a settled file (--names chinese)
        *(CHINESE_NAMES[f] for f in ("row", *RESULT_FIELDS[2:])),
    }
)
_REQUIRED = ("person_id", "settled_on", "level", "total")
#: Set by a reader on rows it could not read at all (``invalid_reason``); they are refused as they are.
INVALID_COLUMN = "_invalid"
#: Set by a reader to each row's number as the user sees it (a CSV line, a sheet's row); without it,
#: rows are numbered ``first_row`` + position.
ROW_COLUMN = "_row"
_FIELD_MARK = "\x1f"  # between the field and the reason in an INVALID_COLUMN value


#: Why a row whose id column holds floating-point numbers is refused (a frame's float64 ids, an
#: 18-digit 身份证号 become another number: two people would merge).
FLOAT_ID = (
    "an id stored as a floating-point number, which cannot hold every id exactly (18 digits become "
    "another number, and two people's claims would merge); store the column as text"
)


def invalid_reason(field: str, reason: str) -> str:
    """The INVALID_COLUMN value refusing a row for ``reason``, naming ``field`` (the file's key, or "row")."""
    return f"{field}{_FIELD_MARK}{reason}"


#: Below this many rows a table is settled in one piece: threads would cost more than they save.
_MIN_PARALLEL_ROWS = 1 << 16


@attrs.frozen
class ScoredTable:
    """Settled rows and rejected rows of one table, in input-row order.

    ``results``: row (0-based input row), claim_id, person_id, settled_on, policy, and the
    amounts of RESULT_FIELDS in fen. ``rejects``: row, claim_id, field, reason.
    Every input row is in exactly one of them. ``traces``: the explanation of chosen rows.
    ``persons``: how many people the settled rows belong to.
    """

    results: Any  # pyarrow.Table
    rejects: Any  # pyarrow.Table
    traces: dict[int, tuple[Step, ...]] = attrs.field(factory=dict)
    #: Distinct persons among the settled rows (None: not counted), known while settling.
    persons: int | None = None
    #: The table's columns that are no claim field, in table order (passed through, not read).
    unused: tuple[str, ...] = ()
    #: With ``keep_columns``: the input's columns of the settled rows (in ``results``' order, dates
    #: as date32) and of the rejected rows (in ``rejects``' order, as given); else None.
    inputs: Any = None
    rejected_inputs: Any = None
    #: The fields the input's columns give (total, in_scope, policy …) -> the column as the input names it.
    input_fields: dict[str, str] = attrs.field(factory=dict)
    #: Rows of nothing but empty cells, skipped as blank lines are (in no count of rows).
    skipped: int = 0

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
        return pa.table(
            {k: v if type(v).__module__.startswith("pyarrow") else pa.array(np.asarray(v)) for k, v in data.items()}
        )
    raise TypeError(
        f"cannot score a {type(data).__name__}: give a pyarrow Table or RecordBatch, "
        "a pandas or polars DataFrame, or a dict of columns"
    )


#: The columns that give a layer's payment in a settled file (``given=``): the national interface's
#: name, medcalc's result and its Chinese label, read as the layer's claim field (claims.GIVEN_LAYERS).
GIVEN_SOURCES = {
    "basic": ("hifp_pay", "basic", CHINESE_NAMES["basic"]),
    "critical": ("hifmi_pay", "hifob_pay", "critical", CHINESE_NAMES["critical"]),
}
assert set(GIVEN_SOURCES) == set(GIVEN_LAYERS)


def check_given(given: Iterable[str]) -> frozenset[str]:
    """The layers of ``given=``, each one of GIVEN_LAYERS."""
    given = frozenset(given)
    unknown = sorted(given - set(GIVEN_LAYERS))
    if unknown:
        raise MedcalcError(
            f"given: {unknown[0]!r} is not a layer whose payment a file may give; one of " + ", ".join(GIVEN_LAYERS)
        )
    if "critical" in given and "basic" not in given:  # (as claims.Claim: 大病's figures only with basic's)
        raise MedcalcError(
            "given: critical needs basic too (a 大病 payment settled elsewhere goes with the basic "
            "payment it was settled after)"
        )
    return given


def read_header(names: Sequence[str], given: Iterable[str] = ()) -> HeaderMatch:
    """What a table's column names say (``medcalc.batch.headers``): the claim and routing columns
    (named as medcalc, the national interface or its Chinese labels do, headers normalized), the
    units their brackets state, the columns passed through unused, and a settled file's results,
    ignored. A name close to a known one, or a field given twice, is a MedcalcError.

    ``given``: layers (GIVEN_LAYERS) whose payment columns, otherwise ignored as a settled file's
    results, are read as amounts the claims give (basic_paid, critical_paid)."""
    taken = {name: GIVEN_LAYERS[layer] for layer in check_given(given) for name in GIVEN_SOURCES[layer]}
    known = {**{f: f for f in (*CLAIM_FIELDS, *_ROUTING)}, **FIELD_ALIASES, **taken}
    names = list(names)
    match = match_headers(
        [n for n in names if n not in (INVALID_COLUMN, ROW_COLUMN)], known, _OUTPUT_COLUMNS - set(taken)
    )
    if INVALID_COLUMN in names:  # a reader's own column: rows it could not read
        match.fields[INVALID_COLUMN] = INVALID_COLUMN
    return match


@attrs.frozen
class RowNumbers:
    """A table's positions as the rows its user sees: a reader's numbers (ROW_COLUMN: a CSV line,
    a sheet's row) where it gave them, else ``first_row`` + position. For code that settles a table
    and reports on its rows by position (reconciliation, fund impact)."""

    numbers: Any = None  # np.ndarray of int64, or None
    first_row: int = 0

    def __call__(self, positions):
        positions = np.asarray(positions, np.int64)
        return self.numbers[positions] if self.numbers is not None else positions + self.first_row


def split_row_numbers(table, first_row: int = 0):
    """(the table without ROW_COLUMN, its RowNumbers): settled, the table numbers its rows by position."""
    if ROW_COLUMN not in table.column_names:
        return table, RowNumbers(None, first_row)
    numbers = table.column(ROW_COLUMN).to_numpy().astype(np.int64)
    return table.drop_columns([ROW_COLUMN]), RowNumbers(numbers, first_row)


def names_a_header(cells: Sequence[object]) -> bool:
    """Whether a row of cells is a claims header: two or more of them name claim fields, routing
    columns or results, as ``read_header`` matches names. Title rows above a bureau's header (a
    sheet's name, 制表单位, a group label over merged cells) name none, or one."""
    keys = _header_keys()
    return sum(1 for cell in cells if isinstance(cell, str) and normalize(cell).key in keys) >= 2


@functools.lru_cache(maxsize=1)
def _header_keys() -> frozenset[str]:
    names = (
        *CLAIM_FIELDS,
        *_ROUTING,
        *FIELD_ALIASES,
        *_OUTPUT_COLUMNS,
        *(n for s in GIVEN_SOURCES.values() for n in s),
    )
    return frozenset(normalize(name).key for name in names)


def canonical_names(names: Sequence[str], given: Iterable[str] = ()) -> dict[str, str]:
    """Column name -> medcalc field, for the claim and routing columns (``read_header``'s fields)."""
    return read_header(names, given).fields


def settle_table(
    data: Any,
    policy: Policy | str | Path | None = None,
    *,
    amounts: str | None = None,
    chunk_rows: int = 1 << 15,
    trace: Iterable[int] = (),
    first_row: int = 0,
    threads: int | None = None,
    engine: str | None = None,
    given: Iterable[str] = (),
    keep_columns: bool = False,
) -> ScoredTable:
    """Settle every row of a table of claims; see the module docstring for columns and policies.

    ``amounts``: the unit of integer amount columns under medcalc's names, "fen" or "yuan"; None
    (the default) refuses such a column with UnitNotStated. Integer columns under the national
    interface's or Chinese names are yuan, and decimals and text are yuan, whatever it says.

    ``trace``: input rows (0-based) to explain step by step. ``first_row``: the number of the
    table's first row in the results (for a table that is one slice of a larger file).
    ``threads``: chunks of whole people (about ``chunk_rows`` rows each) settled at once
    (default: the machine's cores); the results are the same for any number, since no two
    chunks share a person. ``engine``:
    "auto" (compiled from 20 000 rows), "compiled" or "interpreted": the same kernel, to the fen.
    ``given``: layers ("basic", "critical") whose payment columns (hifp_pay, hifmi_pay or hifob_pay,
    or medcalc's basic / critical) are read as settled elsewhere: those layers are not computed.
    ``keep_columns``: also return the input's own columns (every one but a settled file's results,
    as given, in input order) of the settled rows (``ScoredTable.inputs``, dates as dates) and of
    the rejected rows (``ScoredTable.rejected_inputs``, as given), for the user's sheet back.
    """
    import pyarrow as pa

    from ..engine.compiled import choose_engine

    check_amounts(amounts)
    table = to_arrow(data)
    del data  # the table given is not kept: once its amounts are fen, its decimals can be freed
    # each row's number as the user sees it (a reader's ROW_COLUMN), else first_row + position
    table, shown = split_row_numbers(table, first_row)
    blank = _blank_rows(table)  # rows of nothing but empty cells: skipped, as a blank line is
    header = read_header(table.column_names, given)
    fields = header.fields
    if table.num_columns and not set(fields.values()) & set(CLAIM_FIELDS):
        shown = ", ".join(repr(c) for c in table.column_names[:8]) + (" …" if table.num_columns > 8 else "")
        raise MedcalcError(
            f"no column is a claim field (the columns: {shown}); the claims need at least person_id, "
            "settled_on, level and total, named as medcalc, the national interface or its Chinese "
            "labels do (人员编号, 结算日期, 医院等级, 医疗费总额)"
        )
    inputs = (
        table.select([c for c in table.column_names if c not in header.ignored and c != INVALID_COLUMN])
        if keep_columns
        else None
    )
    table = table.select(list(fields)).rename_columns([fields[c] for c in fields])
    table = _stated_units(table, header.units)
    n = table.num_rows
    engine = choose_engine(engine, n)  # once for the table, whatever the size of its parts
    threads = max(1, threads if threads is not None else (os.cpu_count() or 1))
    collector = _Collector(table, shown, threads, engine)
    collector.names = {field: name for name, field in fields.items() if name != field}
    collector.unused = header.unused
    collector.fields = {field: name for name, field in fields.items() if field != INVALID_COLUMN}
    collector.inputs = inputs
    del inputs
    # integer amounts are yuan under the national interface's or a Chinese name, or a header stating 元
    yuan_columns = frozenset(
        field for name, field in fields.items() if normalize(name).key != field or header.units.get(field)
    )
    table = _binary_as_text(table, collector.names)
    readable = None  # rows a reader could read and that are not blank (None: all)
    if INVALID_COLUMN in table.column_names:
        invalid = table.column(INVALID_COLUMN).is_valid().to_numpy(zero_copy_only=False)
        from .arrays import factorize

        reasons, code = factorize(table.column(INVALID_COLUMN))  # one pass, however many reasons
        for index, reason in enumerate(reasons):
            if reason is not None:
                field, _, why = reason.rpartition(_FIELD_MARK)
                collector.reject(np.flatnonzero(code == index), field or "row", why)
        if blank is not None:
            blank &= ~invalid
        readable = ~invalid
        table = table.drop_columns([INVALID_COLUMN])
    if blank is not None:
        collector.skip(np.flatnonzero(blank))
        readable = ~blank if readable is None else readable & ~blank
    if readable is not None:
        readable = np.flatnonzero(readable)
    rows_left = readable  # input row numbers of the table's rows (None: the same, row for row)
    missing = [f for f in _REQUIRED if f not in table.column_names]
    if missing:  # every row is refused, none dropped (but the blank ones)
        collector.reject(
            np.arange(n) if rows_left is None else rows_left, missing[0], "required: the file has no such column"
        )
        return collector.finish(trace)
    if readable is not None:
        table = table.take(_int_array(readable))
    refused: list[tuple[np.ndarray, str, str]] = []
    table = _amounts_as_fen(table, amounts, refused, threads, aliased=yuan_columns)
    # person ids as codes, once for the whole table: parts are cut by them and settle on them
    person = _person_codes(table.column("person_id"))
    if (person < 0).any():
        refused.append((np.flatnonzero(person < 0), "person_id", "required"))
    for field in ("person_id", "claim_id"):  # an id is text: a float holds no 18 digits exactly
        if field in table.column_names and pa.types.is_floating(table.column(field).type):
            refused.append((np.arange(table.num_rows), field, FLOAT_ID))
    pool = pa.default_memory_pool()
    pool.release_unused()  # the decimals just replaced: returned, not kept by the allocator
    for pol, rows in list(_route(table, policy, collector, rows_left)):
        # one call per policy, over all of its rows: the engine settles them in chunks of whole
        # people (``chunk_rows``), ``threads`` chunks at once
        part = table if rows is None else table.take(_int_array(rows))
        if rows is None:  # the input row of each of the part's rows (None: the same, row for row)
            where = rows_left
        else:
            where = rows if rows_left is None else rows_left[rows]
        refused_here = refused if rows is None else _restricted(refused, rows, table.num_rows)
        _settle_part(
            pol,
            part,
            person if rows is None else person[rows],
            where,
            collector,
            trace,
            refused_here,
            engine,
            threads,
            chunk_rows,
        )
        del part
    del table, person, refused
    pool.release_unused()
    if n >= _MIN_PARALLEL_ROWS:
        _trim_c_heap()
    return collector.finish(trace)


def _blank_rows(table) -> np.ndarray | None:
    """Rows whose every cell is empty (null, or text of nothing but white space), as a bool array;
    None when there is none. Such a row (``,,,,,,`` in CSV, an empty line kept as one, ``{}`` in
    JSON lines, an empty row of a sheet) is skipped as a blank line is: neither settled nor rejected.
    Only rows whose first column is empty are looked at, so a file without blanks costs one check."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = [c for c in table.column_names if c != INVALID_COLUMN]
    if not names or not table.num_rows:
        return None

    def empty(column) -> np.ndarray:
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        out = column.is_null()
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            out = pc.or_(out, pc.fill_null(pc.match_substring_regex(column, BLANK_PATTERN), True))
        return out.to_numpy(zero_copy_only=False).astype(bool)

    first = table.column(names[0])
    if not first.null_count and not (pa.types.is_string(first.type) or pa.types.is_large_string(first.type)):
        return None
    candidates = _may_be_blank(first)
    if candidates is None:
        candidates = np.flatnonzero(empty(first))
    elif len(candidates):
        candidates = candidates[empty(first.take(_int_array(candidates)))]
    if not len(candidates):
        return None
    part = table.select(names[1:]).take(_int_array(candidates))
    keep = np.ones(len(candidates), bool)
    for column in part.columns:
        keep &= empty(column)
    if not keep.any():
        return None
    blank = np.zeros(table.num_rows, bool)
    blank[candidates[keep]] = True
    return blank


#: First bytes of a UTF-8 cell of nothing but white space (str.isspace): ASCII controls 9-13 and
#: 28-31, the space, and the lead bytes of U+0085/U+00A0 (0xC2), U+1680 (0xE1), U+2000-U+205F
#: (0xE2) and U+3000 (0xE3).
_BLANK_LEADS = np.zeros(256, bool)
_BLANK_LEADS[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 0xC2, 0xE1, 0xE2, 0xE3]] = True


def _may_be_blank(column) -> np.ndarray | None:
    """Rows of a text column that may be blank (null, empty, or starting with a byte that white
    space starts with), from its buffers with numpy: one look at each cell's first byte instead of
    a regular expression over every cell. None where the column is not plain text."""
    import pyarrow as pa

    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return None
    out, base = [], 0
    for chunk in column.chunks if isinstance(column, pa.ChunkedArray) else [column]:
        n = len(chunk)
        if n:
            wide = pa.types.is_large_string(chunk.type)
            _, offsets_buffer, data_buffer = chunk.buffers()
            offsets_buffer = cast(pa.Buffer, offsets_buffer)  # (a string array of n > 0 rows always has offsets)
            offsets = np.frombuffer(memoryview(offsets_buffer), np.int64 if wide else np.int32)[
                chunk.offset : chunk.offset + n + 1
            ]
            data = np.frombuffer(memoryview(data_buffer), np.uint8) if data_buffer is not None else None
            if data is None or not len(data):
                data = np.zeros(1, np.uint8)  # (every cell empty)
            starts = offsets[:-1]
            empty = offsets[1:] == starts
            lead = _BLANK_LEADS[data[np.minimum(starts, len(data) - 1)]] & ~empty
            maybe = empty | lead
            if chunk.null_count:
                maybe |= chunk.is_null().to_numpy(zero_copy_only=False)
            out.append(np.flatnonzero(maybe) + base)
        base += n
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def _stated_units(table, units: dict[str, str]):
    """Amount columns whose header states 万元 (``医疗费总额(万元)``) as text in 万 yuan: "1.5" reads as
    1.5万, exactly, by the one amount parser; a cell that states its own unit ("1.5万", "150元")
    is read by it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for field, unit in units.items():
        if unit != "万元" or field not in _AMOUNTS:
            continue
        column = table.column(field)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_floating(column.type):
            continue  # refused as floats by the amount parser, as under any other name
        text = column.cast(pa.string())
        blank = pc.match_substring_regex(text, BLANK_PATTERN)
        own_unit = pc.match_substring_regex(text, "[万元]")  # "1.5万", "150元": the cell's own unit, as written
        text = pc.if_else(
            blank, pa.scalar(None, pa.string()), pc.if_else(own_unit, text, pc.binary_join_element_wise(text, "万", ""))
        )
        table = table.set_column(table.column_names.index(field), field, text)
    return table


def _binary_as_text(table, names: dict[str, str]):
    """Binary columns (Parquet's untyped byte strings) as text; a value that is not UTF-8 marks
    its row invalid (INVALID_COLUMN), naming the column and the bytes, instead of failing the table."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for index, field in enumerate(table.schema):
        if not (pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type)):
            continue
        column = table.column(index)
        try:
            text = column.cast(pa.string() if pa.types.is_binary(field.type) else pa.large_string())
        except pa.ArrowInvalid:  # bad input only: one check per distinct value
            encoded = pc.dictionary_encode(column.combine_chunks())
            bad_values = []
            for value in encoded.dictionary.to_pylist():
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError:
                    bad_values.append(value)
            label = names.get(field.name, field.name)
            at = pc.index_in(column, value_set=pa.array(bad_values, field.type))  # null where the value is UTF-8
            reasons = pa.array(
                [invalid_reason(label, f"not UTF-8 text (got {v!r})") for v in bad_values], pa.string()
            ).take(at)
            bad = at.is_valid()
            if INVALID_COLUMN in table.column_names:  # a row a reader already refused keeps its reason
                reasons = pc.coalesce(table.column(INVALID_COLUMN), reasons)
                table = table.drop_columns([INVALID_COLUMN])
            table = table.append_column(INVALID_COLUMN, reasons)
            text = pc.if_else(bad, pa.scalar(None, pa.string()), column.cast(pa.string(), safe=False))
        table = table.set_column(index, field.name, text)
    return table


def _restricted(
    refused: list[tuple[np.ndarray, str, str]], rows: np.ndarray, n: int
) -> list[tuple[np.ndarray, str, str]]:
    """Refused rows (positions in a table of ``n`` rows) as positions among ``rows``."""
    position = np.full(n, -1, np.int64)
    position[rows] = np.arange(len(rows))
    out = []
    for refused_rows, field, reason in refused:
        at = position[refused_rows]
        if (at >= 0).any():
            out.append((at[at >= 0], field, reason))
    return out


def check_amounts(amounts: str | None) -> None:
    """``amounts`` as the scorers take it: "fen", "yuan" or None (not stated)."""
    if amounts not in ("fen", "yuan", None):
        raise ValueError(f"amounts must be 'fen' or 'yuan' (or None: not stated), got {amounts!r}")


def unit_of(column: str, field: str, amounts: str | None) -> str | None:
    """The unit of an integer amount ``column`` read as medcalc ``field``: yuan under any other name
    than medcalc's (the national interface's, a Chinese label), else what ``amounts`` states."""
    return "yuan" if column != field else amounts


def _amounts_as_fen(table, amounts: str | None, refused: list, threads: int = 1, aliased: frozenset = frozenset()):
    """The amount columns as integer fen, once for the whole table: a quarter of the memory of
    decimals (int32 where every amount fits, as the engine reads them). Unreadable amounts
    are added to ``refused`` by row. Columns are converted ``threads`` at a time. ``aliased``:
    the fields whose column had a national or Chinese name (integers there are yuan)."""
    names = [c for c in table.column_names if c in _AMOUNTS]
    for name in names:  # before any work: a column of no stated unit refuses the table
        if amounts is None and name not in aliased and is_integer_column(table.column(name)):
            raise UnitNotStated(name)

    def converted(name: str):
        problems: list[tuple[np.ndarray, str, str]] = []  # per column, so their order is the columns'
        unit = "yuan" if name in aliased else amounts
        # an empty in-scope cell means "derive it from the parts" (the engine's -1), as in the claim API,
        # and an empty amount of an earlier layer "compute it"
        fen = amount_column(
            table.column(name),
            name,
            unit,
            problems,
            required=name == "total",
            absent=-1 if name == "in_scope" else NOT_GIVEN if name in GIVEN_FIELDS else 0,
        )
        if fen.dtype != np.int32 and len(fen) and -_STORED_MAX <= fen.min() and fen.max() <= _STORED_MAX:
            fen = fen.astype(np.int32)
        return _int_array(fen), problems

    for wave in _waves(names, threads):  # a few columns at a time, each decimal column freed once replaced
        for name, (fen, problems) in zip(wave, _in_threads(converted, wave, threads)):
            table = table.set_column(table.column_names.index(name), name, fen)
            refused.extend(problems)
    return table


def _trim_c_heap() -> None:
    """Give the C library's free memory back to the system (glibc's malloc_trim; elsewhere nothing).

    numpy allocates through malloc, and each thread that settled parts has its own malloc
    arena holding the high-water mark of its parts' working arrays: returned here, before
    the results are assembled, so they do not add to the peak.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    """glibc's malloc_trim, or None where the C library has none."""
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def _index_type(n: int):
    """The narrowest integer type that numbers ``n`` rows: half the memory of int64 below 2^31 rows."""
    return np.int32 if n < (1 << 31) else np.int64


def _waves(items, size: int) -> list[list]:
    """Items in groups of ``size``."""
    items = list(items)
    return [items[i : i + size] for i in range(0, len(items), size)]


def _in_threads(function, items, threads: int) -> list:
    """[function(item) for item in items], ``threads`` at a time: for whole-column numpy and Arrow
    work, which releases the interpreter lock."""
    if threads <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(threads, len(items))) as executor:
        return list(executor.map(function, items))


def _int_array(values: np.ndarray):
    """An Arrow array over an integer numpy array's buffer (pa.array would import pandas to check it)."""
    import pyarrow as pa

    values = np.ascontiguousarray(values)
    kind = {np.dtype(np.int64): pa.int64(), np.dtype(np.int32): pa.int32(), np.dtype(np.int16): pa.int16()}[
        values.dtype
    ]
    return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(values.data)])  # (.data: its memoryview)


def _person_codes(column) -> np.ndarray:
    """A code per row for its person id (dense: 0, 1, …); -1 where absent (null or "")."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from .arrays import close_packed_codes

    if pa.types.is_integer(column.type) and len(column):
        if not column.null_count:
            low, high = pc.min_max(column).values()
            if 0 <= low.as_py() and high.as_py() < min(4 * len(column), 1 << 31):
                # small whole numbers: codes as they are (codes need not be dense), each
                # chunk's values written straight into int32
                out = np.empty(len(column), np.int32)
                chunks = [c for c in getattr(column, "chunks", [column]) if len(c)]
                np.concatenate([c.to_numpy() for c in chunks], out=out, casting="unsafe")
                return out
        ids = (column.fill_null(0) if column.null_count else column).to_numpy().astype(np.int64, copy=False)
        packed = close_packed_codes(ids, _index_type(len(ids)))  # close-packed integer ids: ranked without hashing
        if packed is not None:
            codes = packed[1]
            if column.null_count:
                codes[column.is_null().to_numpy(zero_copy_only=False)] = -1
            return codes
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(_index_type(len(column)), copy=False)
    dictionary = encoded.dictionary
    if pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type):
        empty = np.flatnonzero(pc.equal(dictionary, pa.scalar("")).to_numpy(zero_copy_only=False))
        if len(empty):
            codes = np.where(np.isin(codes, empty), -1, codes).astype(codes.dtype)
    return codes


class _Collector:
    """Gathers settled and rejected rows, and returns them in input-row order.

    Rejects and results are kept by input row (results in the engine's own arrays when one
    policy settles the whole table), and widened to int64 fen by ``finish``.
    """

    def __init__(self, table, number: RowNumbers, threads: int = 1, engine: str = "interpreted") -> None:
        self.threads = threads
        self.engine = engine
        # only the columns results repeat are kept, in input order (the amounts are replaced by fen)
        self.table = table.select([c for c in ("claim_id", "person_id", "settled_on") if c in table.column_names])
        #: input positions as the rows the user sees
        self.number = number
        self.n = table.num_rows
        self.seen = np.zeros(self.n, np.int8)  # per input row: how often rejected (settled ones added at the end)
        self.reject_groups: list[tuple[np.ndarray, str, str]] = []
        self.traces: dict[int, tuple[Step, ...]] = {}
        self.is_settled = np.zeros(self.n, bool)  # by input row
        self.policy_code = np.zeros(self.n, np.int16)  # (a table names a handful of policies)
        self.policy_ids: list[str] = []
        self.persons = 0
        self.values: dict[str, np.ndarray] = {}  # by input row, or by settled row (by_settled)
        self.by_settled = False
        self._lock = threading.Lock()
        #: medcalc field -> the column as the input named it (全自费, fulamt_ownpay_amt …), for rejects
        self.names: dict[str, str] = {}
        self.unused: tuple[str, ...] = ()
        self.skipped = 0
        self.fields: dict[str, str] = {}
        #: the input's own columns, kept for the sheet back (settle_table's keep_columns), else None
        self.inputs: Any = None

    def skip(self, rows: np.ndarray) -> None:
        """Rows of nothing but empty cells: neither settled nor rejected (counted as seen)."""
        if len(rows):
            self.seen[np.asarray(rows, np.int64)] += 1
            self.skipped += len(rows)

    def reject(self, rows: np.ndarray, field: str, reason: str) -> None:
        """Refuse input rows; ``field`` is reported as the input's own column name."""
        if len(rows):
            rows = np.asarray(rows, np.int64)
            self.seen[rows] += 1
            self.reject_groups.append((rows, self.names.get(field, field), reason))

    def settled(
        self, where: np.ndarray | None, rows: np.ndarray, values: dict[str, np.ndarray], policy_id: str, persons: int
    ) -> None:
        """Settled rows of one policy: ``values`` (the _STORED amounts, int64) of its settled
        ``rows``, in their order; ``where``: the input row of each of the policy's rows (None:
        the same, row for row: the one policy of the table, whose arrays are kept as they are)."""
        with self._lock:
            if policy_id not in self.policy_ids:
                self.policy_ids.append(policy_id)
            code = self.policy_ids.index(policy_id)
            self.persons += persons  # policies settle whole people: their counts add up
        at = rows if where is None else where[rows]
        if where is None and not self.values:  # already the results' columns: by settled row
            self.values = {name: values[name] for name in _STORED}
            self.by_settled = True
        else:
            if not self.values:
                self.values = {name: np.zeros(self.n, np.int64) for name in _STORED}
            for name in _STORED:
                self.values[name][at] = values[name]
        self.is_settled[at] = True
        self.policy_code[at] = code

    def finish(self, trace: Iterable[int]) -> ScoredTable:
        """Results and rejects in input-row order. Each kept array is freed once it is used,
        so the results are assembled in little more than their own memory."""
        import pyarrow as pa

        n = self.n
        rejects = self._rejects()
        # every input row exactly once, settled or rejected: checked, never assumed
        seen = self.seen
        seen += self.is_settled
        if not (seen == 1).all():
            rejected = sum(len(g[0]) for g in self.reject_groups)
            raise RuntimeError(
                f"{n} rows in but {int(self.is_settled.sum())} settled and {rejected} rejected, "
                f"{int((seen == 0).sum())} missing and {int((seen > 1).sum())} twice"
            )
        rows = np.flatnonzero(self.is_settled)
        inputs, rejected_inputs = self._inputs_back(rows)
        del seen
        del self.seen, self.is_settled  # (released: the collector is finished)
        every = len(rows) == n
        results: dict[str, Any] = {"row": None}  # the first column; filled below
        kept = self.table.columns
        names, self.table = self.table.column_names, None
        if every:
            results.update(zip(names, kept))
        else:  # the kept columns taken at once, one per thread (Arrow's take releases the interpreter lock)
            from .arrays import take_rows

            results.update(zip(names, _in_threads(lambda column: take_rows(column, rows), kept, self.threads)))
        del kept
        codes = self.policy_code if every else self.policy_code[rows]
        del self.policy_code
        results["policy"] = pa.DictionaryArray.from_arrays(_int_array(codes), pa.array(self.policy_ids, pa.string()))
        del codes
        from .arrays import picked

        def taken(values: np.ndarray | None) -> np.ndarray:
            if values is None:
                return np.zeros(len(rows), np.int64)
            if self.by_settled or every:  # the settled rows' values already, int64
                return values
            return picked(rows, values, self.engine)

        columns: dict[str, np.ndarray] = {}
        for wave in _waves(_STORED, self.threads):  # a few columns at a time, each kept array freed after
            arrays = [self.values.pop(name, None) for name in wave]
            columns.update(zip(wave, _in_threads(taken, arrays, self.threads)))
            del arrays
        funds = columns["basic"].copy()
        for name in _LAYERS[1:]:
            funds += columns[name]
        columns["funds"] = funds
        columns["patient"] = columns["total"] - funds
        del funds
        # what the engine guarantees, checked: no payment below zero, the funds never above the bill
        for name in ("deductible", *_LAYERS, "patient"):
            if len(rows) and columns[name].min() < 0:
                raise RuntimeError(f"a settled row has a negative {name}")
        results["row"] = _int_array(self.number(rows))
        for name in RESULT_FIELDS:
            results[name] = _int_array(columns.pop(name))
        return ScoredTable(
            pa.table(results),
            rejects,
            self.traces,
            self.persons,
            self.unused,
            inputs,
            rejected_inputs,
            self.fields,
            self.skipped,
        )

    def _inputs_back(self, rows: np.ndarray):
        """The kept input columns at the settled ``rows`` (dates read as the engine read them) and
        at the rejected rows (as given); (None, None) when none were kept."""
        import pyarrow as pa

        if self.inputs is None:
            return None, None
        inputs, self.inputs = self.inputs, None
        settled = inputs if len(rows) == inputs.num_rows else inputs.take(_int_array(rows))
        dates = {
            name
            for field in ("settled_on", "admitted_on")
            if (name := self.names.get(field, field)) in settled.column_names
        }
        for name in dates:
            days = day_column(settled.column(name), None, name)
            settled = settled.set_column(
                settled.column_names.index(name), name, pa.array(days, pa.date32(), mask=np.isnat(days))
            )
        rejected = (
            inputs.take(_int_array(self._reject_positions))
            if len(self._reject_positions)
            else inputs.schema.empty_table()
        )
        return settled, rejected

    def _rejects(self):
        import pyarrow as pa

        from .arrays import take_rows

        groups = self.reject_groups
        reject_rows = np.concatenate([g[0] for g in groups]) if groups else np.zeros(0, np.int64)
        reasons = list(dict.fromkeys((g[1], g[2]) for g in groups))  # one dictionary entry per distinct reason
        which = np.repeat([reasons.index((g[1], g[2])) for g in groups], [len(g[0]) for g in groups]).astype(np.int32)
        by_row = np.argsort(reject_rows, kind="stable")
        reject_rows, which = reject_rows[by_row], which[by_row]
        self._reject_positions = reject_rows
        ids = (
            take_rows(self.table.column("claim_id"), reject_rows).cast(pa.string())
            if "claim_id" in self.table.column_names
            else pa.nulls(len(reject_rows), pa.string())
        )
        return pa.table(
            {
                "row": _int_array(self.number(reject_rows)),
                "claim_id": ids,
                "field": pa.DictionaryArray.from_arrays(
                    _int_array(which), pa.array([f for f, _ in reasons], pa.string())
                ),
                "reason": pa.DictionaryArray.from_arrays(
                    _int_array(which), pa.array([r for _, r in reasons], pa.string())
                ),
            }
        )


def _route(table, policy, collector: _Collector, numbers: np.ndarray | None):
    """(policy, rows or None for all) pairs: the one policy given, or each row's by its columns.

    Rows are positions in ``table``; ``numbers`` are their input row numbers (for rejects).
    """
    if policy is not None:
        yield (policy if isinstance(policy, Policy) else load_policy(policy)), None
        return
    from .arrays import factorize

    if numbers is None:  # positions are the input rows
        numbers = np.arange(table.num_rows)

    if "policy" in table.column_names:
        names, codes = factorize(table.column("policy"))
        for code, name in enumerate(names):
            rows = np.flatnonzero(codes == code)
            if not len(rows) or name is None:
                continue
            try:  # by id only: a claims file never makes medcalc open a path of its choosing
                yield policy_by_id(str(name)), rows
            except MedcalcError as exc:
                collector.reject(numbers[rows], "policy", str(exc))
        if None in names:
            collector.reject(numbers[codes == names.index(None)], "policy", "required")
        return
    if "region" not in table.column_names:
        raise MedcalcError(
            "no policy given: name one, or give the claims a 'policy' column (ids) "
            "or a 'region' column (with 'scheme' where a region has several)"
        )
    undated: list[tuple[np.ndarray, str, str]] = []
    day = day_column(table.column("settled_on"), undated)
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


def _settle_part(
    policy: Policy,
    part,
    person: np.ndarray,
    where: np.ndarray | None,
    collector: _Collector,
    trace,
    rejected: list[tuple[np.ndarray, str, str]],
    engine: str,
    threads: int,
    chunk_rows: int,
) -> None:
    """Settle the rows of one policy: ``part`` (amounts in fen already), the input row of each
    (``where``; None: the part is the input, row for row), their person codes, and the rows
    refused so far (as positions in ``part``)."""
    from .columns import ClaimIds, settle_arrays

    def input_rows(rows: np.ndarray) -> np.ndarray:
        return rows if where is None else where[rows]

    def settle(rows: np.ndarray | None, traced: bool):
        """settle_arrays on the part's ``rows`` (None: all)."""
        sub = part if rows is None else part.take(_int_array(rows))
        refused = rejected if rows is None else _restricted(rejected, rows, part.num_rows)
        refused = [r for r in refused if len(r[0])]
        kwargs: dict[str, Any] = {}
        for name in sub.column_names:
            column = sub.column(name)
            if name in _AMOUNTS:
                kwargs[name] = column.to_numpy()
            elif name in ("settled_on", "admitted_on"):
                day = day_column(column, refused, name)
                if name == "settled_on":
                    kwargs[name] = day
            elif name == "age":
                kwargs[name] = whole_number_column(column, name, refused, default=-1)
            elif name == "retired":
                kwargs[name] = flag_column(column, name, refused)
            elif name in CLAIM_FIELDS:
                kwargs[name] = column
        kwargs["person_id"] = person if rows is None else person[rows]
        if "claim_id" in collector.table.column_names:
            kwargs["claim_id"] = ClaimIds(
                collector.table.column("claim_id"), where if rows is None else input_rows(rows), n=sub.num_rows
            )
        return settle_arrays(
            policy,
            kwargs,
            rejected=refused,
            trace=traced,
            engine=engine,
            threads=threads,
            keep_state=False,
            chunk_rows=chunk_rows,
        )

    batch = settle(None, False)
    from .reasons import naming_values

    for rows, field, reason in batch.reject_groups:
        for at, why in naming_values(part, rows, field, reason):  # each reason with the row's value
            collector.reject(input_rows(at), field, why)
    # the settled rows' amounts (int64 fen, in the order of batch.row)
    batch.columns["basic"]  # every payment at once, taken on every core; then the rest, a column per thread
    values = dict(zip(_STORED, _in_threads(batch.columns.__getitem__, _STORED, threads)))
    collector.settled(where, batch.row, values, policy.id, batch.persons)
    del batch, values
    numbers = np.arange(part.num_rows) if where is None else where
    wanted = (
        np.flatnonzero(np.isin(numbers, np.fromiter((int(r) for r in trace), np.int64)))
        if trace
        else np.zeros(0, np.int64)
    )
    if len(wanted):
        # explained by settling again just the people of the traced rows, traced: accumulators
        # belong to a person, so their rows settle exactly as in the whole table
        rows = np.flatnonzero(np.isin(person, person[wanted]))
        traced = settle(rows, True)
        settled = set(traced.row.tolist())
        local = {int(numbers[r]): i for i, r in enumerate(rows.tolist())}
        for row in numbers[wanted].tolist():
            i = local[row]
            if i in settled:
                collector.traces[row] = traced.steps(i)
