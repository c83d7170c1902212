"""CSV injection: text cells a spreadsheet would evaluate are written as text, and read back unchanged.

Every CSV writer of medcalc (score results and rejects, reconcile -o, impact --csv, simulate --save)
puts a quote before a text cell beginning with = + - @ tab or CR (OWASP's guidance); medcalc's CSV
reader takes it off again. .xlsx text cells are string cells, never formulas.
"""

from __future__ import annotations

import csv
import json
import random
import zipfile
from pathlib import Path

import pyarrow as pa
import pytest

from medcalc.batch.files import concat_parts, read_batches
from medcalc.batch.safe_cells import FORMULA_STARTS, escape_column, escape_text, unescape_column
from medcalc.cli import main

POLICY = "jiujiang-residents"
#: Cells from the issue, and the near misses that must pass untouched.
DANGEROUS = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3", "\tTAB", "\rCR", "=1+1"]
HARMLESS = ["abc", "C000001", "1-2", "住院=甲", "2020-06-01", "'quoted", "", "12.50"]


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, _ = capsys.readouterr()
    return code, out


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def assert_no_formula_cells(rows: list[dict[str, str]], amounts: set[str] = frozenset()) -> None:
    """What a spreadsheet sees: no text cell starts with a character that makes it a formula."""
    for row in rows:
        for name, cell in row.items():
            if name not in amounts:
                assert not cell.startswith(tuple(FORMULA_STARTS)), (name, cell)


# ---------------------------------------------------------------- the rule


def test_each_dangerous_cell_gets_one_quote_and_harmless_cells_none():
    column = pa.array(DANGEROUS + HARMLESS + [None])
    escaped = escape_column(column).to_pylist()
    assert escaped[: len(DANGEROUS)] == ["'" + cell for cell in DANGEROUS]
    assert escaped[len(DANGEROUS) :] == HARMLESS + [None]
    assert unescape_column(pa.array(escaped)).to_pylist() == DANGEROUS + HARMLESS + [None]


def test_escape_and_unescape_are_inverse_on_any_text_and_the_cell_function_agrees():
    # quotes before a dangerous character are the case that needs care: "'=x" must not read back as "=x"
    rng = random.Random(7)
    alphabet = ["'", "=", "+", "-", "@", "\t", "\r", "a", "1", "中", " "]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 5))) for _ in range(5000)]
    escaped = escape_column(pa.array(texts))
    assert unescape_column(escaped).to_pylist() == texts
    assert escaped.to_pylist() == [escape_text(t) for t in texts]
    assert not any(t.startswith(tuple(FORMULA_STARTS)) for t in escaped.to_pylist())
    assert escape_text("'=x") == "''=x" and unescape_column(pa.array(["''=x", "'a", "'"])).to_pylist() == [
        "'=x",
        "'a",
        "'",
    ]


def test_a_column_no_cell_of_which_needs_it_is_returned_as_it_is():
    digits = pa.array([str(i) for i in range(200_000)])
    assert escape_column(digits) is digits and unescape_column(digits) is digits
    chunked = pa.chunked_array([pa.array(["C1", None, ""]), pa.array(["住院", "2020-01-01"]).slice(1)])
    assert escape_column(chunked) is chunked
    numbers = pa.array([-1, -2])  # not text: untouched
    assert escape_column(numbers) is numbers
    # a sliced array reads its own cells, not its parent's: "=x" lies outside the slice
    assert escape_column(pa.array(["=x", "a", "b"]).slice(1)).to_pylist() == ["a", "b"]
    assert escape_column(pa.array(["a", "b", "=x"]).slice(2)).to_pylist() == ["'=x"]


# ---------------------------------------------------------------- the writers


