"""The pipeline: claims -> columns -> rules in force -> profiles -> settlement order -> kernel.

One engine for every entry point: a single claim is a batch of one. ``run`` takes encoded
claims (``medcalc.engine.encoding``) through named stages, each in its own module: the rules
in force on each day (``in_force``), the profiles and each layer's parameters
(``compiled_policy``), fees counted at half, settlement order (``ordering``), the kernel
(``settling``, ``kernel``), and the outcome by input row (``outcome``). Rows that cannot be
settled are rejected with a reason before any accumulator sees them; every other row comes
back, in input order, with its layers' payments and, when traced, the named intermediate
columns that explain it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ..accumulators import Accumulators
from ..claims import Claim
from ..policy.model import Policy, ResolvedPolicy
from . import kernel
from .common import Vocabulary
from .compiled import choose_engine
from .compiled_policy import CompiledPolicy, ProfileTables
from .encoding import Encoded, encode_claims
from .in_force import rules_in_force
from .layers import CHAIN, outpatient
from .ordering import SettlementPlan, plan_settlement
from .outcome import Outcome, ProfileParams
from .profiles import KEY_COLUMNS, profile_codes
from .settling import settle
from .state import from_vector

__all__ = ["run", "settle_claims", "vocabulary"]


def vocabulary(policy: Policy) -> Vocabulary:
    """The policy's level codes, outpatient service names and disease names, in a fixed order.

    Computed once per loaded policy: every settlement (encoding and running) asks for it.
    """
    return CompiledPolicy.of(policy).vocab


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
    """Settle encoded claims, stage by stage:

    1. ``rules_in_force``: the rule versions in force on each row's day (``in_force``);
    2. ``_profiles``: the kinds of claim in the batch, and each layer's parameters for them
       (``CompiledPolicy.profile_tables``); rows a layer cannot settle are refused;
    3. ``_fees_at_half``: fees a service counts at half taken off the bill (日间病床);
    4. ``plan_settlement``: settlement order, person-years, starting accumulators (``ordering``);
    5. ``settle``: the kernel, chunk by chunk (``settling``);
    6. ``_outcome``: everything by input row.

    ``engine``: "auto" (by size), "compiled" or "interpreted" (see ``medcalc.engine.compiled``).
    ``threads``: chunks of whole person-years (about ``chunk_rows`` rows each) settled at once.
    ``keep_state``: return each person-year's accumulators after the batch.
    """
    compiled = CompiledPolicy.of(policy)
    live = _still_live(enc)
    variant, variants = rules_in_force(compiled, enc, live, engine, threads)
    profile, made, settled = _profiles(compiled, enc, variant, variants, _still_live(enc, live), engine, threads)
    cols = _fees_at_half(enc.cols, made, profile, settled)
    plan = plan_settlement(enc, settled, accumulators, compiled.vocab, keep_state, engine, threads)
    chosen = choose_engine(engine, len(plan.ordered))
    res, traces = settle(cols, profile, made, plan, compiled.vocab, chosen, trace, threads, chunk_rows)
    return _outcome(compiled, enc, claims, cols, variant, variants, profile, made, plan, res, traces, chosen, settled)


def _profiles(
    compiled: CompiledPolicy,
    enc: Encoded,
    variant: np.ndarray,
    variants: list[ResolvedPolicy],
    live: np.ndarray,
    engine: str | None,
    threads: int,
) -> tuple[np.ndarray, ProfileTables, np.ndarray]:
    """(each row's profile, -1 where refused; the profiles' parameter tables; the rows still to
    settle): rows a layer's build cannot settle are refused with its reason."""
    cols = enc.cols
    profile, representative = profile_codes(cols, variant, live, engine, threads)
    made = compiled.profile_tables(
        variants, variant[representative], {name: cols[name][representative] for name in KEY_COLUMNS}
    )
    for build in made.builds.values():
        for rows, field, reason in build.problems:
            bad = np.zeros(len(representative), bool)
            bad[rows] = True
            enc.reject(live[bad[profile[live]]], field, reason)
    settled = _still_live(enc, live)
    if len(settled) < len(enc.ok):
        profile[~enc.ok] = -1
    return profile, made, settled


