"""The payer chain on the shipped seed regions, end to end, on figures worked by hand."""

from __future__ import annotations

import pytest

import medcalc
from medcalc import Claim


def settle(policy_id, **claim):
    base = dict(person_id="p", total="30万")
    base.update(claim)
    return medcalc.settle(policy_id, Claim(**base))


def layers(s):
    return tuple(medcalc.format_yuan(v) for v in (s.basic, s.critical, s.assistance, s.backstop, s.patient))


@pytest.mark.parametrize(
    "category, expected",
    [
        # basic (300000 − 200) × 90 % = 269820; 大病 base = deductible 200 + co-insurance 29980 = 30180;
        # ordinary: threshold 15000, band 1 at 60 %: 15180 × 60 % = 9108
        ("ordinary", ("269820.00", "9108.00", "0.00", "0.00", "21072.00")),
        # 低保 tilt: threshold 7500, +5 points: 22680 × 65 % = 14742
        ("dibao", ("269820.00", "14742.00", "0.00", "0.00", "15438.00")),
    ],
)
def test_anhui_2025_basic_and_critical(category, expected):
    assert layers(settle("anhui-2025", settled_on="2025-05-01", level="level1", category=category)) == expected


def test_huaibei_inherits_the_provincial_chain():
    assert layers(settle("huaibei-2025", settled_on="2025-05-01", level="level1")) == (
        "269820.00",
        "9108.00",
        "0.00",
        "0.00",
        "21072.00",
    )


def test_critical_cap_and_its_removal_for_tilted_people():
    # level 3 (省属): (800000 − 1000) × 70 % = 559300 capped at 300000; 大病 base 1000 + 240000 + 259300 = 500300
    ordinary = settle("anhui-2025", settled_on="2025-05-01", level="level3_province", total="80万")
    tekun = settle("anhui-2025", settled_on="2025-05-01", level="level3_province", total="80万", category="tekun")
    assert (ordinary.basic, ordinary.critical) == (30000000, 30000000)  # both capped at 30万
    assert tekun.critical > 30000000  # 取消封顶线
    assert tekun.critical == medcalc.parse_amount("397625")


def test_xiuning_assistance_after_basic_and_critical():
    # 低保: in-scope left 300000 − 269820 − 14742 = 15438, no deductible, 70 % = 10806.60
    assert layers(settle("xiuning", settled_on="2025-05-01", level="level1", category="dibao")) == (
        "269820.00",
        "14742.00",
        "10806.60",
        "0.00",
        "4631.40",
    )
    # 低收入: left 300000 − 269820 − 9108 = 21072; above the 20000 deductible: 1072 × 50 % = 536
    assert settle("xiuning", settled_on="2025-05-01", level="level1", category="low_income").assistance == 53600


@pytest.mark.parametrize(
    "level, cap", [("level1", "3000.00"), ("level3_city", "5000.00"), ("level3_province", "10000.00")]
)
def test_anhui_351_backstop_caps_the_poor_burden_by_level(level, cap):
    s = settle("anhui-2019", settled_on="2021-05-01", level=level, category="poverty")
    assert medcalc.format_yuan(s.patient) == cap
    assert s.total == s.funds + s.patient
    assert settle("anhui-2019", settled_on="2022-05-01", level=level, category="poverty").backstop == 0  # ended 2021


def test_jiujiang_employees_supplementary_layer_above_the_basic_cap():
    # level 3, 1st admission: deductible 800; (300000 − 800) × 85 % = 254320, capped at the 10万 basic cap;
    # the cost the cap cut off: 299200 × 154320 / 254320 = 181552.94; × 90 % = 163397.65
    s = settle("jiujiang-employees", settled_on="2020-05-01", level="level3")
    assert layers(s) == ("100000.00", "163397.65", "0.00", "0.00", "36602.35")
    assert settle("jiujiang-employees", settled_on="2020-05-01", level="level3", total="60万").critical == 40000000


@pytest.mark.parametrize("day", ["2019-07-01", "2020-06-01", "2021-06-01", "2022-06-01", "2024-12-31"])
def test_luan_settles_at_its_official_ratios_over_the_whole_provincial_span(day):
    # seed 000 (official): 90 % at level 1 under the province-wide benefits Lu'an applies from 2019-07-01;
    # (10000 − 200) × 90 % = 8820, against anhui-2019's unofficial 85 %: 9800 × 85 % = 8330
    claim = dict(total="10000", settled_on=day, level="level1")
    assert medcalc.format_yuan(settle("luan-2021", **claim).basic) == "8820.00"
    assert medcalc.format_yuan(settle("anhui-2019", **claim).basic) == "8330.00"
    # 三级(市属): Lu'an 70 %, the province file 75 %: (10000 − 700) × 70 % = 6510; × 75 % = 6975
    claim["level"] = "level3_city"
    assert medcalc.format_yuan(settle("luan-2021", **claim).basic) == "6510.00"
    assert medcalc.format_yuan(settle("anhui-2019", **claim).basic) == "6975.00"


def test_luan_ratio_versions_outside_2021_are_marked_choices():
    policy = medcalc.load_policy("luan-2021")
    cites = {
        day: policy.at(medcalc.claims.parse_day(day)).rule("inpatient.ratio").citation
        for day in ("2020-06-01", "2021-06-01", "2022-06-01")
    }
    assert [c.verified for c in cites.values()] == [False, True, False]
    assert cites["2020-06-01"].note.startswith("A choice:") and cites["2022-06-01"].note.startswith("A choice:")
    assert len(cites["2020-06-01"].quotes) == 2  # the 2019-07-01 sentence and the ratio sentence
