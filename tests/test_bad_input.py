"""Bad claim input on every path (issue 15): no dirty cell ever becomes money, every bad input exits 2.

Each bad value runs through ``quote``, ``score`` (CSV, JSON lines, Parquet; whole and streamed),
``settle_table`` and ``settle``. A bad row is rejected naming its row, the column as the file
names it and the value; the good rows beside it settle to the figure they settle to alone; rows
in = settled + rejected. A bad file exits 2 with a one-line message, never 1.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import medcalc
from medcalc.batch.tables import settle_table
from medcalc.cli import main
from medcalc.errors import ClaimError

POLICY = "jiujiang-residents"
#: A 20 000 yuan admission at level2 with 1 500 yuan 全自费: basic pays 14 480 (15 680 with no 全自费).
GOOD = {"person_id": "p1", "settled_on": "2020-06-01", "level": "level2", "total": "20000", "self_funded": "1500"}
GOOD_BASIC = "14480.00"

#: Amount text that is not an amount: Arrow's and pandas' null markers, a broken thousands group,
#: what Arrow's decimal cast (but not medcalc) would read, signs.
NOT_AMOUNTS = [
    "N/A",
    "NaN",
    "nan",
    "null",
    "NULL",
    "#N/A",
    "NA",
    "None",
    "-",
    "1,5",
    "1,50,000",
    "1e3",
    "-5",
    "+5",
    "Infinity",
    "abc",
]
#: JSON values of the wrong kind for an amount.
NOT_JSON_AMOUNTS = [True, False, [1, 2], {"a": 1}]
#: The column giving 全自费, as a file may name it.
SELF_FUNDED_NAMES = ["self_funded", "全自费", "fulamt_ownpay_amt"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _rows(good_self_funded_name: str, bad: object) -> list[dict[str, object]]:
    """Three claims of three people: good, bad (全自费 = ``bad``), good."""
    rows = []
    for person, value in (("p1", "1500"), ("p2", bad), ("p3", "1500")):
        row = {**GOOD, "person_id": person}
        del row["self_funded"]
        row[good_self_funded_name] = value
        rows.append(row)
    return rows


def _write(path: Path, rows: list[dict[str, object]], *, encoding: str = "utf-8") -> Path:
    if path.suffix == ".csv":
        with open(path, "w", newline="", encoding=encoding) as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding=encoding)
    else:
        names = list(rows[0])
        pq.write_table(
            pa.table({n: pa.array([None if r[n] is None else str(r[n]) for r in rows], pa.string()) for n in names}),
            path,
        )
    return path


def _score(capsys, tmp_path: Path, source: Path, *extra: str) -> tuple[int, list[dict], list[dict], str]:
    out = tmp_path / "out.csv"
    code, stdout, err = run(capsys, "score", str(source), "--policy", POLICY, "-o", str(out), "--json", *extra)
    if code != 0:
        return code, [], [], err
    with open(out, newline="", encoding="utf-8-sig") as handle:
        settled = list(csv.DictReader(handle))
    with open(tmp_path / "out.rejects.csv", newline="", encoding="utf-8-sig") as handle:
        rejects = list(csv.DictReader(handle))
    summary = json.loads(stdout)
    assert summary["rows"] == summary["settled"] + summary["rejected"] == len(settled) + len(rejects)
    if source.suffix == ".csv":  # rows are a CSV file's lines (the header is line 1): counted here as data rows
        for row in (*settled, *rejects):
            row["row"] = str(int(row["row"]) - 1)
    return code, settled, rejects, err


def _assert_bad_row_rejected(settled, rejects, column: str, value: str) -> None:
    assert [r["row"] for r in settled] == ["1", "3"]
    assert [r["basic"] for r in settled] == [GOOD_BASIC, GOOD_BASIC]
    assert len(rejects) == 1
    assert (rejects[0]["row"], rejects[0]["field"]) == ("2", column)
    assert value in rejects[0]["reason"]


# ------------------------------------------------------------------ text that is not an amount


@pytest.mark.parametrize("suffix,extra", [(".csv", ()), (".csv", ("--stream",)), (".jsonl", ()), (".parquet", ())])
@pytest.mark.parametrize("name", SELF_FUNDED_NAMES)
@pytest.mark.parametrize("bad", NOT_AMOUNTS)
def test_score_refuses_text_that_is_not_an_amount(capsys, tmp_path, suffix, extra, name, bad):
    source = _write(tmp_path / f"claims{suffix}", _rows(name, bad))
    code, settled, rejects, err = _score(capsys, tmp_path, source, *extra)
    assert code == 0, err
    _assert_bad_row_rejected(settled, rejects, name, repr(bad))


@pytest.mark.parametrize("bad", NOT_AMOUNTS)
def test_settle_table_and_settle_refuse_text_that_is_not_an_amount(bad):
    rows = _rows("全自费", bad)
    table = pa.table({n: [r[n] for r in rows] for n in rows[0]})
    scored = settle_table(table, POLICY, amounts="fen")
    assert scored.rows == 3 == scored.results.num_rows + scored.rejects.num_rows
    assert scored.results.column("basic").to_pylist() == [1_448_000, 1_448_000]
    (reject,) = scored.reject_records()
    assert (reject.row, reject.field) == (1, "全自费") and repr(bad) in reject.reason
    with pytest.raises(ClaimError) as caught:
        medcalc.Claim.from_mapping(rows[1])
    assert (caught.value.field, caught.value.found) == ("全自费", bad)  # the column as the row names it


@pytest.mark.parametrize("bad", NOT_AMOUNTS)
def test_quote_refuses_text_that_is_not_an_amount(capsys, tmp_path, bad):
    code, out, err = run(
        capsys,
        "quote",
        "--policy",
        POLICY,
        "--date",
        "2020-06-01",
        "--level",
        "level2",
        "--total",
        "20000",
        "--self-funded",
        bad,
    )
    assert (code, out) == (2, "")
    assert err.startswith("medcalc: error: --self-funded: ") and repr(bad) in err and err.count("\n") == 1


@pytest.mark.parametrize("bad", NOT_JSON_AMOUNTS)
def test_json_values_of_the_wrong_kind_are_refused(capsys, tmp_path, bad):
    source = _write(tmp_path / "claims.jsonl", _rows("fulamt_ownpay_amt", bad))
    code, settled, rejects, err = _score(capsys, tmp_path, source)
    assert code == 0, err
    _assert_bad_row_rejected(settled, rejects, "fulamt_ownpay_amt", json.dumps(bad))
    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps({**GOOD, "self_funded": bad}), encoding="utf-8")
    code, out, err = run(capsys, "quote", "--policy", POLICY, "--claim", str(claim))
    assert code == 2 and err.startswith("medcalc: error: self_funded: ")
    with pytest.raises(ClaimError, match="^self_funded: "):
        medcalc.Claim(**{**GOOD, "self_funded": bad})


def test_reconcile_refuses_a_paid_cell_that_is_not_an_amount(capsys, tmp_path):
    source = tmp_path / "extract.csv"
    source.write_text(
        "claim_id,psn_no,setl_time,level,medfee_sumamt,fulamt_ownpay_amt,hifp_pay\n"
        "a,p1,2020-06-01,level2,20000,1500,14480\nb,p2,2020-06-01,level2,20000,1500,N/A\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, "reconcile", str(source), "--policy", POLICY, "--json")
    report = json.loads(out)
    assert code == 3  # a row could not be compared: not every row matched (EXIT_DIFFERENCES)
    assert (report["rows"], report["matched"], report["rejected"]) == (2, 1, 1)
    assert report["rejects"][0]["row"] == 3 and report["rejects"][0]["field"] == "hifp_pay"  # (line 3)
    assert "'N/A'" in report["rejects"][0]["reason"]


# ------------------------------------------------------------------ empty means "not given"


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_an_empty_in_scope_cell_is_derived_from_the_parts_on_every_path(capsys, tmp_path, suffix):
    rows = [{**GOOD, "person_id": p, "in_scope": empty} for p, empty in (("p1", ""), ("p2", None), ("p3", "  "))]
    if suffix == ".csv":
        rows = [{**r, "in_scope": r["in_scope"] or ""} for r in rows]
    code, settled, rejects, err = _score(capsys, tmp_path, _write(tmp_path / f"claims{suffix}", rows))
    assert (code, rejects) == (0, [])
    assert [(r["in_scope"], r["basic"]) for r in settled] == [("18500.00", GOOD_BASIC)] * 3
    table = pa.table(
        {
            "in_scope": pa.array(["", None, " "], pa.string()),
            **{k: [v] * 3 for k, v in GOOD.items() if k != "person_id"},
            "person_id": ["p1", "p2", "p3"],
        }
    )
    scored = settle_table(table, POLICY, amounts="fen")
    assert scored.results.column("in_scope").to_pylist() == [1_850_000] * 3
    assert scored.results.column("basic").to_pylist() == [1_448_000] * 3
    for empty in ("", "  ", None):
        claim = medcalc.Claim(**GOOD, in_scope=empty)
        assert (str(claim.in_scope_cost), str(medcalc.settle(POLICY, claim).basic)) == ("18500.00", GOOD_BASIC)


def test_an_empty_required_amount_is_refused_not_zero():
    table = pa.table(
        {
            **{k: [v] * 2 for k, v in GOOD.items() if k != "total"},
            "person_id": ["p1", "p2"],
            "medfee_sumamt": ["20000", " "],
        }
    )
    scored = settle_table(table, POLICY, amounts="fen")
    assert scored.results.column("row").to_pylist() == [0]
    assert [(r.row, r.field) for r in scored.reject_records()] == [(1, "medfee_sumamt")]


# ------------------------------------------------------------------ accepted amount text


@pytest.mark.parametrize(
    "text,fen",
    [
        ("15,000", 1_500_000),
        ("1,500,000.50", 150_000_050),
        ("1.5万", 1_500_000),
        ("15000元", 1_500_000),
        (" 15000 ", 1_500_000),
        ("15000.5", 1_500_050),
    ],
)
def test_accepted_amount_text_is_the_same_on_every_path(text, fen):
    assert int(medcalc.Claim(**{**GOOD, "total": text, "self_funded": "0"}).total) == fen
    table = pa.table({**{k: [v] for k, v in GOOD.items()}, "total": [text], "self_funded": ["0"]})
    assert settle_table(table, POLICY, amounts="fen").results.column("total").to_pylist() == [fen]


def test_json_numbers_are_exact_decimals_on_every_path(capsys, tmp_path):
    rows = [{**GOOD, "person_id": "p1", "total": Decimal("20000.5")}, {**GOOD, "person_id": "p2", "total": 2e4}]
    source = tmp_path / "claims.jsonl"
    source.write_text("".join(json.dumps({**r, "total": float(r["total"])}) + "\n" for r in rows), encoding="utf-8")
    code, settled, rejects, err = _score(capsys, tmp_path, source)
    assert (code, rejects) == (0, [])
    assert [r["total"] for r in settled] == ["20000.50", "20000.00"]
    claim = tmp_path / "claim.json"
    claim.write_text(
        '{"settled_on": "2020-06-01", "level": "level2", "total": 20000.5, "self_funded": 1500}', encoding="utf-8"
    )
    code, out, err = run(capsys, "quote", "--policy", POLICY, "--claim", str(claim), "--json")
    assert code == 0, err
    assert json.loads(out)["total"] == "20000.50"
    toml = tmp_path / "claim.toml"
    toml.write_text('settled_on = "2020-06-01"\nlevel = "level2"\ntotal = 20000.5\n', encoding="utf-8")
    code, out, err = run(capsys, "quote", "--policy", POLICY, "--claim", str(toml), "--json")
    assert code == 0 and json.loads(out)["total"] == "20000.50"
    # more than fen is refused, not rounded
    source.write_text(json.dumps({**GOOD, "total": 20000.001}) + "\n", encoding="utf-8")
    code, settled, rejects, err = _score(capsys, tmp_path, source)
    assert settled == [] and [(r["row"], r["field"]) for r in rejects] == [("1", "total")]


# ------------------------------------------------------------------ the claim API


@pytest.mark.parametrize(
    "fields,field",
    [
        ({**GOOD, "total": Decimal("NaN")}, "total"),
        ({**GOOD, "total": Decimal("sNaN")}, "total"),
        ({**GOOD, "total": Decimal("Infinity")}, "total"),
        ({**GOOD, "self_funded": Decimal("-Infinity")}, "self_funded"),
        ({k: v for k, v in GOOD.items() if k != "total"}, "total"),
        ({k: v for k, v in GOOD.items() if k != "person_id"}, "person_id"),
        ({k: v for k, v in GOOD.items() if k != "settled_on"}, "settled_on"),
        ({}, "person_id"),
    ],
)
def test_claim_refuses_with_a_claim_error(fields, field):
    with pytest.raises(ClaimError) as caught:
        medcalc.Claim(**fields)
    assert caught.value.field == field


# ------------------------------------------------------------------ files that cannot be read


def _utf8_rows() -> list[dict[str, object]]:
    return [
        {"psn_no": "张三", "setl_time": "2020-06-01", "level": "level2", "医疗费总额": "20000", "全自费": "1500"},
        {"psn_no": "李四", "setl_time": "2020-06-01", "level": "level2", "医疗费总额": "20000", "全自费": "N/A"},
    ]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
@pytest.mark.parametrize(
    "encoding,extra",
    [
        ("utf-8", ()),
        ("utf-8-sig", ()),
        ("gb18030", ()),
        ("gbk", ()),
        ("gbk", ("--encoding", "gbk")),
        ("utf-16", ("--encoding", "utf-16")),
    ],
)
def test_text_files_in_utf8_or_gb18030_are_read_alike(capsys, tmp_path, suffix, encoding, extra):
    source = _write(tmp_path / f"claims{suffix}", _utf8_rows(), encoding=encoding)
    code, settled, rejects, err = _score(capsys, tmp_path, source, *extra)
    assert code == 0, err
    assert [(r["psn_no"], r["basic"]) for r in settled] == [("张三", GOOD_BASIC)]
    assert [(r["row"], r["field"]) for r in rejects] == [("2", "全自费")] and "'N/A'" in rejects[0]["reason"]


@pytest.mark.parametrize(
    "content,suffix,extra",
    [
        (b"a,b\n\xff\xfe\x00\x81\n", ".csv", ()),  # neither UTF-8 nor GB18030
        (b"\x80\x80\x80\n", ".jsonl", ()),
        ("psn_no\n张三\n".encode("gbk"), ".csv", ("--encoding", "utf-8")),  # not the encoding given
        ('{"psn_no": "张三"}\n'.encode("gbk"), ".jsonl", ("--encoding", "utf-8")),
        (b"person_id\np1\n", ".csv", ("--encoding", "no-such-codec")),
        (b"", ".parquet", ()),  # 0 bytes
        (b"PAR1 this is not parquet", ".parquet", ()),  # garbage
        (None, ".parquet", ()),  # truncated: made below
    ],
)
def test_unreadable_files_exit_2(capsys, tmp_path, content, suffix, extra):
    source = tmp_path / f"claims{suffix}"
    if content is None:
        whole = _write(tmp_path / "whole.parquet", [{**GOOD, "person_id": f"p{i}"} for i in range(100)])
        content = whole.read_bytes()[:-40]
    source.write_bytes(content)
    code, out, err = run(capsys, "score", str(source), "--policy", POLICY, "-o", str(tmp_path / "o.csv"), *extra)
    assert (code, out) == (2, "")
    assert err.startswith("medcalc: error: ") and err.count("\n") == 1 and "internal" not in err


def test_non_utf8_binary_ids_reject_their_row(capsys, tmp_path):
    table = pa.table(
        {
            "psn_no": pa.array([b"p1", b"\xff\xfe", b"p3"], pa.binary()),
            **{k: [v] * 3 for k, v in GOOD.items() if k != "person_id"},
        }
    )
    source = tmp_path / "claims.parquet"
    pq.write_table(table, source)
    code, settled, rejects, err = _score(capsys, tmp_path, source)
    assert code == 0, err
    assert [(r["psn_no"], r["basic"]) for r in settled] == [("p1", GOOD_BASIC), ("p3", GOOD_BASIC)]
    assert [(r["row"], r["field"]) for r in rejects] == [("2", "psn_no")] and r"\xff\xfe" in rejects[0]["reason"]
    assert rejects[0]["psn_no"] == r"\xff\xfe"  # the row's own cell, shown escaped
    scored = settle_table(table, POLICY, amounts="fen")
    assert scored.rows == 3 and [(r.row, r.field) for r in scored.reject_records()] == [(1, "psn_no")]


@pytest.mark.parametrize(
    "name,content,stdin,flag",
    [
        ("claim.json", json.dumps(GOOD).encode("utf-16"), None, "--claim"),  # neither UTF-8 nor GB18030
        ("claim.json", b'{"total": ', None, "--claim"),
        ("claim.json", b'{"total": NaN}', None, "--claim"),
        ("claim.toml", b"total = = 5", None, "--claim"),
        ("claim.toml", b"\xff\xfe total = 5", None, "--claim"),
        ("-", None, "{not json", "--claim"),
        ("history.json", b"[1, 2]", None, "--history"),
        ("history.json", b'{"a": 1}', None, "--history"),
    ],
)
def test_quote_with_an_unreadable_claim_or_history_exits_2(capsys, tmp_path, monkeypatch, name, content, stdin, flag):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8"))
        path = "-"
    else:
        path = str(tmp_path / name)
        Path(path).write_bytes(content)
    argv = ["quote", "--policy", POLICY, flag, path]
    if flag == "--history":
        argv += ["--date", "2020-06-01", "--level", "level2", "--total", "20000"]
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.startswith("medcalc: error: ") and err.count("\n") == 1 and "internal" not in err


def test_a_gb18030_claim_file_is_read(capsys, tmp_path):
    claim = tmp_path / "claim.json"
    claim.write_bytes(json.dumps({**GOOD, "person_id": "张三"}, ensure_ascii=False).encode("gb18030"))
    code, out, err = run(capsys, "quote", "--policy", POLICY, "--claim", str(claim), "--json")
    assert code == 0, err
    assert (json.loads(out)["person_id"], json.loads(out)["basic"]) == ("张三", GOOD_BASIC)


def test_policy_diff_claims_reads_gb18030_and_refuses_an_unknown_encoding(capsys, tmp_path):
    source = _write(tmp_path / "claims.csv", _utf8_rows(), encoding="gb18030")
    argv = ["policy", "diff", POLICY, POLICY, "--on", "2020-06-01", "--claims", str(source), "--json"]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    claims = json.loads(out)["claims"]
    assert (claims["rows"], claims["settled_both"]) == (2, 1)  # the N/A row is rejected, not settled as 0
    code, out, err = run(capsys, *argv, "--encoding", "gbk")
    assert code == 0 and json.loads(out)["claims"]["settled_both"] == 1
    code, out, err = run(capsys, *argv, "--encoding", "no-such-codec")
    assert code == 2 and "no-such-codec" in err


def test_impact_reads_gb18030_with_or_without_encoding(capsys, tmp_path):
    rows = [{**r, "全自费": "1500", "setl_time": "2025-06-01", "level": "level1"} for r in _utf8_rows()]
    source = _write(tmp_path / "claims.csv", rows, encoding="gb18030")
    for extra in ((), ("--encoding", "gb18030")):
        code, out, err = run(
            capsys,
            "impact",
            str(source),
            "--policy",
            "huaibei-2025",
            "--reform",
            "huaibei-level1-plus5",
            "--json-out",
            str(tmp_path / "i.json"),
            *extra,
        )
        assert code == 0, err
        report = json.loads((tmp_path / "i.json").read_text(encoding="utf-8"))
        assert report["groups"]["all"][0]["claims"] == 2
    code, out, err = run(
        capsys,
        "impact",
        str(source),
        "--policy",
        "huaibei-2025",
        "--reform",
        "huaibei-level1-plus5",
        "--encoding",
        "utf-8",
    )
    assert code == 2 and err.startswith("medcalc: error: ")


# ------------------------------------------------------------------ whole-number columns


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
@pytest.mark.parametrize("bad", ["abc", "65.5", "6 5"])
def test_an_age_that_is_not_a_whole_number_rejects_its_row_not_the_file(capsys, tmp_path, suffix, bad):
    rows = [
        {**GOOD, "person_id": "p1", "age": 65.0 if suffix == ".jsonl" else "65.0"},  # a JSON number, read exactly
        {**GOOD, "person_id": "p2", "age": bad},
        {**GOOD, "person_id": "p3", "age": None},
    ]
    code, settled, rejects, err = _score(capsys, tmp_path, _write(tmp_path / f"claims{suffix}", rows))
    assert code == 0, err
    assert [r["row"] for r in settled] == ["1", "3"]
    alone = medcalc.settle(POLICY, medcalc.Claim(**{**GOOD, "age": 65}), explain=False)
    assert settled[0]["basic"] == str(alone.basic)
    assert [(r["row"], r["field"]) for r in rejects] == [("2", "age")]
    assert repr(bad) in rejects[0]["reason"]