def _fees_at_half(
    cols: dict[str, np.ndarray], made: ProfileTables, profile: np.ndarray, settled: np.ndarray
) -> dict[str, np.ndarray]:
    """The columns with the fees a service counts at half off the bill before anything is paid
    (日间病床), and that reduction (``fee_reduction``); as they are where no profile halves."""
    halve = made.params["outpatient"]
    bed, nursing = halve[:, outpatient.HALVE_BED], halve[:, outpatient.HALVE_NURSING]
    if made.halving is None:
        made.halving = bool((bed | nursing).any())
    if not made.halving or not len(settled):
        return cols
    p = profile[settled]
    reduction = np.zeros(len(profile), np.int64)
    reduction[settled] = outpatient.fee_reduction(
        bed[p], nursing[p], cols["bed_fees"][settled], cols["nursing_fees"][settled]
    )
    total, in_scope = cols["total"] - reduction, cols["in_scope"] - reduction
    return dict(cols, total=total, in_scope=in_scope, fee_reduction=reduction)


def _outcome(
    compiled: CompiledPolicy,
    enc: Encoded,
    claims: Sequence[Claim] | None,
    cols: dict[str, np.ndarray],
    variant: np.ndarray,
    variants: list[ResolvedPolicy],
    profile: np.ndarray,
    made: ProfileTables,
    plan: SettlementPlan,
    res: np.ndarray,
    traces: kernel.Traces,
    engine: str,
    settled: np.ndarray,
) -> Outcome:
    """The run's results by input row (and, traced, its intermediate columns, band portions and
    accumulators before and after each row)."""
    n, ordered, vocab = len(enc.ok), plan.ordered, compiled.vocab
    results = dict(zip(kernel.RESULTS, res.T))
    before: dict[int, Accumulators] = {}
    after: dict[int, Accumulators] = {}
    band_traces = None
    if traces.on:  # by input row, as the results are

        def by_row(values: np.ndarray) -> np.ndarray:
            out = np.zeros((n,) + values.shape[1:], np.int64)
            out[ordered] = values
            return out

        tr, tb, acc = traces.tr, traces.tb, traces.acc
        results.update((name, by_row(tr[j])) for j, name in enumerate(kernel.TRACE) if name not in results)
        band_traces = {}
        for k, name in enumerate(kernel.BANDED):
            used = made.builds[name].tables.rates.shape[2]
            band_traces[name] = {"portions": by_row(tb[k, 0, :, :used]), "rates": by_row(tb[k, 1, :, :used])}
        band_traces["basic"]["step_band"] = results["step_band"]
        starts = plan.starts
        key_of_position = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(ordered))))
        for at, row in enumerate(ordered.tolist()):
            key = plan.keys[int(key_of_position[at])]
            before[row] = from_vector(key, acc[0, at], vocab)
            after[row] = from_vector(key, acc[1, at], vocab)
    return Outcome(
        compiled.policy,
        claims,
        settled,
        cols,
        results,
        band_traces,
        variant,
        variants,
        {name: ProfileParams(made.params[name], profile, layer.PARAM_AT) for name, layer in CHAIN.items()},
        {name: b.tables for name, b in made.builds.items()},
        enc.reject_groups,
        plan.final,
        plan.keys,
        vocab,
        plan.initial,
        before,
        after,
        enc.claim_ids,
        engine,
        res,
    )


def _still_live(enc: Encoded, live: np.ndarray | None = None) -> np.ndarray:
    """The rows not rejected: ``live`` as it was when no row has been rejected since (the
    groups of rejects have not grown), so that a batch with no new rejects is not scanned again."""
    if live is not None and enc._counted == len(enc.reject_groups):
        return live
    enc._counted = len(enc.reject_groups)
    return enc.ok.nonzero()[0]
