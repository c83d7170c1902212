"""The score command and the policy tools through the entry point."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from medcalc.cli import main

CASES = Path(__file__).parents[1] / "cases" / "policies"
HEADER = "psn_no,setl_id,setl_time,level,medfee_sumamt,fulamt_ownpay_amt,category\n"
ROWS = [
    "a,1,2020-03-01,level2,20000,1500,ordinary",  # (20000 − 1500 − 400) × 80 % = 14480
    "a,2,2020-05-01,level2,10000,0,ordinary",  # (10000 − 400) × 80 % = 7680
    "b,3,2020-04-01,level9,5000,0,ordinary",  # unknown level: rejected by the engine
    "c,4,2020-04-01,level1,abc,0,ordinary",  # bad amount: rejected when read
    "d,5,2021-04-01,level1,5000,0,ordinary",  # outside the policy's dates: rejected
    "e,6,2020-07-01,level1,1.2万,0,dibao",  # (12000 − 100) × 90 % = 10710
]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def claims_csv(tmp_path) -> Path:
    path = tmp_path / "claims.csv"
    path.write_text(HEADER + "\n".join(ROWS) + "\n", encoding="utf-8")
    return path


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def test_score_csv_keeps_every_row(capsys, claims_csv, tmp_path):
    out = tmp_path / "out.csv"
    code, stdout, err = run(
        capsys, "score", str(claims_csv), "--policy", "jiujiang-residents", "-o", str(out), "--json"
    )
    summary = json.loads(stdout)
    settled, rejects = _read_csv(out), _read_csv(tmp_path / "out.rejects.csv")
    assert code == 0 and err == ""
    assert (summary["rows"], summary["settled"], summary["rejected"]) == (6, 3, 3)
    assert len(settled) + len(rejects) == 6
    # the file's own columns come back (setl_id, as it names the claim id), the results added
    assert [(r["row"], r["setl_id"], r["basic"], r["patient"]) for r in settled] == [
        ("2", "1", "14480.00", "5520.00"),
        ("3", "2", "7680.00", "2320.00"),
        ("7", "6", "10710.00", "1290.00"),
    ]
    # rows are the file's lines (header: line 1); named as the file names its columns (the national interface's)
    assert [(r["row"], r["field"]) for r in rejects] == [("4", "level"), ("5", "medfee_sumamt"), ("6", "setl_time")]
    assert (
        rejects[1]["reason"] == 'amount \'abc\' is not a number of yuan such as "150", "150元" or "1.5万" (got \'abc\')'
    )
    assert summary["totals"]["basic"] == "32870.00"
    assert (
        summary["rejects_by_reason"][
            'medfee_sumamt: amount \'abc\' is not a number of yuan such as "150", "150元" or "1.5万" (got \'abc\')'
        ]
        == 1
    )


def test_score_parquet_round_trip_with_national_names(capsys, claims_csv, tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "out.parquet"
    code, _, _ = run(
        capsys,
        "score",
        str(claims_csv),
        "--policy",
        "jiujiang-residents",
        "-o",
        str(out),
        "--names",
        "national",
        "--results-only",
    )
    table = pq.read_table(out)
    assert code == 0
    assert table.column_names == [
        "row",
        "setl_id",
        "psn_no",
        "setl_time",
        "policy",
        "medfee_sumamt",
        "inscp_scp_amt",
        "act_pay_dedc",
        "hifp_pay",
        "hifmi_pay",
        "maf_pay",
        "backstop_pay",
        "fund_pay_sumamt",
        "psn_part_amt",
    ]
    assert str(table.schema.field("hifp_pay").type) == "decimal128(18, 2)"
    assert [str(v) for v in table.column("hifp_pay").to_pylist()] == ["14480.00", "7680.00", "10710.00"]
    assert pq.read_table(tmp_path / "out.rejects.parquet").num_rows == 3
    # the settled Parquet file scores again, read back as claims with national names
    code, stdout, _ = run(
        capsys, "score", str(out), "--policy", "jiujiang-residents", "-o", str(tmp_path / "again.csv"), "--json"
    )
    assert code == 0
    assert json.loads(stdout)["rejected"] == 3  # no level column: every row is refused, none dropped


def test_score_jsonl_and_strict(capsys, tmp_path):
    src = tmp_path / "claims.jsonl"
    src.write_text(
        '{"person_id": "a", "settled_on": "2020-03-01", "level": "level2", "total": "2万"}\nnot json\n',
        encoding="utf-8",
    )
    code, stdout, _ = run(
        capsys,
        "score",
        str(src),
        "--policy",
        "jiujiang-residents",
        "-o",
        str(tmp_path / "o.jsonl"),
        "--strict",
        "--json",
    )
    lines = (tmp_path / "o.jsonl").read_text(encoding="utf-8").splitlines()
    assert code == 2  # --strict: a rejected row fails the run, after writing everything
    assert json.loads(lines[0])["basic"] == "15680.00"
    assert json.loads((tmp_path / "o.rejects.jsonl").read_text(encoding="utf-8"))["reason"].startswith("not valid JSON")


def test_score_human_summary(capsys, claims_csv, tmp_path):
    code, out, _ = run(
        capsys,
        "score",
        str(claims_csv),
        "--policy",
        "jiujiang-residents",
        "-o",
        str(tmp_path / "o.csv"),
        "--width",
        "120",
    )
    assert code == 0
    assert "基本医保 basic" in out and "32,870.00" in out and "rejects by reason" in out


def test_quote_by_region_and_date(capsys):
    code, out, _ = run(
        capsys,
        "quote",
        "--region",
        "九江",
        "--scheme",
        "residents",
        "--on",
        "2020-06-01",
        "--level",
        "level2",
        "--total",
        "2万",
        "--json",
    )
    assert code == 0 and json.loads(out)["policy"] == "jiujiang-residents"
    code, out, _ = run(
        capsys,
        "quote",
        "--region",
        "jiujiang",
        "--scheme",
        "employees",
        "--date",
        "2020-06-01",
        "--level",
        "level2",
        "--total",
        "2万",
        "--json",
    )
    assert code == 0 and json.loads(out)["policy"] == "jiujiang-employees"


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--region", "九江", "--on", "2020-06-01"],
            "region '九江' on 2020-06-01 has several policies: jiujiang-employees (employees), jiujiang-residents (residents); "
            "choose with --scheme or --tier, or --policy",
        ),
        (
            ["--region", "huaibi", "--on", "2025-06-01"],
            "no policy for region 'huaibi' in the shipped policies; closest: huaibei, huaibei-2025, anhui, luan (see `medcalc policy list`)",
        ),
        (
            ["--region", "淮北", "--on", "2020-06-01"],
            "no policy for region '淮北' settles claims on 2020-06-01: huaibei-2025 covers 2025-01-01 to open",
        ),
        (["--region", "淮北", "--policy", "huaibei-2025", "--on", "2025-06-01"], "give --policy or --region, not both"),
    ],
)
def test_region_errors(capsys, argv, message):
    code, out, err = run(capsys, "quote", *argv, "--level", "level1", "--total", "100")
    assert (code, out, err) == (2, "", f"medcalc: error: {message}\n")


def test_policy_show(capsys):
    code, out, _ = run(capsys, "policy", "show", "luan-2021", "--on", "2021-06-01", "--json")
    data = json.loads(out)
    rules = {r["rule"]: r for r in data["rules"]}
    assert code == 0 and data["chain"] == ["luan-2021", "anhui-2019"]
    assert rules["inpatient.ratio"]["values"]["ratio"] == "level1 90%, level2 80%, level3_city 70%, level3_province 70%"
    assert rules["inpatient.ratio"]["file"] == "policies/anhui/luan-2021.toml"
    assert rules["inpatient.deductible"]["file"] == "policies/anhui/anhui-2019.toml"
    # 2020: the official 2021 ratios, carried back to 2019-07-01 as a choice (unverified)
    code, out, _ = run(capsys, "policy", "show", "luan-2021", "--on", "2020-06-01", "--width", "200")
    assert "level1 90%" in out and "level1 85%" not in out and "unverified 未核实" in out
    code, out, _ = run(capsys, "policy", "show", "anhui-2019", "--on", "2020-06-01", "--width", "200")
    assert "level1 85%" in out


def test_policy_diff_values_and_claims(capsys, claims_csv):
    code, out, _ = run(capsys, "policy", "diff", "anhui-2019", "luan-2021", "--on", "2021-06-01", "--json")
    data = json.loads(out)
    assert code == 0
    assert [c["rule"] for c in data["changes"]][:1] == ["inpatient.ratio"]
    assert {c["rule"] for c in data["changes"][1:]} == {"outpatient.service.general"}  # Lu'an's own 普通门诊
    data["changes"] = data["changes"][:1]
    assert data["changes"] == [
        {
            "rule": "inpatient.ratio",
            "value": "ratio",
            "a": "level1 85%, level2 80%, level3_city 75%, level3_province 70%",
            "b": "level1 90%, level2 80%, level3_city 70%, level3_province 70%",
            "source_a": data["changes"][0]["source_a"],
            "source_b": data["changes"][0]["source_b"],
        }
    ]
    code, out, _ = run(
        capsys,
        "policy",
        "diff",
        "jiujiang-residents",
        "tests/cases/policies/jiuquan-2022.toml",
        "--on",
        "2020-06-01",
        "--on-b",
        "2022-06-01",
        "--claims",
        str(claims_csv),
        "--json",
    )
    claims = json.loads(out)["claims"]
    assert code == 0
    assert (claims["rows"], claims["settled_both"]) == (6, 0)  # the jiuquan policy covers 2022 only


def test_policy_check_lints(capsys, tmp_path):
    text = (CASES / "jiuquan-2022.toml").read_text(encoding="utf-8")
    text = text.replace('file = "../../../policies/', f'file = "{(Path(__file__).parents[2] / "policies").as_posix()}/')
    text = text.replace(
        'ratio = { level1 = "85%", level2 = "75%", level3 = "60%" }',
        'ratio = { level1 = "85%", level2 = "75%", level3 = "80%" }',
    )
    (tmp_path / "p.toml").write_text(text, encoding="utf-8")
    code, out, _ = run(capsys, "policy", "check", str(tmp_path / "p.toml"), "--json")
    assert code == 0
    assert json.loads(out)["warnings"] == [
        f"{tmp_path / 'p.toml'}: inpatient.ratio[0]: ratio rises from level2 (75%) to level3 (80%); levels are declared "
        "from lowest to highest and ratios usually fall as the level rises"
    ]


def test_quote_reads_a_claim_from_stdin(capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO('{"settled_on": "2020-06-01", "level": "level1", "total": "1万"}'))
    code, out, _ = run(capsys, "quote", "--policy", "jiujiang-residents", "--claim", "-", "--json")
    assert code == 0 and json.loads(out)["basic"] == "8910.00"  # (10000 − 100) × 90 %


@pytest.mark.parametrize(
    "argv, message",
    [
        (["score", "nofile.csv", "--policy", "jiujiang-residents"], "nofile.csv: no such file"),
        (
            ["score", "claims.txt", "--policy", "jiujiang-residents"],
            "claims.txt: cannot tell the format from the extension '.txt'; use .csv, .jsonl, .parquet or .xlsx, or give --format",
        ),
        (
            [
                "quote",
                "--policy",
                "jiujiang-residents",
                "--date",
                "2020-06-01",
                "--level",
                "level1",
                "--total",
                "100",
                "--category",
                "rich",
            ],
            "--category: must be one of ordinary (普通), tekun (特困), dibao (低保), low_income (低收入), poverty (返贫致贫), "
            "monitored (监测对象), illness_poverty (因病致困) (got 'rich')",
        ),
        (["policy", "show", "luan-2021", "--on", "someday"], "--on: must be a date such as 2025-03-01 (got 'someday')"),
    ],
)
def test_more_errors_are_one_line(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "claims.txt").write_text("x", encoding="utf-8")
    code, out, err = run(capsys, *argv)
    assert (code, out, err) == (2, "", f"medcalc: error: {message}\n")


def test_quote_an_outpatient_visit(capsys):
    code, out, _ = run(
        capsys,
        "quote",
        "--region",
        "淮北",
        "--date",
        "2025-03-01",
        "--visit",
        "outpatient",
        "--service",
        "large_general",
        "--diseases",
        "冠心病",
        "--level",
        "level1",
        "--total",
        "2000",
        "--json",
    )
    data = json.loads(out)
    assert code == 0
    assert (data["deductible"], data["basic"]) == ("100.00", "700.00")  # (2000 − 100) × 80 % capped at 700 a visit
    assert data["accumulators_after"]["service_paid"] == {"large_general": "700.00"}
