"""Hypothesis properties of the payer chain over random claim sequences."""

from __future__ import annotations

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

import medcalc
from medcalc import Claim, Fen
from medcalc.strategies import claim_sequences, policies
from tests.conftest import examples
from tests.policy_text import make_policy, rule

SETTINGS = settings(max_examples=examples(1.2))


def _year_totals(batch, field):
    out: dict = {}
    for s in batch.settlements:
        key = (s.claim.person_id, s.claim.settled_on.year)
        out[key] = out.get(key, 0) + getattr(s, field)
    return out


@SETTINGS
@given(policy=policies(allow_warnings=True), batch=claim_sequences(persons=2, max_size=10))
def test_each_layer_pays_within_what_the_previous_left(policy, batch):
    result = medcalc.settle_many(policy, batch)
    for s in result.settlements:
        assert 0 <= s.basic <= s.in_scope - s.deductible
        assert 0 <= s.critical <= s.in_scope - s.basic + s.pre_self_pay
        assert 0 <= s.assistance <= max(s.in_scope - s.basic - s.critical, 0)
        assert 0 <= s.backstop <= max(s.in_scope - s.basic - s.critical - s.assistance, 0)
        assert s.total == s.basic + s.critical + s.assistance + s.backstop + s.patient
        assert s.patient >= s.total - s.in_scope - s.pre_self_pay


def _chain(tmp_path, *, basic_ratio=8000, critical_cap=None, assistance_cap=None, tilt=None):
    cap = rule("critical.cap", f'amount = "{critical_cap}"') if critical_cap is not None else ""
    acap = f'cap = "{assistance_cap}"' if assistance_cap is not None else ""
    rules = [
        rule("inpatient.deductible", "amount = 500"),
        rule("inpatient.ratio", f'ratio = "{basic_ratio / 100}%"'),
        rule("inpatient.cap", 'fund = "5万"'),
        rule("critical.base", "deductible = true\ncoinsurance = true\nabove_cap = true\npre_self_pay = false"),
        rule("critical.threshold", 'amount = "1万"'),
        rule(
            "critical.bands", 'convention = "cumulative"\nbands = [{ below = "5万", ratio = "60%" }, { ratio = "70%" }]'
        ),
        cap,
        rule(
            "assistance.category.dibao", f'when = {{ category = ["dibao"] }}\ndeductible = 1000\nratio = "70%"\n{acap}'
        ),
        rule("backstop.burden_cap.dibao", 'when = { category = ["dibao"] }\ncap = { level1 = 3000, level2 = 5000 }'),
    ]
    if tilt:
        rules.append(rule("critical.modifier.poor", f'when = {{ category = ["dibao"] }}\n{tilt}'))
    return make_policy(tmp_path, *rules, name=f"chain{abs(hash((basic_ratio, critical_cap, assistance_cap, tilt)))}")


def _local(batch, **changes):
    return [
        attrs.evolve(c, level="level1" if c.level == "level3" else c.level, place="local", referral="none", **changes)
        for c in batch
    ]


@SETTINGS
@given(
    cap=st.integers(0, 60_000),
    acap=st.integers(0, 30_000),
    batch=claim_sequences(persons=2, max_size=12, visits=["inpatient"]),
)
def test_layer_caps_are_never_exceeded_in_a_year(tmp_path_factory, cap, acap, batch):
    policy = _chain(tmp_path_factory.mktemp("p"), critical_cap=cap, assistance_cap=acap)
    result = medcalc.settle_many(policy, _local(batch))
    assert all(v <= cap * 100 for v in _year_totals(result, "critical").values())
    assert all(v <= acap * 100 for v in _year_totals(result, "assistance").values())
    for acc in result.accumulators.values():
        assert acc.critical_paid <= cap * 100 and sum(acc.assistance_paid.values()) <= acap * 100


@SETTINGS
@given(
    batch=claim_sequences(persons=1, max_size=10, visits=["inpatient"]),
    fraction=st.integers(0, 100),
    points=st.integers(0, 30),
    uncapped=st.booleans(),
)
def test_a_tilted_person_never_gets_less(tmp_path_factory, batch, fraction, points, uncapped):
    tilt = f'threshold_fraction = "{fraction}%"\nratio_points = "+{points}"\nuncapped = {str(uncapped).lower()}'
    policy = _chain(tmp_path_factory.mktemp("p"), critical_cap=20_000, assistance_cap=5000, tilt=tilt)
    plain = medcalc.settle_many(policy, _local(batch, category="ordinary"))
    tilted = medcalc.settle_many(policy, _local(batch, category="dibao"))
    assert all(
        tilted_total >= plain_total
        for tilted_total, plain_total in zip(
            _year_totals(tilted, "funds").values(), _year_totals(plain, "funds").values()
        )
    )
    # claim by claim, an uncapped tilt's 大病 never pays less (with a cap, paying more earlier
    # in the year can leave less room for a later claim, so only the year's total is compared)
    if uncapped:
        assert all(t.critical >= p.critical for t, p in zip(tilted.settlements, plain.settlements))


