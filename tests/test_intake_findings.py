"""The boundary's findings (issue 26), each reproduced: no cell that is not an amount becomes money,
no tiny input crashes medcalc, and a claims file never makes it open a path.

Each test feeds the finding's own value through the ways claims come in (CSV, JSON lines, Parquet,
frames, ``quote --claim``, the web API) and asserts the row is rejected naming the column, the value
and the reason, the good rows beside it settle to their own figure, and bad files exit 2. The
findings that crashed the process run in a subprocess, which must end by itself, with exit 0 or 2.
"""

from __future__ import annotations

import csv
import json
import subprocess
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
from medcalc.money import AmountError, parse_amount

POLICY = "jiujiang-residents"
GOOD = {"person_id": "p1", "settled_on": "2020-06-01", "level": "level2", "total": "20000", "self_funded": "1500"}
GOOD_BASIC = 1_448_000  # fen: a 20 000 yuan level-2 admission with 1 500 yuan 全自费

#: 2^129: read modulo 2^128 as 2^128 + 500 000 000 fen … was 5 000 000.00 yuan (the finding's value).
WRAPS_TO_FIVE_MILLION = "680564733841876926926749214863541422912"


def _table_with(column: str, value: object, kind: pa.DataType | None = None) -> pa.Table:
    """Three claims of three people; the second's ``column`` is ``value``."""
    rows = [dict(GOOD, person_id=p) for p in ("p1", "p2", "p3")]
    columns = {name: [r[name] for r in rows] for name in rows[0]}
    columns.setdefault(column, [None, None, None])
    values = list(columns[column])
    values[1] = value
    arrays = {name: pa.array(v) for name, v in columns.items() if name != column}
    arrays[column] = pa.array(values, kind) if kind is not None else pa.array(values)
    return pa.table(arrays)


def _only_second_rejected(scored, column: str) -> str:
    assert scored.rows == 3 == scored.results.num_rows + scored.rejects.num_rows
    assert scored.results.column("row").to_pylist() == [0, 2]
    assert scored.results.column("basic").to_pylist() == [GOOD_BASIC, GOOD_BASIC]
    (reject,) = scored.reject_records()
    assert (reject.row, reject.field) == (1, column)
    return reject.reason


# ------------------------------------------------------------------ silent wrong money


