"""Each inpatient mechanism on hand-computed figures (amounts in fen)."""

from __future__ import annotations

import json

import attrs
import pyarrow as pa
import pytest

import medcalc
from medcalc import Claim, Fen
from medcalc.cli import main
from tests.policy_text import make_policy, rule

RATIO_100 = rule("inpatient.ratio", 'ratio = "100%"')
NO_DEDUCTIBLE = rule("inpatient.deductible", "amount = 0")


def run(policy, *claims):
    batch = medcalc.settle_many(policy, claims)
    assert not batch.rejects, batch.rejects
    return batch.settlements


def admission(day: int, in_scope, **kw) -> Claim:
    base = dict(person_id="p", settled_on=f"2021-03-{day:02d}", level="level1", total=in_scope)
    base.update(kw)
    return Claim(**base)


def test_deductible_schedule_by_admission_count(tmp_path):
    p = make_policy(tmp_path, RATIO_100, rule("inpatient.deductible", "by_admission = [500, 400, 0]"))
    got = [s.deductible for s in run(p, *(admission(d, 1000) for d in range(1, 5)))]
    assert got == [50000, 40000, 0, 0]


def test_later_admissions_pay_a_fraction(tmp_path):
    p = make_policy(
        tmp_path,
        RATIO_100,
        rule("inpatient.deductible", "amount = 600"),
        rule("inpatient.deductible_later", 'from_admission = 2\nfraction = "50%"'),
    )
    assert [s.deductible for s in run(p, *(admission(d, 1000) for d in (1, 2, 3)))] == [60000, 30000, 30000]


def test_later_admissions_compound_on_the_previous_deductible_down_to_a_floor(tmp_path):
    for compounding, expected in (
        ("false", [100000, 50000, 50000, 50000, 50000]),
        ("true", [100000, 50000, 25000, 20000, 20000]),
    ):  # 125.00 is below the floor 200
        folder = tmp_path / compounding
        folder.mkdir()
        p = make_policy(
            folder,
            RATIO_100,
            rule("inpatient.deductible", "amount = 1000"),
            rule(
                "inpatient.deductible_later",
                f'from_admission = 2\nfraction = "50%"\ncompounding = {compounding}\nfloor = 200',
            ),
        )
        assert [s.deductible for s in run(p, *(admission(d, 3000) for d in range(1, 6)))] == expected
    batch = medcalc.settle_many(p, [admission(d, 3000) for d in (1, 2)])
    assert batch.accumulators[("p", 2021)].last_deductible == 50000
    third = medcalc.settle(p, admission(3, 3000), accumulators=batch.accumulators[("p", 2021)])
    step = next(s for s in third.steps if s.mechanism == "deductible_later")
    assert (
        third.deductible == 25000
        and "previous admission's: 500.00 × 50%" in step.detail
        and "at least 200.00" in step.detail
    )


def test_yearly_total_of_deductibles(tmp_path):
    p = make_policy(
        tmp_path,
        RATIO_100,
        rule("inpatient.deductible", "amount = 1200"),
        rule("inpatient.deductible_cap", "yearly = 2300"),
    )
    got = run(p, *(admission(d, 5000) for d in (1, 2, 3)), admission(4, 5000, settled_on="2022-01-01"))
    assert [s.deductible for s in got] == [120000, 110000, 0, 120000]  # a new year starts afresh


def test_deductible_as_share_of_the_bill_with_floor_and_ceiling(tmp_path):
    p = make_policy(
        tmp_path,
        RATIO_100,
        rule("inpatient.deductible", "amount = 500"),
        rule(
            "inpatient.place.away",
            'when = { place = ["out_of_province"] }\n'
            'deductible_share = { share = "20%", floor = 2000, ceiling = "1万" }',
        ),
    )
    away = dict(place="out_of_province", referral="referred")
    got = run(
        p,
        admission(1, 5000, person_id="a", **away),
        admission(1, 30000, person_id="b", **away),
        admission(1, 80000, person_id="c", **away),
        admission(1, 5000, person_id="d"),
    )
    assert [s.deductible for s in got] == [200000, 600000, 1000000, 50000]


def test_group_fraction_and_points_clamped(tmp_path):
    p = make_policy(
        tmp_path,
        rule("inpatient.ratio", 'ratio = "95%"'),
        rule("inpatient.deductible", "amount = 700"),
        rule(
            "inpatient.modifier.poor",
            'when = { category = ["dibao"] }\nratio_points = "+10"\ndeductible_fraction = "50%"',
        ),
    )
    poor, ordinary = run(p, admission(1, 10000, category="dibao", person_id="x"), admission(1, 10000, person_id="y"))
    assert (poor.deductible, poor.basic) == (35000, 965000)  # 95 % + 10 points clamps at 100 %
    assert (ordinary.deductible, ordinary.basic) == (70000, 883500)


