"""Later admissions by a schedule of fractions of the admission's own standard (issue 28, mechanism 3):
the policy README's worked example through the API and settle_table, the explanation, load errors."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

import medcalc
from medcalc.errors import PolicyError
from tests.policy_text import GUIDE_PATH, guide_example, guide_policy

GUIDE = GUIDE_PATH.read_text(encoding="utf-8")
EXAMPLE = guide_example("later admissions by a schedule")
DAYS = ("2025-02-01", "2025-04-01", "2025-06-01", "2025-08-01")
LEVELS = ("level1", "level3_province", "level1", "level3_province")


def _policy(tmp_path: Path, rule: str) -> medcalc.Policy:
    return medcalc.load_policy(guide_policy(tmp_path, rule))


def _claims() -> list[medcalc.Claim]:
    return [
        medcalc.Claim(person_id="p", claim_id=str(k), settled_on=day, level=level, total=5000)
        for k, (day, level) in enumerate(zip(DAYS, LEVELS))
    ]


def test_the_readme_example_takes_each_admissions_fraction_of_its_own_standard(tmp_path):
    policy = _policy(tmp_path, EXAMPLE)
    settled = medcalc.settle_sequence(policy, _claims()).settlements
    assert [s.deductible for s in settled] == [20000, 80000, 15000, 60000]  # 200, 1000 × 80 %, floor 150, 1000 × 60 %
    for figure in ("**800**", "**150**", "**600**"):
        assert figure in GUIDE
    step = next(s for s in settled[2].steps if s.mechanism == "deductible_later")
    assert "3rd × 60%" in step.detail and "150.00" in step.detail


def test_settle_table_charges_the_same(tmp_path):
    policy = _policy(tmp_path, EXAMPLE)
    table = pa.table(
        {
            "person_id": ["p"] * 4,
            "claim_id": ["0", "1", "2", "3"],
            "settled_on": list(DAYS),
            "level": list(LEVELS),
            "total": ["5000"] * 4,
        }
    )
    scored = medcalc.settle_table(table, policy, amounts="yuan")
    assert scored.results.column("deductible").to_pylist() == [20000, 80000, 15000, 60000]


def test_fractions_with_compounding_or_beside_a_fraction_fail_at_load(tmp_path):
    with pytest.raises(PolicyError, match=r"inpatient.deductible_later\[0\].compounding"):
        _policy(tmp_path, EXAMPLE + "compounding = true\n")
    with pytest.raises(PolicyError, match="fraction"):
        _policy(tmp_path, EXAMPLE + 'fraction = "50%"\n')
    with pytest.raises(PolicyError, match=r"fractions\[1\]"):
        _policy(tmp_path, EXAMPLE.replace('"60%"', '"160%"'))