@pytest.mark.parametrize(
    "column,value",
    [
        ("total", WRAPS_TO_FIVE_MILLION),
        ("self_funded", str(2**128)),
        ("total", "9" * 20),
        ("self_funded", "92233720368547758.08"),
        ("total", "1" + "0" * 38 + ".00"),
    ],
)
def test_long_digit_amounts_are_refused_not_wrapped(value, column):
    reason = _only_second_rejected(settle_table(_table_with(column, value), POLICY), column)
    assert (
        "10000000.00 yuan (1000万)" in reason or "longer than 40 characters" in reason
    ) and "(got '0.00')" not in reason


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_long_digit_amounts_are_refused_in_every_file_format(capsys, tmp_path, suffix):
    rows = [dict(GOOD, person_id="p1"), dict(GOOD, person_id="p2", total=WRAPS_TO_FIVE_MILLION)]
    path = tmp_path / f"claims{suffix}"
    if suffix == ".csv":
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(GOOD))
            writer.writeheader()
            writer.writerows(rows)
    elif suffix == ".jsonl":  # the total as a JSON number, as a platform's export writes it
        path.write_text(
            "\n".join(json.dumps(r).replace(f'"{WRAPS_TO_FIVE_MILLION}"', WRAPS_TO_FIVE_MILLION) for r in rows) + "\n"
        )
    else:
        pq.write_table(pa.table({n: [r[n] for r in rows] for n in GOOD}), path)
    out = tmp_path / "out.csv"
    assert main(["score", str(path), "--policy", POLICY, "-o", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["settled"], summary["rejected"]) == (1, 1)
    assert summary["totals"]["total"] == "20000.00"  # never 5 000 000.00 beside it


@pytest.mark.parametrize("number", ["1e128", "1E+200", "1e5000", "1e-999999999", "12000.0000000000000000000000009"])
def test_json_numbers_beyond_an_amount_are_refused(capsys, tmp_path, number):
    path = tmp_path / "claims.jsonl"
    good = json.dumps(GOOD)
    bad = json.dumps(dict(GOOD, person_id="p2")).replace('"self_funded": "1500"', f'"self_funded": {number}')
    path.write_text(good + "\n" + bad + "\n")
    out = tmp_path / "out.csv"
    assert main(["score", str(path), "--policy", POLICY, "-o", str(out)]) == 0
    capsys.readouterr()
    with open(tmp_path / "out.rejects.csv", encoding="utf-8-sig", newline="") as handle:
        (reject,) = list(csv.DictReader(handle))
    assert (reject["row"], reject["field"]) == ("2", "self_funded")


@pytest.mark.parametrize(
    "value",
    [
        "12000.0000000000000000000000009",
        Decimal("12000.0000000000000000000000009"),
        Decimal("1e-999999999"),
        Decimal("1e5000"),
        Decimal("-1e-30"),
    ],
)
def test_amounts_finer_or_larger_than_decimals_default_context_are_refused(value):
    """Decimal's own arithmetic rounds to 28 digits: an amount is read with integer arithmetic."""
    with pytest.raises(AmountError):
        parse_amount(value)
    with pytest.raises(ClaimError, match="^self_funded: "):
        medcalc.Claim(person_id="p", settled_on="2020-06-01", level="level2", total="20000", self_funded=value)


def test_parse_amount_keeps_what_it_read_before():
    assert [parse_amount(v) for v in ("150", "1.5万", "12,000.50", "15000.500", "0.000001万", " 150 元 ")] == [
        15000,
        1500000,
        1200050,
        1500050,
        1,
        15000,
    ]
    assert parse_amount(Decimal("1.50E+2")) == 15000 and parse_amount(Decimal("-0")) == 0


@pytest.mark.parametrize("kind", [pa.int64(), pa.int32()])
@pytest.mark.parametrize(
    "column,amounts,good", [("total", "yuan", 20000), ("medfee_sumamt", None, 20000), ("total", "fen", 2_000_000)]
)
def test_the_most_negative_integer_is_refused_not_read_as_zero(kind, column, amounts, good):
    """-2^63 has no absolute value in int64: it was read as 0 yuan."""
    low = -(2**63) if kind == pa.int64() else -(2**31)
    table = pa.table(
        {
            "person_id": ["p1", "p2", "p3"],
            "settled_on": ["2020-06-01"] * 3,
            "level": ["level2"] * 3,
            "self_funded": ["1500"] * 3,
            column: pa.array([good, low, good], kind),
        }
    )
    reason = _only_second_rejected(settle_table(table, POLICY, amounts=amounts), column)
    assert "must not be negative" in reason


def test_unsigned_integers_past_int64_are_refused():
    table = (
        _table_with("total", None)
        .drop_columns(["total"])
        .append_column("medfee_sumamt", pa.array([20000, 2**64 - 1, 20000], pa.uint64()))
    )
    reason = _only_second_rejected(settle_table(table, POLICY), "medfee_sumamt")
    assert reason.endswith("(got '18446744073709551615')")


@pytest.mark.parametrize(
    "value,kind",
    [
        (Decimal("1e40"), pa.decimal256(60, 2)),
        (Decimal("0.001"), pa.decimal256(50, 3)),
        (Decimal("2E+20"), pa.decimal256(40, 0)),
    ],
)
def test_decimal256_columns_are_read_exactly(value, kind):
    table = (
        _table_with("total", None)
        .drop_columns(["total"])
        .append_column("total", pa.array([Decimal("20000"), value, Decimal("20000")], kind))
    )
    _only_second_rejected(settle_table(table, POLICY), "total")
    good = (
        _table_with("total", None)
        .drop_columns(["total"])
        .append_column("total", pa.array([Decimal("20000")] * 3, pa.decimal256(60, 2)))
    )
    assert settle_table(good, POLICY).results.column("basic").to_pylist() == [GOOD_BASIC] * 3


@pytest.mark.parametrize("value", ["7", "-1", "2", "maybe", 7, -1, 2])
def test_retired_other_than_yes_or_no_is_refused(value):
    kind = pa.int64() if isinstance(value, int) else pa.string()
    table = _table_with("retired", value, kind)
    if isinstance(value, int):
        table = table.set_column(table.column_names.index("retired"), "retired", pa.array([0, value, 1], kind))
    reason = _only_second_rejected(settle_table(table, POLICY), "retired")
    assert reason.startswith("must be true or false") and repr(str(value)) in reason
    with pytest.raises(ClaimError, match="^retired: "):
        medcalc.Claim(person_id="p", settled_on="2020-06-01", level="level2", total="20000", retired=value)


@pytest.mark.parametrize("word,retired", [("是", True), ("否", False), ("TRUE", True), (" 1 ", True), ("0", False)])
def test_retired_words_read_the_same_in_a_table_and_a_claim(word, retired):
    table = _table_with("retired", word)
    assert settle_table(table, POLICY).rejects.num_rows == 0
    assert (
        medcalc.Claim(person_id="p", settled_on="2020-06-01", level="level2", total="1", retired=word).retired
        is retired
    )


# ------------------------------------------------------------------ dates no policy is in force on


@pytest.mark.parametrize(
    "value,kind",
    [("0000-01-01", pa.string()), (2**31 - 1, pa.date32()), (-(2**31), pa.date32()), ("10000-01-01", pa.string())],
)
def test_days_outside_the_calendar_are_refused(value, kind):
    table = _table_with("settled_on", None).drop_columns(["settled_on"])
    good = "2020-06-01" if kind == pa.string() else (18414)  # 2020-06-01 as days since 1970
    table = table.append_column("settled_on", pa.array([good, value, good], kind))
    reason = _only_second_rejected(settle_table(table, POLICY), "settled_on")
    assert reason.startswith(("a date between 0001-01-01 and 9999-12-31", "a date such as"))


# ------------------------------------------------------------------ bad input exits 2


def _claim_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "claim.json"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "text",
    [
        '{"person_id":"p","settled_on":"2020-06-01","level":"level2","total":1e5000}',
        '{"person_id":"p","settled_on":"2020-06-01","level":"level2","total":"20000","self_funded":1e-999999999}',
        "[" * 100_000 + "]" * 100_000,
        '{"person_id":"p","settled_on":"2020-06-01","level":"level2","total":' + "9" * 5000 + "}",
    ],
)
def test_quote_claim_files_that_are_no_claim_exit_2(capsys, tmp_path, text):
    code = main(["quote", "--policy", POLICY, "--claim", _claim_file(tmp_path, text)])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "") and err.startswith("medcalc: error: ") and err.count("\n") == 1


