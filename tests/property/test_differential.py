"""The engine equals the plain reference calculator to the fen, on random policies and claims."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import medcalc
from medcalc.engine.pipeline import settle_claims
from medcalc.strategies import claim_sequences, policies
from tests.conftest import examples
from tests.reference import settle_all


def _engine(policy, batch):
    outcome = settle_claims(policy, batch)
    rejected = {r.row: r.field for r in outcome.rejects}
    rows = []
    for i in range(len(batch)):
        if i in rejected:
            rows.append({"rejected": rejected[i]})
        else:
            rows.append(
                {
                    **{
                        k: int(outcome.results[k][i])
                        for k in ("deductible", "basic", "critical", "assistance", "backstop")
                    },
                    "patient": int(
                        outcome.columns["total"][i]
                        - sum(outcome.results[k][i] for k in ("basic", "critical", "assistance", "backstop"))
                    ),
                    "in_scope": int(outcome.columns["in_scope"][i]),
                }
            )
    return rows


@pytest.mark.slow
@settings(max_examples=examples(3))
@given(policy=policies(allow_warnings=True), batch=st.booleans().flatmap(lambda given: claim_sequences(given=given)))
def test_engine_equals_reference_on_random_policies(policy, batch):
    assert _engine(policy, batch) == settle_all(policy, batch)


SHIPPED = [
    "luan-2021",
    "anhui-2025",
    "jiujiang-residents",
    "jiujiang-employees",
    "hengyang-2023",
    "hengnan-2019",
    "chongqing-2023-tier1",
]


@settings(max_examples=examples(0.6))
@given(data=st.data())
def test_engine_equals_reference_on_shipped_policies(data):
    policy = medcalc.load_policy(data.draw(st.sampled_from(SHIPPED)))
    coverage = policy.coverage(("inpatient.deductible", "inpatient.ratio"))
    start = coverage[0][0] - dt.timedelta(days=30)  # some claims fall before the policy starts
    # no policy= here: claims it rejects (an unknown level, a day before it starts) are part of the test
    batch = data.draw(
        claim_sequences(
            levels=tuple(policy.levels) + ("level9",), dates=st.dates(start, start + dt.timedelta(days=500))
        )
    )
    assert _engine(policy, batch) == settle_all(policy, batch)


@pytest.mark.slow
@settings(max_examples=examples(1.5))
@given(policy=policies(allow_warnings=True), data=st.data())
def test_engine_equals_reference_on_claims_the_policy_settles_close_together(policy, data):
    # claims within five months: many share a person's calendar month or quarter (caps per period)
    batch = data.draw(
        claim_sequences(
            policy=policy, persons=2, max_size=12, dates=st.dates(dt.date(2020, 1, 1), dt.date(2020, 5, 31))
        )
    )
    assert _engine(policy, batch) == settle_all(policy, batch)