FIXTURE_BASIC = (rule("inpatient.deductible", "amount = 0"), rule("inpatient.ratio", 'ratio = "0%"'))


@SETTINGS
@given(
    amounts=st.lists(st.integers(0, 200_000), min_size=1, max_size=8),
    cuts=st.data(),
    convention=st.sampled_from(["cumulative", "above_threshold"]),
    rates=st.lists(st.integers(0, 100), min_size=3, max_size=3),
    threshold=st.integers(0, 50_000),
)
def test_the_years_critical_total_does_not_depend_on_how_costs_are_split(
    tmp_path_factory, amounts, cuts, convention, rates, threshold
):
    bands = f'[{{ below = "3万", ratio = "{rates[0]}%" }}, {{ below = "10万", ratio = "{rates[1]}%" }}, {{ ratio = "{rates[2]}%" }}]'
    policy = make_policy(
        tmp_path_factory.mktemp("p"),
        *FIXTURE_BASIC,
        rule("critical.base", "deductible = true\ncoinsurance = true\nabove_cap = true\npre_self_pay = false"),
        rule("critical.threshold", f"amount = {threshold}"),
        rule("critical.bands", f'convention = "{convention}"\nbands = {bands}'),
    )
    # the same year's costs (whole yuan), once as given and once re-split at random points
    total = sum(amounts)
    points = sorted(cuts.draw(st.lists(st.integers(0, total), max_size=6)))
    pieces = [b - a for a, b in zip([0, *points], [*points, total])]

    def year(parts):
        claims_ = [
            Claim(person_id="p", settled_on=f"2024-01-{i + 1:02d}", level="level1", total=Fen(v * 100))
            for i, v in enumerate(parts)
        ]
        return sum(s.critical for s in medcalc.settle_many(policy, claims_, explain=False).settlements)

    assert year(amounts) == year(pieces)


_AGE_RULES = st.fixed_dictionaries(
    {
        "from_age": st.integers(0, 90),
        "per_year": st.integers(1, 200),
        "at_most": st.integers(1, 3000),
        "rounding": st.sampled_from(
            ["", 'round_to = "1", rounding = "half_up", ', 'round_to = "0.5", rounding = "down", ']
        ),
    }
)


@settings(max_examples=examples(0.6))
@given(
    age_rule=_AGE_RULES,
    ratio=st.integers(0, 10000),
    ages=st.lists(st.integers(0, 120), min_size=2, max_size=8),
    total=st.integers(1, 10**8),
)
def test_a_ratio_growing_with_age_never_pays_the_older_less_and_equals_the_reference(
    tmp_path_factory, age_rule, ratio, ages, total
):
    from tests.reference import settle_all

    points = (
        f'age_points = {{ from_age = {age_rule["from_age"]}, per_year = "+{age_rule["per_year"] / 100}", '
        f'{age_rule["rounding"]}at_most = "+{age_rule["at_most"] / 100}" }}'
    )
    policy = make_policy(
        tmp_path_factory.mktemp("age"),
        rule("inpatient.deductible", "amount = 0"),
        rule("inpatient.ratio", f'ratio = "{ratio / 100}%"'),
        rule("inpatient.modifier.elder", f"when = {{ retired = true }}\n{points}"),
    )
    ages = sorted(ages)
    claims = [
        Claim(person_id=f"p{i}", settled_on="2021-03-01", level="level1", total=Fen(total), age=a, retired=True)
        for i, a in enumerate(ages)
    ]
    batch = medcalc.settle_many(policy, claims, explain=False)
    paid = [s.basic for s in batch.settlements]
    assert paid == sorted(paid)  # older, same bill: never less
    reference = settle_all(policy, claims)
    assert paid == [r["basic"] for r in reference]
    plain = medcalc.settle(policy, attrs.evolve(claims[0], retired=False), explain=False)
    assert plain.basic <= paid[0]  # the tilt never pays less than no tilt


@settings(max_examples=examples(0.6))
@given(
    rates=st.lists(st.integers(0, 10000), min_size=2, max_size=2),
    upper=st.integers(1, 10**6),
    parts=st.lists(st.integers(1, 10**6), min_size=1, max_size=6),
)
def test_cumulative_rounding_makes_the_years_payment_independent_of_the_split(tmp_path_factory, rates, upper, parts):
    bands = (
        f'segments = "marginal"\nbasis = "in_scope"\nrounding = "cumulative"\n'
        f'bands = [{{ below = "{upper / 100:.2f}", ratio = "{rates[0] / 100}%" }}, {{ ratio = "{rates[1] / 100}%" }}]'
    )
    policy = make_policy(
        tmp_path_factory.mktemp("split"), rule("inpatient.deductible", "amount = 0"), rule("inpatient.ratio", bands)
    )

    def year(amounts):
        claims = [
            Claim(person_id="p", settled_on=f"2021-03-{d + 1:02d}", level="level1", total=Fen(a))
            for d, a in enumerate(amounts)
        ]
        return sum(s.basic for s in medcalc.settle_many(policy, claims, explain=False).settlements)

    assert year(parts) == year([sum(parts)])