def test_minor_modifier_by_age(tmp_path):
    p = make_policy(
        tmp_path,
        NO_DEDUCTIBLE,
        rule("inpatient.ratio", 'ratio = "50%"'),
        rule("inpatient.modifier.minor", 'when = { age_under = 18 }\nratio_points = "+5"'),
    )
    child, adult, unknown = run(
        p,
        admission(1, 1000, age=17, person_id="c"),
        admission(1, 1000, age=18, person_id="a"),
        admission(1, 1000, person_id="u"),
    )
    assert (child.basic, adult.basic, unknown.basic) == (55000, 50000, 50000)


AGE_POINTS = (
    "when = { retired = true }\n"
    'age_points = { from_age = 50, per_year = "+0.3", at_most = "+6", round_to = "1", rounding = "down" }'
)


def test_ratio_growing_with_age_rounded_and_capped(tmp_path):
    # 70 % + 0.3 points per year of age above 50, rounded down to whole points, at most +6
    p = make_policy(
        tmp_path,
        NO_DEDUCTIBLE,
        rule("inpatient.ratio", 'ratio = "70%"'),
        rule("inpatient.modifier.retired_age", AGE_POINTS),
    )
    ages = (45, 50, 53, 56, 60, 69, 70, 90)
    got = run(
        p,
        *(admission(1, 1000, age=a, retired=True, person_id=f"r{a}") for a in ages),
        admission(1, 1000, age=60, person_id="working"),
    )
    # points: 0, 0, 0.9 -> 0, 1.8 -> 1, 3, 5.7 -> 5, 6, 12 -> 6; the working 60-year-old has none
    assert [s.basic for s in got] == [70000, 70000, 70000, 71000, 73000, 75000, 76000, 76000, 70000]


