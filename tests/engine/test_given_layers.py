"""Later layers on a given base: claims that carry what earlier layers paid (settled elsewhere),
so that a policy of only a 大病 or assistance layer settles them (amounts hand-computed, in fen)."""

from __future__ import annotations

import csv
import json

import pyarrow as pa
import pytest

import medcalc
from medcalc import Claim, ClaimError
from medcalc.cli import main
from medcalc.policy.lint import lint
from tests.policy.test_policy_check import OUTPATIENT_ONLY
from tests.policy_text import make_policy, rule

#: 大病 on the whole in-scope self-pay above 10000 a year: 60 % to 50000 of the year's base, then 70 %;
#: 医疗救助 for 低保 50 % of what is left. No basic rules at all.
BASE_ALL = rule("critical.base", "deductible = true\ncoinsurance = true\nabove_cap = true\npre_self_pay = false")
LATER_LAYERS = [
    rule("critical.threshold", "amount = 10000"),
    rule("critical.bands", 'convention = "cumulative"\nbands = [{ below = 50000, ratio = "60%" }, { ratio = "70%" }]'),
    rule("assistance.category.dibao", 'when = { category = ["dibao"] }\ndeductible = 0\nratio = "50%"'),
]


def claim(person="p", day="2021-03-01", total=80000, **kw) -> Claim:
    return Claim(person_id=person, settled_on=day, level="level1", total=total, **kw)


@pytest.fixture
def critical_only(tmp_path):
    return make_policy(tmp_path, BASE_ALL, *LATER_LAYERS, name="critical-only")


def test_a_policy_of_later_layers_settles_on_the_basic_payment_given(critical_only):
    # the year's base: 30000 − 15000 = 15000 (5000 above the threshold at 60 %: 3000), then 80000 − 40000 = 40000
    # (15000 → 55000: 35000 at 60 % + 5000 at 70 % = 24500); assistance 50 % of 80000 − 40000 − 24500
    batch = medcalc.settle_many(
        critical_only,
        [claim(total=30000, basic_paid=15000), claim(day="2021-04-01", basic_paid=40000, category="dibao")],
    )
    assert not batch.rejects
    got = [(s.deductible, s.basic, s.critical, s.assistance, s.patient) for s in batch.settlements]
    assert got == [(0, 1500000, 300000, 0, 1200000), (0, 4000000, 2450000, 775000, 775000)]
    year = batch.accumulators[("p", 2021)]
    assert (year.admissions, year.basic_paid, year.critical_base, year.critical_paid) == (2, 5500000, 5500000, 2750000)


def test_the_critical_base_or_payment_given_directly(critical_only):
    base, paid = medcalc.settle_many(
        critical_only,
        [
            claim(person="q", basic_paid=40000, critical_base=30000),  # 20000 above the threshold at 60 %
            claim(person="r", basic_paid=40000, critical_paid=2000, category="dibao"),  # assistance on 80000 − 42000
        ],
    ).settlements
    assert (base.critical, base.patient) == (1200000, 2800000)
    assert (paid.critical, paid.assistance, paid.patient) == (200000, 1900000, 1900000)


def test_without_basic_rules_a_claim_must_give_the_basic_payment(critical_only):
    with pytest.raises(ClaimError) as caught:
        medcalc.settle(critical_only, claim())
    # told about what it lacks, the basic payment, not about its date (issue 28)
    assert caught.value.field == "basic_paid" and "gives basic_paid" in caught.value.reason
    assert "rule in force" not in caught.value.reason


def test_a_base_of_only_some_parts_needs_the_base_given(tmp_path):
    # with basic_paid the self-pay left is not split: a base without the deductible cannot be computed
    p = make_policy(
        tmp_path,
        rule("critical.base", "deductible = false\ncoinsurance = true\nabove_cap = true\npre_self_pay = false"),
        *LATER_LAYERS,
    )
    batch = medcalc.settle_many(p, [claim(basic_paid=40000), claim(person="q", basic_paid=40000, critical_base=30000)])
    assert [(r.row, r.field) for r in batch.rejects] == [(0, "basic_paid")]
    assert (
        "give critical_base" in batch.rejects[0].reason
        and "counts only coinsurance, above_cap" in batch.rejects[0].reason
    )
    assert [s.critical for s in batch.settlements] == [1200000]


