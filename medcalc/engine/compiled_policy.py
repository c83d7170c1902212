"""A policy as the engine runs it: made once per loaded policy, kept with it.

A loaded policy does not change, so what the engine derives from it is made once
(``CompiledPolicy.of``, kept by ``Policy.memo``) and every settlement of the policy, a single
claim or a file's part, starts from it instead of looking the same things up again:

- ``vocab``: its level codes, outpatient services, diseases and assistance cap groups, in the
  fixed order the columns and the keyed state use;
- ``rules_on(day)``: the rule versions in force on a day, and which visits they settle;
- ``profile_tables(...)``: the layers' builds and parameter tables for a set of profiles (the
  kinds of claim in a batch), kept for small sets, which recur (every single claim of a known
  kind is one).
"""

from __future__ import annotations

import datetime as dt

import attrs
import numpy as np

from ..accumulators import DEFAULT_CAP_GROUP
from ..policy.model import Policy, ResolvedPolicy
from .common import LayerBuild, Vocabulary
from .kernel import PROFILE_CODES, PolicyTables
from .layers import CHAIN
from .layers.basic import REQUIRED_RULES
from .profiles import KEY_COLUMNS

__all__ = ["CompiledPolicy", "ProfileTables", "MAX_DISEASES"]

#: Diseases a policy may name: a claim carries its diseases as bits of one int64.
MAX_DISEASES = 62
#: Profile sets a compiled policy keeps for later calls (a single claim's kinds recur).
KEPT_PROFILE_SETS = 256
#: Only sets of at most this many profiles are kept: a batch's hundreds rarely recur.
KEPT_PROFILES = 64


@attrs.define(eq=False)
class ProfileTables:
    """The layers' parameters for a set of profiles.

    ``builds``: each layer's build (its columns, lookups, and the profiles it cannot settle);
    ``params``: the tables the kernel reads, one row per profile: ``codes`` (PROFILE_CODES) and
    one per layer (its PARAMS); ``kernel``: the kernel's PolicyTables by engine, made on first
    use; ``halving``: whether some profile counts fees at half (None: not asked yet).
    """

    builds: dict[str, LayerBuild]
    params: dict[str, np.ndarray]
    kernel: dict[str, PolicyTables] = attrs.field(factory=dict)
    halving: bool | None = None


@attrs.define(eq=False)
class CompiledPolicy:
    """The engine's form of one loaded policy (see the module)."""

    policy: Policy
    vocab: Vocabulary
    _days: dict[int, tuple[ResolvedPolicy, np.ndarray]] = attrs.field(factory=dict)
    _profile_sets: dict[tuple, tuple[tuple[ResolvedPolicy, ...], ProfileTables]] = attrs.field(factory=dict)

    @classmethod
    def of(cls, policy: Policy) -> CompiledPolicy:
        """The policy's compiled form, made on first use."""
        return policy.memo("engine", lambda p: cls(p, _vocabulary(p)))

    def rules_on(self, day: int) -> tuple[ResolvedPolicy, np.ndarray]:
        """The versions in force on a day (an ordinal), and which visits they settle: one flag per
        outpatient service, then admissions. Kept: a file's parts share its days."""
        kept = self._days.get(day)
        if kept is None:
            resolved = self.policy.at(dt.date.fromordinal(day))
            flags = [resolved.rule(f"outpatient.service.{name}") is not None for name in self.vocab.services]
            flags.append(all(resolved.rule(k) is not None for k in REQUIRED_RULES))
            kept = self._days[day] = (resolved, np.array(flags, bool))
        return kept

    def profile_tables(
        self, variants: list[ResolvedPolicy], variant: np.ndarray, pcols: dict[str, np.ndarray]
    ) -> ProfileTables:
        """Each layer's build on the profiles' representative rows (``variant``: each one's rule
        versions; ``pcols``: its KEY_COLUMNS), and the parameter tables the kernel reads.

        The builds read only the profile's codes and rule versions, so a set of profiles seen
        before takes its parameters from here instead of looking them up again.
        """
        key = (
            tuple(id(v) for v in variants),
            tuple(variant.tolist()),
            tuple(tuple(pcols[name].tolist()) for name in KEY_COLUMNS),
        )  # (values, whatever their dtype)
        kept = self._profile_sets.get(key)
        if kept is not None:
            return kept[1]
        builds = {name: layer.build(variants, variant, pcols, self.vocab) for name, layer in CHAIN.items()}
        params = {"codes": _table([pcols[name] for name in PROFILE_CODES], len(variant))}
        for name, layer in CHAIN.items():
            params[name] = _table([builds[name].columns[param] for param in layer.PARAMS], len(variant))
        tables = ProfileTables(builds, params)
        if len(variant) <= KEPT_PROFILES:
            if len(self._profile_sets) >= KEPT_PROFILE_SETS:
                self._profile_sets.clear()
            # holding the variants keeps the ids in the key theirs
            self._profile_sets[key] = (tuple(variants), tables)
        return tables


def _table(columns: list[np.ndarray], rows: int) -> np.ndarray:
    """Columns side by side, one row per profile (int64, rows contiguous: the kernel reads a row)."""
    table = np.empty((rows, len(columns)), np.int64)
    for j, column in enumerate(columns):
        table[:, j] = column
    return table


def _vocabulary(policy: Policy) -> Vocabulary:
    """The policy's level codes, outpatient service names and disease names, in a fixed order."""
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
    if len(diseases) > MAX_DISEASES:
        raise ValueError(f"policy {policy.id} names {len(diseases)} diseases; medcalc handles at most {MAX_DISEASES}")
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