def test_ratio_growing_with_age_half_up_and_exact(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    half_up = make_policy(
        tmp_path / "a",
        NO_DEDUCTIBLE,
        rule("inpatient.ratio", 'ratio = "70%"'),
        rule(
            "inpatient.modifier.age",
            'when = {}\nage_points = { from_age = 50, per_year = "+0.3", at_most = "+6", round_to = "1" }',
        ),
    )
    exact = make_policy(
        tmp_path / "b",
        NO_DEDUCTIBLE,
        rule("inpatient.ratio", 'ratio = "70%"'),
        rule("inpatient.modifier.age", 'when = {}\nage_points = { from_age = 50, per_year = "+0.25", at_most = "+6" }'),
    )
    ages = (52, 55, 57)  # 0.6 -> 1, 1.5 -> 2, 2.1 -> 2 half up; 0.5, 1.25, 1.75 exact
    assert [s.basic for s in run(half_up, *(admission(1, 10000, age=a, person_id=str(a)) for a in ages))] == [
        710000,
        720000,
        720000,
    ]
    assert [s.basic for s in run(exact, *(admission(1, 10000, age=a, person_id=str(a)) for a in ages))] == [
        705000,
        712500,
        717500,
    ]


def test_a_ratio_by_age_refuses_a_claim_without_an_age(tmp_path):
    p = make_policy(
        tmp_path,
        NO_DEDUCTIBLE,
        rule("inpatient.ratio", 'ratio = "70%"'),
        rule("inpatient.modifier.retired_age", AGE_POINTS),
    )
    batch = medcalc.settle_many(p, [admission(1, 1000, retired=True, person_id="r"), admission(1, 1000, person_id="w")])
    assert [(r.row, r.field) for r in batch.rejects] == [(0, "age")]
    assert "sets the ratio by age" in batch.rejects[0].reason
    assert [s.basic for s in batch.settlements] == [70000]  # not retired: the rule does not apply, no age needed
    explained = medcalc.settle(p, admission(1, 1000, age=60, retired=True))
    step = next(s for s in explained.steps if s.mechanism == "modifier")
    assert "age 60: 10 years above 50" in step.detail and "+3" in step.detail


def test_cumulative_rounding_pays_the_change_of_the_years_rounded_amount(tmp_path):
    # 33.33 % of 1.00 yuan is 33.33 fen exactly. Per claim: 33 + 33 + 33 = 99 fen for the year.
    # Cumulative: the year's exact 33.33, 66.66, 99.99 round to 33, 67, 100: the claims pay 33, 34, 33,
    # and the year gets 100 fen, what one claim of 3.00 yuan gets.
    for rounding, expected in (("per_claim", [33, 33, 33]), ("cumulative", [33, 34, 33])):
        folder = tmp_path / rounding
        folder.mkdir()
        p = make_policy(folder, NO_DEDUCTIBLE, rule("inpatient.ratio", f'ratio = "33.33%"\nrounding = "{rounding}"'))
        assert [s.basic for s in run(p, *(admission(d, "1.00") for d in (1, 2, 3)))] == expected
        assert run(p, admission(1, "3.00"))[0].basic == 100
    batch = medcalc.settle_many(p, [admission(d, "1.00") for d in (1, 2)])
    assert batch.accumulators[("p", 2021)].basic_carry == 666600 - 670000  # 66.66 exact, 67 paid: -0.34 fen
    explained = medcalc.settle(p, admission(2, "1.00"), accumulators=batch.accumulators[("p", 2021)])
    step = next(s for s in explained.steps if s.mechanism == "basic_rounded")
    assert "running amount" in step.title and "not yet paid this year 0.0034" in step.detail and explained.basic == 33


def test_cumulative_rounding_of_the_second_layer(tmp_path):
    # basic pays nothing; 大病 from 0 at 33.33 %: per claim 33 fen each, cumulative 33, 34, 33
    rules = [
        NO_DEDUCTIBLE,
        rule("inpatient.ratio", 'ratio = "0%"'),
        rule("critical.base", "deductible = true\ncoinsurance = true\nabove_cap = true\npre_self_pay = false"),
        rule("critical.threshold", "amount = 0"),
    ]
    for rounding, expected in (("per_claim", [33, 33, 33]), ("cumulative", [33, 34, 33])):
        folder = tmp_path / rounding
        folder.mkdir()
        p = make_policy(
            folder,
            *rules,
            rule(
                "critical.bands",
                f'convention = "cumulative"\nbands = [{{ ratio = "33.33%" }}]\nrounding = "{rounding}"',
            ),
        )
        assert [s.critical for s in run(p, *(admission(d, "1.00") for d in (1, 2, 3)))] == expected


BANDS = 'basis = "in_scope"\nbands = [ { below = 6000, ratio = "65%" }, { ratio = "80%" } ]'


def test_marginal_segments_on_the_years_cumulative_cost(tmp_path):
    p = make_policy(tmp_path, NO_DEDUCTIBLE, rule("inpatient.ratio", 'segments = "marginal"\n' + BANDS))
    first, second = run(p, admission(1, 4000), admission(2, 4000))
    assert (first.basic, second.basic) == (260000, 130000 + 160000)


def test_step_segments_pay_the_whole_claim_at_the_band_reached(tmp_path):
    p = make_policy(tmp_path, NO_DEDUCTIBLE, rule("inpatient.ratio", 'segments = "step"\n' + BANDS))
    first, second = run(p, admission(1, 4000), admission(2, 4000))
    assert (first.basic, second.basic) == (260000, 320000)


def test_segments_above_the_deductible(tmp_path):
    p = make_policy(
        tmp_path,
        rule("inpatient.deductible", "amount = 1000"),
        rule(
            "inpatient.ratio",
            'segments = "marginal"\nbasis = "above_deductible"\nbands = [ { below = 6000, ratio = "65%" }, { ratio = "80%" } ]',
        ),
    )
    # in-scope 8000: 7000 above the deductible: 6000 × 65 % + 1000 × 80 %
    assert run(p, admission(1, 8000))[0].basic == 390000 + 80000


def test_annual_fund_cap(tmp_path):
    p = make_policy(tmp_path, NO_DEDUCTIBLE, RATIO_100, rule("inpatient.cap", "fund = 5000"))
    assert [s.basic for s in run(p, admission(1, 3000), admission(2, 3000), admission(3, 3000))] == [300000, 200000, 0]


def test_annual_cost_ceiling(tmp_path):
    p = make_policy(
        tmp_path, NO_DEDUCTIBLE, rule("inpatient.ratio", 'ratio = "50%"'), rule("inpatient.cap", "cost = 10000")
    )
    batch = medcalc.settle_many(p, [admission(1, 8000), admission(2, 8000)])
    assert [s.basic for s in batch.settlements] == [400000, 100000]
    assert batch.accumulators[("p", 2021)].above_cost_cap == 600000


def test_floor_of_the_compliant_bill(tmp_path):
    p = make_policy(
        tmp_path,
        rule("inpatient.deductible", "amount = 1000"),
        rule("inpatient.ratio", 'ratio = "90%"'),
        rule("inpatient.place.away", 'when = { place = ["out_of_province"] }\nratio = "30%"\nfloor = "45%"'),
    )
    s = run(p, admission(1, 10000, place="out_of_province", referral="not_referred"))[0]
    assert s.basic == 450000  # (10000 − 1000) × 30 % = 2700 < 45 % × 10000
    assert any(step.mechanism == "floor" for step in s.steps)


def test_floor_never_pays_cost_above_the_basic_cost_ceiling(tmp_path):
    # found by hypothesis: the floor paid 98 % of the whole bill although 6000 of it lay above the
    # cost ceiling, which the next layer then counted again (funds exceeded the bill)
    p = make_policy(
        tmp_path,
        NO_DEDUCTIBLE,
        rule("inpatient.ratio", 'ratio = "30%"'),
        rule("inpatient.cap", "cost = 4000"),
        rule("inpatient.place.away", 'when = { place = ["out_of_province"] }\nfloor = "98%"'),
    )
    s = run(p, admission(1, 10000, place="out_of_province", referral="not_referred"))[0]
    assert s.basic == 400000  # all of the 4000 below the ceiling, none of the 6000 above it
    assert s.basic + s.patient == s.total
    floor = next(step for step in s.steps if step.mechanism == "floor")
    assert "never more than the 4000.00" in floor.detail


def test_place_multiple_and_points(tmp_path):
    p = make_policy(
        tmp_path,
        rule("inpatient.deductible", "amount = 500"),
        rule("inpatient.ratio", 'ratio = "80%"'),
        rule(
            "inpatient.place.other_city",
            'when = { place = ["in_province"] }\ndeductible_multiple = "2"\nratio_points = "-5"',
        ),
    )
    s = run(p, admission(1, 11000, place="in_province", referral="referred"))[0]
    assert (s.deductible, s.basic) == (100000, 750000)


def test_ambiguous_place_rules_reject_the_claim(tmp_path):
    p = make_policy(
        tmp_path,
        NO_DEDUCTIBLE,
        RATIO_100,
        rule("inpatient.place.a", 'when = { place = ["in_province"] }\nratio = "50%"'),
        rule("inpatient.place.b", 'when = { referral = ["referred"] }\nratio = "40%"'),
    )
    batch = medcalc.settle_many(p, [admission(1, 100, place="in_province", referral="referred"), admission(2, 100)])
    assert [(r.row, r.field) for r in batch.rejects] == [(0, "place")]
    assert len(batch.settlements) == 1


def test_one_rounding_per_claim_not_per_band(tmp_path):
    p = make_policy(
        tmp_path,
        NO_DEDUCTIBLE,
        rule(
            "inpatient.ratio",
            'segments = "marginal"\nbasis = "in_scope"\nbands = [ { below = "0.01", ratio = "50%" }, { ratio = "50%" } ]',
        ),
    )
    # 1 fen × 50 % + 1 fen × 50 % = exactly 1 fen; rounding each band would give 2
    assert run(p, admission(1, Fen(2)))[0].basic == 1
    assert run(p, admission(1, Fen(3), person_id="q"))[0].basic == 2  # 1.5 fen rounds half up


def test_unknown_level_and_scheme_are_rejected_with_reasons(tmp_path):
    p = make_policy(tmp_path, NO_DEDUCTIBLE, RATIO_100)
    batch = medcalc.settle_many(p, [admission(1, 100, level="level9"), admission(1, 100, scheme="employees")])
    assert [str(r) for r in batch.rejects] == [
        "row 0: level: unknown hospital level 'level9' for policy p; one of level1 (一级), level2 (二级); "
        "did you mean level2 (二级) or level1 (一级)?",
        "row 1: scheme: claim is for another scheme ('employees') but policy p is for 'residents'",
    ]


def test_history_and_accumulators_give_the_same_answer(tmp_path):
    p = make_policy(
        tmp_path,
        rule("inpatient.deductible", "by_admission = [500, 300]"),
        rule("inpatient.ratio", 'ratio = "80%"'),
        rule("inpatient.cap", 'fund = "1万"'),
    )
    first, second = admission(1, 9000), admission(2, 9000)
    via_history = medcalc.settle(p, second, history=[first])
    acc = medcalc.settle_many(p, [first]).accumulators[("p", 2021)]
    via_state = medcalc.settle(p, second, accumulators=acc)
    # first: (9000 − 500) × 80 % = 6800; second: (9000 − 300) × 80 % = 6960, capped at 10000 − 6800
    assert via_history.basic == via_state.basic == 320000
    assert via_history.before == acc


def test_identity_total_equals_funds_plus_patient(tmp_path):
    p = make_policy(tmp_path, rule("inpatient.deductible", "amount = 300"), rule("inpatient.ratio", 'ratio = "70%"'))
    s = run(p, admission(1, 5000, self_funded=400, over_limit=100, pre_self_pay=50))[0]
    assert s.in_scope == 445000
    assert s.basic == (445000 - 30000) * 70 // 100
    assert s.total == s.funds + s.patient


def test_accumulators_take_yuan_like_claims():
    acc = medcalc.Accumulators(person_id="p", year=2021, basic_paid="2610", deductible_paid=Fen(5))
    assert (acc.basic_paid, acc.deductible_paid) == (261000, 5)
    assert acc.to_dict()["basic_paid"] == "2610.00"


def test_without_explanation_no_steps_or_state_are_invented(tmp_path):
    p = make_policy(tmp_path, NO_DEDUCTIBLE, RATIO_100)
    s = medcalc.settle_many(p, [admission(1, 100)], explain=False).settlements[0]
    assert (s.steps, s.before, s.after, s.basic) == ((), None, None, 10000)


def test_assistance_caps_separate_by_cap_group_or_shared(tmp_path):
    service = rule("outpatient.service.chronic", 'levels = ["level1"]\nratio = "0%"')
    inpatient = rule(
        "assistance.category.dibao",
        'when = { category = ["dibao"], visit = ["inpatient"] }\ndeductible = 0\nratio = "100%"\ncap = 1000',
    )

    def outpatient_rule(group):
        return rule(
            "assistance.category.dibao_outpatient",
            'when = { category = ["dibao"], visit = ["outpatient"] }\n'
            f'deductible = 0\nratio = "100%"\ncap = 500\n{group}',
        )

    claims = [
        admission(1, 800, category="dibao"),
        Claim(
            person_id="p",
            settled_on="2021-03-02",
            level="level1",
            total=800,
            category="dibao",
            visit="outpatient",
            service="chronic",
        ),
    ]
    ratio_zero = rule("inpatient.ratio", 'ratio = "0%"')
    separate = make_policy(
        tmp_path,
        NO_DEDUCTIBLE,
        ratio_zero,
        service,
        inpatient,
        outpatient_rule('cap_group = "outpatient"'),
        name="separate",
    )
    shared = make_policy(tmp_path, NO_DEDUCTIBLE, ratio_zero, service, inpatient, outpatient_rule(""), name="shared")
    # separate groups: 800 (inpatient cap 1000) and 500 (outpatient cap 500)
    assert [s.assistance for s in run(separate, *claims)] == [80000, 50000]
    # one shared group: the year's payments meet the 500 cap of the second rule: 800 already paid, so 0
    batch = medcalc.settle_many(shared, claims)
    assert [s.assistance for s in batch.settlements] == [80000, 0]
    assert batch.accumulators[("p", 2021)].assistance_paid == {"shared": 80000}


def test_assistance_again_pays_on_what_the_first_stage_left_above_its_threshold(tmp_path):
    # basic 50 %; 医疗救助 for 低保 50 % of what is left (no deductible); 再次救助 60 % of what is still
    # left, above 1000 yuan a year, at most 500. Each 4000-yuan claim: basic 2000, first stage 1000,
    # 1000 still left: the year's total of it goes 0 → 1000 (nothing above 1000), → 2000 (600, capped at
    # 500), → 3000 (cap used up).
    p = make_policy(
        tmp_path,
        NO_DEDUCTIBLE,
        rule("inpatient.ratio", 'ratio = "50%"'),
        rule("assistance.category.dibao", 'when = { category = ["dibao"] }\ndeductible = 0\nratio = "50%"'),
        rule("assistance.again.poor", 'when = { category = ["dibao"] }\nthreshold = 1000\nratio = "60%"\ncap = 500'),
    )
    got = run(p, *(admission(d, 4000, category="dibao") for d in (1, 2, 3)), admission(1, 4000, person_id="o"))
    assert [s.assistance for s in got] == [100000, 150000, 100000, 0]
    assert [s.patient for s in got] == [100000, 50000, 100000, 200000]
    explained = medcalc.settle(p, admission(2, 4000, category="dibao"), history=[admission(1, 4000, category="dibao")])
    first, again = (s for s in explained.steps if s.mechanism in ("assistance", "assistance_again"))
    assert (first.amount, again.amount, again.before, again.after) == (100000, 50000, 0, 50000)
    assert "above the yearly threshold 1000.00 × 60%" in again.detail
    assert explained.after.assistance_again_base == 200000 and explained.after.assistance_again_paid == 50000


def test_two_assistance_again_rules_on_one_claim_are_ambiguous(tmp_path):
    p = make_policy(
        tmp_path,
        NO_DEDUCTIBLE,
        rule("inpatient.ratio", 'ratio = "50%"'),
        rule("assistance.again.a", 'when = { category = ["dibao"] }\nthreshold = 0\nratio = "10%"'),
        rule("assistance.again.b", 'when = {}\nthreshold = 0\nratio = "20%"'),
    )
    batch = medcalc.settle_many(p, [admission(1, 1000, category="dibao"), admission(1, 1000, person_id="o")])
    assert [(r.row, r.field) for r in batch.rejects] == [(0, "category")]
    assert "assistance.again.a" in batch.rejects[0].reason and "assistance.again.b" in batch.rejects[0].reason
    assert [s.assistance for s in batch.settlements] == [10000]  # 20 % of the 500 left, no first stage


# --- outpatient: a cap on the in-scope cost counted per calendar month or quarter (period_cost_cap)


def chronic_policy(tmp_path, per: str, amount: int, *more: str, name: str = "p"):
    """门诊慢特病 at 60 % above a yearly 100-yuan deductible, counting at most ``amount`` yuan of
    in-scope cost per calendar ``per``."""
    return make_policy(
        tmp_path,
        NO_DEDUCTIBLE,
        RATIO_100,
        rule(
            "outpatient.service.chronic",
            f'levels = ["level1"]\nratio = "60%"\ndeductible = 100\n'
            f'period_cost_cap = {{ amount = {amount}, per = "{per}" }}',
        ),
        *more,
        name=name,
    )


def visit(day: str, total, **kw) -> Claim:
    return Claim(
        **{
            "person_id": "p",
            "settled_on": day,
            "level": "level1",
            "total": total,
            "visit": "outpatient",
            "service": "chronic",
            **kw,
        }
    )


PERIOD_VISITS = [
    visit("2021-01-05", 200),
    visit("2021-01-20", 250),
    visit("2021-01-31", 50),
    visit("2021-02-01", 400),
    visit("2021-04-01", 400),
]


def test_period_cost_cap_per_month_counts_at_most_the_cap_each_calendar_month(tmp_path):
    p = chronic_policy(tmp_path, "month", 300)
    got = run(p, *PERIOD_VISITS)
    # January counts 200 (100 deductible, 100 × 60 %), then the 100 the 300 leaves of 250 (× 60 %), then
    # nothing of 50; February starts afresh: 300 of 400; April: 300 of 400
    assert [s.deductible for s in got] == [10000, 0, 0, 0, 0]
    assert [s.basic for s in got] == [6000, 6000, 0, 18000, 18000]
    assert [s.patient for s in got] == [14000, 19000, 5000, 22000, 22000]
    after = got[2].after
    assert (after.service_period, after.service_period_cost) == ({"chronic": "2021-01"}, {"chronic": 30000})
    assert (got[-1].after.service_period, got[-1].after.service_period_cost) == (
        {"chronic": "2021-04"},
        {"chronic": 30000},
    )


def test_period_cost_cap_per_quarter_resets_when_the_quarter_changes(tmp_path):
    p = chronic_policy(tmp_path, "quarter", 600)
    got = run(p, *PERIOD_VISITS)
    # Q1 counts 200, 250, 50, then 100 of 400 (600 in all); Q2 starts afresh: all 400
    assert [s.basic for s in got] == [6000, 15000, 3000, 6000, 24000]
    assert got[3].after.service_period == {"chronic": "2021-Q1"} and got[3].after.service_period_cost == {
        "chronic": 60000
    }
    assert got[4].after.service_period == {"chronic": "2021-Q2"} and got[4].after.service_period_cost == {
        "chronic": 40000
    }
    # a new year starts afresh too (a person-year's accumulators)
    assert run(p, visit("2021-03-01", 700), visit("2022-03-01", 400))[1].basic == 18000  # (400 − 100) × 60 %


def test_period_cost_cap_leftover_is_in_scope_self_pay_for_the_later_layers(tmp_path):
    # 大病 counts only cost above basic's caps (services = chronic), 50 % from 0; 医疗救助 50 % of what is left
    p = chronic_policy(
        tmp_path,
        "month",
        300,
        rule(
            "critical.base",
            'deductible = false\ncoinsurance = false\nabove_cap = true\npre_self_pay = false\nservices = ["chronic"]',
        ),
        rule("critical.threshold", "amount = 0"),
        rule("critical.bands", 'convention = "cumulative"\nbands = [{ ratio = "50%" }]'),
        rule("assistance.category.dibao", 'when = { category = ["dibao"] }\ndeductible = 0\nratio = "50%"'),
    )
    first, second = run(p, visit("2021-01-05", 200, category="dibao"), visit("2021-01-20", 250, category="dibao"))
    # first: basic 60, nothing above a cap for 大病; assistance 50 % of 140
    assert (first.basic, first.critical, first.assistance, first.patient) == (6000, 0, 7000, 7000)
    # second: 100 counted (60 paid); the 150 not counted is above basic's cap: 大病 75; assistance 50 % of 115 = 57.5
    assert (second.basic, second.critical, second.assistance, second.patient) == (6000, 7500, 5750, 5750)


def test_period_cost_cap_from_accumulators_history_and_explained(tmp_path):
    p = chronic_policy(tmp_path, "month", 300)
    via_history = medcalc.settle(p, PERIOD_VISITS[1], history=[PERIOD_VISITS[0]])
    acc = medcalc.Accumulators(
        person_id="p",
        year=2021,
        service_deductible={"chronic": 100},
        service_paid={"chronic": 60},
        service_period={"chronic": "2021-01"},
        service_period_cost={"chronic": 200},
    )
    via_state = medcalc.settle(p, PERIOD_VISITS[1], accumulators=acc)
    assert via_history.basic == via_state.basic == 6000
    assert via_history.before == acc
    # a period of another month (or year) counts nothing against this one
    stale = attrs.evolve(acc, service_period={"chronic": "2020-01"})
    assert medcalc.settle(p, PERIOD_VISITS[1], accumulators=stale).basic == 15000
    step = next(s for s in via_history.steps if s.mechanism == "period_cost_cap")
    assert step.detail == (
        "at most 300.00 of in-scope cost a month, counted in 2021-01 before this claim 200.00: "
        "100.00 of 250.00 counted, 150.00 not paid by this service"
    )
    assert (step.amount, step.before, step.after) == (10000, 20000, 30000)
    ratio = next(s for s in via_history.steps if s.mechanism == "ratio")
    assert (ratio.base, ratio.amount) == (10000, 6000)
    # no step when the cap leaves the whole cost counted
    assert not [s for s in medcalc.settle(p, PERIOD_VISITS[0]).steps if s.mechanism == "period_cost_cap"]
    with pytest.raises(ValueError, match="2025-03"):
        medcalc.Accumulators(person_id="p", year=2021, service_period={"chronic": "January"})


def test_period_cost_cap_in_batches_equals_one_by_one(tmp_path):
    import pyarrow as pa

    p = chronic_policy(tmp_path, "month", 300)
    claims = PERIOD_VISITS + [visit("2021-01-10", 500, person_id="q"), visit("2021-01-11", 500, person_id="q")]
    table = pa.table(
        {
            "person_id": [c.person_id for c in claims],
            "settled_on": [c.settled_on for c in claims],
            "level": ["level1"] * len(claims),
            "total": [int(c.total) for c in claims],
            "visit": ["outpatient"] * len(claims),
            "service": ["chronic"] * len(claims),
        }
    )
    expected = [6000, 6000, 0, 18000, 18000, 12000, 0]  # q: (300 − 100) × 60 %, then nothing left of January
    for engine in ("interpreted", "compiled"):
        scored = medcalc.settle_table(table, p, amounts="fen", engine=engine, chunk_rows=2)
        assert scored.results.column("basic").to_pylist() == expected
    assert [s.basic for s in run(p, *claims)] == expected


def test_period_cost_cap_through_the_cli(capsys, tmp_path):
    import json

    from medcalc.cli import main

    chronic_policy(tmp_path, "quarter", 600)
    (tmp_path / "history.json").write_text(
        json.dumps(
            [{"settled_on": "2021-01-05", "level": "level1", "total": 500, "visit": "outpatient", "service": "chronic"}]
        )
    )
    code = main(
        [
            "quote",
            "--policy",
            str(tmp_path / "p.toml"),
            "--date",
            "2021-03-20",
            "--visit",
            "outpatient",
            "--service",
            "chronic",
            "--level",
            "level1",
            "--total",
            "400",
            "--history",
            str(tmp_path / "history.json"),
            "--json",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["basic"] == "60.00"  # 100 of 400 counted (500 counted in Q1 before), × 60 %
    assert data["accumulators_after"]["service_period"] == {"chronic": "2021-Q1"}
    assert data["accumulators_after"]["service_period_cost"] == {"chronic": "600.00"}
    assert any(s["mechanism"] == "period_cost_cap" for s in data["steps"])
    (tmp_path / "claims.csv").write_text(
        "person_id,settled_on,level,total,visit,service\n"
        + "".join(f"p,{c.settled_on},level1,{int(c.total) // 100},outpatient,chronic\n" for c in PERIOD_VISITS),
        encoding="utf-8",
    )
    code = main(
        [
            "score",
            str(tmp_path / "claims.csv"),
            "--policy",
            str(tmp_path / "p.toml"),
            "-o",
            str(tmp_path / "out.csv"),
            "--json",
        ]
    )
    assert code == 0 and json.loads(capsys.readouterr().out)["totals"]["basic"] == "540.00"  # 60 + 150 + 30 + 60 + 240


def test_period_cost_cap_is_shown_and_scaled_by_a_reform(tmp_path):
    import datetime as dt

    from medcalc.policy import adjusted_policy
    from medcalc.policy.describe import describe

    p = chronic_policy(tmp_path, "quarter", 300)
    cap = (
        adjusted_policy(p, ["outpatient.service.chronic *50%"])
        .at(dt.date(2021, 1, 1))
        .rule("outpatient.service.chronic")
    )
    assert (cap["period_cost_cap"].amount, cap["period_cost_cap"].per) == (15000, "quarter")
    assert describe("period_cost_cap", cap["period_cost_cap"]) == "at most 150.00 of in-scope cost counted a quarter"


PAY_AGAIN = 'when = { category = ["poverty"] }\nratio = "80%"'


def _pay_again_policy(tmp_path, threshold: str, name: str = "p"):
    return make_policy(
        tmp_path,
        NO_DEDUCTIBLE,
        rule("inpatient.ratio", 'ratio = "50%"'),
        rule("backstop.pay_again.poor", PAY_AGAIN + threshold),
        name=name,
    )


def test_backstop_pays_again_only_the_years_rest_above_its_threshold(tmp_path):
    # basic 50 %; 再报销 80 % of what is left, of the year's total of it above 1500 yuan. Each
    # 2000-yuan claim leaves 1000: the year's rest goes 0 → 1000 (nothing above 1500), → 2000
    # (500 above: 400), → 3000 (1000: 800). Without a threshold each claim gets 800 (unchanged).
    p = _pay_again_policy(tmp_path, "\nthreshold = 1500")
    claims = [*(admission(d, 2000, category="poverty") for d in (1, 2, 3)), admission(1, 2000, person_id="o")]
    batch = medcalc.settle_many(p, claims)
    assert [s.backstop for s in batch.settlements] == [0, 40000, 80000, 0]
    assert [s.patient for s in batch.settlements] == [100000, 60000, 20000, 100000]
    acc = batch.accumulators[("p", 2021)]
    assert (acc.backstop_again_base, acc.backstop_again_paid, acc.backstop_paid) == (300000, 120000, 120000)
    plain = _pay_again_policy(tmp_path, "", name="plain")
    assert [s.backstop for s in run(plain, *claims)] == [80000, 80000, 80000, 0]
    # one claim explained, from the year so far given as history or as accumulators
    history = [admission(1, 2000, category="poverty")]
    explained = medcalc.settle(p, admission(2, 2000, category="poverty"), history=history)
    again = next(s for s in explained.steps if s.mechanism == "backstop_again")
    assert (again.amount, again.base, again.before, again.after) == (40000, 100000, 0, 40000)
    assert again.detail == (
        "backstop.pay_again.poor: what is still left 1000.00 (year 1000.00 → 2000.00); "
        "above the yearly threshold 1500.00 × 80% → 400.00"
    )
    assert explained.after.backstop_again_base == 200000
    state = medcalc.settle_many(p, history).accumulators[("p", 2021)]
    assert medcalc.settle(p, admission(2, 2000, category="poverty"), accumulators=state).backstop == 40000


def test_the_pay_again_threshold_on_the_command_line(tmp_path, capsys):
    _pay_again_policy(tmp_path, "\nthreshold = 1500")
    (tmp_path / "history.json").write_text(
        json.dumps([{"settled_on": "2021-03-01", "level": "level1", "total": 2000, "category": "poverty"}])
    )
    code = main(
        [
            "quote",
            "--policy",
            str(tmp_path / "p.toml"),
            "--date",
            "2021-03-02",
            "--level",
            "level1",
            "--total",
            "2000",
            "--category",
            "poverty",
            "--history",
            str(tmp_path / "history.json"),
            "--explain",
            "--json",
        ]
    )
    out, _ = capsys.readouterr()
    assert code == 0
    data = json.loads(out)
    assert (data["backstop"], data["patient"]) == ("400.00", "600.00")
    assert data["accumulators_after"]["backstop_again_base"] == "2000.00"
    step = next(s for s in data["steps"] if s["mechanism"] == "backstop_again")
    assert "above the yearly threshold 1500.00 × 80%" in step["detail"]


def test_the_pay_again_threshold_in_a_batch_compiled_and_interpreted(tmp_path):
    p = _pay_again_policy(tmp_path, "\nthreshold = 1500")
    claims = pa.table(
        {
            "person_id": ["p", "p", "p", "o"],
            "settled_on": pa.array(["2021-03-01", "2021-03-02", "2021-03-03", "2021-03-01"]).cast(pa.date32()),
            "level": ["level1"] * 4,
            "total": pa.array([200000] * 4),
            "category": ["poverty", "poverty", "poverty", "ordinary"],
        }
    )
    for engine in ("compiled", "interpreted"):
        scored = medcalc.settle_table(claims, p, amounts="fen", engine=engine, trace=[1])
        assert scored.results.column("backstop").to_pylist() == [0, 40000, 80000, 0], engine
        assert any(step.mechanism == "backstop_again" and step.amount == 40000 for step in scored.traces[1])
        assert scored.rejects.num_rows == 0
