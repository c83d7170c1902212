"""Batch scoring on a Dask cluster: claims spread over many partitions, scored by many workers.

An optional extra (``pip install 'medcalc[dask]'``). The engine is the one-machine table
scorer (``medcalc.settle_table``) run once per partition; this module only arranges the data so
that doing so gives the same answer as scoring the whole file in one piece:

1. **Row numbers first.** Every input row gets its global row number (file order, counted
   from ``first_row``) before anything moves, by a running count over the partitions. Results
   and rejects carry it in their ``row`` column, exactly as ``settle_table`` numbers rows.
2. **Whole people per partition.** Accumulators (deductibles, caps, 大病 thresholds) belong to a
   person-year, so the rows are shuffled by hash of the person id: all of a person's claims land
   in one partition. Skipped with ``partitioned_by_person=True`` when the input already is so
   (e.g. written by a job that partitioned it by person); if it is not, a person split across
   partitions restarts from empty accumulators in each part, which is wrong: declare it only
   when it is true.
3. **Input order inside a partition.** A shuffle interleaves rows of different input
   partitions; each partition is sorted back by row number before scoring, so ties between a
   person's claims (same day, same claim id) are broken by input row as on one machine.
4. **One scoring pass, two outputs.** Each partition is scored once, by one task that returns
   its results and its rejects (see ``_score_part``); ``results`` and ``rejects`` are two Dask
   DataFrames over those same tasks. Compute or write them together (``DaskScored.compute``,
   ``persist``, ``write_parquet``) and each partition is scored once.
5. **The policy travels as a name.** Tasks carry the policy id (or path), never the loaded
   policy; each worker process loads it on first use and keeps it in ``_POLICIES``. With no
   policy, each row's ``policy`` or ``region`` column chooses, as ``settle_table`` does.

Money stays integer fen: ``row`` and the amounts are int64 columns; text and date columns keep
their Arrow types (pandas ``ArrowDtype``), the policy, field and reason columns are strings.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from ..errors import MedcalcError
from ..policy.model import Policy
from ..policy.registry import load_policy
from .files import OUTPUT_NAMES, detect_encoding, fen_to_yuan, format_of
from .tables import RESULT_FIELDS, ScoredTable, canonical_names, check_amounts, check_given, settle_table

__all__ = ["DaskScored", "read_claims", "score_dask", "write_parquet"]

#: The global row number travels under this column name through the shuffle.
ROW_COLUMN = "__medcalc_row__"
#: Columns that are int64 and never null in the outputs: numpy int64 in pandas.
_INT_COLUMNS = frozenset({"row", *RESULT_FIELDS})

# Loaded policies of this worker process, by id or path: a task carries only the name.
_POLICIES: dict[str, Policy] = {}
_POLICIES_LOCK = threading.Lock()


def _require_dask():
    try:
        import dask
        import dask.dataframe as dd
    except ImportError:
        raise MedcalcError("scoring on Dask needs dask and distributed: pip install 'medcalc[dask]'") from None
    return dask, dd


@attrs.frozen
class DaskScored:
    """Results and rejects of a Dask scoring, lazy: two DataFrames over one scoring pass.

    ``results``: row, claim_id, person_id, settled_on, policy and the amounts in int64 fen, as
    ``settle_table`` gives them; ``rejects``: row, claim_id, field, reason. Every input row is in
    exactly one of them. Partitions are not in row order: sort by ``row`` for input order.
    ``parts``: one ``dask.delayed`` per partition, its ``ScoredTable`` of Arrow tables.
    """

    results: Any  # dask.dataframe.DataFrame
    rejects: Any  # dask.dataframe.DataFrame
    parts: tuple = ()

    def compute(self, **kwargs) -> tuple[Any, Any]:
        """Both as pandas DataFrames, sorted by row, from one scoring pass."""
        import dask

        results, rejects = dask.compute(self.results, self.rejects, **kwargs)
        return (results.sort_values("row", ignore_index=True), rejects.sort_values("row", ignore_index=True))

    def persist(self, **kwargs) -> DaskScored:
        """Score every partition once into (cluster) memory; both frames then read from it."""
        import dask

        return _frames(dask.persist(*self.parts, **kwargs), self.results._meta, self.rejects._meta)


def read_claims(
    path: str | Path | list | tuple,
    fmt: str | None = None,
    *,
    blocksize: int | str | None = None,
    storage_options: dict | None = None,
    encoding: str | None = None,
    **options,
):
    """Claims from Parquet or CSV files as a Dask DataFrame: local paths, globs, or fsspec URLs.

    Parquet keeps its Arrow types (decimal yuan stay exact); CSV columns are all read as text,
    so every value is parsed by medcalc's rules ("1.5万", "2025/3/1") as ``medcalc.batch.files`` does.
    A directory or a URL without an extension is Parquet unless ``fmt`` says otherwise.
    ``blocksize``: bytes per partition; other keywords go to ``dd.read_parquet`` / ``dd.read_csv``.
    """
    _, dd = _require_dask()
    first = str(path[0] if isinstance(path, (list, tuple)) and path else path)
    if fmt is None and (Path(first).is_dir() or not Path(first.rstrip("/")).suffix):
        fmt = "parquet"
    fmt = format_of(first, fmt)
    options["storage_options"] = storage_options
    if blocksize is not None:
        options["blocksize"] = blocksize
    source = [str(p) for p in path] if isinstance(path, (list, tuple)) else str(path)
    if fmt == "parquet":
        return dd.read_parquet(source, dtype_backend="pyarrow", **options)
    if fmt == "csv":
        # text, like medcalc.batch.files: only an empty cell is a missing value (not pandas' N/A, NaN, null …,
        # which stay text and are refused as amounts); a BOM is not part of the first name; a local
        # file's encoding detected as medcalc.batch.files does (UTF-8 or GB18030)
        # (``encoding``: the file's, when given, as --encoding does; checked to be a codec)
        if encoding is not None or Path(first).is_file():
            encoding = detect_encoding(first, encoding)
        options.setdefault("encoding", "utf-8-sig" if encoding in (None, "utf-8") else encoding)
        # (blank lines kept, as rows of empty cells the scorer skips: each row is then its line)
        frame = dd.read_csv(source, dtype=str, keep_default_na=False, na_values=[""], skip_blank_lines=False, **options)
        # cells medcalc wrote as text (a quote before =, +, -, @ …) read as they were, as files.py reads them
        return frame.map_partitions(_unescaped, meta=frame._meta)
    raise MedcalcError(f"{first}: Dask reads claims from Parquet or CSV, not {fmt}; convert the file first")


def _unescaped(frame):
    """A pandas partition read from CSV with every text cell unescaped (medcalc.batch.safe_cells)."""
    from .safe_cells import unescape_text

    for name in frame.columns:
        column = frame[name]
        if (column.dtype == object or str(column.dtype).startswith("string")) and column.str.startswith(
            "'", na=False
        ).any():  # (the usual partition: no such cell, one pass)
            frame[name] = column.map(lambda v: unescape_text(v) if isinstance(v, str) else v)
    return frame


def score_dask(
    claims: Any,
    policy: Policy | str | Path | None = None,
    *,
    amounts: str | None = None,
    partitioned_by_person: bool = False,
    npartitions: int | None = None,
    shuffle_method: str = "tasks",
    first_row: int = 0,
    given: Iterable[str] = (),
) -> DaskScored:
    """Score a Dask DataFrame of claims (or Parquet/CSV paths, read with ``read_claims``), lazily.

    ``policy``: an id, a path to a TOML file the workers can read, a loaded Policy (sent by id
    or path), or None for each row's ``policy`` / ``region`` column. ``amounts``: as for
    ``settle_table``. ``partitioned_by_person``: the input already holds each person's rows in one
    partition, so the shuffle is skipped. ``npartitions``: partitions after the shuffle (default:
    as many as the input). ``shuffle_method``: "tasks" (default) or Dask's "p2p", which holds memory
    steadier on many partitions but moves columns through pandas' default types: decimal amounts
    arrive as Python objects (slower), integer columns with missing values as floats (refused).
    ``first_row``: the number of the first input row (the command line counts from 1). ``given``:
    as for ``settle_table``.
    """
    _, dd = _require_dask()
    check_amounts(amounts)
    if isinstance(claims, (str, Path, list, tuple)):
        claims = read_claims(claims)
    if not isinstance(claims, dd.DataFrame):
        raise TypeError(
            f"cannot score a {type(claims).__name__} on Dask: give a dask DataFrame or Parquet/CSV paths "
            "(for an in-memory table, medcalc.settle_table is the faster way)"
        )
    ref = _policy_ref(policy)
    loaded = _policy(ref)  # here too: an unknown id fails now, once, not in every task
    index = claims.index.name
    if index is not None and index not in claims.columns and _is_claim_field(index):
        claims = claims.reset_index()  # e.g. set_index("person_id"): the column is data
    given = tuple(sorted(check_given(given)))
    fields = canonical_names(list(claims.columns), given)  # an unknown column fails now too
    person = next((c for c, f in fields.items() if f == "person_id"), None)

    empty = _settle(_arrow(claims._meta), loaded, amounts, given)  # the output types, from no rows
    schemas = (empty.results.schema, empty.rejects.schema)

    gathered = _by_person(
        claims,
        None if partitioned_by_person else person,
        first_row=first_row,
        npartitions=npartitions,
        shuffle_method=shuffle_method,
    )
    parts = _scoring(gathered, ref, amounts, schemas, given)
    return _frames(parts, _pandas(empty.results), _pandas(empty.rejects))


def _by_person(claims, person: str | None, *, first_row: int, npartitions: int | None, shuffle_method: str):
    """The claims numbered in input order, then shuffled by ``person`` (None: left where they are)."""
    numbered = _numbered(claims, first_row)
    if person is None:
        return numbered
    # The task shuffle moves the pandas frames as they are, Arrow types and all; P2P rebuilds
    # them from Arrow with pandas' default types (see score_dask), and cannot move dictionaries.
    if shuffle_method == "p2p":
        numbered = _undictionary(numbered)
    return numbered.shuffle(on=person, npartitions=npartitions or claims.npartitions, shuffle_method=shuffle_method)


def _scoring(gathered, ref: str | None, amounts: str | None, schemas, given: tuple[str, ...] = ()) -> tuple:
    """One delayed ScoredTable per partition of whole people."""
    import dask

    score = dask.delayed(_score_part, pure=True)
    return tuple(score(p, ref, amounts, schemas, given) for p in gathered.to_delayed())


def _frames(parts: tuple, results_meta, rejects_meta) -> DaskScored:
    import dask
    import dask.dataframe as dd

    # Two frames over the same scoring tasks, rather than one frame of both kinds split later by
    # a discriminator: each output keeps its own columns and types, and nothing has to be
    # persisted for the split; computed together, each partition is scored once.
    take = dask.delayed(_take_pandas, pure=True)
    results = dd.from_delayed([take(p, "results") for p in parts], meta=results_meta, verify_meta=False)
    rejects = dd.from_delayed([take(p, "rejects") for p in parts], meta=rejects_meta, verify_meta=False)
    return DaskScored(results, rejects, tuple(parts))


def write_parquet(
    scored: DaskScored,
    results: str | Path,
    rejects: str | Path,
    *,
    names: str = "medcalc",
    summarize: Callable[[ScoredTable], Any] | None = None,
    storage_options: dict | None = None,
    compute: bool = True,
) -> list:
    """Write results and rejects as directories of Parquet part files, in one scoring pass.

    Files as ``medcalc score`` writes them: amounts as decimal128(18, 2) yuan, columns named by
    ``names`` ("medcalc" or "national"), one ``part.NNNNN.parquet`` per partition in each
    directory (a local path the workers share, or an fsspec URL). Returns, per partition,
    ``summarize(part)`` computed on the worker (default: the number of rows settled and
    rejected); with ``compute=False``, the delayed values instead.
    """
    dask, _ = _require_dask()
    if names not in OUTPUT_NAMES:
        raise MedcalcError(f"names must be one of {', '.join(OUTPUT_NAMES)}")
    write = dask.delayed(_write_part, pure=False)
    tasks = [
        write(p, i, str(results), str(rejects), names, summarize, storage_options) for i, p in enumerate(scored.parts)
    ]
    return list(dask.compute(*tasks)) if compute else tasks


# ---------------------------------------------------------------- on the workers


def _policy(ref: str | None) -> Policy | None:
    """The policy named ``ref``, loaded once per process and kept (a task carries only the name)."""
    if ref is None:
        return None
    policy = _POLICIES.get(ref)
    if policy is None:
        with _POLICIES_LOCK:  # threads of one worker: load once
            policy = _POLICIES.get(ref)
            if policy is None:
                policy = _POLICIES[ref] = load_policy(ref)
    return policy


def _score_part(frame, ref: str | None, amounts: str | None, schemas, given: tuple[str, ...] = ()) -> ScoredTable:
    """Score one partition of whole people; rows keep their global numbers."""
    import pyarrow as pa

    results_schema, rejects_schema = schemas
    if len(frame) == 0:  # shuffles leave empty partitions
        return ScoredTable(results_schema.empty_table(), rejects_schema.empty_table())
    table = _arrow(frame)
    rows = table.column(ROW_COLUMN).to_numpy()
    if (np.diff(rows) < 0).any():  # back to input order: same-day ties are broken by input row
        order = np.argsort(rows, kind="stable")
        table, rows = table.take(pa.array(order)), rows[order]
    scored = _settle(table.drop_columns([ROW_COLUMN]), _policy(ref), amounts, given)
    # settle_table numbered the rows 0.. in this partition: map positions to global numbers
    return ScoredTable(
        _renumber(scored.results, rows).cast(results_schema), _renumber(scored.rejects, rows).cast(rejects_schema)
    )


def _settle(table, policy: Policy | None, amounts: str | None, given: tuple[str, ...] = ()) -> ScoredTable:
    """settle_table, with dictionaries and large strings as plain strings (one type per column everywhere)."""
    # one thread: Dask already runs a task per core, and nested threads would only contend
    scored = settle_table(table, policy, amounts=amounts, threads=1, given=given)
    return ScoredTable(_plain(scored.results), _plain(scored.rejects))


def _plain(table):
    import pyarrow as pa

    columns = []
    for column in table.columns:
        kind = column.type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if pa.types.is_large_string(kind) or pa.types.is_null(kind):
            kind = pa.string()
        columns.append(column.cast(kind) if kind != column.type else column)
    return pa.table(columns, names=table.column_names)


def _renumber(table, rows: np.ndarray):
    import pyarrow as pa

    where = table.column_names.index("row")
    return table.set_column(where, "row", pa.array(rows[table.column("row").to_numpy()], pa.int64()))


def _take_pandas(part: ScoredTable, which: str):
    return _pandas(getattr(part, which))


def _pandas(table):
    """Arrow to pandas without loss: row and amounts as int64 (never null), the rest in their Arrow types."""
    import pandas as pd

    return pd.DataFrame(
        {
            name: column.to_numpy() if name in _INT_COLUMNS else pd.arrays.ArrowExtensionArray(column)
            for name, column in zip(table.column_names, table.columns)
        }
    )


def _arrow(frame):
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    # an empty object column has no type in pandas: it is text (what an empty CSV column is)
    if any(pa.types.is_null(t) for t in table.schema.types):
        table = pa.table(
            [c.cast(pa.string()) if pa.types.is_null(c.type) else c for c in table.columns], names=table.column_names
        )
    return table


def _write_part(part: ScoredTable, index: int, results: str, rejects: str, names: str, summarize, storage_options):
    import fsspec
    import pyarrow.parquet as pq

    for where, table, rename, repeated in (
        (results, part.results, OUTPUT_NAMES[names], ("settled_on", "policy")),
        (rejects, part.rejects, {}, ("field", "reason")),
    ):
        fs, root = fsspec.core.url_to_fs(where, **(storage_options or {}))
        fs.makedirs(root, exist_ok=True)
        out = _formatted(table, rename)
        with fs.open(f"{root.rstrip('/')}/part.{index:05d}.parquet", "wb") as handle:
            # dictionaries only where values repeat, as medcalc.batch.files writes one file
            dictionary = [rename.get(c, c) for c in repeated if c in table.column_names]
            # pyarrow takes a list of column names for use_dictionary; its stubs say bool only
            pq.write_table(out, handle, use_dictionary=dictionary)  # type: ignore[arg-type]
    if summarize is not None:
        return summarize(part)
    return part.results.num_rows, part.rejects.num_rows


def _formatted(table, rename: dict[str, str]):
    """Output columns as ``medcalc.batch.files.ResultWriter`` writes Parquet: amounts as decimal yuan, renamed."""
    import pyarrow as pa

    money = set(RESULT_FIELDS)
    columns = [fen_to_yuan(table.column(c)) if c in money else table.column(c) for c in table.column_names]
    return pa.table(columns, names=[rename.get(c, c) for c in table.column_names])


# ---------------------------------------------------------------- on the client


def _numbered(claims, first_row: int):
    """The frame with each row's global number (file order), by a running count over partitions."""
    import pandas as pd

    def ones(frame):
        return pd.Series(np.ones(len(frame), np.int64), index=frame.index, name=ROW_COLUMN)

    count = claims.map_partitions(ones, meta=pd.Series(dtype=np.int64, name=ROW_COLUMN))
    return claims.assign(**{ROW_COLUMN: count.cumsum() + (first_row - 1)})


