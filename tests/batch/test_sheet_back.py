"""The user's sheet back (issue 26): ``score`` writes every input column, in input order, with the
results added; the rejects file gives each refused row's own cells; ``--results-only`` keeps the
narrow tables."""

from __future__ import annotations

import csv
import datetime as dt
import json

import pyarrow.parquet as pq
import pytest

from medcalc.cli import main

POLICY = "jiujiang-residents"
SHEET = (
    "姓名,人员编号,结算日期,医院等级,医疗费总额,全自费,备注\n"
    '张三,p1,2020/6/1,level2,"20,000",1500,首次\n'
    "李四,p2,2020年6月2日,level9,20000,1500,\n"
    "王五,p3,2020-06-03,level2,1.2万,,复诊\n"
)
RESULTS = ["policy", "in_scope", "deductible", "basic", "critical", "assistance", "backstop", "funds", "patient"]


def _read(path):
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        return reader.fieldnames, list(reader)


@pytest.mark.parametrize("extra", [(), ("--stream",)])
def test_the_sheet_comes_back_with_the_results_added(capsys, tmp_path, extra):
    source = tmp_path / "bureau.csv"
    source.write_text(SHEET, encoding="utf-8")
    assert main(["score", str(source), "--policy", POLICY, "-o", str(tmp_path / "out.csv"), "--json", *extra]) == 0
    capsys.readouterr()
    header, rows = _read(tmp_path / "out.csv")
    assert header == ["row", "姓名", "人员编号", "结算日期", "医院等级", "医疗费总额", "全自费", "备注", *RESULTS]
    # the total stays in the sheet's own column, as medcalc read it
    assert [(r["row"], r["姓名"], r["医疗费总额"], r["basic"], r["备注"]) for r in rows] == [
        ("2", "张三", "20000.00", "14480.00", "首次"),
        ("4", "王五", "12000.00", "9280.00", "复诊"),
    ]  # the lines
    assert [r["结算日期"] for r in rows] == ["2020-06-01", "2020-06-03"]  # dates as dates: ISO, whatever was typed
    header, rejects = _read(tmp_path / "out.rejects.csv")
    assert header == [
        "row",
        "claim_id",
        "field",
        "reason",
        "姓名",
        "人员编号",
        "结算日期",
        "医院等级",
        "医疗费总额",
        "全自费",
        "备注",
    ]
    assert [(r["row"], r["field"], r["姓名"], r["医院等级"], r["结算日期"]) for r in rejects] == [
        ("3", "医院等级", "李四", "level9", "2020年6月2日")
    ]  # a refused row's cells as given


def test_results_only_keeps_the_narrow_tables(capsys, tmp_path):
    source = tmp_path / "bureau.csv"
    source.write_text(SHEET, encoding="utf-8")
    assert main(["score", str(source), "--policy", POLICY, "-o", str(tmp_path / "out.csv"), "--results-only"]) == 0
    capsys.readouterr()
    assert _read(tmp_path / "out.csv")[0] == ["row", "person_id", "settled_on", "policy", "total", *RESULTS[1:]]
    assert _read(tmp_path / "out.rejects.csv")[0] == ["row", "claim_id", "field", "reason"]