def test_given_layers_where_basic_rules_exist_replace_the_computation(tmp_path):
    p = make_policy(
        tmp_path,
        rule("inpatient.deductible", "amount = 1000"),
        rule("inpatient.ratio", 'ratio = "50%"'),
        BASE_ALL,
        *LATER_LAYERS,
    )
    computed, given = medcalc.settle_many(
        p, [claim(total=30000), claim(person="q", total=30000, basic_paid=20000)]
    ).settlements
    assert (computed.deductible, computed.basic, computed.critical) == (100000, 1450000, 330000)  # base 15500
    assert (given.deductible, given.basic, given.critical) == (0, 2000000, 0)  # base 10000: nothing above the threshold


def test_the_explanation_says_which_layers_were_given(critical_only):
    s = medcalc.settle(critical_only, claim(basic_paid=40000, critical_paid=2000, category="dibao"))
    steps = {step.mechanism: step for step in s.steps}
    assert steps["basic_given"].amount == 4000000 and "not computed" in steps["basic_given"].detail
    assert steps["critical_given"].amount == 200000 and "deductible" not in steps
    assert steps["assistance"].amount == 1900000


def test_bad_given_amounts_are_refused_with_the_field():
    for kw, field, reason in (
        (dict(basic_paid=-5), "basic_paid", "must not be negative"),
        (dict(basic_paid=50000, critical_paid=40000), "basic_paid", "must not exceed the in-scope"),
        (
            dict(basic_paid=20000, pre_self_pay=500, critical_base=60001),
            "critical_base",
            "must not exceed the in-scope cost − basic_paid + 乙类先行自付 (60000.00 yuan)",
        ),
        (dict(critical_base=1000), "critical_base", "needs basic_paid"),
        (dict(critical_paid=1000), "critical_paid", "needs basic_paid"),
    ):
        with pytest.raises(ClaimError) as caught:
            claim(**kw)
        assert caught.value.field == field and reason in caught.value.reason, caught.value


def test_a_table_gives_amounts_by_row_and_an_empty_cell_computes_the_layer(critical_only):
    table = pa.table(
        {
            "person_id": ["p", "p", "q", "r", "s"],
            "settled_on": ["2021-03-01", "2021-04-01", "2021-04-01", "2021-04-01", "2021-04-01"],
            "level": ["level1"] * 5,
            "total": ["30000", "80000", "80000", "80000", "80000"],
            "category": ["ordinary", "dibao", "ordinary", "ordinary", "ordinary"],
            "basic_paid": ["15000", "40000", "", "-5", "50000"],
            "critical_paid": [None, None, None, None, "40000"],
        }
    )
    scored = medcalc.settle_table(table, critical_only)
    r = scored.results
    assert r.column("row").to_pylist() == [0, 1]
    assert r.column("critical").to_pylist() == [300000, 2450000] and r.column("assistance").to_pylist() == [0, 775000]
    rejects = {
        row: (field, reason)
        for row, field, reason in zip(*(scored.rejects.column(k).to_pylist() for k in ("row", "field", "reason")))
    }
    assert rejects[2][0] == "basic_paid" and "gives basic_paid" in rejects[2][1]
    assert rejects[3][0] == "basic_paid" and "not a number of yuan" in rejects[3][1]  # (text "-5" is no amount)
    assert rejects[4][0] == "basic_paid" and "must not exceed the in-scope cost" in rejects[4][1]


