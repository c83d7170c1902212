"""Worked examples from public sources come out exactly (tests/cases/worked_examples.toml)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import medcalc

CASES = Path(__file__).parent / "cases"
EXAMPLES = tomllib.loads((CASES / "worked_examples.toml").read_text(encoding="utf-8"))["case"]


@pytest.mark.parametrize("case", EXAMPLES, ids=[c["name"] for c in EXAMPLES])
def test_worked_example(case):
    policy = medcalc.load_policy(CASES / case["policy"])
    claims = [medcalc.Claim.from_mapping(c) for c in case["claims"]]
    result = medcalc.settle(policy, claims[-1], history=claims[:-1])
    got = {key: medcalc.format_yuan(getattr(result, key)) for key in case["expect"]}
    assert got == case["expect"]
    assert result.total == result.funds + result.patient


@pytest.mark.parametrize("case", EXAMPLES, ids=[c["name"] for c in EXAMPLES])
def test_worked_example_is_stated_by_its_source(case):
    """The figures we assert are the ones the source prints, not our own arithmetic."""
    text = (Path(__file__).parents[1] / case["source"]).read_text(encoding="utf-8")
    for figure in case["stated"]:
        assert figure in text
    stated_numbers = {f.rstrip("元").split("费用")[-1].split("合计")[-1] for f in case["stated"]}
    expected_numbers = {v.rstrip("0").rstrip(".") for v in (case["expect"]["basic"], case["expect"]["patient"])}
    assert expected_numbers == stated_numbers