def test_parquet_keeps_dates_as_dates_and_text_as_text(capsys, tmp_path):
    source = tmp_path / "bureau.csv"
    source.write_text(SHEET, encoding="utf-8")
    assert (
        main(
            [
                "score",
                str(source),
                "--policy",
                POLICY,
                "-o",
                str(tmp_path / "out.parquet"),
                "--names",
                "national",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["settled"] == 2
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column("结算日期").to_pylist() == [dt.date(2020, 6, 1), dt.date(2020, 6, 3)]
    assert table.column("姓名").to_pylist() == ["张三", "王五"]
    assert [str(v) for v in table.column("hifp_pay").to_pylist()] == ["14480.00", "9280.00"]


def test_a_rescored_settled_file_gets_fresh_results_not_two_of_each(capsys, tmp_path):
    """Scored again, a settled file's result columns are ignored on the way in and written fresh."""
    source = tmp_path / "bureau.csv"
    source.write_text(SHEET, encoding="utf-8")
    assert main(["score", str(source), "--policy", POLICY, "-o", str(tmp_path / "once.csv")]) == 0
    assert main(["score", str(tmp_path / "once.csv"), "--policy", POLICY, "-o", str(tmp_path / "twice.csv")]) == 0
    capsys.readouterr()
    once, twice = _read(tmp_path / "once.csv"), _read(tmp_path / "twice.csv")
    assert twice[0] == once[0]
    assert [r["basic"] for r in twice[1]] == [r["basic"] for r in once[1]]


@pytest.mark.parametrize("extra", [(), ("--stream",)])
def test_progress_moves_as_rows_are_read_and_settled(capsys, tmp_path, monkeypatch, extra):
    """On a terminal, both bars move: rows read batch by batch, rows settled part by part."""
    import sys

    from rich.progress import Progress

    lines = "".join(f"p{i:05d},2020-06-01,level2,20000,1500\n" for i in range(10000))
    source = tmp_path / "claims.csv"
    source.write_text("person_id,settled_on,level,total,self_funded\n" + lines)
    steps: list[tuple[str, int]] = []
    original = Progress.advance

    def advance(self, task, rows):
        steps.append((self.tasks[task].description, rows))
        return original(self, task, rows)

    monkeypatch.setattr(Progress, "advance", advance)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert (
        main(["score", str(source), "--policy", POLICY, "-o", str(tmp_path / "o.csv"), "--batch-rows", "500", *extra])
        == 0
    )
    capsys.readouterr()
    read = [rows for what, rows in steps if what == "read"]
    settled = [rows for what, rows in steps if what == "settled"]
    assert len(read) >= 3 and sum(read) == 10000  # (Arrow's blocks hold several of 500 rows' worth)
    assert sum(settled) == 10000 and (len(settled) > 1 if extra else len(settled) == 1)


def test_xlsx_gets_date_cells_and_number_cells_back(capsys, tmp_path):
    pytest.importorskip("xlsxwriter")
    from python_calamine import CalamineWorkbook

    source = tmp_path / "bureau.csv"
    source.write_text(SHEET, encoding="utf-8")
    assert main(["score", str(source), "--policy", POLICY, "-o", str(tmp_path / "out.xlsx")]) == 0
    capsys.readouterr()
    header, *rows = CalamineWorkbook.from_path(str(tmp_path / "out.xlsx")).get_sheet_by_name("results").to_python()
    assert [r[header.index("结算日期")] for r in rows] == [dt.date(2020, 6, 1), dt.date(2020, 6, 3)]
    assert [r[header.index("医疗费总额")] for r in rows] == [20000.0, 12000.0]  # the total, as settled: a number
    assert [r[header.index("姓名")] for r in rows] == ["张三", "王五"]


def test_a_streamed_file_out_of_order_names_the_line(capsys, tmp_path):
    source = tmp_path / "claims.csv"
    source.write_text("报表\nperson_id,settled_on,level,total\np2,2020-06-01,level2,100\n\np1,2020-06-01,level2,100\n")
    assert main(["score", str(source), "--policy", POLICY, "-o", str(tmp_path / "o.csv"), "--stream"]) == 2
    assert "row 5: person 'p1' comes after 'p2'" in capsys.readouterr().err  # line 5 of the file


def test_xlsx_passes_a_decimal_no_float_holds_through_as_text(capsys, tmp_path):
    pytest.importorskip("xlsxwriter")
    from decimal import Decimal

    import pyarrow as pa
    from python_calamine import CalamineWorkbook

    source = tmp_path / "claims.parquet"
    pq.write_table(
        pa.table(
            {
                "person_id": ["p1"],
                "settled_on": ["2020-06-01"],
                "level": ["level2"],
                "total": ["20000"],
                "weight": pa.array([Decimal("0.12345678901234567890")], pa.decimal128(30, 20)),
                "share": pa.array([Decimal("12.50")], pa.decimal128(10, 2)),
            }
        ),
        source,
    )
    assert main(["score", str(source), "--policy", POLICY, "-o", str(tmp_path / "out.xlsx")]) == 0
    capsys.readouterr()
    header, row = CalamineWorkbook.from_path(str(tmp_path / "out.xlsx")).get_sheet_by_name("results").to_python()
    assert row[header.index("weight")] == "0.12345678901234567890"  # never the float 0.12345678901234568
    assert row[header.index("share")] == 12.5
