"""Amounts tied to the reference wage (社平工资), issue 18 mechanism 2: worked figures by hand,
the reference calculator, the CLI, a batch, errors at load, inheritance, reforms and a property.

The fixture tests/cases/policies/wage-city.toml (employees, two levels):
  reference.wage: 85,000.00 (the 2023 figure) from 2024-01-01 to 06-30; 90,123.45 (2024) from 07-01
  inpatient.deductible: 1 % / 2.5 % of the wage to 2024-03-31; 2 % / 3 % from 2024-04-01
  inpatient.ratio 90 % / 85 %; inpatient.cap fund = 6 × the wage
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given

import medcalc
from medcalc import Claim
from medcalc.cli import main
from medcalc.errors import PolicyError
from medcalc.policy import adjusted_policy
from medcalc.strategies import claim_sequences, policies
from tests.policy_text import make_policy, rule
from tests.property.test_differential import _engine
from tests.reference import settle_all

CASES = Path(__file__).parents[1] / "cases" / "policies"
WAGE_CITY = str(CASES / "wage-city.toml")


def claim(day: str, level: str, total, person: str = "p") -> Claim:
    return Claim(person_id=person, settled_on=day, level=level, total=total)


def test_worked_figures_follow_the_rule_and_the_wage_each_on_its_own_day():
    policy = medcalc.load_policy(WAGE_CITY)
    # the rule changes on 2024-04-01, the wage on 2024-07-01: both are change days
    assert policy.change_days() == [dt.date(2024, 1, 1), dt.date(2024, 4, 1), dt.date(2024, 7, 1)]
    # 2024-03-01, level2: 2.5 % × 85,000.00 = 2,125.00; (20,000 − 2,125) × 85 % = 17,875 × 0.85 = 15,193.75
    a = medcalc.settle(policy, claim("2024-03-01", "level2", 20000, "a"))
    assert (a.deductible, a.basic) == (212500, 1519375)
    # 2024-05-01, the rule's new version, the same wage: 3 % × 85,000.00 = 2,550.00;
    # (20,000 − 2,550) × 85 % = 17,450 × 0.85 = 14,832.50
    b = medcalc.settle(policy, claim("2024-05-01", "level2", 20000, "b"))
    assert (b.deductible, b.basic) == (255000, 1483250)
    # 2024-08-01, the new wage: 3 % × 90,123.45 = 2,703.7035 -> 2,703.70 (half up, once);
    # (20,000 − 2,703.70) × 85 % = 17,296.30 × 0.85 = 14,701.855 -> 14,701.86
    c = medcalc.settle(policy, claim("2024-08-01", "level2", 20000, "c"))
    assert (c.deductible, c.basic) == (270370, 1470186)
    # level1 on 2024-08-01: 2 % × 90,123.45 = 1,802.469 -> 1,802.47; the cap 6 × 90,123.45 = 540,740.70:
    # (800,000 − 1,802.47) × 90 % = 718,377.777 -> 718,377.78, cut to the cap 540,740.70
    d = medcalc.settle(policy, claim("2024-08-01", "level1", 800000, "d"))
    assert (d.deductible, d.basic) == (180247, 54074070)
    # before the wage changed the cap was 6 × 85,000 = 510,000.00
    e = medcalc.settle(policy, claim("2024-06-30", "level1", 800000, "e"))
    assert e.basic == 51000000


def test_the_explanation_states_share_wage_and_amount_citing_both():
    policy = medcalc.load_policy(WAGE_CITY)
    s = medcalc.settle(policy, claim("2024-08-01", "level2", 20000))
    wage_steps = [step for step in s.steps if step.mechanism == "reference_wage"]
    first = wage_steps[0]
    assert first.detail == (
        "inpatient.deductible amount.level2: 3% of 上年社平工资 (2024) 90123.45 = 2703.70 "
        "(exact 2703.7035, rounded half up to the fen once)"
    )
    assert first.amount == 270370
    assert first.citation.quote == "2024年全市在岗职工年平均工资为90123.45元，自2024年7月1日起作为计发基数"
    assert "inpatient.deductible[1] in" in first.rule and "reference.wage[1] in" in first.rule
    # the deductible step just before cites the rule itself
    before = s.steps[s.steps.index(first) - 1]
    assert before.mechanism == "deductible" and "二级医疗机构为3%" in before.citation.quote
    assert [w.detail for w in wage_steps[1:]] == ["inpatient.cap fund: 6 × 上年社平工资 (2024) 90123.45 = 540740.70"]


def test_the_reference_calculator_computes_the_derived_amounts_itself():
    policy = medcalc.load_policy(WAGE_CITY)
    cases = [
        ("2024-03-01", "level2", 20000),
        ("2024-05-01", "level2", 20000),
        ("2024-08-01", "level2", 20000),
        ("2024-08-01", "level1", 800000),
        ("2024-06-30", "level1", 800000),
    ]
    claims = [claim(day, level, total, str(person)) for person, (day, level, total) in enumerate(cases)]
    # the last: 2 % × 85,000.00 = 1,700.00
    got = settle_all(policy, claims)
    assert [r["deductible"] for r in got] == [212500, 255000, 270370, 180247, 170000]
    assert _engine(policy, claims) == got


def test_cli_quote_explains_the_wage(capsys):
    code = main(
        [
            "quote",
            "--policy",
            WAGE_CITY,
            "--date",
            "2024-08-01",
            "--level",
            "level2",
            "--total",
            "20000",
            "--explain",
            "--json",
        ]
    )
    out, _ = capsys.readouterr()
    assert code == 0
    data = json.loads(out)
    steps = [s for s in data["steps"] if s["mechanism"] == "reference_wage"]
    assert steps[0]["amount"] == "2703.70" and steps[0]["base"] == "90123.45"
    assert steps[0]["source"]["quote"].startswith("2024年全市在岗职工年平均工资为90123.45元")


def test_a_batch_on_a_wage_policy_equals_the_claims():
    claims = pa.table(
        {
            "person_id": ["a", "b", "c"],
            "settled_on": pa.array(["2024-03-01", "2024-05-01", "2024-08-01"]).cast(pa.date32()),
            "level": ["level2", "level2", "level2"],
            "total": pa.array([2000000, 2000000, 2000000]),
        }
    )
    scored = medcalc.settle_table(claims, WAGE_CITY, amounts="fen", trace=[2])
    assert scored.results.column("deductible").to_pylist() == [212500, 255000, 270370]
    assert scored.results.column("basic").to_pylist() == [1519375, 1483250, 1470186]
    assert any(step.mechanism == "reference_wage" for step in scored.traces[2])
    assert scored.rejects.num_rows == 0


WAGE = rule("reference.wage", "amount = 85000\nyear = 2019")
RATIO = rule("inpatient.ratio", 'ratio = "100%"')


def test_a_day_without_a_wage_is_refused_at_load(tmp_path):
    late_wage = rule("reference.wage", "amount = 85000", since="2020-02-01")
    with pytest.raises(PolicyError) as err:
        make_policy(tmp_path, late_wage, RATIO, rule("inpatient.deductible", 'amount = { wage_share = "10%" }'))
    assert str(err.value) == (
        f"{tmp_path / 'p.toml'}: inpatient.deductible[0].amount: an amount tied to the reference wage needs a "
        "[[reference.wage]] version in force on every day this version is; none is in force on 2020-01-01 (add one, "
        "or write the amount in yuan) (got {'wage_share': '10%'})"
    )


def test_a_derived_amount_above_the_largest_is_refused_at_load(tmp_path):
    big = rule("reference.wage", 'amount = "500万"')
    with pytest.raises(PolicyError) as err:
        make_policy(
            tmp_path,
            big,
            RATIO,
            rule("inpatient.deductible", "amount = 0"),
            rule("inpatient.cap", 'fund = { wage_multiple = "2.5" }'),
        )
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'p.toml'}: inpatient.cap[0].fund: an amount of at most 10000000 yuan")
    assert "2.5 × the reference wage 5000000.00 of reference.wage[0]" in message and "is 12500000.00" in message
    assert message.endswith("(got {'wage_multiple': '2.5'})")


@pytest.mark.parametrize(
    "body, path, allowed",
    [
        ('amount = { wage_share = "120%" }', "inpatient.deductible[0].amount.wage_share", "a ratio within [0%, 100%]"),
        (
            'amount = { wage_share = "1%", wage_multiple = "2" }',
            "inpatient.deductible[0].amount",
            "a hospital level declared in [levels]",
        ),
        (
            'amount = { level1 = { wage_part = "1%" }, level2 = 0 }',
            "inpatient.deductible[0].amount.level1",
            'or one of { wage_share = "10%" }',
        ),
    ],
)
def test_bad_wage_terms_name_the_key_and_the_value(tmp_path, body, path, allowed):
    with pytest.raises(PolicyError) as err:
        make_policy(tmp_path, WAGE, RATIO, rule("inpatient.deductible", body))
    assert f"p.toml: {path}" in str(err.value) and allowed in str(err.value)


def test_a_wage_term_where_amounts_are_not_wage_based_says_where_it_may_be(tmp_path):
    with pytest.raises(PolicyError) as err:
        make_policy(
            tmp_path,
            WAGE,
            RATIO,
            rule("inpatient.deductible", "amount = 0"),
            rule("inpatient.deductible_later", 'from_admission = 2\nfraction = "50%"\nfloor = { wage_share = "1%" }'),
        )
    assert "inpatient.deductible_later[0].floor: an amount of yuan" in str(err.value)
    assert "allowed only in inpatient.deductible.amount" in str(err.value)
    assert "inpatient.place.<name>.deductible, outpatient.service.<name>.deductible" in str(err.value)
    assert str(err.value).endswith("backstop.pay_again.<name>.threshold) (got {'wage_share': '1%'})")


def test_a_wage_must_be_above_zero(tmp_path):
    with pytest.raises(PolicyError, match=r"reference.wage\[0\].amount: a yearly wage above 0 yuan"):
        make_policy(tmp_path, rule("reference.wage", "amount = 0"), RATIO, rule("inpatient.deductible", "amount = 0"))


def test_a_child_wage_overrides_the_parents_for_the_parents_rules(tmp_path):
    make_policy(tmp_path, WAGE, RATIO, rule("inpatient.deductible", 'amount = { wage_share = "1%" }'), name="base")
    child = (tmp_path / "base.toml").read_text(encoding="utf-8").split("[levels]")[0]
    child = child.replace('id = "base"', 'id = "child"\nextends = "base"') + (
        '[sources.fixture]\ntitle = "test fixture"\nofficial = true\n'
        + rule("reference.wage", "amount = 90000", since="2021-01-01")
    )
    (tmp_path / "child.toml").write_text(child, encoding="utf-8")
    policy = medcalc.load_policy(tmp_path / "child.toml")
    # 1 % of 85,000 = 850.00 in 2020 (the parent's wage); 1 % of 90,000 = 900.00 from 2021 (the child's)
    got = [medcalc.settle(policy, claim(day, "level1", 5000)).deductible for day in ("2020-06-01", "2021-06-01")]
    assert got == [85000, 90000]


def test_reforms_scale_the_wage_but_not_a_wage_term(tmp_path):
    base = make_policy(tmp_path, WAGE, RATIO, rule("inpatient.deductible", 'amount = { wage_share = "10%" }'))
    lowered = adjusted_policy(base, ["reference.wage ×90%"], since="2020-01-01")
    # 10 % of (85,000 × 90 % = 76,500) = 7,650.00
    assert medcalc.settle(lowered, claim("2020-06-01", "level1", 20000)).deductible == 765000
    assert medcalc.settle(base, claim("2020-06-01", "level1", 20000)).deductible == 850000
    with pytest.raises(PolicyError, match="a share or multiple of the reference wage"):
        adjusted_policy(base, ["inpatient.deductible ×90%"], since="2020-01-01")


@given(
    policy=policies(allow_warnings=True, outpatient=False, layers=()).filter(lambda p: "reference.wage" in p.timelines),
    batch=claim_sequences(),
)
def test_wage_based_deductibles_equal_the_reference(policy, batch):
    assert _engine(policy, batch) == settle_all(policy, batch)
    # and each derived amount is the wage in force times the share, half up once
    for day in policy.change_days():
        resolved = policy.at(day)
        wage = resolved.rule("reference.wage")["amount"]
        for use in resolved.rule("inpatient.deductible").wage:
            assert use.amount == (2 * wage * use.term.units + 10000) // 20000


def test_the_critical_threshold_and_cap_may_be_tied_to_the_wage(tmp_path):
    critical = [
        rule("critical.base", "deductible = false\ncoinsurance = true\nabove_cap = false\npre_self_pay = false"),
        rule("critical.threshold", 'amount = { wage_share = "10%" }'),
        rule("critical.bands", 'convention = "cumulative"\nbands = [{ ratio = "60%" }]'),
        rule("critical.cap", 'amount = { wage_multiple = "1" }'),
    ]
    policy = make_policy(
        tmp_path, WAGE, rule("inpatient.ratio", 'ratio = "50%"'), rule("inpatient.deductible", "amount = 0"), *critical
    )
    # basic 40,000 × 50 % = 20,000; the self-pay 20,000 qualifies; the threshold 10 % × 85,000 = 8,500.00;
    # (20,000 − 8,500) × 60 % = 6,900.00, within the cap 1 × 85,000 = 85,000.00
    c = claim("2020-06-01", "level1", 40000)
    s = medcalc.settle(policy, c)
    assert (s.basic, s.critical) == (2000000, 690000)
    assert [step.detail for step in s.steps if step.mechanism == "reference_wage"] == [
        "critical.threshold amount: 10% of 上年社平工资 (2019) 85000.00 = 8500.00",
        "critical.cap amount: 1 × 上年社平工资 (2019) 85000.00 = 85000.00",
    ]
    assert _engine(policy, [c]) == settle_all(policy, [c])


# The amounts newly allowed to be tied to the wage, on a wage with cents: 86,543.21 yuan (2019).
ODD_WAGE = rule("reference.wage", 'amount = "86543.21"\nyear = 2019')
HALF = rule("inpatient.ratio", 'ratio = "50%"')
NONE = rule("inpatient.deductible", "amount = 0")


def _wage_details(s) -> list[str]:
    return [step.detail for step in s.steps if step.mechanism == "reference_wage"]


def _check_reference(policy, claims) -> None:
    assert _engine(policy, claims) == settle_all(policy, claims)


def test_a_place_deductible_by_level_may_be_tied_to_the_wage(tmp_path):
    place = rule(
        "inpatient.place.away",
        'when = { place = ["in_province"] }\ndeductible = { level1 = { wage_share = "1.5%" }, level2 = 2000 }',
    )
    policy = make_policy(tmp_path, ODD_WAGE, HALF, NONE, place)
    away = dict(place="in_province", referral="referred")
    c1 = Claim(person_id="a", settled_on="2020-06-01", level="level1", total=10000, **away)
    c2 = Claim(person_id="b", settled_on="2020-06-01", level="level2", total=10000, **away)
    # level1: 1.5 % × 86,543.21 = 1,298.14815 -> 1,298.15; (10,000 − 1,298.15) × 50 % = 4,350.925 -> 4,350.93
    # level2: 2,000 as written; (10,000 − 2,000) × 50 % = 4,000.00
    s1, s2 = medcalc.settle(policy, c1), medcalc.settle(policy, c2)
    assert (s1.deductible, s1.basic, s2.deductible, s2.basic) == (129815, 435093, 200000, 400000)
    assert _wage_details(s1) == [
        "inpatient.place.away deductible.level1: 1.5% of 上年社平工资 (2019) 86543.21 = "
        "1298.15 (exact 1298.14815, rounded half up to the fen once)"
    ]
    assert _wage_details(s2) == []
    _check_reference(policy, [c1, c2])


def test_an_outpatient_services_deductible_and_caps_may_be_tied_to_the_wage(tmp_path):
    service = rule(
        "outpatient.service.chronic",
        'levels = ["level1"]\nratio = "60%"\n'
        'deductible = { wage_share = "0.5%" }\ncap = { wage_multiple = "0.02" }\nvisit_cap = { wage_share = "1%" }',
    )
    policy = make_policy(tmp_path, ODD_WAGE, HALF, NONE, service)
    # deductible 0.5 % × 86,543.21 = 432.71605 -> 432.72; a visit at most 1 % × 86,543.21 = 865.4321 -> 865.43;
    # the year at most 0.02 × 86,543.21 = 1,730.8642 -> 1,730.86.
    # visit 1, 2,000: (2,000 − 432.72) × 60 % = 940.368 -> 940.37, cut to 865.43 a visit;
    # visit 2, 1,000: 600.00; visit 3, 1,000: 600.00, cut to what the year leaves, 1,730.86 − 1,465.43 = 265.43
    visits = [
        Claim(
            person_id="p",
            settled_on=f"2020-06-0{d}",
            level="level1",
            total=total,
            visit="outpatient",
            service="chronic",
        )
        for d, total in ((1, 2000), (2, 1000), (3, 1000))
    ]
    got = [s for s in medcalc.settle_many(policy, visits).settlements]
    assert [(s.deductible, s.basic) for s in got] == [(43272, 86543), (0, 60000), (0, 26543)]
    first = medcalc.settle(policy, visits[0])
    assert _wage_details(first) == [
        "outpatient.service.chronic deductible: 0.5% of 上年社平工资 (2019) 86543.21 = 432.72 "
        "(exact 432.71605, rounded half up to the fen once)",
        "outpatient.service.chronic visit_cap: 1% of 上年社平工资 (2019) 86543.21 = 865.43 "
        "(exact 865.4321, rounded half up to the fen once)",
        "outpatient.service.chronic cap: 0.02 × 上年社平工资 (2019) 86543.21 = 1730.86 "
        "(exact 1730.8642, rounded half up to the fen once)",
    ]
    _check_reference(policy, visits)


def test_both_assistance_stages_may_tie_thresholds_and_caps_to_the_wage(tmp_path):
    category = rule(
        "assistance.category.dibao",
        'when = { category = ["dibao"] }\ndeductible = { wage_share = "2%" }\n'
        'ratio = "50%"\ncap = { wage_share = "5%" }',
    )
    again = rule(
        "assistance.again.poor",
        'when = { category = ["dibao"] }\nthreshold = { wage_share = "1%" }\n'
        'ratio = "60%"\ncap = { wage_share = "3%" }',
    )
    policy = make_policy(tmp_path, ODD_WAGE, HALF, NONE, category, again)
    # first stage: deductible 2 % × 86,543.21 = 1,730.8642 -> 1,730.86, cap 5 % = 4,327.1605 -> 4,327.16;
    # again: threshold 1 % = 865.4321 -> 865.43, cap 3 % = 2,596.2963 -> 2,596.30. Each 8,000 claim leaves 4,000.
    # 1: first (4,000 − 1,730.86) × 50 % = 1,134.57; left 2,865.43, again (2,865.43 − 865.43) × 60 % = 1,200.00
    # 2: first 4,000 × 50 % = 2,000.00; left 2,000.00, again × 60 % = 1,200.00
    # 3: first 2,000.00 cut to 4,327.16 − 3,134.57 = 1,192.59; left 2,807.41, again 1,684.446 -> 1,684.45,
    #    cut to 2,596.30 − 2,400.00 = 196.30
    claims = [
        Claim(person_id="p", settled_on=f"2020-06-0{d}", level="level1", total=8000, category="dibao")
        for d in (1, 2, 3)
    ]
    got = medcalc.settle_many(policy, claims)
    assert [s.assistance for s in got.settlements] == [233457, 320000, 138889]
    acc = got.accumulators[("p", 2020)]
    assert (acc.assistance_paid["shared"], acc.assistance_again_paid) == (432716, 259630)
    first = medcalc.settle(policy, claims[0])
    assert [d.split(":")[0] for d in _wage_details(first)] == [
        "assistance.category.dibao deductible",
        "assistance.category.dibao cap",
        "assistance.again.poor threshold",
        "assistance.again.poor cap",
    ]
    assert "above the yearly threshold 865.43 × 60%" in next(
        s.detail for s in first.steps if s.mechanism == "assistance_again"
    )
    _check_reference(policy, claims)


def test_the_backstops_burden_cap_and_pay_again_threshold_may_be_tied_to_the_wage(tmp_path):
    cap = rule(
        "backstop.burden_cap.poor",
        'when = { category = ["poverty"] }\ncap = { level1 = { wage_share = "3%" }, level2 = { wage_share = "5%" } }',
    )
    again = rule(
        "backstop.pay_again.poor", 'when = { category = ["poverty"] }\nratio = "50%"\nthreshold = { wage_share = "1%" }'
    )
    policy = make_policy(tmp_path, ODD_WAGE, HALF, NONE, cap, again)
    # burden cap at level1 3 % × 86,543.21 = 2,596.2963 -> 2,596.30; the pay-again threshold 865.43.
    # 1, 4,000 (basic 2,000, left 2,000): the year's burden 2,000 is under the cap; the rest 2,000 is paid
    #    again above 865.43: 1,134.57 × 50 % = 567.285 -> 567.29
    # 2, 4,000: the burden 4,000 is 1,403.70 above the cap (paid); the rest 596.30 (the year's 2,000 -> 2,596.30,
    #    all above the threshold) × 50 % = 298.15: 1,701.85 in all
    claims = [
        Claim(person_id="p", settled_on=f"2020-06-0{d}", level="level1", total=4000, category="poverty") for d in (1, 2)
    ]
    got = medcalc.settle_many(policy, claims)
    assert [s.backstop for s in got.settlements] == [56729, 170185]
    acc = got.accumulators[("p", 2020)]
    assert (acc.backstop_cap_paid, acc.backstop_again_base, acc.backstop_again_paid) == (
        140370,
        259630,
        86544,
    )  # 567.29 + 298.15
    second = medcalc.settle(policy, claims[1], history=claims[:1])
    assert _wage_details(second) == [
        "backstop.burden_cap.poor cap.level1: 3% of 上年社平工资 (2019) 86543.21 = 2596.30 "
        "(exact 2596.2963, rounded half up to the fen once)",
        "backstop.pay_again.poor threshold: 1% of 上年社平工资 (2019) 86543.21 = 865.43 "
        "(exact 865.4321, rounded half up to the fen once)",
    ]
    _check_reference(policy, claims)


def test_a_pay_again_threshold_needs_a_wage_on_every_day(tmp_path):
    late_wage = rule("reference.wage", "amount = 85000", since="2020-02-01")
    with pytest.raises(PolicyError) as err:
        make_policy(
            tmp_path,
            late_wage,
            RATIO,
            NONE,
            rule("backstop.pay_again.poor", 'when = {}\nratio = "50%"\nthreshold = { wage_multiple = "0.1" }'),
        )
    assert str(err.value).startswith(
        f"{tmp_path / 'p.toml'}: backstop.pay_again.poor[0].threshold: an amount tied "
        "to the reference wage needs a [[reference.wage]] version in force"
    )


def test_a_derived_burden_cap_above_the_largest_is_refused_at_load_at_its_level(tmp_path):
    big = rule("reference.wage", 'amount = "500万"')
    with pytest.raises(PolicyError) as err:
        make_policy(
            tmp_path,
            big,
            RATIO,
            NONE,
            rule(
                "backstop.burden_cap.poor",
                'when = {}\ncap = { level1 = { wage_share = "1%" }, level2 = { wage_multiple = "3" } }',
            ),
        )
    message = str(err.value)
    assert message.startswith(
        f"{tmp_path / 'p.toml'}: backstop.burden_cap.poor[0].cap.level2: an amount of at most 10000000 yuan"
    )
    assert "3 × the reference wage 5000000.00" in message and message.endswith("(got {'wage_multiple': '3'})")
