"""Hypothesis properties of basic inpatient settlement on random policies and claim sequences."""

from __future__ import annotations

import random

import attrs
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import medcalc
from medcalc import Fen
from medcalc.strategies import claim_sequences, policies
from tests.conftest import examples
from tests.policy_text import make_policy, rule

SETTINGS = settings(max_examples=examples(1.5))


@pytest.mark.slow
@SETTINGS
@given(policy=policies(allow_warnings=True), batch=st.booleans().flatmap(lambda given: claim_sequences(given=given)))
def test_payouts_within_bounds_and_identity_holds(policy, batch):
    result = medcalc.settle_many(policy, batch)
    assert len(result.settlements) + len(result.rejects) == len(batch)
    for s in result.settlements:
        assert 0 <= s.deductible <= s.in_scope
        assert 0 <= s.basic <= s.in_scope - s.deductible
        assert s.total == s.funds + s.patient
        assert s.patient >= s.total - s.in_scope - s.pre_self_pay  # a 大病 base may include 乙类先行自付


@SETTINGS
@given(cap=st.integers(0, 5_000_000), batch=claim_sequences(persons=2, max_size=15, visits=["inpatient"]))
def test_a_persons_basic_payments_in_a_year_never_exceed_the_cap(tmp_path_factory, cap, batch):
    policy = make_policy(
        tmp_path_factory.mktemp("p"),
        rule("inpatient.deductible", "amount = 100"),
        rule("inpatient.ratio", 'ratio = { level1 = "90%", level2 = "80%" }'),
        rule("inpatient.cap", f'fund = "{cap // 100}.{cap % 100:02d}"'),
    )
    batch = [
        attrs.evolve(c, level="level1" if c.level == "level3" else c.level, place="local", referral="none")
        for c in batch
    ]
    result = medcalc.settle_many(policy, batch)
    paid: dict = {}
    for s in result.settlements:
        key = (s.claim.person_id, s.claim.settled_on.year)
        paid[key] = paid.get(key, 0) + s.basic
    assert all(total <= cap for total in paid.values())
    for key, acc in result.accumulators.items():
        assert acc.basic_paid == paid.get(key, 0) <= cap


MARGINAL = 'segments = "marginal"\nbasis = "in_scope"\nbands = [ { below = 5000, ratio = "60%" }, { below = "3万", ratio = "75%" }, { ratio = "85%" } ]'


@SETTINGS
@given(
    history=claim_sequences(persons=1, max_size=4, visits=["inpatient"]),
    extra=st.integers(0, 5_000_000),
    data=st.data(),
)
def test_payout_is_non_decreasing_in_cost_with_marginal_segments(tmp_path_factory, history, extra, data):
    policy = make_policy(
        tmp_path_factory.mktemp("p"),
        rule("inpatient.deductible", "by_admission = [800, 400]"),
        rule("inpatient.ratio", MARGINAL),
        rule("inpatient.cap", 'fund = "5万"'),
    )
    history = [
        attrs.evolve(c, level="level1", place="local", referral="none", settled_on=c.settled_on.replace(year=2020))
        for c in history
    ]
    base = data.draw(st.integers(0, 5_000_000))
    last = medcalc.Claim(person_id="p0", settled_on="2020-12-31", level="level1", total=Fen(base), claim_id="zz")
    more = attrs.evolve(last, total=Fen(base + extra))
    low = medcalc.settle(policy, last, history=history)
    high = medcalc.settle(policy, more, history=history)
    assert high.basic >= low.basic


@SETTINGS
@given(
    ratio=st.integers(0, 10000),
    bump=st.integers(0, 10000),
    deductible=st.integers(0, 500_000),
    cut=st.integers(0, 500_000),
    batch=claim_sequences(persons=2, visits=["inpatient"]),
)
def test_a_higher_ratio_or_lower_deductible_never_pays_less(tmp_path_factory, ratio, bump, deductible, cut, batch):
    def policy(r, d, name):
        return make_policy(
            tmp_path_factory.mktemp(name),
            rule("inpatient.deductible", f'amount = "{d // 100}.{d % 100:02d}"'),
            rule("inpatient.ratio", f'ratio = "{r // 100}.{r % 100:02d}%"'),
            rule("inpatient.cap", 'fund = "3万"'),
            name=name,
        )

    higher = min(10000, ratio + bump)
    lower_d = max(0, deductible - cut)
    batch = [
        attrs.evolve(c, level="level2" if c.level == "level3" else c.level, place="local", referral="none")
        for c in batch
    ]
    base = medcalc.settle_many(policy(ratio, deductible, "base"), batch)
    better = medcalc.settle_many(policy(higher, lower_d, "better"), batch)

    # per person-year totals (caps may shift payments between claims, never the total down)
    def totals(b):
        out: dict = {}
        for s in b.settlements:
            key = (s.claim.person_id, s.claim.settled_on.year)
            out[key] = out.get(key, 0) + s.basic
        return out

    t0, t1 = totals(base), totals(better)
    assert all(t1[k] >= t0[k] for k in t0)
    if not any(True for _ in []):
        # without a binding cap each claim individually never pays less
        capped = any(acc.basic_paid >= 3_000_000 for acc in better.accumulators.values())
        if not capped:
            assert all(b.basic >= a.basic for a, b in zip(base.settlements, better.settlements))


@SETTINGS
@given(
    policy=policies(allow_warnings=True), batch=claim_sequences(persons=4, max_size=14), seed=st.integers(0, 2**32 - 1)
)
def test_shuffling_the_rows_of_many_people_changes_nothing(policy, batch, seed):
    # distinct claim ids make the settlement order total, so input order cannot matter
    batch = [attrs.evolve(c, claim_id=f"c{i:03d}") for i, c in enumerate(batch)]
    order = list(range(len(batch)))
    random.Random(seed).shuffle(order)
    first = medcalc.settle_many(policy, batch, explain=False)
    second = medcalc.settle_many(policy, [batch[i] for i in order], explain=False)
    by_id = lambda b: {s.claim.claim_id: (s.deductible, s.basic) for s in b.settlements}  # noqa: E731
    assert by_id(first) == by_id(second)
    assert {batch[r.row].claim_id for r in first.rejects} == {batch[order[r.row]].claim_id for r in second.rejects}
    assume(first.settlements)
