"""Output a person can read: numbers whole and grouped, tables that fit 80–120 columns, rows
counted from 1, rejects naming the file's own column and the bad value, a quote header in words,
and ``--explain`` within 80 columns (measured in terminal cells: a CJK character is two)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from rich.cells import cell_len

from medcalc.cli import main

CASES = Path(__file__).parents[1] / "cases" / "policies"
WIDTHS = (80, 100, 120)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def widest(text: str) -> int:
    return max((cell_len(line) for line in text.splitlines()), default=0)


def inner(text: str) -> list[str]:
    """The lines of a panel without its borders."""
    return [line.strip("│╭╮╰╯ ") for line in text.splitlines()]


def assert_no_number_split(text: str) -> None:
    """No line ends inside a number that the next line goes on with, and nothing is ellipsized."""
    assert "…" not in text
    lines = inner(text)
    for before, after in zip(lines, lines[1:]):
        if not (before and after) or re.match(r"\d+\. .*\s{2,}[\d,]+\.\d\d$", before):
            continue  # a step's title line ends with its amount, right-aligned
        assert not (before[-1].isdigit() and after[0].isdigit() or before[-1] in ".," and after[0].isdigit()), (
            before,
            after,
        )


# ---------------------------------------------------------------- the quote: header and --explain


def test_quote_header_names_the_person_the_visit_the_service_and_the_level_in_words(capsys):
    code, out, err = run(
        capsys,
        "quote",
        "--region",
        "淮北",
        "--date",
        "2025-03-01",
        "--visit",
        "outpatient",
        "--service",
        "two_diseases",
        "--diseases",
        "高血压,糖尿病",
        "--level",
        "level1",
        "--total",
        "400",
        "--person",
        "张三",
        "--age",
        "67",
        "--category",
        "低保",
        "--width",
        "80",
    )
    assert (code, err) == (0, "")
    head = " ".join(inner(out)[1:6])
    for words in (
        "huaibei-2025",
        "淮北市",
        "person 张三",
        "城乡居民 residents",
        "低保 dibao",
        "67岁",
        "门诊 outpatient",
        "两病 two_diseases",
        "病种 糖尿病, 高血压",
        "一级及以下医疗机构 (level1)",
        "市内 local",
        "settled 2025-03-01",
    ):
        assert words in head, words
    assert "level level1" not in out and widest(out) <= 80


def test_quote_header_gives_the_place_the_referral_and_a_common_form_of_the_level_as_the_policy_names_it(capsys):
    code, out, _ = run(
        capsys,
        "quote",
        "--region",
        "九江",
        "--scheme",
        "居民",
        "--date",
        "2020-06-01",
        "--level",
        "三级",
        "--place",
        "跨省",
        "--referral",
        "转诊",
        "--total",
        "5万",
        "--width",
        "80",
    )
    assert code == 0
    assert "市内三级医疗机构 (level3)" in out and "跨省 out_of_province, 转诊 referred" in out
    assert re.search(r"医疗费总额 total\s+│\s+50,000\.00", out)  # amounts grouped


EXPLAINED = [
    ["--policy", "luan-2021", "--date", "2021-05-01", "--level", "level2", "--total", "1.2万"],
    [
        "--policy",
        str(CASES / "critical-cumulative.toml"),
        "--date",
        "2024-05-01",
        "--level",
        "level1",
        "--total",
        "15万",
    ],
    ["--region", "九江", "--scheme", "employees", "--date", "2020-06-01", "--level", "level3", "--total", "80万"],
    [
        "--region",
        "淮北",
        "--date",
        "2025-03-01",
        "--visit",
        "outpatient",
        "--service",
        "day_ward",
        "--level",
        "level1",
        "--total",
        "3000",
        "--bed-fees",
        "400",
    ],
]


@pytest.mark.parametrize("claim", EXPLAINED)
def test_quote_explain_fits_80_columns_and_splits_no_number(capsys, monkeypatch, claim):
    monkeypatch.setenv("COLUMNS", "80")  # as a terminal 80 columns wide tells rich
    code, out, err = run(capsys, "quote", *claim, "--explain")
    assert (code, err) == (0, "")
    assert "explanation 计算过程" in out
    assert widest(out) <= 80
    assert_no_number_split(out)
    code, data, _ = run(capsys, "quote", *claim, "--json")
    untitled = [re.sub(r"\s{2,}[\d,]+\.\d\d$", "", line) for line in inner(out)]  # the amounts beside titles
    flowing = re.sub(r"\s+", " ", " ".join(untitled))
    for step in json.loads(data)["steps"]:  # every step's title (wrapped at a space, if at all) and amount, whole
        assert step["title"] in flowing
        if step["amount"] is not None:
            whole, cents = step["amount"].split(".")
            assert f"{int(whole):,}.{cents}" in out


def test_quote_explain_keeps_a_number_with_its_unit_in_a_wrapped_chinese_quote(capsys):
    code, out, _ = run(
        capsys,
        "quote",
        "--policy",
        "luan-2021",
        "--date",
        "2021-05-01",
        "--level",
        "level2",
        "--total",
        "1.2万",
        "--explain",
        "--width",
        "80",
    )
    text = "".join(inner(out))
    for piece in ("起付线200元", "起付线500元", "起付线700元", "起付线1000元", "报销比例85%"):
        assert piece in text
    lines = inner(out)
    assert not any(re.search(r"\d$", a) and re.match(r"\d", b) for a, b in zip(lines, lines[1:]))


# ---------------------------------------------------------------- score and impact: fitted, grouped, with rates


def grouped(plain: str) -> str:
    """'152647037.00' as a person reads it: '152,647,037.00'."""
    sign = "-" if plain.startswith("-") else ""
    whole, cents = plain.lstrip("-").split(".")
    return f"{sign}{int(whole):,}.{cents}"


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """2 000 synthetic huaibei claims as a Parquet file (amounts int64 fen), some rows rejected."""
    import pyarrow.parquet as pq

    from medcalc.analysis.synthetic import synthetic_claims

    path = tmp_path_factory.mktemp("synthetic") / "claims.parquet"
    pq.write_table(synthetic_claims("huaibei-2025", 2000, seed=7), path)
    return path


@pytest.mark.parametrize("width", WIDTHS)
def test_score_summary_fits_groups_amounts_and_gives_both_rates(capsys, monkeypatch, tmp_path, synthetic, width):
    from fractions import Fraction

    from medcalc.money import parse_amount
    from medcalc.report.display import percent, wan

    out_file = str(tmp_path / "out.csv")
    code, data, _ = run(
        capsys, "score", str(synthetic), "--policy", "huaibei-2025", "--amounts", "fen", "-o", out_file, "--json"
    )
    report = json.loads(data)
    monkeypatch.setenv("COLUMNS", str(width))
    code, out, err = run(
        capsys, "score", str(synthetic), "--policy", "huaibei-2025", "--amounts", "fen", "-o", out_file
    )
    assert (code, err) == (0, "")
    assert widest(out) <= width and "…" not in out
    totals = report["totals"]
    for key in ("total", "in_scope", "basic", "critical", "funds", "patient"):
        assert grouped(totals[key]) in out, key  # e.g. 152,647,037.00: whole, grouped
    funds, total, in_scope = (parse_amount(totals[k]) for k in ("funds", "total", "in_scope"))
    assert total > 10**6 and wan(total) in out  # from 1万 yuan up: in 万 too
    assert report["rates"] == {
        "funds_of_total": percent(Fraction(funds, total)),
        "funds_of_in_scope": percent(Fraction(funds, in_scope)),
    }
    assert re.search(r"实际报销比例 funds / total\s+│\s+" + re.escape(report["rates"]["funds_of_total"]), out)
    assert re.search(
        r"政策范围内报销比例 funds / in-scope\s+│\s+" + re.escape(report["rates"]["funds_of_in_scope"]), out
    )
    # machine output stays plain numbers: no separators in the CSV written
    with open(out_file, encoding="utf-8-sig", newline="") as handle:
        first = next(csv.DictReader(handle))
    assert re.fullmatch(r"\d+\.\d\d", first["funds"])


@pytest.mark.parametrize("width", WIDTHS)
def test_impact_fits_any_width_with_whole_grouped_amounts_and_the_overall_rates(
    capsys, monkeypatch, tmp_path, synthetic, width
):
    argv = [
        "impact",
        str(synthetic),
        "--policy",
        "huaibei-2025",
        "--amounts",
        "fen",
        "--adjust",
        "inpatient.ratio[level1] +5",
        "--by",
        "level,cost_band",
    ]
    code, data, _ = run(capsys, *argv, "--json")
    report = json.loads(data)
    monkeypatch.setenv("COLUMNS", str(width))
    code, out, err = run(capsys, *argv)
    assert (code, err) == (0, "")
    assert widest(out) <= width and "…" not in out
    for grouping, rows in report["groups"].items():
        for row in rows:
            for key in ("total", "in_scope", "basic", "critical", "funds", "patient"):
                assert grouped(row[key]) in out, (grouping, row["group"], key)
            assert row["rate"] in out and row["rate_in_scope"] in out
    base, reform = report["groups"]["all"]
    assert f"实际报销比例 {base['rate']} of the total, {base['rate_in_scope']} of the in-scope cost" in re.sub(
        r"\s+", " ", out
    )
    assert "+" + grouped(reform["change_funds"]) in out
    assert f"rate {base['rate']} → {reform['rate']}" in re.sub(r"\s+", " ", out)


def test_impact_rows_are_counted_from_1(capsys, tmp_path, synthetic):
    import pyarrow.parquet as pq

    from medcalc.analysis.impact import fund_impact

    table = pq.read_table(synthetic)
    api = fund_impact(table, "huaibei-2025", "huaibei-level1-plus5", amounts="fen")
    (group,) = api.rejected["huaibei-2025"]
    code, data, _ = run(
        capsys,
        "impact",
        str(synthetic),
        "--policy",
        "huaibei-2025",
        "--amounts",
        "fen",
        "--reform",
        "huaibei-level1-plus5",
        "--json",
    )
    (shown,) = json.loads(data)["rejected"]["huaibei-2025"]
    assert shown["first_rows"] == [r + 1 for r in group["first_rows"]]  # the API counts from 0, as settle_table


def test_score_summary_piped_to_a_file_fits_80_columns(tmp_path, synthetic):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["PYTHONPATH"] = str(Path(__file__).parents[2])
    with open(tmp_path / "summary.txt", "w", encoding="utf-8") as handle:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "medcalc.cli",
                "score",
                str(synthetic),
                "--policy",
                "huaibei-2025",
                "--amounts",
                "fen",
                "-o",
                str(tmp_path / "out.csv"),
            ],
            stdout=handle,
            env=env,
        )
    assert done.returncode == 0
    text = (tmp_path / "summary.txt").read_text(encoding="utf-8")
    assert "实际报销比例" in text and widest(text) <= 80 and "…" not in text


# ---------------------------------------------------------------- rows from 1; rejects name the column as spelled, and the value

NATIONAL = [
    {"setl_id": "a", "psn_no": "p1", "setl_time": "2025-03-01", "level": "level1", "medfee_sumamt": "12000"},
    {"setl_id": "b", "psn_no": "p2", "setl_time": "2025-03-02", "level": "level1", "medfee_sumamt": "8000"},
    {"setl_id": "c", "psn_no": "p3", "setl_time": "2025-13-45", "level": "level1", "medfee_sumamt": "5000"},
    {"setl_id": "d", "psn_no": "p4", "setl_time": "2025-03-04", "level": "level7", "medfee_sumamt": "5000"},
]
CHINESE = {
    "setl_id": "结算ID",
    "psn_no": "人员编号",
    "setl_time": "结算日期",
    "level": "医院等级",
    "medfee_sumamt": "医疗费总额",
}


def write_claims(path: Path, rows: list[dict]) -> Path:
    suffix = path.suffix
    if suffix == ".csv":
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    elif suffix == ".jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    elif suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({k: [r[k] for r in rows] for k in rows[0]}), path)
    return path


def read_rejects(path: Path) -> list[dict]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
@pytest.mark.parametrize("names", ["national", "chinese"])
def test_the_third_row_is_row_3_and_its_reject_names_the_files_column_and_the_value(capsys, tmp_path, suffix, names):
    rows = NATIONAL if names == "national" else [{CHINESE[k]: v for k, v in r.items()} for r in NATIONAL]
    source = write_claims(tmp_path / f"claims{suffix}", rows)
    out = tmp_path / f"settled{suffix}"
    code, data, err = run(capsys, "score", str(source), "--policy", "huaibei-2025", "-o", str(out), "--json")
    assert code == 0, err
    rejects = read_rejects(tmp_path / f"settled.rejects{suffix}")
    # the third and fourth claims: lines 4 and 5 of a CSV file (its header is line 1), lines 3 and 4 of
    # JSON lines, rows 3 and 4 of Parquet
    shift = 1 if suffix == ".csv" else 0
    by_row = {int(r["row"]) - shift: r for r in rejects}
    date, level = ("setl_time", "level") if names == "national" else ("结算日期", "医院等级")
    assert sorted(by_row) == [3, 4]
    assert by_row[3]["field"] == date and "'2025-13-45'" in by_row[3]["reason"]
    assert by_row[4]["field"] == level and "(got 'level7')" in by_row[4]["reason"]  # the engine's check, with the value
    summary = json.loads(data)
    assert summary["first_row_by_reason"][f"{date}: {by_row[3]['reason']}"] == 3 + shift


def test_an_xlsx_files_third_row_is_row_3(capsys, tmp_path):
    pytest.importorskip("python_calamine")
    xlsxwriter = pytest.importorskip("xlsxwriter")
    source = tmp_path / "claims.xlsx"
    book = xlsxwriter.Workbook(str(source))
    sheet = book.add_worksheet("claims")
    for r, row in enumerate([list(NATIONAL[0])] + [list(x.values()) for x in NATIONAL]):
        sheet.write_row(r, 0, row)
    book.close()
    code, data, err = run(
        capsys, "score", str(source), "--policy", "huaibei-2025", "-o", str(tmp_path / "o.csv"), "--json"
    )
    assert code == 0, err
    rejects = read_rejects(tmp_path / "o.rejects.csv")
    assert [(r["row"], r["field"]) for r in rejects] == [("4", "setl_time"), ("5", "level")]  # the sheet's own rows


def test_reconcile_counts_rows_from_1_and_names_the_extracts_column(capsys, tmp_path):
    rows = [{**r, "hifp_pay": paid} for r, paid in zip(NATIONAL[:3], ["10620.00", "7000.00", "x"])]
    rows[2]["setl_time"] = "2025-03-03"
    source = write_claims(tmp_path / "extract.csv", rows)
    code, data, err = run(capsys, "reconcile", str(source), "--policy", "huaibei-2025", "--json")
    assert code == 3, err
    report = json.loads(data)
    assert [(r["row"], r["field"]) for r in report["rejects"]] == [(4, "hifp_pay")]  # the file's lines
    assert "'x'" in report["rejects"][0]["reason"]
    assert [d["row"] for d in report["differences"]] == [3]


def test_a_claim_files_error_names_its_own_key(capsys, tmp_path):
    claim = tmp_path / "claim.json"
    claim.write_text(
        json.dumps(
            {"psn_no": "p1", "结算日期": "2025-13-01", "医院等级": "一级", "医疗费总额": "100"}, ensure_ascii=False
        ),
        encoding="utf-8",
    )
    code, out, err = run(capsys, "quote", "--policy", "huaibei-2025", "--claim", str(claim))
    assert (code, out) == (2, "")
    assert err.startswith("medcalc: error: 结算日期: ") and "'2025-13-01'" in err
    claim.write_text(json.dumps({"setl_time": "2025-03-01", "level": "四级", "medfee_sumamt": "100"}), encoding="utf-8")
    assert run(capsys, "quote", "--policy", "huaibei-2025", "--claim", str(claim))[2].startswith(
        "medcalc: error: level: unknown hospital level '四级'"
    )
    code, _, err = run(capsys, "quote", "--policy", "huaibei-2025", "--claim", str(claim), "--level", "四级")
    assert code == 2 and err.startswith("medcalc: error: --level: unknown hospital level '四级'")
    # a flag replaces the file's field under any of its names: --date and setl_time do not conflict
    code, out, err = run(
        capsys,
        "quote",
        "--policy",
        "huaibei-2025",
        "--claim",
        str(claim),
        "--level",
        "level1",
        "--date",
        "2025-04-01",
        "--json",
    )
    assert (code, err) == (0, "") and json.loads(out)["settled_on"] == "2025-04-01"


# ---------------------------------------------------------------- the formats and the wrapping themselves


def test_amounts_for_people_are_exact_and_grouped():
    from fractions import Fraction

    from medcalc.report.display import count, grouped_text, percent, signed_yuan, wan, yuan

    assert yuan(9943453693) == "99,434,536.93" and yuan(-205) == "-2.05" and yuan(0) == "0.00"
    assert signed_yuan(465267727) == "+4,652,677.27" and signed_yuan(-2000) == "-20.00" and signed_yuan(0) == "0.00"
    assert wan(9943453693) == "9,943.45万" and wan(1_000_000) == "1.00万" and wan(4_999) == "0.00万"
    assert wan(5_000) == "0.01万"  # 50 yuan: half up, from integer fen
    assert count(123_4567_0000, 10_000) == "1,234,567" and count(12_345, 10_000) == "1.2345"
    assert percent(Fraction(181, 250)) == "72.40%" and percent(Fraction(-1, 3), signed=True) == "-33.33%"
    assert percent(None) == "—"
    assert (
        grouped_text("total 12000.00 − 全自费 1500.00 = 10500.00, settled 2025-03-01")
        == "total 12,000.00 − 全自费 1,500.00 = 10,500.00, settled 2025-03-01"
    )


@pytest.mark.parametrize("width", [12, 20, 33, 48, 76])
def test_wrapping_keeps_numbers_with_their_units_and_every_line_within_the_width(width):
    from medcalc.report.layout import wrap

    text = (
        "“一级及以下医疗机构起付线200元,医保政策范围内报销比例85%;三级(省属)医疗机构起付线1000元,报销比例70%”"
        " — total 12,000.00 × 90% (anhui-2024-out-of-province.txt)"
    )
    lines = [line.plain for line in wrap(text, width)]
    assert all(cell_len(line) <= width for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")  # nothing lost
    pieces = ["200元", "85%", "1000元", "12,000.00", "90%"]
    for piece in pieces:
        assert any(piece in line for line in lines), (piece, lines)
