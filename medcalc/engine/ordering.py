"""Settlement order: the rows sorted by person, day and claim id; their years and months;
where each person-year starts; and chunks of whole person-years for the kernel.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import attrs
import numpy as np

from ..accumulators import Accumulators
from . import rows as row_moves
from .common import Vocabulary
from .compiled import choose_engine, in_ranges, kernel_functions, low_high
from .encoding import Encoded
from .outcome import StateKeys
from .state import to_vector
from .state import width as state_width

__all__ = ["SettlementPlan", "plan_settlement", "settlement_order", "years_and_months", "person_years", "chunks"]


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


def years_and_months(day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def person_years(person: np.ndarray, year: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def chunks(rows: int, starts: np.ndarray, size: int) -> list[tuple[int, int, int]]:
    """(start, stop, first person-year) of chunks of about ``size`` rows of whole person-years."""
    if rows <= size or len(starts) < 2:
        return [(0, rows, 0)]
    firsts = np.unique(np.searchsorted(starts, np.arange(0, rows, size), side="right") - 1)
    bounds = np.append(starts[firsts], rows)
    return [
        (int(bounds[k]), int(bounds[k + 1]), int(firsts[k])) for k in range(len(firsts)) if bounds[k + 1] > bounds[k]
    ]


@attrs.define(eq=False)
class SettlementPlan:
    """The settled rows in settlement order, and what the kernel needs about them.

    ``ordered``: input rows in settlement order; ``person_at``, ``year_at``, ``month_at``: the
    person code, year and month (0-11) at each position; ``starts``: where each person-year
    starts; ``keys``: (person id, year) of each; ``initial``: the accumulators given, by key;
    ``init``: each person-year's starting state vector (no rows when none was given);
    ``final``: room for each one's state after (no rows when not kept); ``width``: a state
    vector's length.
    """

    ordered: np.ndarray
    person_at: np.ndarray
    year_at: np.ndarray
    month_at: np.ndarray
    starts: np.ndarray
    keys: StateKeys
    initial: dict[tuple[str, int], Accumulators]
    init: np.ndarray
    final: np.ndarray
    width: int


def plan_settlement(
    enc: Encoded,
    settled: np.ndarray,
    accumulators: Iterable[Accumulators],
    vocab: Vocabulary,
    keep_state: bool,
    engine: str | None,
    threads: int,
) -> SettlementPlan:
    """The settled rows in settlement order, their person-years and starting accumulators."""
    # (a batch's ClaimIds rank a subset of rows on demand; claim objects come with their ranks, ``tie``)
    rank_ties = getattr(enc.claim_ids, "ranks", None) if enc.tie is None else None
    ordered, person_at, day_at = settlement_order(
        enc.person, enc.cols["day"], enc.tie, rank_ties, settled, engine, threads
    )
    year_at, month_at = years_and_months(day_at)
    starts, groups = person_years(person_at, year_at)
    keys = StateKeys(enc.people, groups)
    initial = {(a.person_id, a.year): a for a in accumulators}
    width = state_width(vocab)
    init = np.zeros((len(groups) if initial else 0, width), np.int64)
    for j, key in enumerate(keys if initial else ()):
        if key in initial:
            init[j] = to_vector(initial[key], vocab, width)
    final = np.zeros((len(groups) if keep_state else 0, width), np.int64)
    return SettlementPlan(ordered, person_at, year_at, month_at, starts, keys, initial, init, final, width)
