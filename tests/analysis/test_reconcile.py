"""Reconciling a settlement extract: the rows paid differently are found, with the step that explains them.

The extract is built the way a real one looks: 200 synthetic claims of 30 people and three
hand-checked ones on huaibei-2025, national column names, amounts as yuan text, and what was
paid taken from medcalc's own settlement. Then known rows are altered and must come back.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pyarrow as pa
import pytest

from medcalc import Fen, MedcalcError, format_yuan, settle_table
from medcalc.analysis.reconcile import DIFFERENCE_COLUMNS, own_step, reconcile
from medcalc.cli import main

POLICY = "huaibei-2025"
PAID = {
    "deductible": "act_pay_dedc",
    "basic": "hifp_pay",
    "critical": "hifmi_pay",
    "assistance": "maf_pay",
    "funds": "fund_pay_sumamt",
    "patient": "psn_part_amt",
}
H1A, H1B, H2 = 200, 201, 202  # the hand-checked rows, after the synthetic ones


def claims() -> pa.Table:
    """200 claims of 30 people (level1 / level3_province, 500 to 30 000 yuan), then three by hand."""
    rng = np.random.default_rng(8)
    n = 200
    person = rng.integers(0, 30, n)
    total = rng.integers(50_000, 3_000_000, n)  # fen
    self_funded = total * rng.integers(0, 16, n) // 100
    day = np.datetime64("2025-01-01") + rng.integers(0, 365, n).astype("timedelta64[D]")
    level = rng.choice(np.array(["level1", "level3_province"]), n, p=[0.6, 0.4])
    category = np.where(person % 10 == 0, "dibao", "ordinary")
    hand = [  # (person, day, level, total yuan)
        (
            "h1",
            "2025-02-01",
            "level1",
            "300000",
        ),  # basic (300000 − 200) × 90 % = 269820; 大病 (30180 − 15000) × 60 % = 9108
        ("h1", "2025-03-01", "level1", "100000"),  # basic 89820, cut to the 300000 cap: 30180
        ("h2", "2025-04-01", "level1", "12000"),  # basic (12000 − 200) × 90 % = 10620
    ]
    return pa.table(
        {
            "psn_no": [f"p{p}" for p in person] + [h[0] for h in hand],
            "setl_id": [f"S{i:04d}" for i in range(n + len(hand))],
            "setl_time": [str(d) for d in day] + [h[1] for h in hand],
            "level": list(level) + [h[2] for h in hand],
            "medfee_sumamt": [format_yuan(t) for t in total] + [h[3] for h in hand],
            "fulamt_ownpay_amt": [format_yuan(s) for s in self_funded] + ["0"] * len(hand),
            "category": list(category) + ["ordinary"] * len(hand),
        }
    )


@pytest.fixture(scope="module")
def settled() -> dict[str, np.ndarray]:
    """What medcalc pays on each row (fen), by medcalc field."""
    scored = settle_table(claims(), POLICY, amounts="fen")
    assert scored.rejects.num_rows == 0 and scored.results.column("row").to_pylist() == list(range(203))
    return {f: scored.results.column(f).to_numpy() for f in PAID}


def extract(settled, changes: dict[tuple[int, str], str] | None = None) -> pa.Table:
    """The claims with what was paid as yuan text (national names), with some values changed."""
    table = claims()
    for field, column in PAID.items():
        values = [format_yuan(v) for v in settled[field]]
        for (row, name), value in (changes or {}).items():
            if name == column:
                values[row] = value
        table = table.append_column(column, pa.array(values, pa.string()))
    return table


def plus(settled, field: str, row: int, fen: int) -> str:
    return format_yuan(int(settled[field][row]) + fen)


@pytest.fixture(scope="module")
def changes(settled) -> dict[tuple[int, str], str]:
    """The alterations: four rows' hifp_pay, one row's psn_part_amt, and the hand rows."""
    assert settled["basic"][17] > 10000 and settled["critical"][H1A] == 910800
    return {
        (5, "hifp_pay"): plus(settled, "basic", 5, 1),  # one fen: within a tolerance of 0.01
        (17, "hifp_pay"): plus(settled, "basic", 17, -10000),
        (42, "hifp_pay"): plus(settled, "basic", 42, 250),
        (99, "hifp_pay"): plus(settled, "basic", 99, 100000),
        (120, "psn_part_amt"): plus(settled, "patient", 120, 500),
        (H1A, "hifmi_pay"): "9000.00",  # 大病 paid 9000, medcalc 9108
        (H1B, "hifp_pay"): "40000.00",  # paid past the annual cap
        (H2, "act_pay_dedc"): "300.00",  # a deductible of 300 instead of 200, and what follows from it:
        (H2, "hifp_pay"): "10530.00",  # (12000 − 300) × 90 %
        (H2, "fund_pay_sumamt"): "10530.00",
        (H2, "psn_part_amt"): "1470.00",
    }


@pytest.fixture(scope="module")
def report(settled, changes):
    return reconcile(extract(settled, changes), POLICY, amounts="fen")


def _by_key(report) -> dict[tuple[int, str], dict]:
    return {(d["row"], d["field"]): d for d in report.differences.to_pylist()}


def test_exactly_the_altered_rows_and_fields_differ_by_the_right_fen(report, settled, changes):
    assert (report.rows, report.matched, report.differing, report.rejected) == (203, 195, 8, 0)
    found = _by_key(report)
    assert set(found) == set(changes)
    assert report.differences.column_names == list(DIFFERENCE_COLUMNS)
    assert {k: found[k]["difference"] for k in found if k[0] < 200} == {
        (5, "hifp_pay"): 1,
        (17, "hifp_pay"): -10000,
        (42, "hifp_pay"): 250,
        (99, "hifp_pay"): 100000,
        (120, "psn_part_amt"): 500,
    }
    assert [
        (found[k]["paid"], found[k]["recomputed"], found[k]["difference"]) for k in sorted(found) if k[0] >= 200
    ] == [
        (900000, 910800, -10800),  # H1A hifmi_pay
        (4000000, 3018000, 982000),  # H1B hifp_pay
        (30000, 20000, 10000),  # H2 act_pay_dedc
        (1053000, 1062000, -9000),  # H2 fund_pay_sumamt
        (1053000, 1062000, -9000),  # H2 hifp_pay
        (147000, 138000, 9000),  # H2 psn_part_amt
    ]
    assert found[(17, "hifp_pay")]["recomputed"] == settled["basic"][17]
    assert found[(17, "hifp_pay")]["claim_id"] == "S0017"


def test_each_difference_names_the_step_that_explains_it_with_its_quote(report):
    found = _by_key(report)
    for row in (5, 17, 42, 99):  # no cap binds on these: the ratio decided the figure
        d = found[(row, "hifp_pay")]
        assert d["step"] == "ratio" and d["rule"].startswith("inpatient.ratio")
        assert "报销比例" in d["quote"] and d["explanation"].startswith("报销比例 ratio: ")
    cap = found[(H1B, "hifp_pay")]
    assert (cap["step"], cap["quote"]) == ("fund_cap", "年度封顶线全省统一提高至30万元")
    assert cap["explanation"].startswith(
        "年度最高支付限额 annual cap: cap 300000.00, paid so far this year 269820.00 → 30180.00"
    )
    band = found[(H1A, "hifmi_pay")]
    assert band["step"] == "ratio" and band["rule"].startswith("critical.bands")
    assert band["quote"].startswith("分段报销比例分别为60%(5万元内)")
    assert "15180.00 × 60%" in band["explanation"]
    deductible = found[(H2, "act_pay_dedc")]
    assert deductible["step"] == "deductible"
    assert deductible["quote"].startswith("一级及以下医疗机构起付线200元")
    assert deductible["explanation"].startswith("起付线 deductible: level1 (一级及以下医疗机构): per admission, 200.00")
    for column in ("hifp_pay", "fund_pay_sumamt", "psn_part_amt"):  # the deductible feeds them: it explains them
        d = found[(H2, column)]
        assert d["step"] == "deductible" and d["explanation"].startswith(
            "follows the difference in act_pay_dedc: 起付线"
        )
    patient = found[(120, "psn_part_amt")]  # no layer differs: the line that totals the funds
    assert patient["step"] == "patient" and patient["explanation"].startswith("个人负担 patient pays: total ")


def test_traces_of_the_people_alone_equal_the_whole_table_traced(report, settled, changes):
    whole = settle_table(extract(settled, changes), POLICY, trace=sorted(report.traces), amounts="fen")
    assert sorted(report.traces) == [5, 17, 42, 99, 120, H1A, H1B, H2]
    assert all(report.traces[row] == whole.traces[row] for row in report.traces)
    assert [s.amount for s in report.traces[H1B] if s.mechanism == "basic"] == [3018000]


def test_totals_per_field_are_exact(report, settled):
    basic = report.totals["basic"]
    assert basic["column"] == "hifp_pay" and basic["rows"] == 203
    assert basic["recomputed"] == int(settled["basic"].sum())
    assert basic["difference"] == 1 - 10000 + 250 + 100000 + 982000 - 9000
    assert report.totals["deductible"]["difference"] == 10000
    assert report.totals["critical"]["difference"] == -10800
    assert report.totals["assistance"] == {
        "column": "maf_pay",
        "rows": 203,
        "paid": 0,
        "recomputed": 0,
        "difference": 0,
    }
    assert list(report.totals) == ["deductible", "basic", "critical", "assistance", "funds", "patient"]


def test_a_tolerance_lets_small_differences_match(settled, changes):
    table = extract(settled, changes)
    for tolerance in (1, Fen(1), "0.01"):
        loose = reconcile(table, POLICY, tolerance=tolerance, amounts="fen")
        assert (loose.matched, loose.differing) == (196, 7)
        assert 5 not in loose.differences.column("row").to_pylist()
    assert (
        reconcile(table, POLICY, tolerance=250, amounts="fen").differing == 6
    )  # 2.50 is not beyond 2.50: rows 5 and 42 match
    for bad in (-1, 0.01, "abc"):
        with pytest.raises(MedcalcError, match="tolerance"):
            reconcile(table, POLICY, tolerance=bad, amounts="fen")


def test_an_unreadable_paid_value_rejects_its_row_and_an_empty_one_is_not_compared(settled):
    empty = {(9, column): "" for column in PAID.values()}
    table = extract(
        settled,
        {(7, "hifp_pay"): "12x", (8, "hifmi_pay"): "", (9, "hifp_pay"): "3.456", **empty, (10, "hifp_pay"): "3.456"},
    )
    report = reconcile(table, POLICY, amounts="fen")
    assert (report.rows, report.matched, report.differing, report.rejected) == (203, 200, 0, 3)
    assert report.rejects.to_pylist() == [
        {
            "row": 7,
            "claim_id": "S0007",
            "field": "hifp_pay",
            "reason": 'paid amount: amount \'12x\' is not a number of yuan such as "150", "150元" or "1.5万" (got \'12x\')',
        },
        {
            "row": 9,
            "claim_id": "S0009",
            "field": "paid",
            "reason": "no paid amount to compare (act_pay_dedc, hifp_pay, hifmi_pay, maf_pay, fund_pay_sumamt, "
            "psn_part_amt all empty)",
        },
        {
            "row": 10,
            "claim_id": "S0010",
            "field": "hifp_pay",
            "reason": "paid amount: amount '3.456' has more precision than allowed (got '3.456')",
        },
    ]
    assert (
        report.totals["critical"]["rows"] == 199
    )  # of the 200 compared, row 8's empty hifmi_pay is not compared, not read as 0
    assert report.totals["basic"]["rows"] == 200


def test_a_row_medcalc_cannot_settle_is_kept_with_its_reason(settled):
    table = extract(settled, {(3, "hifp_pay"): "1.00"})
    bad = {name: [table.column(name)[0].as_py()] for name in table.column_names}
    bad.update(psn_no=["x"], setl_id=["BAD"], level=["level9"])
    table = pa.concat_tables([table, pa.table(bad, schema=table.schema)])
    report = reconcile(table, POLICY, first_row=1, amounts="fen")
    assert (report.rows, report.matched, report.differing, report.rejected) == (204, 202, 1, 1)
    reject = report.rejects.to_pylist()[0]
    assert (reject["row"], reject["claim_id"], reject["field"]) == (204, "BAD", "level")
    assert reject["reason"].startswith("unknown hospital level for policy huaibei-2025")
    assert report.differences.column("row").to_pylist() == [4]  # numbered from first_row


def test_columns_named_by_medcalc_fields_and_the_choice_of_fields(settled, changes):
    table = extract(settled, changes).rename_columns(
        [{"hifp_pay": "basic", "act_pay_dedc": "deductible"}.get(c, c) for c in extract(settled).column_names]
    )
    report = reconcile(table.to_pandas(), POLICY, fields=["basic"], amounts="fen")
    assert report.fields == {"basic": "basic"}
    assert sorted(report.differences.column("row").to_pylist()) == [5, 17, 42, 99, H1B, H2]
    assert report.differences.column("field").unique().to_pylist() == ["basic"]
    with pytest.raises(MedcalcError, match="both give what was paid as 'basic'"):
        reconcile(table.append_column("hifp_pay", table.column("basic")), POLICY, amounts="fen")
    with pytest.raises(MedcalcError, match="no column for 'backstop_pay'"):
        reconcile(table, POLICY, fields=["backstop_pay"], amounts="fen")
    with pytest.raises(MedcalcError, match="no paid column to compare"):
        reconcile(claims(), POLICY, amounts="fen")


def test_json_and_csv(report, settled, tmp_path):
    data = json.loads(report.to_json())
    assert (data["rows"], data["matched"], data["differing"], data["rejected"], data["tolerance"]) == (
        203,
        195,
        8,
        0,
        "0.00",
    )
    assert data["totals"]["deductible"]["difference"] == "100.00"
    first = data["differences"][0]
    assert (first["row"], first["field"], first["recomputed"], first["difference"]) == (
        5,
        "hifp_pay",
        format_yuan(int(settled["basic"][5])),
        "0.01",
    )
    path = report.to_csv(tmp_path / "d.csv")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 11 and list(rows[0]) == list(DIFFERENCE_COLUMNS)
    h2 = [r for r in rows if r["row"] == str(H2) and r["field"] == "act_pay_dedc"][0]
    assert (h2["paid"], h2["recomputed"], h2["difference"], h2["step"]) == ("300.00", "200.00", "100.00", "deductible")


def test_own_step_rules_on_a_trace(report):
    steps = report.traces[H1B]
    assert own_step("deductible", steps).mechanism == "deductible"
    assert own_step("basic", steps).mechanism == "fund_cap"
    assert own_step("critical", steps).detail.startswith("50000.00 × 65%")  # the last band reached
    assert own_step("assistance", steps) is None and own_step("backstop", steps) is None
    assert own_step("funds", steps).mechanism == "patient"


# ---------------------------------------------------------------- command line


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _csv(table: pa.Table, path) -> str:
    import pyarrow.csv as pacsv

    pacsv.write_csv(table, path)
    return str(path)


def test_cli_exit_0_when_everything_matches(capsys, settled, tmp_path):
    source = _csv(extract(settled), tmp_path / "extract.csv")
    code, out, err = run(capsys, "reconcile", source, "--policy", POLICY, "--json")
    data = json.loads(out)
    assert (code, err) == (0, "")
    assert (data["rows"], data["matched"], data["differing"], data["rejected"]) == (203, 203, 0, 0)
    assert (
        data["totals"]["basic"]["paid"]
        == data["totals"]["basic"]["recomputed"]
        == format_yuan(int(settled["basic"].sum()))
    )


def test_cli_exit_1_with_the_differences_file(capsys, settled, changes, tmp_path):
    source = _csv(extract(settled, changes), tmp_path / "extract.csv")
    out_path = tmp_path / "differences.csv"
    code, out, err = run(
        capsys, "reconcile", source, "--policy", POLICY, "--tolerance", "0.01", "-o", str(out_path), "--width", "200"
    )
    assert (code, err) == (3, "")
    assert "differing" in out and "年度封顶线全省统一提高至30万元" in out and str(out_path) in out
    with open(out_path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["row"], r["field"], r["difference"]) for r in rows[:4]] == [  # the file's lines (header: line 1)
        ("19", "hifp_pay", "-100.00"),
        ("44", "hifp_pay", "2.50"),
        ("101", "hifp_pay", "1000.00"),
        ("122", "psn_part_amt", "5.00"),
    ]
    cap = [r for r in rows if r["row"] == str(H1B + 2)][0]  # (its line: the header is line 1)
    assert (cap["paid"], cap["recomputed"], cap["step"]) == ("40000.00", "30180.00", "fund_cap")


def test_cli_exit_2_on_bad_input(capsys, settled, tmp_path):
    source = _csv(extract(settled), tmp_path / "extract.csv")
    no_paid = _csv(claims(), tmp_path / "claims.csv")
    for argv, message in [
        (["reconcile", str(tmp_path / "missing.csv"), "--policy", POLICY], "missing.csv: no such file"),
        (["reconcile", no_paid, "--policy", POLICY], "the extract has no paid column to compare"),
        (["reconcile", source, "--policy", POLICY, "--tolerance", "abc"], "tolerance: amount 'abc'"),
        (["reconcile", source, "--policy", POLICY, "--fields", "hifp"], "'hifp' is not a paid field"),
        (["reconcile", source], "no policy given"),
    ]:
        code, out, err = run(capsys, *argv)
        assert code == 2 and out == "" and err.startswith("medcalc: error: ") and message in err, (argv, err)


def test_the_readme_example_and_its_figures():
    import re
    from pathlib import Path

    page = (Path(__file__).parents[2] / "docs" / "how-to" / "reconcile.md").read_text(encoding="utf-8")
    code = next(b for b in re.findall(r"```python\n(.*?)```", page, re.S) if "medcalc.analysis.reconcile" in b)
    namespace: dict = {}
    exec(compile(code, "docs/how-to/reconcile.md", "exec"), namespace)
    audit = namespace["audit"]
    assert (audit.matched, audit.differing, audit.rejected) == (1, 1, 1)
    d = audit.differences.to_pylist()[0]
    assert (d["row"], d["claim_id"], d["field"], d["paid"], d["recomputed"], d["difference"], d["step"]) == (
        1,
        "b",
        "hifp_pay",
        570000,
        564000,
        6000,
        "ratio",
    )
    assert d["explanation"].startswith("报销比例 ratio: 9400.00 × 60% — “") and d["quote"].endswith(
        "報銷比例分別爲90%、80%、60%"
    )
    assert audit.rejects.to_pylist()[0]["field"] == "level"
    assert audit.totals["basic"] == {
        "column": "hifp_pay",
        "rows": 2,
        "paid": 2018000,
        "recomputed": 2012000,
        "difference": 6000,
    }