def test_cli_quote_and_score_take_the_given_amounts(critical_only, tmp_path, capsys):
    code = main(
        [
            "quote",
            "--policy",
            critical_only.file,
            "--date",
            "2021-04-01",
            "--level",
            "level1",
            "--total",
            "80000",
            "--category",
            "dibao",
            "--basic-paid",
            "40000",
            "--critical-paid",
            "2000",
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and (out["basic"], out["critical"], out["assistance"]) == ("40000.00", "2000.00", "19000.00")
    assert (
        main(
            [
                "quote",
                "--policy",
                critical_only.file,
                "--date",
                "2021-04-01",
                "--level",
                "level1",
                "--total",
                "80000",
                "--basic-paid",
                "90000",
            ]
        )
        == 2
    )
    assert "--basic-paid" in capsys.readouterr().err
    claims = tmp_path / "claims.csv"
    with claims.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(
            [
                ["person_id", "settled_on", "level", "total", "basic_paid"],
                ["p", "2021-03-01", "level1", "30000", "15000"],
            ]
        )
    out_file = tmp_path / "out.csv"
    assert main(["score", str(claims), "--policy", critical_only.file, "-o", str(out_file)]) == 0
    row = next(csv.DictReader(out_file.open(encoding="utf-8")))
    assert (row["basic"], row["critical"], row["patient"]) == ("15000.00", "3000.00", "12000.00")


def test_policy_check_says_what_a_policy_of_later_layers_settles(critical_only, tmp_path):
    assert any("settles only admissions that give basic_paid" in w for w in lint(critical_only))
    nothing = make_policy(tmp_path, rule("reference.wage", "amount = 80000"), name="nothing")
    assert any("settles no inpatient claim on any day" in w for w in lint(nothing))
    clinic = tmp_path / "clinic.toml"  # no level, no service, no later layer
    clinic.write_text(OUTPATIENT_ONLY.split("[[outpatient.service")[0], encoding="utf-8")
    assert any("the policy settles nothing" in w for w in lint(medcalc.load_policy(clinic)))


def test_settle_arrays_refuses_a_negative_amount_given(critical_only):
    import numpy as np

    from medcalc.batch.columns import settle_arrays
    from medcalc.engine.checks import NOT_GIVEN

    out = settle_arrays(
        critical_only,
        person_id=["p", "q"],
        settled_on=np.array(["2021-03-01"] * 2, "datetime64[D]"),
        level=["level1"] * 2,
        total=np.array([3000000, 3000000]),
        basic_paid=np.array([-5, 1500000]),
        critical_paid=np.array([NOT_GIVEN, NOT_GIVEN]),
    )
    assert [(r.row, r.field, r.reason) for r in out.rejects] == [(0, "basic_paid", "amount must not be negative")]
    assert out.columns["critical"].tolist() == [300000]
    # a 大病 figure beside a basic payment computed here could pay more than the bill leaves: refused, as by Claim
    out = settle_arrays(
        critical_only,
        person_id=["p", "q", "r"],
        settled_on=np.array(["2021-03-01"] * 3, "datetime64[D]"),
        level=["level1"] * 3,
        total=np.array([3000000] * 3),
        critical_paid=np.array([2999900, 100, 0]),
        critical_base=np.array([NOT_GIVEN, 100, 1500001]),
        basic_paid=np.array([NOT_GIVEN, NOT_GIVEN, 1500000]),
    )
    assert [(r.row, r.field) for r in out.rejects] == [(0, "critical_paid"), (1, "critical_base"), (2, "critical_base")]
    assert "needs basic_paid" in out.rejects[0].reason and "in-scope cost − basic_paid" in out.rejects[2].reason


def test_a_settled_file_gives_its_basic_payment_on_request(critical_only, tmp_path, capsys):
    # hifp_pay is a settled file's result, ignored unless --given basic reads it as basic_paid
    claims = tmp_path / "settled.csv"
    with claims.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(
            [
                ["psn_no", "setl_time", "level", "medfee_sumamt", "hifp_pay", "hifmi_pay"],
                ["p", "2021-03-01", "level1", "30000", "15000", "1.00"],
            ]
        )
    out_file = tmp_path / "out.csv"
    assert main(["score", str(claims), "--policy", critical_only.file, "-o", str(out_file), "--given", "basic"]) == 0
    row = next(csv.DictReader(out_file.open(encoding="utf-8")))
    assert (row["basic"], row["critical"]) == ("15000.00", "3000.00")  # 大病 computed, its hifmi_pay ignored
    assert (
        main(["score", str(claims), "--policy", critical_only.file, "-o", str(out_file), "--given", "basic,critical"])
        == 0
    )
    assert next(csv.DictReader(out_file.open(encoding="utf-8")))["critical"] == "1.00"
    assert main(["score", str(claims), "--policy", critical_only.file, "-o", str(out_file)]) == 0
    assert not out_file.read_text(encoding="utf-8").strip().splitlines()[1:]  # no basic payment: the row is refused
    with pytest.raises(SystemExit) as exited:  # (argparse's usage error)
        main(["score", str(claims), "--policy", critical_only.file, "--given", "assistance"])
    assert exited.value.code == 2
    assert "'assistance' is not a layer" in capsys.readouterr().err
    assert main(["score", str(claims), "--policy", critical_only.file, "--given", "critical"]) == 2
    assert "critical needs basic too" in capsys.readouterr().err
    with pytest.raises(medcalc.MedcalcError, match="not a layer"):
        medcalc.settle_table(pa.table({"person_id": ["p"]}), critical_only, given=["backstop"])
