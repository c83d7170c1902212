"""Outpatient services on shipped policies, from their seed numbers (tests/cases/outpatient_cases.toml)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import medcalc

CASES_FILE = Path(__file__).parents[1] / "cases" / "outpatient_cases.toml"
CASES = tomllib.loads(CASES_FILE.read_text(encoding="utf-8"))["case"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_outpatient_case(case):
    claims = [medcalc.Claim.from_mapping(c) for c in case["claims"]]
    batch = medcalc.settle_many(case["policy"], claims)
    assert [[r.row, r.field] for r in batch.rejects] == case.get("rejects", [])
    assert [medcalc.format_yuan(s.basic) for s in batch.settlements] == case["basic"]
    for s in batch.settlements:
        assert s.total == s.funds + s.patient


def test_outpatient_explanation_cites_the_seed():
    claim = medcalc.Claim(
        person_id="p",
        settled_on="2025-03-01",
        visit="outpatient",
        service="large_general",
        level="level1",
        diseases=["冠心病"],
        total=2000,
    )
    s = medcalc.settle("huaibei-2025", claim)
    mechanisms = [step.mechanism for step in s.steps]
    assert mechanisms[:5] == ["decompose", "deductible_charged", "ratio", "visit_cap", "service_cap"]
    assert all("单次报销封顶700元" in step.citation.quote for step in s.steps[1:5])
    assert s.after.service_paid == {"large_general": medcalc.parse_amount(700)}


def test_unknown_service_and_service_out_of_dates_are_rejected():
    claims = [
        medcalc.Claim(
            person_id="p", settled_on="2025-03-01", visit="outpatient", service="dental", level="level1", total=100
        ),
        medcalc.Claim(
            person_id="p", settled_on="2024-03-01", visit="outpatient", service="general", level="level1", total=100
        ),
    ]
    batch = medcalc.settle_many("huaibei-2025", claims)
    assert [str(r) for r in batch.rejects] == [
        "row 0: service: policy huaibei-2025 has no outpatient service 'dental'; it has day_ward, general, large_general, two_diseases",
        "row 1: settled_on: outpatient service 'general' is not in force on 2024-03-01; it covers 2025-01-01 to open",
    ]
