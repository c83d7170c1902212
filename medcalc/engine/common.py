"""Pieces every layer of the engine shares: limits, rounding, conditions, band tables.

All arithmetic is on int64 fen; a product amount x ratio keeps the denominator
RATIO_ONE until the layer's one half-up rounding.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from ..policy.model import CATEGORIES, PLACES, REFERRALS, ByLevel, Condition, RuleVersion
from ..vocabulary import fold
from .arithmetic import NO_LIMIT

__all__ = [
    "Gathered",
    "Vocabulary",
    "choose_one",
    "NO_LIMIT",
    "matches",
    "level_array",
    "points_array",
    "RuleIndex",
    "BandSet",
    "LayerBuild",
    "parameter_columns",
]

#: Bits of the ``given`` column: the amounts of earlier layers a claim gives (claims.GIVEN_FIELDS),
#: so that the layer is taken as given instead of computed. A profile key column: a layer's build
#: asks no rule of it for the rows that give it.
GIVEN_BASIC, GIVEN_BASE, GIVEN_CRITICAL = 1, 2, 4


class Gathered(dict):
    """Columns of ``source`` taken at ``index`` (all of them when None), each gathered on first use.

    Layers read a handful of the many columns; gathering only those saves most of the copying.
    """

    def __init__(self, source, index: np.ndarray | None) -> None:
        super().__init__()
        self._source = source
        self._index = index

    def __missing__(self, key: str) -> np.ndarray:
        column = self._source[key]
        if self._index is None:
            value = column
        elif column.ndim == 1 and column.strides[0] == 0:  # a broadcast constant stays one
            value = np.broadcast_to(column[:1], (len(self._index),))
        else:
            value = column[self._index]
        self[key] = value
        return value


class Vocabulary(list):
    """A policy's hospital level codes (the list itself), plus the names its rules use.

    ``services``: outpatient service names (a claim's ``service`` column indexes them, -1 none);
    ``diseases``: disease and certification names (claims carry them as bit masks);
    ``assistance_groups``: assistance cap groups (columns of the per-group assistance state).
    """

    def __init__(
        self,
        levels: Sequence[str],
        services: Sequence[str] = (),
        diseases: Sequence[str] = (),
        assistance_groups: Sequence[str] = (),
    ) -> None:
        super().__init__(levels)
        self.index_of = {code: i for i, code in enumerate(self)}
        self.services = list(services)
        self.diseases = list(diseases)
        self.assistance_groups = list(assistance_groups)
        # a disease is found by its folded name: 高血压 names the 高血壓 of a traditional-script policy
        self._disease_bits = {fold(n): 1 << i for i, n in enumerate(self.diseases)}

    def disease_mask(self, names: Sequence[str]) -> int:
        if not names:
            return 0
        bits = self._disease_bits
        return functools.reduce(operator.or_, (bits.get(fold(n), 0) for n in names), 0)


def matches(cond: Condition, cols: dict[str, np.ndarray], level_codes: Sequence[str]) -> np.ndarray:
    """Rows a rule's ``when`` applies to (an empty set in the condition means any)."""
    mask = np.ones(len(cols["place"]), dtype=bool)
    for column, chosen, vocabulary in (
        ("place", cond.places, PLACES),
        ("referral", cond.referrals, REFERRALS),
        ("level", cond.levels, level_codes),
        ("category", cond.categories, CATEGORIES),
    ):
        if chosen:
            allowed = np.zeros(len(vocabulary), dtype=bool)  # a lookup table: cheaper than np.isin
            allowed[[vocabulary.index(x) for x in chosen if x in vocabulary]] = True
            mask &= allowed[cols[column]]
    if cond.visits:
        mask &= np.isin(cols["visit"], [("inpatient", "outpatient").index(v) for v in cond.visits])
    if cond.services:
        services = getattr(level_codes, "services", [])
        allowed = np.zeros(len(services) + 1, dtype=bool)  # the last entry stands for "no service" (-1)
        allowed[[services.index(x) for x in cond.services if x in services]] = True
        mask &= allowed[cols["service"]]
    age = cols["age"]
    if cond.age_under is not None:
        mask &= (age >= 0) & (age < cond.age_under)
    if cond.age_at_least is not None:
        mask &= age >= cond.age_at_least
    if cond.retired is not None:
        mask &= cols["retired"] == cond.retired
    return mask


def points_array(table: ByLevel, level_codes: Sequence[str]) -> np.ndarray:
    """Ratio points by level as an array over level codes: a level a table does not name gets none (0)."""
    return np.array([table.get(lv) or 0 for lv in level_codes], dtype=np.int64)


def level_array(table: ByLevel, level_codes: Sequence[str]) -> np.ndarray:
    """A by-level value as an array over level codes; -1 where the table has none."""
    return np.array([(-1 if table.get(lv) is None else table.get(lv)) for lv in level_codes], dtype=np.int64)


def choose_one(
    rules,
    rows: np.ndarray,
    sub: dict[str, np.ndarray],
    level_codes: Sequence[str],
    index: RuleIndex,
    problems: list,
    field: str,
    what: str,
) -> np.ndarray:
    """For each row, the index of the one rule of a named family that applies (-1: none).

    A row two rules apply to is ambiguous: it is added to ``problems`` (rejected), naming ``what``.
    """
    chosen = np.full(len(rows), -1, np.int64)
    for rule in rules:
        hit = matches(rule["when"], sub, level_codes)
        clash = hit & (chosen >= 0)
        if clash.any():  # named by both rules: the one chosen before, and this one
            for earlier in sorted(set(chosen[clash].tolist())):
                both = clash & (chosen == earlier)
                problems.append(
                    (
                        rows[both],
                        field,
                        f"more than one {what} rule applies ({index.rules[earlier].key} "
                        f"and {rule.key}); the policy is ambiguous",
                    )
                )
        chosen[hit & (chosen < 0)] = index(rule)
    return chosen


class RuleIndex:
    """Numbers the rule versions a layer uses, so rows can point at them (for explanations)."""

    def __init__(self) -> None:
        self.rules: list[RuleVersion] = []
        self._keys: dict[int, int] = {}

    def __call__(self, rule: RuleVersion) -> int:
        if id(rule) not in self._keys:
            self._keys[id(rule)] = len(self.rules)
            self.rules.append(rule)
        return self._keys[id(rule)]


class BandSet:
    """Distinct band schedules, padded into arrays: edges (S, B+1) on an axis, rates (S, L, B).

    Each schedule is added once under a key and carries the rules it came from.
    """

    def __init__(self, level_codes: Sequence[str]) -> None:
        self.levels = list(level_codes)
        self._keys: dict[object, int] = {}
        self.rows: list[tuple[list[int | None], np.ndarray]] = []
        self.sources: list[tuple[RuleVersion, ...]] = []

    def add(self, key: object, uppers: list[int | None], rates: list[ByLevel], sources: tuple[RuleVersion, ...]) -> int:
        if key not in self._keys:
            self._keys[key] = len(self.rows)
            self.rows.append((uppers, np.stack([level_array(r, self.levels) for r in rates], axis=1)))
            self.sources.append(sources)
        return self._keys[key]

    def missing_level(self, index: int, level: np.ndarray) -> np.ndarray:
        """Rows (by level) for which schedule ``index`` has no rate."""
        return (self.rows[index][1][level] < 0).any(axis=1)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        S = max(1, len(self.rows))
        B = max([len(u) for u, _ in self.rows] or [1])
        edges = np.full((S, B + 1), NO_LIMIT, dtype=np.int64)
        rates = np.zeros((S, len(self.levels), B), dtype=np.int64)
        for s, (uppers, table) in enumerate(self.rows):
            edges[s, 0] = 0
            for b, upper in enumerate(uppers):
                edges[s, b + 1] = NO_LIMIT if upper is None else upper
            rates[s, :, : table.shape[1]] = np.maximum(table, 0)
        return edges, rates


def parameter_columns(params: Mapping[str, int], rows: int) -> dict[str, np.ndarray]:
    """A layer's parameter columns for ``rows`` profiles, each filled with its default (``params``:
    the layer's PARAMS, name -> the value where no rule sets one)."""
    return {name: np.full(rows, default, np.int64) for name, default in params.items()}


@attrs.define
class LayerBuild:
    """What a layer's parameter step returns: per-row columns, lookup tables, rejected rows."""

    columns: dict[str, np.ndarray]
    tables: Any  # the layer's own lookups (BasicTables, CriticalTables …)
    problems: list[tuple[np.ndarray, str, str]] = attrs.field(factory=list)
