"""Properties of outpatient services over random visit sequences."""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import medcalc
from medcalc import Claim, Fen
from tests.policy_text import make_policy, rule

BASIC = (rule("inpatient.deductible", "amount = 0"), rule("inpatient.ratio", 'ratio = "50%"'))
DISEASES = ("高血压", "糖尿病", "冠心病")

visits = st.lists(
    st.tuples(
        st.integers(0, 364),
        st.integers(0, 300_000),
        st.sampled_from(["a", "b", "c"]),
        st.lists(st.sampled_from(DISEASES), min_size=1, max_size=3, unique=True),
    ),
    min_size=1,
    max_size=25,
)


def _visits(data, service_of=lambda s: s):
    return [
        Claim(
            person_id="p",
            visit="outpatient",
            service=service_of(s),
            level="level1",
            total=Fen(total),
            settled_on=dt.date(2025, 1, 1) + dt.timedelta(days=day),
            diseases=diseases,
        )
        for day, total, s, diseases in data
    ]


@given(data=visits, cap=st.integers(0, 50_000), visit_cap=st.integers(0, 20_000), deductible=st.integers(0, 10_000))
def test_visit_and_annual_caps_hold_and_services_never_share_a_cap(tmp_path_factory, data, cap, visit_cap, deductible):
    services = [
        rule(
            f"outpatient.service.{s}",
            f'levels = ["level1"]\nratio = "{70 + i * 10}%"\ndeductible = {deductible}\n'
            f"cap = {cap}\nvisit_cap = {visit_cap}",
        )
        for i, s in enumerate("abc")
    ]
    policy = make_policy(tmp_path_factory.mktemp("p"), *BASIC, *services)
    batch = medcalc.settle_many(policy, _visits(data))
    paid: dict[str, int] = {}
    for s in batch.settlements:
        assert 0 <= s.basic <= min(visit_cap * 100, s.in_scope - s.deductible)
        paid[s.claim.service] = paid.get(s.claim.service, 0) + s.basic
    assert all(total <= cap * 100 for total in paid.values())  # each service against its own cap
    # each service's total equals what it pays when settled alone: no service draws on another's cap
    for service in "abc":
        alone = [c for c in _visits(data) if c.service == service]
        if alone:
            assert sum(s.basic for s in medcalc.settle_many(policy, alone).settlements) == paid.get(service, 0)


@given(data=visits, caps=st.lists(st.integers(0, 30_000), min_size=3, max_size=3), ceiling=st.integers(0, 60_000))
def test_disease_caps_add_up_to_the_ceiling_and_highest_only_never_pays_more_than_the_best(
    tmp_path_factory, data, caps, ceiling
):
    table = "{ " + ", ".join(f'"{d}" = {c}' for d, c in zip(DISEASES, caps)) + " }"
    summed = rule(
        "outpatient.service.summed", f'levels = ["level1"]\nratio = "100%"\ndisease_caps = {table}\nceiling = {ceiling}'
    )
    highest = rule(
        "outpatient.service.highest",
        f'levels = ["level1"]\nratio = "100%"\ndisease_caps = {table}\nhighest_only = true',
    )
    policy = make_policy(tmp_path_factory.mktemp("p"), *BASIC, summed, highest)
    diseases = sorted({d for _, _, _, ds in data for d in ds})  # the person's diseases over the year
    data = [(day, total, s, diseases) for day, total, s, _ in data]
    cap_of = dict(zip(DISEASES, caps))
    total_summed = sum(s.basic for s in medcalc.settle_many(policy, _visits(data, lambda s: "summed")).settlements)
    total_highest = sum(s.basic for s in medcalc.settle_many(policy, _visits(data, lambda s: "highest")).settlements)
    assert total_summed <= min(sum(cap_of[d] for d in diseases), ceiling) * 100
    assert total_highest <= max(cap_of[d] for d in diseases) * 100
    spent = sum(total for _, total, _, _ in data)
    assert total_highest == min(spent, max(cap_of[d] for d in diseases) * 100)  # 100 %: the cap or the cost


periodic_visits = st.lists(
    st.tuples(st.integers(0, 200), st.integers(0, 60_000), st.sampled_from(["a", "b"]), st.just(["高血压"])),
    min_size=1,
    max_size=25,
)


@given(
    data=periodic_visits,
    amounts=st.lists(st.integers(0, 100_000), min_size=2, max_size=2),
    pers=st.lists(st.sampled_from(["month", "quarter"]), min_size=2, max_size=2),
    deductible=st.integers(0, 20_000),
    cap=st.one_of(st.none(), st.integers(0, 200_000)),
    visit_cap=st.one_of(st.none(), st.integers(0, 20_000)),
)
def test_period_cost_cap_bounds_each_calendar_period_and_every_engine_agrees(
    tmp_path_factory, data, amounts, pers, deductible, cap, visit_cap
):
    from medcalc.engine.pipeline import settle_claims
    from tests.reference import settle_all

    def body(i):
        text = (
            f'levels = ["level1"]\nratio = "{60 + 20 * i}%"\ndeductible = "{deductible / 100:.2f}"\n'
            f'period_cost_cap = {{ amount = "{amounts[i] / 100:.2f}", per = "{pers[i]}" }}'
        )
        if cap is not None:
            text += f'\ncap = "{cap / 100:.2f}"'
        if visit_cap is not None:
            text += f'\nvisit_cap = "{visit_cap / 100:.2f}"'
        return text

    policy = make_policy(
        tmp_path_factory.mktemp("p"), *BASIC, *(rule(f"outpatient.service.{s}", body(i)) for i, s in enumerate("ab"))
    )
    claims = _visits(data)
    traced = settle_claims(policy, claims, trace=True, engine="interpreted")
    assert not traced.rejects
    counted = traced.results["service_counted"]
    in_period: dict[tuple[str, int], int] = {}
    for i, c in enumerate(claims):
        k = "ab".index(c.service)
        period = c.settled_on.month if pers[k] == "month" else (c.settled_on.month + 2) // 3
        in_period[(c.service, period)] = in_period.get((c.service, period), 0) + int(counted[i])
        assert 0 <= counted[i] <= c.in_scope_cost
        eligible = int(counted[i] - traced.results["deductible"][i])
        assert 0 <= traced.results["basic"][i] <= eligible
    for (service, _), total in in_period.items():
        assert total <= amounts["ab".index(service)]  # never more counted in a month / quarter than its cap
    # the reference calculator, the compiled kernel and the claims one at a time from accumulators agree
    reference = settle_all(policy, claims)
    assert [int(v) for v in traced.results["basic"]] == [r["basic"] for r in reference]
    compiled = settle_claims(policy, claims, trace=True, engine="compiled")
    for name in ("basic", "deductible", "service_counted", "service_period_before"):
        assert np.array_equal(compiled.results[name], traced.results[name]), name
    order = sorted(range(len(claims)), key=lambda i: (claims[i].settled_on, i))
    state = None
    for i in order:
        s = medcalc.settle(policy, claims[i], accumulators=state)
        assert s.basic == traced.results["basic"][i]
        state = s.after
