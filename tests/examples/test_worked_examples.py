"""Worked examples from public sources come out exactly (tests/cases/worked_examples.toml)."""

from __future__ import annotations

import re
import tomllib
from fractions import Fraction
from pathlib import Path

import pytest

import medcalc
from medcalc.policy.loader import normalise_quote_text

ROOT = Path(__file__).parents[2]
CASES = Path(__file__).parents[1] / "cases"
DATA = tomllib.loads((CASES / "worked_examples.toml").read_text(encoding="utf-8"))
EXAMPLES = DATA["case"]


@pytest.mark.parametrize("case", EXAMPLES, ids=[c["name"] for c in EXAMPLES])
def test_worked_example(case):
    policy = medcalc.load_policy(CASES / case["policy"])
    claims = [medcalc.Claim.from_mapping(c) for c in case["claims"]]
    result = medcalc.settle(policy, claims[-1], history=claims[:-1])
    got = {key: medcalc.format_yuan(getattr(result, key)) for key in case["expect"]}
    assert got == case["expect"]
    assert result.total == result.funds + result.patient


@pytest.mark.parametrize("case", EXAMPLES, ids=[c["name"] for c in EXAMPLES])
def test_worked_example_is_what_its_source_prints(case):
    """The asserted figures are the source's own, not our arithmetic."""
    text = normalise_quote_text((ROOT / case["source"]).read_text(encoding="utf-8"))
    for key, printed in case["stated"].items():
        assert normalise_quote_text(printed) in text
        amount = re.search(r"([0-9.]+万?)元$", printed).group(1)
        assert medcalc.parse_amount(amount) == medcalc.parse_amount(case["expect"][key])


@pytest.mark.parametrize("case", DATA["identity"], ids=[c["name"] for c in DATA["identity"]])
def test_identity_example(case):
    text = normalise_quote_text((ROOT / case["source"]).read_text(encoding="utf-8"))
    assert normalise_quote_text(case["quote"]) in text
    rate = Fraction(sum(medcalc.parse_amount(f) for f in case["funds"]), medcalc.parse_amount(case["total"]))
    assert medcalc.settlement.percent_text(rate) == case["rate"]
