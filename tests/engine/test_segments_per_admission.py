"""Cost segments that restart at every admission (basis = "admission") and caps per admission
(inpatient.admission_cap): the policy README's worked example, hand-computed figures through the
API, the command line and settle_table, the explanation, and the load errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

import medcalc
from medcalc.errors import PolicyError
from tests.policy_text import GUIDE_PATH, guide_example, guide_policy

GUIDE = GUIDE_PATH.read_text(encoding="utf-8")


def _guide_policy(tmp_path: Path, rules: str) -> Path:
    """The guide's example file with its inpatient.ratio replaced by ``rules``."""
    return guide_policy(tmp_path, rules, without="inpatient.ratio")


def _example_rules() -> str:
    return guide_example("segments per admission")


def _claims(person: str = "p") -> list[medcalc.Claim]:
    return [
        medcalc.Claim(person_id=person, claim_id="a", settled_on="2025-03-01", level="level1", total=30000),
        medcalc.Claim(person_id=person, claim_id="b", settled_on="2025-06-01", level="level1", total=8000),
    ]


def test_the_readme_example_restarts_the_segments_and_caps_the_admission(tmp_path):
    policy = medcalc.load_policy(_guide_policy(tmp_path, _example_rules()))
    first, second = medcalc.settle_sequence(policy, _claims()).settlements
    assert (first.deductible, first.basic) == (20000, 2000000)  # 25 840.00 capped at 20 000.00
    assert (second.deductible, second.basic) == (20000, 624000)  # (8 000 − 200) × 80 %, the first band again
    assert "20000.00" in GUIDE.replace(" ", "").replace(",", "") and "6240.00" in GUIDE.replace(" ", "")
    titles = [step.title for step in first.steps]
    assert "每次住院最高支付限额 cap per admission" in titles
    axis = next(step.detail for step in second.steps if step.mechanism == "ratio")
    assert "this admission's in-scope cost" in axis


def test_on_the_years_axis_the_second_admission_lands_in_the_higher_band(tmp_path):
    rules = _example_rules().replace('basis = "admission"', 'basis = "in_scope"')
    policy = medcalc.load_policy(_guide_policy(tmp_path, rules))
    assert medcalc.settle_sequence(policy, _claims()).settlements[1].basic == 702000  # 7 800 × 90 %


def test_a_cap_on_an_admissions_cost_leaves_the_rest_to_the_next_layer(tmp_path):
    rules = _example_rules().replace("fund = 20000", "cost = 12000")
    policy = medcalc.load_policy(_guide_policy(tmp_path, rules))
    first, second = medcalc.settle_sequence(policy, _claims()).settlements
    # (10 000 − 200) × 80 % + (12 000 − 10 000) × 90 % = 7 840 + 1 800; the 18 000 above the cap is not paid
    assert first.basic == 964000
    assert second.basic == 624000  # below the cap
    cap = next(step for step in first.steps if step.mechanism == "cost_cap")
    assert cap.amount == 1800000 and "per admission" in cap.detail


def test_settle_table_and_the_command_line_agree(tmp_path):
    path = _guide_policy(tmp_path, _example_rules())
    policy = medcalc.load_policy(path)
    table = pa.table(
        {
            "person_id": ["p", "p", "q"],
            "claim_id": ["a", "b", "c"],
            "settled_on": ["2025-03-01", "2025-06-01", "2025-06-01"],
            "level": ["level1"] * 3,
            "total": ["30000", "8000", "8000"],
        }
    )
    scored = medcalc.settle_table(table, policy, amounts="yuan")
    assert scored.results.column("basic").to_pylist() == [2000000, 624000, 624000]
    claim = tmp_path / "claim.json"
    history = tmp_path / "history.json"
    claim.write_text(json.dumps({"person_id": "p", "settled_on": "2025-06-01", "level": "level1", "total": 8000}))
    history.write_text(json.dumps([{"person_id": "p", "settled_on": "2025-03-01", "level": "level1", "total": 30000}]))
    done = subprocess.run(
        [sys.executable, "-m", "medcalc.cli", "quote", "--policy", str(path), "--claim", str(claim)]
        + ["--history", str(history), "--json"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["basic"] == "6240.00"


@pytest.mark.parametrize(
    ("rules", "words"),
    [
        ("[[inpatient.admission_cap]]\nsince = 2025-01-01\nfund = 100\ncost = 200\n", "fund"),
        ("[[inpatient.admission_cap]]\nsince = 2025-01-01\n", "fund"),
        ('[[inpatient.admission_cap]]\nsince = 2025-01-01\nfund = "-5"\n', "fund"),
    ],
)
def test_a_wrong_cap_per_admission_fails_at_load_naming_it(tmp_path, rules, words):
    text = _example_rules().split("[[inpatient.admission_cap]]")[0] + rules
    with pytest.raises(PolicyError) as caught:
        medcalc.load_policy(_guide_policy(tmp_path, text))
    message = str(caught.value)
    assert "inpatient.admission_cap" in message and words in message


def test_an_unknown_basis_names_the_three_allowed(tmp_path):
    with pytest.raises(PolicyError, match="admission"):
        medcalc.load_policy(_guide_policy(tmp_path, _example_rules().replace('"admission"', '"per_visit"')))
