"""Read limits (medcalc.batch.limits): a file cannot make medcalc spend what no claims file needs.

Each bomb is made here: an .xlsx whose two cells are far apart (the reader would ask for a grid
of 2^34 cells and abort), one whose <dimension> lies, one whose cells do not say where they are,
a part that unpacks a thousand times; a CSV header of a million columns, a cell of 4 million
characters. Each is refused with exit 2 naming the limit (or, for a cell, its row is rejected),
measured in a child process for its peak memory. Ids typed as numbers past 15 digits reject
their row instead of merging two people.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("python_calamine")
xlsxwriter = pytest.importorskip("xlsxwriter")

from medcalc.batch.files import read_batches  # noqa: E402
from medcalc.batch.limits import DEFAULT_LIMITS, ReadLimits, parse_override  # noqa: E402
from medcalc.cli import main  # noqa: E402
from medcalc.errors import MedcalcError  # noqa: E402

POLICY = "luan-2021"
ROOT = Path(__file__).resolve().parents[2]
#: Peak memory a refused bomb may cost the whole process (Python, Arrow and medcalc loaded: ~100 MB).
MAX_RSS_MB = 200


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def measured(*argv: str) -> tuple[int, str, float]:
    """``medcalc ARGV`` in a child process: its exit code, standard error and peak RSS in MB."""
    probe = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run([sys.executable, '-m', 'medcalc.cli', *sys.argv[1:]], capture_output=True, text=True)\n"
        "sys.stderr.write(done.stderr)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.exit(done.returncode)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, env=env, timeout=120)
    return done.returncode, done.stderr, int(done.stdout.split()[-1]) / 1024  # Linux: kilobytes


def workbook(path: Path, cells: dict[tuple[int, int], object]) -> Path:
    """An .xlsx file written by xlsxwriter with ``cells`` ((row, column) from 0 -> value)."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("claims")
    for (r, c), value in cells.items():
        sheet.write(r, c, value)
    book.close()
    return path


