"""What a pipeline run returns: every row's payments and rejects, and when traced the named
intermediate columns and accumulators that explain it, by input row; each person-year's
accumulators after the run.

Built by ``medcalc.engine.pipeline.run``; read by the explanations (each layer's
``explain``), ``medcalc.engine.settlements`` (Settlement records) and the batch writers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from ..accumulators import STATE_FIELDS, Accumulators
from ..claims import Claim
from ..policy.model import Policy, ResolvedPolicy
from ..settlement import Reject
from .common import Vocabulary
from .state import from_vector, keyed_slices

__all__ = ["Outcome", "StateKeys", "ProfileParams", "ProfileColumn", "reject_objects"]


@attrs.define
class Outcome:
    """Everything one pipeline run produced, in input-row order."""

    policy: Policy
    claims: Sequence[Claim] | None  # the claim objects, when the input was objects
    settled: np.ndarray  # input rows that were settled
    columns: dict[str, np.ndarray]  # input columns, all rows
    results: dict[str, np.ndarray]  # kernel.RESULTS (and kernel.TRACE when traced), all rows (0 where rejected)
    bands: dict[str, dict[str, np.ndarray]] | None  # per banded layer: portions, rates (when traced)
    variant: np.ndarray
    variants: list[ResolvedPolicy]
    params: dict[str, Mapping]  # per layer: parameter -> value per input row (read from its profile)
    tables: dict[str, Any]  # per layer: lookups and the rules they came from
    reject_groups: list[tuple[np.ndarray, str, str]]  # (rows, field, reason)
    final: np.ndarray  # each person-year's accumulators after the run, as kernel state vectors (none: not kept)
    keys: StateKeys  # (person id, year) of each person-year
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
        state.update((name, self.final[:, where]) for name, where in keyed_slices(self.vocab).items())
        return state

    @property
    def accumulators(self) -> dict[tuple[str, int], Accumulators]:
        """(person id, year) -> accumulators after the run, built on first use (objects are costly)."""
        if self._accumulators is None:
            if len(self.final) < len(self.keys):
                raise ValueError("the accumulators after the run were not kept (keep_state=False)")
            final = {key: from_vector(key, self.final[j], self.vocab) for j, key in enumerate(self.keys)}
            for key, acc in self.initial.items():
                final.setdefault(key, acc)
            self._accumulators = final
        return self._accumulators


def reject_objects(groups: Sequence[tuple[np.ndarray, str, str]], claim_ids: Sequence[str | None]) -> list[Reject]:
    """Reject records, by row, from grouped rejects (built only when someone asks for objects)."""
    out = [Reject(int(r), field, reason, claim_ids[r]) for rows, field, reason in groups for r in rows.tolist()]
    return sorted(out, key=lambda r: r.row)


class StateKeys(Sequence):
    """(person id, year) of each state row, made into tuples only when asked for."""

    def __init__(self, people: Sequence[object], groups: np.ndarray) -> None:
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


class ProfileParams(Mapping):
    """A layer's parameters per input row, read from the row's profile when asked for."""

    def __init__(self, table: np.ndarray, profile: np.ndarray, at: Mapping[str, int]) -> None:
        self._prof, self._profile = table, profile
        self._at = at  # (the layer's PARAM_AT: name -> column)

    def __getitem__(self, name: str) -> ProfileColumn:
        return ProfileColumn(self._prof, self._profile, self._at[name])

    def __iter__(self):
        return iter(self._at)

    def __len__(self) -> int:
        return len(self._at)


class ProfileColumn:
    """One parameter per input row: ``column[row]``."""

    def __init__(self, prof: np.ndarray, profile: np.ndarray, at: int) -> None:
        self._prof, self._profile, self._at = prof, profile, at

    def __getitem__(self, row: int) -> int:
        return int(self._prof[self._profile[row], self._at])
