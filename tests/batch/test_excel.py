"""Excel in and out (medcalc.batch.excel), CSV with a byte-order mark, and `medcalc score -` (stdin)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

pytest.importorskip("python_calamine")
xlsxwriter = pytest.importorskip("xlsxwriter")

from medcalc.batch.files import read_batches  # noqa: E402
from medcalc.cli import main  # noqa: E402

POLICY = "jiujiang-residents"
HEADER = ["claim_id", "person_id", "settled_on", "level", "total", "全自费", "pre_self_pay"]
#: Claims as Excel holds them: numbers, date cells, and text where a clerk typed it.
CELLS = [
    ["c1", "p1", dt.date(2020, 6, 1), "level2", 20000, 1500, 0],
    ["c2", "p1", dt.datetime(2020, 7, 3), "level2", 3456.78, 120.5, 10.01],
    ["c3", 1003, "2020-08-09", "level1", "1.5万", "200元", ""],
    ["c4", "p4", dt.date(2020, 9, 30), "level3", 987654.32, 0.07, 99.99],
    ["c5", "p5", dt.date(2020, 10, 1), "level9", 100, 0, 0],  # not a level of the policy: rejected
]
RESULT_AMOUNTS = ["total", "in_scope", "deductible", "basic", "critical", "assistance", "backstop", "funds", "patient"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_xlsx(
    path: Path, rows: list[list], header: list[str] = HEADER, sheets: dict[str, list[list]] | None = None
) -> Path:
    """A workbook written as Excel would: numbers as numbers, dates as date cells."""
    book = xlsxwriter.Workbook(str(path))
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    for name, content in (sheets or {"claims": [header, *rows]}).items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate(content):
            for c, value in enumerate(row):
                if isinstance(value, (dt.date, dt.datetime)):
                    sheet.write_datetime(r, c, value, day)
                elif value != "":
                    sheet.write(r, c, value)
    book.close()
    return path


def write_csv(path: Path, rows: list[list], header: list[str] = HEADER) -> Path:
    def text(value):
        if isinstance(value, dt.datetime):
            return value.date().isoformat()
        return value.isoformat() if isinstance(value, dt.date) else str(value)

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([[text(v) for v in row] for row in rows])
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def fen(value) -> int:
    return int(Decimal(str(value)) * 100)


def sheet_records(path: Path, sheet: str | None = None) -> list[dict]:
    return [r for b in read_batches(path, sheet=sheet) for r in b.to_pylist()]


# ------------------------------------------------------------------ round trip


def test_xlsx_round_trip_agrees_with_csv_to_the_fen(capsys, tmp_path):
    source = write_xlsx(tmp_path / "claims.xlsx", CELLS)
    code, out, err = run(capsys, "score", str(source), "--policy", POLICY, "-o", str(tmp_path / "out.xlsx"), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["rows"], summary["settled"], summary["rejected"]) == (5, 4, 1)
    assert summary["rejects_file"] == summary["output"] == str(tmp_path / "out.xlsx")  # one workbook, two sheets

    same = write_csv(tmp_path / "claims.csv", CELLS)
    code, _, err = run(capsys, "score", str(same), "--policy", POLICY, "-o", str(tmp_path / "out.csv"), "--json")
    assert code == 0, err
    expected = read_csv(tmp_path / "out.csv")
    assert len(expected) == 4 and sum(fen(r["basic"]) for r in expected) > 0

    results = sheet_records(tmp_path / "out.xlsx")  # the first sheet: the settled rows
    assert [r["claim_id"] for r in results] == [r["claim_id"] for r in expected] == ["c1", "c2", "c3", "c4"]
    for got, want in zip(results, expected):
        assert got["row"] == want["row"] and got["person_id"] == want["person_id"]
        for name in RESULT_AMOUNTS:
            assert isinstance(got[name], Decimal)
            assert int(got[name] * 100) == fen(want[name]), (got["claim_id"], name)
    rejects = sheet_records(tmp_path / "out.xlsx", "rejects")
    # rows as the sheet and the file number them: row 6 of the sheet, line 6 of the CSV file (header: 1)
    assert [(r["row"], r["claim_id"], r["field"]) for r in rejects] == [("6", "c5", "level")]
    assert [(r["row"], r["claim_id"], r["field"]) for r in read_csv(tmp_path / "out.rejects.csv")] == [
        ("6", "c5", "level")
    ]

    # amounts are number cells (not text) shown with two decimals
    from python_calamine import CalamineWorkbook

    cells = CalamineWorkbook.from_path(str(tmp_path / "out.xlsx")).get_sheet_by_name("results").to_python()
    assert cells[0][:3] == ["row", "claim_id", "person_id"]
    assert all(isinstance(cells[1][cells[0].index(name)], float) for name in ("total", *RESULT_AMOUNTS))
    with zipfile.ZipFile(tmp_path / "out.xlsx") as archive:
        assert 'formatCode="0.00"' in archive.read("xl/styles.xml").decode()


def test_amounts_survive_a_round_trip_to_the_fen(tmp_path):
    """Every amount written through ResultWriter reads back as the same fen, large and odd ones too."""
    import pyarrow as pa

    from medcalc.batch.files import ResultWriter

    rng = random.Random(7)
    values = [0, 1, 5, 10, 99, 101, 12_345_67, 10**9, 2**40 + 3] + [rng.randrange(0, 10**11) for _ in range(2000)]
    writer = ResultWriter(tmp_path / "amounts.xlsx")
    writer.write(pa.table({"row": list(range(len(values))), "total": pa.array(values, pa.int64())}))
    writer.close()
    back = [int(r["total"] * 100) for r in sheet_records(tmp_path / "amounts.xlsx")]
    assert back == values


def test_chinese_names_for_results_and_rejects(capsys, tmp_path):
    source = write_xlsx(tmp_path / "claims.xlsx", CELLS)
    code, _, err = run(
        capsys,
        "score",
        str(source),
        "--policy",
        POLICY,
        "-o",
        str(tmp_path / "out.xlsx"),
        "--names",
        "chinese",
        "--json",
    )
    assert code == 0, err
    results = sheet_records(tmp_path / "out.xlsx")
    assert results[0]["claim_id"] == "c1"  # (the sheet's own column, under its own name)
    assert results[0]["基本医疗保险统筹基金支出"] == Decimal("14480.00")
    assert sheet_records(tmp_path / "out.xlsx", "rejects")[0]["字段"] == "level"


# ------------------------------------------------------------------ reading


def test_sheet_chooses_the_sheet_and_a_missing_one_is_named(capsys, tmp_path):
    source = write_xlsx(
        tmp_path / "book.xlsx", [], sheets={"notes": [["note"], ["not claims"]], "claims": [HEADER, *CELLS[:2]]}
    )
    code, _, err = run(capsys, "score", str(source), "--policy", POLICY, "-o", str(tmp_path / "o.csv"), "--json")
    assert code == 2 and "no column is a claim field (the columns: 'note')" in err  # the first sheet, by default
    code, out, err = run(
        capsys, "score", str(source), "--sheet", "claims", "--policy", POLICY, "-o", str(tmp_path / "o.csv"), "--json"
    )
    assert code == 0, err
    assert json.loads(out)["settled"] == 2
    assert [r["basic"] for r in read_csv(tmp_path / "o.csv")] == ["14480.00", "2341.02"]
    code, _, err = run(
        capsys, "score", str(source), "--sheet", "Claims2", "--policy", POLICY, "-o", str(tmp_path / "p.csv")
    )
    assert code == 2 and err.count("\n") == 1
    assert "no sheet named 'Claims2'; its sheets: notes, claims" in err
    code, _, err = run(
        capsys, "score", str(write_csv(tmp_path / "c.csv", CELLS)), "--sheet", "claims", "--policy", POLICY
    )
    assert code == 2 and "--sheet is for .xlsx files" in err


@pytest.mark.parametrize("bad", [1500.005, 0.001, 20000.125])
def test_a_number_with_more_than_two_decimals_is_not_an_amount(capsys, tmp_path, bad):
    rows = [
        ["a", "p1", dt.date(2020, 6, 1), "level2", 20000, 1500, 0],
        ["b", "p2", dt.date(2020, 6, 1), "level2", 20000, bad, 0],
        ["c", "p3", dt.date(2020, 6, 1), "level2", 20000, 1500, 0],
    ]
    source = write_xlsx(tmp_path / "claims.xlsx", rows)
    code, _, err = run(capsys, "score", str(source), "--policy", POLICY, "-o", str(tmp_path / "out.csv"), "--json")
    assert code == 0, err
    assert [r["basic"] for r in read_csv(tmp_path / "out.csv")] == ["14480.00", "14480.00"]
    (reject,) = read_csv(tmp_path / "out.rejects.csv")
    assert (reject["row"], reject["claim_id"], reject["field"]) == ("3", "b", "全自费")  # the sheet's row 3
    assert repr(bad) in reject["reason"] and "not a number of yuan" in reject["reason"]


def test_cells_become_decimals_dates_and_text(tmp_path):
    import pyarrow as pa

    source = write_xlsx(tmp_path / "claims.xlsx", CELLS[:2] + CELLS[3:])
    (batch,) = read_batches(source)
    assert batch.schema.field("total").type == pa.decimal128(18, 2)
    assert batch.schema.field("settled_on").type == pa.date32()
    assert batch.column("person_id").to_pylist() == ["p1", "p1", "p4", "p5"]
    assert batch.column("全自费").to_pylist() == [
        Decimal("1500.00"),
        Decimal("120.50"),
        Decimal("0.07"),
        Decimal("0.00"),
    ]
    mixed = write_xlsx(tmp_path / "mixed.xlsx", CELLS)  # text and numbers in a column: text, numbers by their digits
    (batch,) = read_batches(mixed)
    assert batch.column("total").to_pylist() == ["20000.00", "3456.78", "1.5万", "987654.32", "100.00"]
    assert batch.column("person_id").to_pylist()[2] == "1003"  # Excel's 1003.0: the id 1003
    assert batch.column("settled_on").to_pylist()[:3] == ["2020-06-01", "2020-07-03", "2020-08-09"]


def test_the_two_decimal_rule_is_round_x_2_equals_x():
    """The vectorised check refuses exactly the floats for which round(x, 2) != x."""
    import pyarrow as pa

    from medcalc.batch.excel import _decimal_yuan

    rng = random.Random(11)
    floats = [rng.randrange(0, 10**10) / 100 for _ in range(3000)] + [rng.uniform(0, 1e6) for _ in range(3000)]
    floats += [0.1 + 0.2, 1.005, 2.675, 1e-9, 12345678.9, 0.3]
    invalid: list = [None] * len(floats)
    column = _decimal_yuan("total", floats, invalid, pa)
    for x, got, refused in zip(floats, column.to_pylist(), invalid):
        assert (refused is None) == (round(x, 2) == x), x
        if refused is None:
            assert got == Decimal(repr(x)).quantize(Decimal("0.01"))


def test_types_that_change_between_batches_are_joined_as_text(capsys, tmp_path):
    """Numbers in the first rows, typed text further down: one file, scored as one."""
    rows = [
        ["a", "p1", dt.date(2020, 6, 1), "level2", 20000, 1500, 0],
        ["b", "p2", dt.date(2020, 6, 1), "level2", 20000, 1500, 0],
        ["c", "p3", "2020-06-01", "level2", "2万", "1500元", 0],
    ]
    source = write_xlsx(tmp_path / "claims.xlsx", rows)
    code, out, err = run(
        capsys, "score", str(source), "--policy", POLICY, "--batch-rows", "2", "-o", str(tmp_path / "out.csv"), "--json"
    )
    assert code == 0, err
    assert [r["basic"] for r in read_csv(tmp_path / "out.csv")] == ["14480.00"] * 3


def test_reconcile_and_impact_read_xlsx(capsys, tmp_path):
    settled = [
        ["a", "p1", dt.date(2020, 6, 1), "level2", 20000, 1500, 0, 14480],
        ["b", "p2", dt.date(2020, 6, 1), "level2", 20000, 1500, 0, 14480.01],
    ]
    extract = write_xlsx(tmp_path / "extract.xlsx", settled, header=[*HEADER, "hifp_pay"])
    code, out, err = run(capsys, "reconcile", str(extract), "--policy", POLICY, "--json")
    assert code == 3, err
    data = json.loads(out)
    assert (data["rows"], data["matched"], data["differing"]) == (2, 1, 1)
    assert data["differences"][0]["row"] == 3 and data["differences"][0]["difference"] == "0.01"  # the sheet's row

    claims = write_xlsx(tmp_path / "claims.xlsx", CELLS)
    text = write_csv(tmp_path / "claims.csv", CELLS)
    reports = []
    for path in (claims, text):
        code, out, err = run(
            capsys, "impact", str(path), "--policy", POLICY, "--adjust", "inpatient.ratio[level2] +5", "--json"
        )
        assert code == 0, err
        reports.append(json.loads(out)["groups"])
    assert reports[0] == reports[1]


def test_an_xlsx_path_without_the_extra_exits_2_with_the_install_line(capsys, tmp_path, monkeypatch):
    source = write_xlsx(tmp_path / "claims.xlsx", CELLS)
    text = write_csv(tmp_path / "claims.csv", CELLS)
    monkeypatch.setitem(sys.modules, "python_calamine", None)  # import python_calamine now raises ImportError
    code, out, err = run(capsys, "score", str(source), "--policy", POLICY, "-o", str(tmp_path / "o.csv"))
    assert (code, out) == (2, "") and err.count("\n") == 1 and 'pip install "medcalc[excel]"' in err
    code, out, err = run(capsys, "reconcile", str(source), "--policy", POLICY)
    assert (code, out) == (2, "") and 'pip install "medcalc[excel]"' in err
    monkeypatch.setitem(sys.modules, "xlsxwriter", None)
    code, out, err = run(capsys, "score", str(text), "--policy", POLICY, "-o", str(tmp_path / "o.xlsx"))
    assert (code, out) == (2, "") and err.count("\n") == 1 and 'pip install "medcalc[excel]"' in err
    assert not (tmp_path / "o.xlsx").exists() and not (tmp_path / "o.csv").exists()


def test_import_medcalc_does_not_load_the_excel_libraries():
    import subprocess

    code = "import sys, medcalc, medcalc.cli, medcalc.batch.files; print('python_calamine' in sys.modules, 'xlsxwriter' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_a_file_that_is_not_xlsx_is_bad_input(capsys, tmp_path):
    (tmp_path / "x.xlsx").write_text("person_id,total\n", encoding="utf-8")
    code, _, err = run(capsys, "score", str(tmp_path / "x.xlsx"), "--policy", POLICY)
    assert code == 2 and "not a readable .xlsx file" in err and err.count("\n") == 1


# ------------------------------------------------------------------ CSV for Excel: the byte-order mark


def test_csv_output_has_a_bom_unless_no_bom(capsys, tmp_path):
    source = write_csv(tmp_path / "claims.csv", CELLS)
    assert run(capsys, "score", str(source), "--policy", POLICY, "-o", str(tmp_path / "a.csv"), "--json")[0] == 0
    assert (tmp_path / "a.csv").read_bytes().startswith(b'\xef\xbb\xbf"row",')
    assert (tmp_path / "a.rejects.csv").read_bytes().startswith(b'\xef\xbb\xbf"row",')
    assert (
        run(capsys, "score", str(source), "--policy", POLICY, "-o", str(tmp_path / "b.csv"), "--json", "--no-bom")[0]
        == 0
    )
    assert (tmp_path / "b.csv").read_bytes().startswith(b'"row",')
    assert (tmp_path / "b.rejects.csv").read_bytes().startswith(b'"row",')
    # the mark is only a mark: medcalc reads its own output back by the same names
    assert (
        read_batches(tmp_path / "a.csv").__next__().column_names == next(read_batches(tmp_path / "b.csv")).column_names
    )
    assert (tmp_path / "a.csv").read_bytes()[3:] == (tmp_path / "b.csv").read_bytes()


def test_reconcile_and_impact_csv_have_a_bom_unless_no_bom(capsys, tmp_path):
    extract = write_csv(
        tmp_path / "e.csv",
        [["a", "p1", "2020-06-01", "level2", 20000, 1500, 0, "14480.01"]],
        header=[*HEADER, "hifp_pay"],
    )
    for flags, start in (((), b'\xef\xbb\xbf"row",'), (("--no-bom",), b'"row",')):
        assert run(capsys, "reconcile", str(extract), "--policy", POLICY, "-o", str(tmp_path / "d.csv"), *flags)[0] == 3
        assert (tmp_path / "d.csv").read_bytes().startswith(start)
    claims = write_csv(tmp_path / "claims.csv", CELLS)
    for flags, start in (((), b"\xef\xbb\xbfgrouping,"), (("--no-bom",), b"grouping,")):
        code, _, err = run(
            capsys,
            "impact",
            str(claims),
            "--policy",
            POLICY,
            "--adjust",
            "inpatient.ratio[level2] +5",
            "--csv",
            str(tmp_path / "i.csv"),
            "--json",
            *flags,
        )
        assert code == 0, err
        assert (tmp_path / "i.csv").read_bytes().startswith(start)


# ------------------------------------------------------------------ standard input


def _stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


@pytest.mark.parametrize(
    "kind,flags",
    [("csv", ()), ("jsonl", ()), ("csv", ("--format", "csv")), ("jsonl", ("--format", "jsonl")), ("csv-bom", ())],
)
def test_score_dash_reads_standard_input(capsys, tmp_path, monkeypatch, kind, flags):
    source = write_csv(tmp_path / "claims.csv", CELLS)
    assert run(capsys, "score", str(source), "--policy", POLICY, "-o", str(tmp_path / "file.csv"), "--json")[0] == 0
    if kind == "jsonl":
        records = read_csv(source)
        data = "".join(
            "  " * (i == 0) + json.dumps({k: v for k, v in r.items() if v}, ensure_ascii=False) + "\n"
            for i, r in enumerate(records)
        ).encode()
    else:
        data = (b"\xef\xbb\xbf" if kind == "csv-bom" else b"") + source.read_bytes()
    _stdin(monkeypatch, data)
    code, out, err = run(capsys, "score", "-", "--policy", POLICY, "-o", str(tmp_path / "stdin.csv"), "--json", *flags)
    assert code == 0, err
    assert json.loads(out)["rows"] == 5
    if kind == "jsonl":  # rows numbered by line: JSON lines have no header line, CSV's data starts on line 2
        for name in ("stdin.csv", "stdin.rejects.csv"):
            want = read_csv(tmp_path / name.replace("stdin", "file"))
            assert read_csv(tmp_path / name) == [{**r, "row": str(int(r["row"]) - 1)} for r in want]
        return
    assert read_csv(tmp_path / "stdin.csv") == read_csv(tmp_path / "file.csv")
    assert read_csv(tmp_path / "stdin.rejects.csv") == read_csv(tmp_path / "file.rejects.csv")


def test_score_dash_writes_stdin_settled_csv_by_default(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _stdin(monkeypatch, write_csv(tmp_path / "claims.csv", CELLS).read_bytes())
    code, out, err = run(capsys, "score", "-", "--policy", POLICY, "--json")
    assert code == 0, err
    assert json.loads(out)["output"] == "stdin.settled.csv"
    assert (
        len(read_csv(tmp_path / "stdin.settled.csv")) == 4
        and len(read_csv(tmp_path / "stdin.settled.rejects.csv")) == 1
    )


def test_score_dash_with_bad_input_exits_2(capsys, monkeypatch):
    _stdin(monkeypatch, b"")
    code, _, err = run(capsys, "score", "-", "--policy", POLICY, "-o", "/nonexistent-dir/x.csv")
    assert code == 2 and err.count("\n") == 1


def test_read_claims_reads_xlsx_and_names_the_bad_cell(tmp_path):
    from medcalc.batch.files import read_claims

    rows = [
        ["a", "p1", dt.date(2020, 6, 1), "level2", 20000, 1500, 0],
        ["b", "p2", dt.date(2020, 6, 1), "level2", 20000, 1500.005, 0],
    ]
    read = read_claims(write_xlsx(tmp_path / "claims.xlsx", rows))
    assert (read.count, read.rows, [c.total for c in read.claims]) == (2, [2], [2_000_000])  # the sheet's rows
    ((row, field, reason),) = [(r.row, r.field, r.reason) for r in read.rejects]
    assert (row, field) == (3, "全自费") and "1500.005" in reason
