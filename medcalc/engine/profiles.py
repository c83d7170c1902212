"""Profiles: the distinct kinds of claim in a batch, so that rules are looked up once per kind.

What a layer's rules say about a claim depends only on its codes (level, place, referral,
category, age, retired, visit, service, diseases, certifications, the earlier layers' amounts
it gives) and on the rule versions
in force on its day. Claims that agree on all of them share a *profile*: the layers' builds
run on one representative row per profile (a few hundred, whatever the batch's size), and
the kernel reads a claim's parameters from its profile's row.
"""

from __future__ import annotations

import numpy as np

from . import rows
from .compiled import choose_engine, in_ranges, kernel_functions, low_high

__all__ = ["KEY_COLUMNS", "profile_codes"]

#: The claim columns a profile is made of (with the rule versions in force, ``variant``).
KEY_COLUMNS = (
    "level",
    "visit",
    "service",
    "place",
    "referral",
    "category",
    "age",
    "retired",
    "diseases",
    "certified",
    "given",
)

#: Up to this many possible keys, profiles are numbered by a table of the keys present (no sort).
_TABLE_KEYS = 1 << 22


def profile_codes(
    cols: dict[str, np.ndarray], variant: np.ndarray, live: np.ndarray, engine: str | None = None, threads: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """(profile of each row, -1 where not live; a representative row of each profile).

    Each key column is packed into one int64 key by mixed radix over the values the live
    rows hold (a column with one value takes no room, and a column that is one value
    repeated, a stride-0 view, is not even read); a column whose values spread too far for
    the key (disease masks) is first numbered densely.
    """
    n = len(variant)
    profile = np.empty(n, np.int32)
    profile.fill(-1)
    if not len(live):
        return profile, np.zeros(0, np.int64)
    if len(live) == 1:  # one claim (the single-claim API): one profile
        profile[live] = 0
        return profile, live.astype(np.int64)
    move = kernel_functions(choose_engine(engine, len(live)), rows)
    key = np.zeros(len(live), np.int64)
    size = 1
    for column in [variant] + [cols[name] for name in KEY_COLUMNS]:
        if column.strides == (0,):  # a column not given: the same default on every row
            continue
        low, high = low_high(move["value_range"], live, column, threads)
        if low == high:
            continue
        span = high - low + 1
        if span > 4 * len(live) or size * span >= (1 << 62):
            distinct, offsets = np.unique(column[live], return_inverse=True)
            span = len(distinct)
            if size * span >= (1 << 62):  # pragma: no cover - beyond 2^62 kinds of claim: renumber the key so far
                distinct, key = np.unique(key, return_inverse=True)
                size = len(distinct)
            key += offsets.reshape(-1).astype(np.int64) * size
        else:
            in_ranges(move["add_digit"], len(live), threads, (live, column, low, size, key), (0, 4))
        size *= span
    if size <= max(_TABLE_KEYS, len(key)):
        present = np.zeros(size, bool)
        present[key] = True
        codes: np.ndarray = (np.cumsum(present, dtype=np.int32) - 1)[key]
        count = int(present.sum())
    else:
        distinct, codes = np.unique(key, return_inverse=True)
        codes = codes.reshape(-1)
        count = len(distinct)
    representative = np.empty(count, np.int64)
    representative[codes] = live  # any row of a profile stands for all of them
    profile[live] = codes
    return profile, representative