def test_an_encoding_that_is_no_text_encoding_exits_2(capsys, tmp_path):
    path = tmp_path / "claims.csv"
    path.write_text("person_id,settled_on,level,total\np1,2020-06-01,level2,20000\n")
    for encoding in ("rot13", "hex", "base64", "no-such-codec"):
        code = main(["score", str(path), "--policy", POLICY, "-o", str(tmp_path / "o.csv"), "--encoding", encoding])
        err = capsys.readouterr().err
        assert code == 2 and f"--encoding {encoding!r} is not a known text encoding" in err


def _run(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "medcalc.cli", *argv], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_tiny_files_that_crashed_the_process_are_rejected_rows(tmp_path):
    """A 104-byte JSON line (exit 139 before) and a CSV cell of 4 million zeros: rejects, exit 0."""
    line = '{"person_id":"p1","settled_on":"2020-06-01","level":"level2","total":"20000","self_funded":1e-999999999}'
    (tmp_path / "tiny.jsonl").write_text(line + "\n")
    (tmp_path / "zeros.csv").write_text(
        "person_id,settled_on,level,total\np1,2020-06-01,level2,0."
        + "0" * 4_000_000
        + "1\np2,2020-06-01,level2,20000\n"
    )
    for name, settled in (("tiny.jsonl", 0), ("zeros.csv", 1)):
        done = _run("score", name, "--policy", POLICY, "-o", f"{name}.out.csv", "--json", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert (summary["rows"], summary["settled"], summary["rejected"]) == (1 + settled, settled, 1)


# ------------------------------------------------------------------ a policy named in a file is an id


def test_a_policy_cell_is_an_id_never_a_path(tmp_path, monkeypatch):
    """A shipped policy copied elsewhere would settle if loaded: named by its path in a claims file,
    it is refused without being read (the registry is asked for ids only)."""
    from medcalc.policy import registry

    source = registry.policy_files([registry.shipped_root()])[POLICY]
    copy = tmp_path / "elsewhere.toml"
    copy.write_bytes(source.read_bytes())
    opened: list[Path] = []
    real = registry._load_cached
    monkeypatch.setattr(registry, "_load_cached", lambda path, *a: opened.append(Path(path)) or real(path, *a))
    table = pa.table(
        {
            "person_id": ["p1", "p2", "p3"],
            "settled_on": ["2020-06-01"] * 3,
            "level": ["level2"] * 3,
            "total": ["20000"] * 3,
            "policy": [POLICY, str(copy), "/etc/passwd"],
        }
    )
    scored = settle_table(table)
    assert scored.results.column("row").to_pylist() == [0]
    reasons = {r.row: r.reason for r in scored.reject_records()}
    assert set(reasons) == {1, 2} and all("never by a file path" in r for r in reasons.values())
    assert "parse" not in reasons[2] and "line" not in reasons[2]  # /etc/passwd was never parsed
    assert all(path.resolve().is_relative_to(registry.shipped_root().resolve()) for path in opened)


# ------------------------------------------------------------------ the web API reads by the same rules


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from medcalc.serve.app import create_app

    with TestClient(create_app(), base_url="http://127.0.0.1", raise_server_exceptions=False) as test_client:
        yield test_client


def test_score_upload_refuses_long_digits_as_the_cli_does(client):
    body = (
        "person_id,settled_on,level,total,self_funded\n"
        f"p1,2020-06-01,level2,20000,1500\np2,2020-06-01,level2,{WRAPS_TO_FIVE_MILLION},0\n"
    )
    answer = client.post("/score", params={"policy": POLICY}, content=body.encode())
    assert answer.status_code == 200
    data = answer.json()
    assert (data["settled"], data["rejected"]) == (1, 1) and data["totals"]["total"] == "20000.00"
    assert "1000万" in data["rejects"][0]["reason"]


@pytest.mark.parametrize(
    "body",
    [
        '{"policy":"jiujiang-residents","claim":{"person_id":"p","settled_on":"2020-06-01","level":"level2","total":1e5000}}',
        '{"policy":"jiujiang-residents","claim":{"person_id":"p","settled_on":"2020-06-01","level":"level2","total":"20000",'
        '"self_funded":1e-999999999}}',
        "[" * 100_000 + "]" * 100_000,
    ],
)
def test_quote_requests_that_are_no_claim_answer_422(client, body):
    answer = client.post("/quote", content=body.encode(), headers={"content-type": "application/json"})
    assert answer.status_code == 422 and answer.json()["status"] == 422
    assert client.get("/policies").status_code == 200  # and the worker is still there


def test_float_ids_of_a_frame_reject_their_rows():
    """A frame's float64 person ids (pandas' state of an id column with a gap) cannot hold 18 digits."""
    table = pa.table(
        {
            "person_id": pa.array([340601199001011234.0, 2.0]),
            "settled_on": ["2020-06-01"] * 2,
            "level": ["level2"] * 2,
            "total": ["20000"] * 2,
        }
    )
    scored = settle_table(table, POLICY)
    assert scored.results.num_rows == 0 and {r.field for r in scored.reject_records()} == {"person_id"}
    assert all("store the column as text" in r.reason for r in scored.reject_records())


def test_claim_files_are_bounded_and_toml_nesting_is_bad_input(capsys, tmp_path):
    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    big = tmp_path / "big.json"
    big.write_bytes(b" " * ((16 << 20) + 1))
    for path, words in ((deep, "nested too deeply"), (big, "over 16 MiB")):
        assert main(["quote", "--policy", POLICY, "--claim", str(path)]) == 2
        assert words in capsys.readouterr().err