def claims_jsonl(path: Path) -> Path:
    """Claims whose ids, persons and regions begin with the dangerous characters; two rows rejected."""
    rows = [
        {
            "claim_id": DANGEROUS[0],
            "person_id": "-p1",
            "settled_on": "2020-03-01",
            "level": "level2",
            "total": "20000",
            "self_funded": "1500",
            "region": "=evil",
        },
        {
            "claim_id": DANGEROUS[1],
            "person_id": "=p2",
            "settled_on": "2020-04-01",
            "level": "level1",
            "total": "3456.78",
            "self_funded": "0",
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
        {"claim_id": "-bad", "person_id": "p4", "settled_on": "2020-05-01", "level": "level3", "total": "=1+1"},
        {"claim_id": "\tlevel", "person_id": "p5", "settled_on": "2020-05-01", "level": "-level9", "total": "100"},
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_score_csv_results_and_rejects_show_text_not_formulas(capsys, tmp_path):
    source = claims_jsonl(tmp_path / "claims.jsonl")
    code, _ = run(capsys, "score", str(source), "--policy", POLICY, "-o", str(tmp_path / "out.csv"), "--json")
    assert code == 0
    results, rejects = csv_rows(tmp_path / "out.csv"), csv_rows(tmp_path / "out.rejects.csv")
    assert [r["claim_id"] for r in results] == ["'" + DANGEROUS[0], "'" + DANGEROUS[1], "'@SUM(1+1)"]
    assert [r["person_id"] for r in results] == ["'-p1", "'=p2", "张三"]
    assert [r["claim_id"] for r in rejects] == ["'-bad", "'\tlevel"]
    assert_no_formula_cells(results)
    assert_no_formula_cells(rejects)
    # quoted as CSV requires: the HYPERLINK cell's own quotes doubled, inside quotes
    raw = (tmp_path / "out.csv").read_text(encoding="utf-8-sig")
    assert '"\'=HYPERLINK(""http://x"",""y"")"' in raw
    # and medcalc reads its own output back as it was
    back = concat_parts(list(read_batches(tmp_path / "out.csv"))).to_pylist()
    assert [r["claim_id"] for r in back] == DANGEROUS[:2] + ["@SUM(1+1)"]
    assert [r["person_id"] for r in back] == ["-p1", "=p2", "张三"]


def test_reconcile_differences_csv_shows_text_not_formulas(capsys, tmp_path):
    rows = [json.loads(line) for line in claims_jsonl(tmp_path / "c.jsonl").read_text(encoding="utf-8").splitlines()][
        :3
    ]
    for row in rows:
        row["hifp_pay"] = "1.00"  # paid: wrong on every row
    extract = tmp_path / "extract.jsonl"
    extract.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    code, _ = run(capsys, "reconcile", str(extract), "--policy", POLICY, "-o", str(tmp_path / "diff.csv"), "--json")
    assert code == 3
    written = csv_rows(tmp_path / "diff.csv")
    assert [r["claim_id"] for r in written] == ["'" + DANGEROUS[0], "'" + DANGEROUS[1], "'@SUM(1+1)"]
    # amounts are numbers to a spreadsheet, a negative difference too: left as they are
    assert all(r["difference"].startswith("-") for r in written)
    assert_no_formula_cells(written, amounts={"paid", "recomputed", "difference"})


def test_impact_csv_shows_text_not_formulas(capsys, tmp_path):
    source = claims_jsonl(tmp_path / "claims.jsonl")
    code, _ = run(
        capsys,
        "impact",
        str(source),
        "--policy",
        POLICY,
        "--adjust",
        "inpatient.ratio[level1] +5",
        "--by",
        "region",
        "--csv",
        str(tmp_path / "impact.csv"),
        "--json",
    )
    assert code == 0
    written = csv_rows(tmp_path / "impact.csv")
    assert {r["group"] for r in written if r["grouping"] == "region"} == {"'=evil", "住院", "'@r"}
    assert_no_formula_cells(written, amounts={"change_funds", "change_patient"})
    assert any(r["change_patient"].startswith("-") for r in written)  # an amount: a number, as it was


def test_simulate_save_csv_goes_through_the_same_guard(tmp_path):
    # the synthetic ids are harmless; what matters is that the saved file is written by ResultWriter,
    # which escapes: a claims table with a formula id written the same way is escaped
    from medcalc.analysis.synthetic import AMOUNT_COLUMNS
    from medcalc.batch.files import ResultWriter

    table = pa.table({"claim_id": ["=1+1", "C2"], "total": [100, 250], "self_funded": [0, 5], "pre_self_pay": [1, 0]})
    writer = ResultWriter(tmp_path / "saved.csv", money=AMOUNT_COLUMNS)
    writer.write(table)
    writer.close()
    assert csv_rows(tmp_path / "saved.csv") == [
        {"claim_id": "'=1+1", "total": "1.00", "self_funded": "0.00", "pre_self_pay": "0.01"},
        {"claim_id": "C2", "total": "2.50", "self_funded": "0.05", "pre_self_pay": "0.00"},
    ]


# ---------------------------------------------------------------- .xlsx


def test_xlsx_writes_formula_like_text_as_string_cells(capsys, tmp_path):
    calamine = pytest.importorskip("python_calamine")
    pytest.importorskip("xlsxwriter")
    source = claims_jsonl(tmp_path / "claims.jsonl")
    out = tmp_path / "out.xlsx"
    code, _ = run(capsys, "score", str(source), "--policy", POLICY, "-o", str(out), "--json")
    assert code == 0
    with zipfile.ZipFile(out) as book:
        sheets = [n for n in book.namelist() if n.startswith("xl/worksheets/sheet")]
        assert sheets and not any(b"<f>" in book.read(n) or b"<f " in book.read(n) for n in sheets)  # no formula
    workbook = calamine.CalamineWorkbook.from_path(str(out))
    results = workbook.get_sheet_by_name("results").to_python()
    rejects = workbook.get_sheet_by_name("rejects").to_python()
    ids = [row[results[0].index("claim_id")] for row in results[1:]]
    assert ids == DANGEROUS[:2] + ["@SUM(1+1)"]  # the text itself: no quote added, none needed
    assert [row[rejects[0].index("claim_id")] for row in rejects[1:]] == ["-bad", "\tlevel"]


def test_an_xlsx_claim_id_equals_1_plus_1_comes_back_as_that_text(tmp_path):
    calamine = pytest.importorskip("python_calamine")
    pytest.importorskip("xlsxwriter")
    from medcalc.batch.files import ResultWriter

    writer = ResultWriter(tmp_path / "one.xlsx")
    writer.write(pa.table({"row": [1], "claim_id": ["=1+1"], "total": [200]}))
    writer.close()
    rows = calamine.CalamineWorkbook.from_path(str(tmp_path / "one.xlsx")).get_sheet_by_index(0).to_python()
    assert rows[1][1] == "=1+1" and rows[1][2] == 2.0
