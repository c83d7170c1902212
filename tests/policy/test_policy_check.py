"""`policy check` (issue 18, item 8): a policy that settles no admission, the days each outpatient
service covers, two rules of one layer that can match the same claim (and the settlement error
naming both), and outpatient-only policies that declare no hospital level."""

from __future__ import annotations

import json

import pytest

import medcalc
from medcalc import Claim
from medcalc.cli import main
from medcalc.errors import PolicyError
from medcalc.policy.lint import lint
from tests.policy_text import CITE, make_policy, rule

DEDUCTIBLE = rule("inpatient.deductible", "amount = 100")
RATIO = rule("inpatient.ratio", 'ratio = "80%"')

OUTPATIENT_ONLY = (
    """
[policy]
id = "clinic-town"
region = "测试镇"
scheme = "residents"

[institutions]
township = "乡镇卫生院"

[sources.fixture]
title = "test fixture"
official = true

[[outpatient.service.general]]
since = 2025-01-01
until = 2025-12-31
levels = ["township"]
ratio = "55%"
cap = 200
"""
    + CITE
)


def check(capsys, *argv):
    code = main(["policy", "check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_an_outpatient_only_policy_loads_without_a_hospital_level(tmp_path, capsys):
    path = tmp_path / "clinic.toml"
    path.write_text(OUTPATIENT_ONLY, encoding="utf-8")
    policy = medcalc.load_policy(path)
    assert dict(policy.levels) == {} and dict(policy.institutions) == {"township": "乡镇卫生院"}
    # 100 × 55 % = 55.00
    s = medcalc.settle(
        policy,
        Claim(
            person_id="p", settled_on="2025-03-01", level="township", total=100, visit="outpatient", service="general"
        ),
    )
    assert s.basic == 5500
    batch = medcalc.settle_many(policy, [Claim(person_id="p", settled_on="2025-03-01", level="township", total=100)])
    assert batch.rejects[0].field == "level" and "outpatient institution" in batch.rejects[0].reason
    code, out, err = check(capsys, str(path))
    assert (code, err) == (0, "")
    assert "  settles inpatient claims dated: none (an outpatient-only policy: no hospital level in [levels])" in out
    assert "  outpatient service general: 2025-01-01 to 2025-12-31" in out
    assert "warning" not in out
    code, out, _ = check(capsys, str(path), "--json")
    assert json.loads(out)["services"] == {"general": [["2025-01-01", "2025-12-31"]]}
    assert json.loads(out)["warnings"] == []


def test_a_policy_with_neither_levels_nor_institutions_is_refused(tmp_path, capsys):
    path = tmp_path / "none.toml"
    path.write_text(OUTPATIENT_ONLY.replace('[institutions]\ntownship = "乡镇卫生院"\n', ""), encoding="utf-8")
    with pytest.raises(
        PolicyError,
        match=r"levels: a \[levels\] table declaring at least one hospital level, or an "
        r"\[institutions\] table for an outpatient-only policy",
    ):
        medcalc.load_policy(path)
    code, _, err = check(capsys, str(path))
    assert code == 2 and "outpatient-only policy" in err


def test_inpatient_rules_of_an_outpatient_only_policy_are_flagged(tmp_path):
    path = tmp_path / "clinic.toml"
    path.write_text(OUTPATIENT_ONLY + rule("inpatient.deductible", "amount = 100"), encoding="utf-8")
    assert lint(medcalc.load_policy(path)) == [
        f"{path}: inpatient.deductible can never apply: the policy declares no hospital level in [levels], so it "
        "settles no admission"
    ]


def test_a_policy_that_settles_no_admission_is_warned(tmp_path, capsys):
    policy = make_policy(tmp_path, DEDUCTIBLE)
    assert lint(policy) == [
        f"{tmp_path / 'p.toml'}: the policy settles no inpatient claim on any day: it has no inpatient.ratio (both are "
        "required for an admission; an outpatient-only policy declares [institutions] and no [levels])"
    ]
    code, out, _ = check(capsys, str(tmp_path / "p.toml"))
    assert code == 0 and "warning: " in out and "settles no inpatient claim on any day" in out
    apart = make_policy(
        tmp_path,
        rule("inpatient.deductible", "amount = 100\nuntil = 2020-12-31"),
        rule("inpatient.ratio", 'ratio = "80%"', since="2021-01-01"),
        name="apart",
    )
    assert any("inpatient.deductible and inpatient.ratio are never in force on the same day" in w for w in lint(apart))
    assert not any("settles no inpatient claim" in w for w in lint(make_policy(tmp_path, DEDUCTIBLE, RATIO, name="ok")))


def test_each_service_is_listed_with_its_days(tmp_path, capsys):
    service = 'levels = ["level1"]\nratio = "50%"'
    make_policy(
        tmp_path,
        DEDUCTIBLE,
        RATIO,
        rule("outpatient.service.general", service + "\nuntil = 2020-06-30"),
        rule("outpatient.service.general", service, since="2021-01-01"),
        rule("outpatient.service.two", service, since="2020-03-01"),
    )
    code, out, _ = check(capsys, str(tmp_path / "p.toml"))
    assert code == 0
    assert "  outpatient service general: 2020-01-01 to 2020-06-30, 2021-01-01 to open\n" in out
    assert "  outpatient service two: 2020-03-01 to open\n" in out


AWAY = 'when = { place = ["in_province", "out_of_province"] }\nratio = "50%"'


def test_two_place_rules_that_can_match_one_claim_are_warned_and_the_claim_names_both(tmp_path):
    policy = make_policy(
        tmp_path,
        DEDUCTIBLE,
        RATIO,
        rule("inpatient.place.away", AWAY),
        rule("inpatient.place.referred", 'when = { referral = ["referred"] }\nratio = "70%"'),
    )
    where = tmp_path / "p.toml"
    assert lint(policy) == [
        f"{where}: inpatient.place.away[0] and {where}: inpatient.place.referred[0] can both apply to one claim "
        "(place in_province, out_of_province; referral referred) on 2020-01-01: at most one inpatient.place rule may "
        "apply, and a claim both match is rejected as ambiguous"
    ]
    batch = medcalc.settle_many(
        policy,
        [
            Claim(
                person_id="p",
                settled_on="2020-05-01",
                level="level1",
                total=1000,
                place="in_province",
                referral="referred",
            )
        ],
    )
    assert batch.rejects[0].field == "place"
    assert batch.rejects[0].reason == (
        "more than one place rule applies (inpatient.place.away and inpatient.place.referred); the policy is ambiguous"
    )


@pytest.mark.parametrize(
    "a, b",
    [
        (
            'when = { place = ["in_province"], referral = ["referred"] }',
            'when = { place = ["in_province"], referral = ["not_referred"] }',
        ),
        (
            'when = { place = ["in_province"], referral = ["none"] }',
            'when = { place = ["in_province"] }',
        ),  # no such claim
        ('when = { place = ["in_province"], age_under = 18 }', 'when = { place = ["in_province"], age_at_least = 18 }'),
        ('when = { place = ["in_province"], retired = true }', 'when = { place = ["in_province"], retired = false }'),
        (
            'when = { place = ["in_province"], level = ["level1"] }',
            'when = { place = ["in_province"], level = ["level2"] }',
        ),
        (
            'when = { place = ["in_province"], visit = ["inpatient"] }',
            'when = { place = ["in_province"], service = ["general"] }',
        ),
    ],
)
def test_rules_that_cannot_match_one_claim_are_not_warned(tmp_path, a, b):
    policy = make_policy(
        tmp_path,
        DEDUCTIBLE,
        RATIO,
        rule("inpatient.place.a", a + '\nratio = "50%"'),
        rule("inpatient.place.b", b + '\nratio = "60%"'),
        rule("outpatient.service.general", 'levels = ["level1"]\nratio = "50%"'),
    )
    assert lint(policy) == []


def test_overlapping_ages_and_assistance_categories(tmp_path):
    young = rule(
        "assistance.category.young", 'when = { category = ["dibao"], age_under = 19 }\ndeductible = 0\nratio = "70%"'
    )
    adult = rule("assistance.category.adult", 'when = { age_at_least = 18 }\ndeductible = 0\nratio = "50%"')
    policy = make_policy(tmp_path, DEDUCTIBLE, RATIO, young, adult)
    [warning] = lint(policy)
    assert "assistance.category.adult[0] and" in warning and "assistance.category.young[0] can both apply" in warning
    assert "(category dibao; age 18 to 18)" in warning and "at most one assistance.category rule may apply" in warning
    batch = medcalc.settle_many(
        policy, [Claim(person_id="p", settled_on="2020-05-01", level="level1", total=1000, category="dibao", age=18)]
    )
    assert batch.rejects[0].reason == (
        "more than one assistance rule applies (assistance.category.adult and "
        "assistance.category.young); the policy is ambiguous"
    )


def test_rules_in_force_on_different_days_do_not_overlap(tmp_path):
    policy = make_policy(
        tmp_path,
        DEDUCTIBLE,
        RATIO,
        rule("inpatient.place.a", AWAY + "\nuntil = 2020-12-31"),
        rule("inpatient.place.b", AWAY, since="2021-01-01"),
    )
    assert lint(policy) == []


def test_a_period_cost_cap_the_yearly_deductible_takes_whole_is_warned(tmp_path):
    def policy(deductible, cap, per, name):
        service = rule(
            "outpatient.service.chronic",
            f'levels = ["level1"]\nratio = "60%"\ndeductible = {deductible}\n'
            f'period_cost_cap = {{ amount = {cap}, per = "{per}" }}',
        )
        return make_policy(tmp_path, DEDUCTIBLE, RATIO, service, name=name)

    [warning] = lint(policy("{ level1 = 1200, level2 = 400 }", 300, "quarter", "quarters"))
    assert warning.endswith(
        "quarters.toml: outpatient.service.chronic[0]: period_cost_cap counts at most 300.00 a quarter, 1200.00 a year, which the yearly deductible 1200.00 "
        "takes whole: the service never pays"
    )
    assert lint(policy(1200, 101, "month", "months")) == []  # 1212 a year: 12 above the deductible


def test_the_ratio_check_adds_only_modifiers_that_can_apply_to_one_claim(tmp_path):
    # +10 points at level 1 and +10 at level 2 never meet: 95 % + 10 reaches 105 %, not 115 %
    apart = make_policy(
        tmp_path,
        DEDUCTIBLE,
        rule("inpatient.ratio", 'ratio = "95%"'),
        rule("inpatient.modifier.one", 'when = { level = ["level1"] }\nratio_points = "+10"'),
        rule("inpatient.modifier.two", 'when = { level = ["level2"] }\nratio_points = "+10"'),
        name="apart",
    )
    [warning] = [w for w in lint(apart) if "can reach" in w]
    assert "can reach 105%" in warning and warning.count("inpatient.modifier") == 1
    # two that can meet (poor and aged 65 at level 1) add up
    together = make_policy(
        tmp_path,
        DEDUCTIBLE,
        rule("inpatient.ratio", 'ratio = "95%"'),
        rule("inpatient.modifier.poor", 'when = { category = ["poverty"] }\nratio_points = "+3"'),
        rule("inpatient.modifier.aged", 'when = { age_at_least = 65 }\nratio_points = "+4"'),
        name="together",
    )
    assert any("can reach 102%" in w for w in lint(together))
    # none that reach 100 %: no warning
    assert not any("can reach" in w for w in lint(make_policy(tmp_path, DEDUCTIBLE, RATIO, name="plain")))
