"""Fund impact: figures per layer and group, exact sums, weights, rejects kept, and the CLI."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import medcalc
from medcalc.analysis.impact import WEIGHT_ONE, fund_impact
from medcalc.analysis.synthetic import synthetic_claims
from medcalc.cli import main

REFORM = "huaibei-level1-plus5"


@pytest.fixture(scope="module")
def claims():
    return synthetic_claims("huaibei-2025", 4000, seed=11)


def _all(report, scenario):
    return next(g for g in report.groups if g["grouping"] == "all" and g["scenario"] == scenario)


def test_totals_equal_the_sums_of_row_level_differences(claims):
    report = fund_impact(claims, "huaibei-2025", [REFORM, "huaibei-dibao-threshold"], amounts="fen")
    for reform in report.scenarios[1:]:
        rows = report.row_changes[reform]
        overall = _all(report, reform)
        assert overall["change_funds"] == pc.sum(rows.column("funds_change")).as_py() * WEIGHT_ONE
        assert overall["change_patient"] == pc.sum(rows.column("patient_change")).as_py() * WEIGHT_ONE
        assert overall["claims_affected"] == pc.sum(pc.not_equal(rows.column("funds_change"), 0)).as_py()
        # every grouping partitions the compared rows: its groups add up to the total
        for grouping in ("level", "category", "cost_band"):
            parts = [g for g in report.groups if g["grouping"] == grouping and g["scenario"] == reform]
            for name in ("funds", "patient", "basic", "critical", "claims", "change_funds"):
                assert sum(g[name] for g in parts) == overall[name], (grouping, name)


def test_figures_are_the_batch_engines_to_the_fen(claims):
    report = fund_impact(claims, "huaibei-2025", REFORM, amounts="fen")
    for scenario in report.scenarios:
        results = medcalc.settle_table(claims, scenario, amounts="fen").results
        overall = _all(report, scenario)
        for name in ("basic", "critical", "funds", "patient", "total"):
            assert overall[name] == pc.sum(results.column(name)).as_py() * WEIGHT_ONE
        assert overall["persons"] == len(pc.unique(results.column("person_id")))


def test_a_level1_raise_pays_more_there_and_rejects_are_kept(claims):
    report = fund_impact(claims, "huaibei-2025", REFORM, by=["level"], amounts="fen")
    level1 = next(
        g for g in report.groups if g["grouping"] == "level" and g["value"] == "level1" and g["scenario"] == REFORM
    )
    assert level1["change_funds"] > 0 and level1["change_patient"] < 0
    rejected = sum(r["rows"] for r in report.rejected["huaibei-2025"])
    assert rejected > 0 and report.compared + rejected == report.rows == 4000
    assert report.losers[REFORM] == []  # no person-year pays more when a ratio rises
    assert report.winners[REFORM] and report.winners[REFORM][0]["patient_change"].startswith("-")


def test_an_identity_scenario_changes_nothing(claims, tmp_path):
    path = tmp_path / "same.toml"
    path.write_text(
        '[reform]\nid = "same"\nbase = "huaibei-2025"\ntitle = "不变"\nauthor = "tests"\n'
        'date = 2026-12-01\nsince = 2025-01-01\n[[adjust]]\nrule = "inpatient.ratio"\npoints = "+0"\n',
        encoding="utf-8",
    )
    report = fund_impact(claims, "huaibei-2025", str(path), amounts="fen")
    same = _all(report, "same")
    assert same["change_funds"] == same["change_patient"] == same["claims_affected"] == 0
    assert report.winners["same"] == report.losers["same"] == []


def test_weights_multiply_every_sum_exactly(claims):
    plain = _all(fund_impact(claims, "huaibei-2025", REFORM, amounts="fen"), REFORM)
    weighted_claims = claims.append_column("w", pa.array(["2.5"] * claims.num_rows))
    report = fund_impact(weighted_claims, "huaibei-2025", REFORM, weight="w", amounts="fen")
    weighted = _all(report, REFORM)
    assert report.weighted
    for name in ("funds", "patient", "change_funds", "claims"):
        assert weighted[name] * 2 == plain[name] * 5, name
    claims_shown = report.table("all")[1]["claims"]  # 2.5 x an odd count ends in .5
    assert str(claims_shown) == (
        f"{weighted['claims'] // WEIGHT_ONE}.5000"
        if weighted["claims"] % WEIGHT_ONE
        else str(weighted["claims"] // WEIGHT_ONE)
    )


@pytest.mark.parametrize(
    "values, message",
    [
        (pa.array([1.5]), "floating-point"),
        (pa.array(["1.23456"]), "at most 4 decimals"),
        (pa.array([-1]), "negative"),
    ],
)
def test_bad_weights_are_refused(values, message):
    table = synthetic_claims("huaibei-2025", 1, seed=1).append_column("w", values)
    with pytest.raises(medcalc.MedcalcError, match=message):
        fund_impact(table, "huaibei-2025", REFORM, weight="w", amounts="fen")


def test_cli_impact_writes_csv_and_json(claims, tmp_path, capsys):
    import pyarrow.csv

    source = tmp_path / "claims.csv"  # an extract: amounts in yuan with two decimals
    pyarrow.csv.write_csv(synthetic_claims("huaibei-2025", 4000, seed=11, yuan=True), source)
    out_csv, out_json = tmp_path / "impact.csv", tmp_path / "impact.json"
    code = main(
        [
            "impact",
            str(source),
            "--policy",
            "huaibei-2025",
            "--reform",
            REFORM,
            "--by",
            "level",
            "--csv",
            str(out_csv),
            "--json-out",
            str(out_json),
            "--width",
            "200",
        ]
    )
    assert code == 0
    shown = capsys.readouterr().out
    assert "fund impact" in shown and "winner" in shown
    report = json.loads(out_json.read_text(encoding="utf-8"))
    expected = _all(fund_impact(claims, "huaibei-2025", REFORM, amounts="fen"), REFORM)
    assert report["groups"]["all"][1]["change_funds"] == medcalc.format_yuan(expected["change_funds"] // WEIGHT_ONE)
    lines = out_csv.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("grouping,scenario,group,claims") and len(lines) == 1 + 2 + 2 * 2


def test_cli_simulate_prices_a_reform_on_a_synthetic_population(capsys):
    assert (
        main(["simulate", "--policy", "huaibei-2025", "--reform", REFORM, "--rows", "2000", "--seed", "3", "--json"])
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == 2000 and report["scenarios"] == ["huaibei-2025", REFORM]
    assert main(["simulate", "--policy", "huaibei-2025", "--reform", REFORM, "--poverty-share", "2"]) == 2
