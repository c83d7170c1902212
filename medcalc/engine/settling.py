"""The kernel over a batch: the pipeline's settling stage.

The policy's tables for the engine chosen are made once per set of profiles; the rows, in
settlement order, are cut into chunks of whole person-years; each chunk's inputs are gathered
into settlement order (contiguous memory for the kernel), settled, and its payments scattered
back by input row. Chunks run on several threads at once where asked: the compiled kernel and
numpy's gathers release the interpreter lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..claims import GIVEN_FIELDS
from . import kernel
from . import rows as row_moves
from .common import Vocabulary
from .compiled import kernel_functions
from .compiled_policy import ProfileTables
from .layers import CHAIN
from .ordering import SettlementPlan, chunks
from .state import sizes

__all__ = ["CHUNK_ROWS", "settle"]

#: Rows the kernel settles in one call: its inputs gathered into settlement order stay in cache.
CHUNK_ROWS = 1 << 15
#: A column of given amounts no row gives: read as not given by the kernel.
_NOTHING_GIVEN = np.zeros(0, np.int64)


def kernel_tables(made: ProfileTables, vocab: Vocabulary, engine: str) -> kernel.PolicyTables:
    """The kernel's PolicyTables for a set of profiles, for ``engine`` (made once, kept with them)."""
    tables = made.kernel.get(engine)
    if tables is None:
        basic, critical = made.builds["basic"].tables, made.builds["critical"].tables
        arrays = (
            *(made.params[name] for name in ("codes", *CHAIN)),
            np.ascontiguousarray(basic.schedules, np.int64),
            basic.later_fractions,
            basic.edges,
            basic.rates,
            basic.step.astype(np.int64),
            basic.basis.astype(np.int64),
            critical.edges,
            critical.rates,
        )
        if engine == "interpreted":
            # CPython runs the kernel on Python ints: indexing an object array returns the int
            # itself, not a numpy scalar, whose arithmetic is several times slower (exact either way)
            arrays = tuple(t.astype(object) for t in arrays)
        tables = made.kernel[engine] = kernel.PolicyTables._make((*arrays, *sizes(vocab)))
    return tables


def settle(
    cols: Mapping[str, np.ndarray],
    profile: np.ndarray,
    made: ProfileTables,
    plan: SettlementPlan,
    vocab: Vocabulary,
    engine: str,
    trace: bool,
    threads: int = 1,
    chunk_rows: int | None = None,
) -> tuple[np.ndarray, kernel.Traces]:
    """Settle the plan's rows: (payments by input row, side by side as kernel.RESULTS; the traces,
    by position in settlement order, when ``trace``). Fills ``plan.final``."""
    n, ordered = len(profile), plan.ordered
    width = plan.width
    basic, critical = made.builds["basic"].tables, made.builds["critical"].tables
    # payments by input row: int32, since every payment is at most its claim's total, which
    # the checks cap at MAX_TOTAL < 2^31 fen
    res = np.zeros((n, len(kernel.RESULTS)), np.int32)  # (a row's payments side by side)
    traced = len(ordered) if trace else 0  # trace columns by position in settlement order
    bands = max(basic.rates.shape[2], critical.rates.shape[2])
    traces = kernel.Traces(
        trace,
        np.zeros((len(kernel.TRACE), traced), np.int64),
        np.zeros((2, 2, traced, bands), np.int64),
        np.zeros((2, traced, width), np.int64),
    )
    inputs: tuple[np.ndarray, ...] = (profile, cols["total"], cols["in_scope"], cols["pre_self_pay"])  # by input row
    # amounts of earlier layers, gathered only where some row gives one (else the kernel reads
    # columns of length 0 as not given)
    given = cols["given"].strides != (0,) and bool(cols["given"][ordered].any())
    if given:
        inputs += tuple(cols[name] for name in GIVEN_FIELDS)
    native = engine == "interpreted"
    tables = kernel_tables(made, vocab, engine)
    settle_rows = kernel_functions(engine)["settle_rows"]
    moves = kernel_functions(engine, row_moves)
    gather, scatter = moves["gather"], moves["scatter"]
    init, final = (plan.init.astype(object) if native else plan.init), plan.final

    def settle_chunk(chunk: tuple[int, int, int]) -> None:
        # The chunk's rows gathered into settlement order first, so that the kernel reads and
        # writes contiguous memory: gathers run many loads at once, the kernel one row at a time.
        start, stop, first_group = chunk
        rows = ordered[start:stop]
        person, year, month = plan.person_at[start:stop], plan.year_at[start:stop], plan.month_at[start:stop]
        gathered: list[Any]
        if native:  # Python lists of Python ints: what CPython indexes fastest (rows are few)
            gathered = [column[rows].tolist() for column in inputs] + [[]] * (0 if given else len(GIVEN_FIELDS))
            keys: list[Any] = [person.tolist(), year.tolist(), month.tolist()]
            scratch: Any = [0] * width
        else:
            block = np.empty((len(inputs), stop - start), np.int64)
            for column, target in zip(inputs, block):
                gather(rows, column, target)
            gathered = list(block) + ([] if given else [_NOTHING_GIVEN] * len(GIVEN_FIELDS))
            keys = [person, year, month]
            scratch = np.zeros(width, np.int64)
        out = np.empty((len(kernel.RESULTS), stop - start), np.int64)
        claim_rows = kernel.ClaimRows(*keys, *gathered)
        settle_rows(claim_rows, tables, first_group, init, final, scratch, out, traces)
        if native:
            res[rows] = out.T
        else:
            scatter(rows, out, res)

    pieces = [(0, len(ordered), 0)] if trace else chunks(len(ordered), plan.starts, chunk_rows or CHUNK_ROWS)
    if threads > 1 and len(pieces) > 1:
        from concurrent.futures import ThreadPoolExecutor  # the compiled kernel and numpy's gathers release the GIL

        with ThreadPoolExecutor(threads) as executor:
            list(executor.map(settle_chunk, pieces))
    else:
        for piece in pieces:
            settle_chunk(piece)
    return res, traces