def _undictionary(frame):
    """Dictionary columns (Parquet's encoding of repeated text) as plain values: Dask's P2P shuffle cannot move them."""
    import pandas as pd
    import pyarrow as pa

    coded = {
        name: pd.ArrowDtype(dtype.pyarrow_dtype.value_type)
        for name, dtype in frame.dtypes.items()
        if isinstance(dtype, pd.ArrowDtype) and pa.types.is_dictionary(dtype.pyarrow_dtype)
    }
    return frame.astype(coded) if coded else frame


def _policy_ref(policy: Policy | str | Path | None) -> str | None:
    """What a task carries to name the policy: an id, or a path (which the workers must see)."""
    if policy is None or isinstance(policy, (str, Path)):
        return None if policy is None else str(policy)
    if isinstance(policy, Policy):
        try:
            if load_policy(policy.id) is policy:  # a shipped policy: its id
                return policy.id
        except MedcalcError:
            pass
        if policy.file and Path(policy.file).is_file():
            return str(Path(policy.file).resolve())
        raise MedcalcError(
            f"policy {policy.id!r} has no id or file the workers could load it from; "
            "give its id or the path of its TOML file"
        )
    raise TypeError(f"policy must be an id, a path or a Policy, not {type(policy).__name__}")


def _is_claim_field(name: str) -> bool:
    try:
        return bool(canonical_names([name]))
    except MedcalcError:
        return False
