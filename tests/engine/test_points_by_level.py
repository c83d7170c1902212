"""Ratio points by level (issue 28, mechanism 4): the policy README's worked example through the API,
settle_table and the explanation; a level the table does not name gets no points."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest

import medcalc
from medcalc.errors import PolicyError
from tests.policy_text import make_policy, rule

GUIDE = (Path(__file__).parents[2] / "policies" / "README.md").read_text(encoding="utf-8")
EXAMPLE = re.search(r"<!-- example: points by level -->\n```toml\n(.*?)```", GUIDE, re.S).group(1)
DEDUCTIBLE = rule("inpatient.deductible", "amount = 100")
RATIO = rule("inpatient.ratio", 'ratio = "80%"')


def _cited(text: str) -> str:
    key = re.search(r"\[\[(.+?)\]\]", text).group(1)
    body = "\n".join(line for line in text.strip().splitlines()[1:] if not line.startswith("since"))
    return rule(key, body)


def _claim(level: str, retired: bool = True) -> medcalc.Claim:
    return medcalc.Claim(person_id=f"p-{level}", settled_on="2021-03-01", level=level, total=10000, retired=retired)


def test_the_readme_example_adds_each_levels_points(tmp_path):
    policy = make_policy(tmp_path, DEDUCTIBLE, RATIO, _cited(EXAMPLE))
    assert medcalc.settle(policy, _claim("level1")).basic == 841500  # (10 000 − 100) × 85 %
    assert medcalc.settle(policy, _claim("level2")).basic == 821700  # × 83 %
    assert medcalc.settle(policy, _claim("level1", retired=False)).basic == 792000  # × 80 %
    assert "8 415.00" in GUIDE and "8 217.00" in GUIDE
    step = next(s for s in medcalc.settle(policy, _claim("level2")).steps if s.mechanism == "modifier")
    assert "+3 points" in step.detail


def test_a_level_the_table_does_not_name_gets_no_points(tmp_path):
    modifier = rule("inpatient.modifier.retired", 'when = { retired = true }\nratio_points = { level1 = "+5" }')
    policy = make_policy(tmp_path, DEDUCTIBLE, RATIO, modifier)
    assert medcalc.settle(policy, _claim("level2")).basic == 792000
    table = pa.table(
        {
            "person_id": ["a", "b"],
            "settled_on": ["2021-03-01"] * 2,
            "level": ["level1", "level2"],
            "total": ["10000", "10000"],
            "retired": ["yes", "yes"],
        }
    )
    scored = medcalc.settle_table(table, policy, amounts="yuan")
    assert scored.results.column("basic").to_pylist() == [841500, 792000]


def test_a_place_rule_and_the_critical_layer_take_points_by_level_too(tmp_path):
    place = rule(
        "inpatient.place.away",
        'when = { place = ["in_province"] }\nratio_points = { level1 = "-10", level2 = "-20" }',
    )
    policy = make_policy(tmp_path, DEDUCTIBLE, RATIO, place)
    away = medcalc.Claim(
        person_id="p", settled_on="2021-03-01", level="level2", total=10000, place="in_province", referral="referred"
    )
    assert medcalc.settle(policy, away).basic == 594000  # (10 000 − 100) × 60 %


def test_a_points_table_naming_an_unknown_level_fails_at_load(tmp_path):
    modifier = rule("inpatient.modifier.retired", 'when = { retired = true }\nratio_points = { level9 = "+5" }')
    with pytest.raises(PolicyError, match=r"inpatient.modifier.retired\[0\].ratio_points.level9"):
        make_policy(tmp_path, DEDUCTIBLE, RATIO, modifier)
