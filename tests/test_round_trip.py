"""Whatever medcalc writes, it reads back unchanged: every writer's file, read with medcalc's own
readers, gives the same ids, texts and money (to the fen) as the result computed in process.

Ids, persons, regions and reject values begin with the characters CSV output escapes (= + - @ tab)
or are Chinese, so the CSV guard (medcalc.batch.safe_cells) is part of every round trip.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medcalc.analysis.impact import AMOUNTS as IMPACT_AMOUNTS
from medcalc.analysis.impact import fund_impact
from medcalc.analysis.reconcile import reconcile
from medcalc.batch.files import OUTPUT_NAMES, REJECT_NAMES, concat_parts, read_batches
from medcalc.batch.tables import RESULT_FIELDS, ROW_COLUMN, settle_table
from medcalc.cli import main
from medcalc.money import parse_amount
from medcalc.policy.registry import adjusted_policy

POLICY = "jiujiang-residents"
ADJUST = "inpatient.ratio[level1] +5"
CLAIMS = [
    {
        "claim_id": '=HYPERLINK("http://x","y")',
        "person_id": "-p1",
        "settled_on": "2020-03-01",
        "level": "level2",
        "total": "20000",
        "self_funded": "1500",
        "region": "=evil",
    },
    {
        "claim_id": "+cmd|' /C calc'!A0",
        "person_id": "=p2",
        "settled_on": "2020-04-01",
        "level": "level1",
        "total": "3456.78",
        "self_funded": "0",
        "pre_self_pay": "12.34",
        "region": "住院",
    },
    {
        "claim_id": "@SUM(1+1)",
        "person_id": "张三",
        "settled_on": "2020-05-01",
        "level": "level3",
        "total": "98765.43",
        "self_funded": "100",
        "region": "@r",
    },
    {
        "claim_id": "'=already quoted",
        "person_id": "-p1",
        "settled_on": "2020-06-01",
        "level": "level2",
        "total": "1.5万",
        "self_funded": "0",
        "region": "=evil",
    },
    {
        "claim_id": "\t住院-甲",
        "person_id": "p5",
        "settled_on": "2020-06-02",
        "level": "level1",
        "total": "888.88",
        "self_funded": "8.88",
        "region": "住院",
    },
    # rejected: a value that is a formula, a level that begins with a minus
    {"claim_id": "-bad", "person_id": "p4", "settled_on": "2020-05-01", "level": "level3", "total": "=1+1"},
    {"claim_id": "=rej", "person_id": "p6", "settled_on": "2020-05-01", "level": "-level9", "total": "100"},
]


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, _ = capsys.readouterr()
    return code, out


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    # JSON lines in: no CSV escaping on the way in, so "'=already quoted" is exactly that text
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def read_back(path: Path, sheet: str | None = None) -> list[dict]:
    parts = list(read_batches(path, sheet=sheet))
    # (without the reader's own column of row numbers: what the file holds)
    return [{k: v for k, v in r.items() if k != ROW_COLUMN} for r in concat_parts(parts).to_pylist()] if parts else []


def fen(value) -> int:
    """A written amount (text, Decimal, or an .xlsx number read as text) in fen; negative ones too."""
    if isinstance(value, str) and value.startswith("-"):
        return -parse_amount(value[1:])
    assert not isinstance(value, float), value  # never a float amount
    return parse_amount(value)


def text(value) -> str | None:
    return None if value is None or value == "" else str(value)


# ---------------------------------------------------------------- score -o


@pytest.mark.parametrize(
    "fmt,names",
    [
        ("csv", "medcalc"),
        ("csv", "chinese"),
        ("csv", "national"),
        ("jsonl", "medcalc"),
        ("parquet", "medcalc"),
        ("xlsx", "medcalc"),
    ],
)
def test_score_output_reads_back_to_the_same_ids_and_fen(capsys, tmp_path, fmt, names):
    if fmt == "xlsx":
        pytest.importorskip("python_calamine")
        pytest.importorskip("xlsxwriter")
    source = write_jsonl(tmp_path / "claims.jsonl", CLAIMS)
    expected = settle_table(concat_parts(list(read_batches(source))), POLICY, first_row=1)
    out = tmp_path / f"out.{fmt}"
    code, _ = run(
        capsys, "score", str(source), "--policy", POLICY, "-o", str(out), "--names", names, "--json", "--results-only"
    )  # (the sheet back, each row's own columns beside these: tests/batch/test_sheet_back.py)
    assert code == 0
    results = read_back(out, "results" if fmt == "xlsx" else None)
    rejects = read_back(out if fmt == "xlsx" else tmp_path / f"out.rejects.{fmt}", "rejects" if fmt == "xlsx" else None)

    columns = OUTPUT_NAMES[names]
    want = expected.results.to_pylist()
    assert len(results) == len(want) == 5
    for got, row in zip(results, want):
        for field in ("row", "claim_id", "person_id", "settled_on", "policy"):
            assert text(got[columns[field]]) == text(row[field]), field
        for field in RESULT_FIELDS:
            assert fen(got[columns[field]]) == row[field], field
    assert [r[columns["claim_id"]] for r in results] == [c["claim_id"] for c in CLAIMS[:5]]

    reject_columns = {**{c: c for c in ("row", "claim_id", "field", "reason")}, **REJECT_NAMES.get(names, {})}
    want = expected.rejects.to_pylist()
    assert len(rejects) == len(want) == 2
    for got, row in zip(rejects, want):
        for field in ("row", "claim_id", "field", "reason"):
            assert text(got[reject_columns[field]]) == text(row[field]), field
    assert [r[reject_columns["claim_id"]] for r in rejects] == ["-bad", "=rej"]
    assert "=1+1" in rejects[0][reject_columns["reason"]] and "-level9" in rejects[1][reject_columns["reason"]]


# ---------------------------------------------------------------- simulate --save


@pytest.mark.parametrize(
    "policy,fmt",
    [
        ("jiujiang-residents", "csv"),
        ("jiujiang-residents", "parquet"),
        ("jiujiang-residents", "jsonl"),
        ("huaibei-2025", "csv"),
    ],
)
def test_a_saved_simulation_scores_to_the_money_the_simulation_settled(capsys, tmp_path, policy, fmt):
    saved = tmp_path / f"sim.{fmt}"
    code, out = run(
        capsys,
        "simulate",
        "--policy",
        policy,
        "--adjust",
        ADJUST,
        "--rows",
        "300",
        "--by",
        "level",
        "--save",
        str(saved),
        "--json",
    )
    assert code == 0
    simulated = json.loads(out)
    code, out = run(capsys, "score", str(saved), "--policy", policy, "-o", str(tmp_path / "scored.csv"), "--json")
    assert code == 0
    scored = json.loads(out)
    baseline = next(g for g in simulated["groups"]["all"] if g["scenario"] == policy)
    rejected = sum(r["rows"] for r in simulated["rejected"][policy])
    assert scored["rows"] == 300
    assert scored["settled"] == simulated["compared"] == 300 - rejected
    assert scored["rejected"] == rejected
    if policy == "jiujiang-residents":
        assert rejected == 0  # every row settles, as it did in the simulation
    for name in IMPACT_AMOUNTS:  # total, in_scope, basic, critical, assistance, backstop, funds, patient
        assert fen(scored["totals"][name]) == fen(baseline[name]), name


def test_saved_simulation_amounts_are_yuan_with_two_decimals(capsys, tmp_path):
    saved = tmp_path / "sim.csv"
    code, _ = run(
        capsys, "simulate", "--policy", POLICY, "--adjust", ADJUST, "--rows", "50", "--save", str(saved), "--json"
    )
    assert code == 0
    from medcalc.analysis.synthetic import synthetic_claims

    claims = synthetic_claims(POLICY, 50).to_pylist()  # the same seed: the same claims, in fen
    rows = read_back(saved)
    for row, claim in zip(rows, claims):
        for name in ("total", "self_funded", "pre_self_pay"):
            assert row[name].count(".") == 1 and len(row[name].split(".")[1]) == 2
            assert fen(row[name]) == claim[name]


# ---------------------------------------------------------------- reconcile -o, impact --csv


def test_reconcile_differences_read_back_to_the_same_money(capsys, tmp_path):
    rows = [dict(c, hifp_pay=paid) for c, paid in zip(CLAIMS[:5], ["1.00", "0", "58839.26", "100000", "0.01"])]
    extract = write_jsonl(tmp_path / "extract.jsonl", rows)
    expected = reconcile(concat_parts(list(read_batches(extract))), POLICY, first_row=1).differences.to_pylist()
    code, _ = run(capsys, "reconcile", str(extract), "--policy", POLICY, "-o", str(tmp_path / "diff.csv"), "--json")
    assert code == 3
    got = read_back(tmp_path / "diff.csv")
    assert len(got) == len(expected) >= 4
    assert any(r["difference"] < 0 for r in expected) and any(r["difference"] > 0 for r in expected)
    for back, row in zip(got, expected):
        for name, value in row.items():
            if name in ("paid", "recomputed", "difference"):
                assert fen(back[name]) == value, name
            else:
                assert text(back[name]) == text(value), name


def test_impact_csv_reads_back_to_the_same_groups_and_money(capsys, tmp_path):
    source = write_jsonl(tmp_path / "claims.jsonl", CLAIMS)
    code, _ = run(
        capsys,
        "impact",
        str(source),
        "--policy",
        POLICY,
        "--adjust",
        ADJUST,
        "--by",
        "region,level",
        "--csv",
        str(tmp_path / "impact.csv"),
        "--json",
    )
    assert code == 0
    report = fund_impact(
        concat_parts(list(read_batches(source))),
        POLICY,
        [adjusted_policy(POLICY, [ADJUST])],
        by=["region", "level"],
        first_row=1,
    )
    expected = [{"grouping": g, **row} for g in ("all", "region", "level") for row in report.table(g)]
    got = read_back(tmp_path / "impact.csv")
    assert len(got) == len(expected)
    assert {r["group"] for r in got if r["grouping"] == "region"} == {"=evil", "住院", "@r"}
    for back, row in zip(got, expected):
        assert {k: text(v) for k, v in back.items()} == {k: text(v) for k, v in row.items()}
        for name in (*IMPACT_AMOUNTS, "change_funds", "change_patient"):
            if row[name] != "":
                assert fen(back[name]) == fen(row[name])
    sums = {g["scenario"]: g for g in report.groups if g["grouping"] == "all"}
    for back in got[:2]:
        assert fen(back["funds"]) == report.fen(sums[back["scenario"]]["funds"])
