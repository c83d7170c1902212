"""One kernel, two ways to run it: compiled by numba it settles exactly as CPython interprets it.

Every traced intermediate amount, band portion and accumulator is compared, not only the
payments; and the compiled kernel's slices of people on several threads give the same
results as one thread.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import medcalc
from medcalc.analysis.synthetic import synthetic_claims
from medcalc.batch.columns import settle_arrays
from medcalc.engine.pipeline import settle_claims
from medcalc.strategies import claim_sequences, policies
from tests.conftest import examples


def _everything(outcome):
    rows = outcome.settled
    return {
        "settled": rows.tolist(),
        "rejects": [(r.row, r.field, r.reason) for r in outcome.rejects],
        "results": {k: np.asarray(v)[rows].tolist() for k, v in outcome.results.items()},
        "bands": {
            layer: {k: np.asarray(v)[rows].tolist() for k, v in parts.items()}
            for layer, parts in (outcome.bands or {}).items()
        },
        "before": {r: a.to_dict() for r, a in outcome.accumulators_before.items()},
        "after": {r: a.to_dict() for r, a in outcome.accumulators_after.items()},
        "final": {k: a.to_dict() for k, a in outcome.accumulators.items()},
    }


@pytest.mark.slow
@settings(max_examples=examples(1.2))
@given(
    policy=policies(allow_warnings=True),
    batch=st.booleans().flatmap(lambda given: claim_sequences(persons=3, max_size=12, given=given)),
)
def test_compiled_equals_interpreted(policy, batch):
    interpreted = settle_claims(policy, batch, trace=True, engine="interpreted")
    compiled = settle_claims(policy, batch, trace=True, engine="compiled")
    assert _everything(compiled) == _everything(interpreted)


def test_compiled_equals_interpreted_on_a_population():
    claims = synthetic_claims("huaibei-2025", 3000, seed=11, poverty_share=0.2, outpatient_share=0.2)
    policy = medcalc.load_policy("huaibei-2025")
    a = medcalc.settle_table(claims, policy, engine="interpreted", amounts="fen")
    b = medcalc.settle_table(claims, policy, engine="compiled", amounts="fen")
    assert a.results.equals(b.results) and a.rejects.equals(b.rejects)
    assert a.results.num_rows > 2500  # the comparison covers real settlements


def test_any_thread_count_settles_the_same():
    claims = synthetic_claims("huaibei-2025", 40_000, seed=3, poverty_share=0.2)
    policy = medcalc.load_policy("huaibei-2025")
    columns = {name: claims.column(name).to_numpy(zero_copy_only=False) for name in claims.column_names}
    columns["settled_on"] = columns["settled_on"].astype("datetime64[D]")
    outcomes = [settle_arrays(policy, **columns, engine="compiled", threads=t) for t in (1, 2, 3)]
    first = outcomes[0]
    assert len(first.row) > 35_000
    for other in outcomes[1:]:
        assert np.array_equal(other.row, first.row)
        for name, values in first.columns.items():
            assert np.array_equal(other.columns[name], values), name
        assert other.accumulators == first.accumulators