def rewritten(source: Path, target: Path, sheet_xml=None, extra: dict[str, bytes] | None = None) -> Path:
    """``source`` with its sheet's XML replaced by ``sheet_xml(old)``, and ``extra`` parts added."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml" and sheet_xml is not None:
                data = sheet_xml(data)
            new.writestr(info.filename, data)
        for name, data in (extra or {}).items():
            new.writestr(name, data)
    return target


CLAIM = {
    (0, 0): "person_id",
    (0, 1): "settled_on",
    (0, 2): "level",
    (0, 3): "total",
    (1, 0): "p1",
    (1, 1): "2021-07-01",
    (1, 2): "level1",
    (1, 3): 1000,
}


# ---------------------------------------------------------------- .xlsx: the archive and the sheet


def test_two_far_cells_are_refused_before_the_reader_builds_its_grid(tmp_path):
    # A1 and XFD1048576: calamine 0.9 asks for 512 GiB and aborts the process (exit 134)
    bomb = workbook(tmp_path / "bomb.xlsx", {**CLAIM, (1048575, 16383): 1})
    assert bomb.stat().st_size < 8000
    code, err, rss = measured("score", str(bomb), "--policy", POLICY, "-o", str(tmp_path / "out.csv"))
    assert code == 2, err
    assert "reaches row 1,048,576, column XFD (16,384 columns)" in err and "max_columns=1,000" in err
    assert "--limit max_columns=N" in err
    assert rss < MAX_RSS_MB, rss
    assert not (tmp_path / "out.csv").exists()


def test_a_lying_dimension_is_not_believed(tmp_path):
    source = workbook(tmp_path / "plain.xlsx", {**CLAIM, (1048575, 25): 1})  # Z1048576: 27 million cells
    bomb = rewritten(
        source,
        tmp_path / "lying.xlsx",
        lambda xml: xml.replace(b'<dimension ref="A1:Z1048576"/>', b'<dimension ref="A1:D2"/>'),
    )
    with zipfile.ZipFile(bomb) as archive:
        assert b'<dimension ref="A1:D2"/>' in archive.read("xl/worksheets/sheet1.xml")
    with pytest.raises(MedcalcError) as caught:
        list(read_batches(bomb))
    assert "27,262,976 cells from A1, over the limit max_sheet_cells=20,000,000" in str(caught.value)
    assert str(bomb) in str(caught.value)


def test_a_dimension_claiming_too_much_is_checked_against_the_cells(tmp_path):
    # <dimension ref="A1:XFD1048576"/> over two cells: the reader places cells by their own references
    source = workbook(tmp_path / "plain.xlsx", CLAIM)
    claims = rewritten(
        source,
        tmp_path / "claims.xlsx",
        lambda xml: xml.replace(b'<dimension ref="A1:D2"/>', b'<dimension ref="A1:XFD1048576"/>'),
    )
    (batch,) = read_batches(claims)
    assert batch.num_rows == 1 and batch.column("person_id").to_pylist() == ["p1"]


def test_cells_without_references_are_placed_as_the_reader_places_them(tmp_path):
    # a cell without r= follows the one before it: Y1048576 then Z1048576 (the slow, exact scan)
    source = workbook(tmp_path / "plain.xlsx", {**CLAIM, (1048575, 24): 1})
    bomb = rewritten(
        source,
        tmp_path / "unreferenced.xlsx",
        lambda xml: xml.replace(b"<v>1</v></c></row></sheetData>", b"<v>1</v></c><c><v>2</v></c></row></sheetData>"),
    )
    with pytest.raises(MedcalcError, match=r"column Z: 27,262,976 cells from A1"):
        list(read_batches(bomb))
    # the reader reads a cell under any prefix, bound or not: so is it counted here
    far = rewritten(
        source,
        tmp_path / "prefixed.xlsx",
        lambda xml: xml.replace(b'<c r="Y1048576"><v>1</v></c>', b'<x:c r="XFD1048576"><v>1</v></x:c>'),
    )
    with pytest.raises(MedcalcError, match=r"column XFD \(16,384 columns\), over the limit max_columns=1,000"):
        list(read_batches(far))
    # an empty, styled cell (<c r=.. s=../>) is skipped by the reader, and so here
    styled = rewritten(
        source,
        tmp_path / "styled.xlsx",
        lambda xml: xml.replace(b'<c r="Y1048576"><v>1</v></c>', b'<c r="Y1048576" s="0"/>'),
    )
    assert sum(b.num_rows for b in read_batches(styled)) == 1


def test_a_part_that_unpacks_a_thousand_times_is_refused(tmp_path):
    source = workbook(tmp_path / "plain.xlsx", CLAIM)
    bomb = rewritten(source, tmp_path / "packed.xlsx", extra={"xl/junk.xml": b"0" * (4 << 20)})
    with pytest.raises(MedcalcError, match=r"xl/junk.xml unpacks [\d,]+ times .* max_compression_ratio=200"):
        list(read_batches(bomb))


def test_shared_strings_and_sheet_sizes_are_bounded(tmp_path):
    source = workbook(tmp_path / "plain.xlsx", CLAIM)  # its text cells are shared strings
    with pytest.raises(
        MedcalcError,
        match=r"shared strings \(xl/sharedStrings.xml\) unpack to [\d,]+ bytes, over the "
        r"limit max_shared_strings_bytes=100",
    ):
        list(read_batches(source, limits=ReadLimits(max_shared_strings_bytes=100)))
    with pytest.raises(MedcalcError, match=r"sheet part xl/worksheets/sheet1.xml unpacks to .* max_sheet_bytes=100 "):
        list(read_batches(source, limits=ReadLimits(max_sheet_bytes=100)))
    with pytest.raises(MedcalcError, match=r"max_xlsx_bytes=1,000 "):
        list(read_batches(source, limits=ReadLimits(max_xlsx_bytes=1000)))
    assert [b.num_rows for b in read_batches(source)] == [1]


def test_a_sheet_over_a_lowered_limit_is_refused_and_a_raised_one_reads_it(capsys, tmp_path):
    rows = {**CLAIM, **{(r, c): v for r in range(2, 40) for c, v in enumerate((f"p{r}", "2021-07-01", "level1", 500))}}
    source = workbook(tmp_path / "claims.xlsx", rows)  # 40 rows x 4 columns: 160 cells
    code, _, err = run(
        capsys,
        "score",
        str(source),
        "--policy",
        POLICY,
        "-o",
        str(tmp_path / "out.csv"),
        "--limit",
        "max_sheet_cells=159",
    )
    assert code == 2 and "160 cells from A1, over the limit max_sheet_cells=159" in err
    code, out, err = run(
        capsys,
        "score",
        str(source),
        "--policy",
        POLICY,
        "-o",
        str(tmp_path / "out.csv"),
        "--limit",
        "max_sheet_cells=160",
        "--limit",
        "max_columns=4",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["settled"] == 39


def test_a_header_naming_a_column_twice_exits_2_before_rows_are_read(capsys, tmp_path):
    # a wide sheet is read in batches of fewer rows (at most 2^20 cells each): a repeated name
    # once failed joining them (exit 1); it is refused at the header now
    cells = {**CLAIM, (0, 4): "total", **{(r, c): 1 for r in range(1, 1100) for c in range(5)}}
    source = workbook(tmp_path / "twice.xlsx", cells)
    code, _, err = run(capsys, "score", str(source), "--policy", POLICY, "-o", str(tmp_path / "out.csv"))
    assert code == 2 and "the header names column 'total' twice (columns D and E)" in err, err


# ---------------------------------------------------------------- .xlsx: ids typed as numbers


def test_an_id_typed_as_a_number_past_15_digits_rejects_its_row(capsys, tmp_path):
    header = {(0, 0): "人员编号", (0, 1): "claim_id", (0, 2): "settled_on", (0, 3): "level", (0, 4): "total"}
    people = [
        (340601199001011234, "c1"),  # 18 digits: Excel holds 340601199001011328
        (340601199001011236, "c2"),  # another person: the same float as the first
        ("340601199001011234", "c3"),  # typed as text: its digits
        (999999999999999, "c4"),  # 15 digits: exact
        (1001, 12.5),  # a claim id with a fraction
        (1002, 7),
    ]  # integral: its digits
    cells = dict(header)
    for r, (person, claim) in enumerate(people, 1):
        cells.update({(r, 0): person, (r, 1): claim, (r, 2): "2021-07-01", (r, 3): "level1", (r, 4): 100})
    source = workbook(tmp_path / "ids.xlsx", cells)
    code, out, err = run(
        capsys, "score", str(source), "--policy", POLICY, "-o", str(tmp_path / "out.csv"), "--json", "--results-only"
    )
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["rows"], summary["settled"], summary["rejected"]) == (6, 3, 3)
    with open(tmp_path / "out.rejects.csv", encoding="utf-8-sig") as handle:
        rejects = list(csv.DictReader(handle))
    assert [(r["row"], r["field"]) for r in rejects] == [
        ("2", "人员编号"),
        ("3", "人员编号"),
        ("6", "claim_id"),
    ]  # sheet rows
    assert all("format the column as Text" in r["reason"] and "15 significant digits" in r["reason"] for r in rejects)
    with open(tmp_path / "out.csv", encoding="utf-8-sig") as handle:
        settled = {r["row"]: (r["person_id"], r["claim_id"]) for r in csv.DictReader(handle)}
    assert settled == {"4": ("340601199001011234", "c3"), "5": ("999999999999999", "c4"), "7": ("1002", "7")}


def test_a_long_text_cell_in_a_sheet_rejects_its_row(tmp_path):
    source = workbook(
        tmp_path / "long.xlsx", {**CLAIM, (2, 0): "p2", (2, 1): "2021-07-01", (2, 2): "x" * 5000, (2, 3): 100}
    )
    (batch,) = read_batches(source)
    reasons = batch.column("_invalid").to_pylist()
    assert reasons[0] is None
    assert (
        reasons[1] == "level\x1fa cell of 5,000 characters, over the limit max_cell_chars=1,000; "
        "raise it with --limit max_cell_chars=N if the file is genuine"
    )


# ---------------------------------------------------------------- CSV


def test_a_header_of_a_million_columns_is_refused_before_the_body_is_read(tmp_path):
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"c{i}" for i in range(10**6)) + "\n1\n")
    assert wide.stat().st_size > 7_000_000
    code, err, rss = measured("score", str(wide), "--policy", POLICY, "-o", str(tmp_path / "out.csv"))
    assert code == 2 and "the header line is longer than max_header_chars=65,536 characters" in err, err
    assert rss < MAX_RSS_MB, rss


def test_too_many_columns_are_refused_naming_the_limit(tmp_path):
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"c{i}" for i in range(1001)) + "\n")
    with pytest.raises(MedcalcError, match=r"the header has 1,001 columns, over the limit max_columns=1,000; raise it"):
        list(read_batches(wide))
    assert [b.num_rows for b in read_batches(wide, limits=ReadLimits(max_columns=1001))] == []


def test_a_cell_of_four_million_characters_rejects_its_row_without_its_text(tmp_path):
    # "0." and 4 million zeros and "1": before, read as a total of 0.00 and settled
    long = tmp_path / "long.csv"
    long.write_text(
        "person_id,settled_on,level,total\np1,2021-07-01,level1,1000\n"
        "p2,2021-07-01,level1,0." + "0" * 4_000_000 + "1\np3,2021-07-01,level1,200\n"
    )
    code, err, rss = measured(
        "score", str(long), "--policy", POLICY, "-o", str(tmp_path / "out.csv"), "--json", "--results-only"
    )
    assert code == 0, err
    assert rss < MAX_RSS_MB, rss
    with open(tmp_path / "out.rejects.csv", encoding="utf-8-sig") as handle:
        rejects = list(csv.DictReader(handle))
    assert rejects == [
        {
            "row": "3",
            "claim_id": "",
            "field": "total",  # (line 3)
            "reason": "a cell of 4,000,003 characters, over the limit max_cell_chars=1,000; "
            "raise it with --limit max_cell_chars=N if the file is genuine",
        }
    ]
    with open(tmp_path / "out.csv", encoding="utf-8-sig") as handle:
        assert [(r["row"], r["total"]) for r in csv.DictReader(handle)] == [("2", "1000.00"), ("4", "200.00")]
    # a line longer than a block Arrow reads at once (small --batch-rows): exit 2, naming the limit
    code, err, _ = measured(
        "score", str(long), "--policy", POLICY, "-o", str(tmp_path / "out.csv"), "--batch-rows", "1000"
    )
    assert code == 2 and "a line is over 65,536 bytes" in err and "max_cell_chars=1,000" in err, err


def test_cell_lengths_count_characters_not_bytes(tmp_path):
    claims = tmp_path / "claims.csv"
    claims.write_text(
        "person_id,settled_on,level,total\n"
        + "医" * 1000
        + ",2021-07-01,level1,10\n"
        + "医" * 1001
        + ",2021-07-01,level1,10\n",
        encoding="utf-8",
    )
    (batch,) = read_batches(claims)
    assert batch.column("_invalid").to_pylist()[0] is None
    assert batch.column("_invalid").to_pylist()[1].startswith("person_id\x1fa cell of 1,001 characters")
    assert batch.column("person_id").to_pylist()[1] is None  # never parsed, never shown


# ---------------------------------------------------------------- the limits themselves


def test_limits_are_named_whole_numbers(capsys, tmp_path):
    assert parse_override("max_sheet_cells=50_000_000").max_sheet_cells == 50_000_000
    assert parse_override("max_columns=5").max_cell_chars == DEFAULT_LIMITS.max_cell_chars
    for bad in ("max_cells=5", "max_columns", "max_columns=-1", "max_columns=1e9"):
        with pytest.raises(MedcalcError, match="--limit"):
            parse_override(bad)
    with pytest.raises(MedcalcError, match="max_columns must be a whole number of at least 1"):
        ReadLimits(max_columns=0)
    claims = tmp_path / "claims.csv"
    claims.write_text("person_id,settled_on,level,total\np1,2021-07-01,level1,10\n")
    code, _, err = run(capsys, "score", str(claims), "--policy", POLICY, "--limit", "max_rows=5")
    assert code == 2 and "NAME one of max_columns" in err
