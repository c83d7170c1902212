"""Random cells and random bytes through every reader (issue 26): never a crash, never money from a
cell that is not an amount, rows in = settled + rejected.

The oracle for an amount cell is an independent reader written here (Fractions, no Decimal, no
regex shared with medcalc): a cell is an amount exactly when it is digits with at most two
decimals (or up to six before 万), whole groups of three where commas separate thousands, an
optional 万 and/or 元, spaces around, within 1000万 yuan. A row whose cells the oracle reads
settles to exactly that total, or is rejected by a check of the policy; a row with a cell the
oracle refuses is rejected, naming that column. Random bytes, as a file of each format, make
``score`` exit 0 (rows in = settled + rejected) or 2, never 1 and never a crash.
"""

from __future__ import annotations

import csv
import json
import string
from fractions import Fraction
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from medcalc.batch.tables import settle_table
from medcalc.cli import main
from tests.conftest import examples

POLICY = "jiujiang-residents"
MAX_FEN = 10**9


def oracle_fen(cell: str | None) -> int | None:
    """The fen a text cell means, or None if it is no amount (see the module docstring); an empty
    cell is "not given" (-1 here)."""
    if cell is None or not cell.strip():  # (white space as str.isspace() has it, U+3000 too)
        return -1
    text = cell.strip()
    if len(cell) > 40:
        return None
    wan = False
    if text.endswith("元"):
        text = text[:-1].rstrip()
    if text.endswith("万"):
        wan, text = True, text[:-1].rstrip()
    whole, _, decimals = text.partition(".")
    if "." in text and (not decimals or not whole):
        return None
    if not decimals.isascii() or (decimals and not decimals.isdigit()):
        return None
    if "," in whole:
        groups = whole.split(",")
        if not (1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])):
            return None
        whole = "".join(groups)
    if not whole.isascii() or not whole.isdigit():
        return None
    value = Fraction(int(whole + decimals), 10 ** len(decimals)) * (10_000 if wan else 1) * 100
    if value.denominator != 1 or value > MAX_FEN:
        return None
    return int(value)


#: Amount-like cells: the forms an amount takes, and the near misses a sheet holds.
_DIGITS = st.text("0123456789", min_size=1, max_size=12)
amount_cells = st.one_of(
    st.integers(0, 10**8).map(str),
    st.builds(lambda a, b: f"{a}.{b}", _DIGITS, st.text("0123456789", min_size=1, max_size=4)),
    st.builds(
        lambda a, u: f"{a}{u}",
        st.decimals(0, 2000, places=3, allow_nan=False).map(str),
        st.sampled_from(["万", "元", "万元", " 元", ""]),
    ),
    st.integers(0, 10**9).map(lambda n: f"{n:,}"),
    st.text("0123456789,.-+eE万元 ", max_size=45),
    st.sampled_from(
        [
            "N/A",
            "NaN",
            "-",
            "1e3",
            "1,5",
            "Infinity",
            "",
            " ",
            "0x10",
            "١٢٣",
            "１２３",
            "12 000",
            "680564733841876926926749214863541422912",
            "0." + "0" * 60 + "1",
            "12000.0000000000000000000000009",
        ]
    ),
    st.text(max_size=12),
)


@pytest.mark.slow
@settings(max_examples=examples(3))
@given(totals=st.lists(amount_cells, min_size=1, max_size=6), funded=st.lists(amount_cells, min_size=1, max_size=6))
def test_a_cell_becomes_money_only_if_it_is_an_amount(totals, funded):
    n = len(totals)
    funded = (funded * n)[:n]
    table = pa.table(
        {
            "person_id": [f"p{i}" for i in range(n)],
            "settled_on": ["2020-06-01"] * n,
            "level": ["level2"] * n,
            "total": pa.array(totals, pa.string()),
            "全自费": pa.array(funded, pa.string()),
        }
    )
    scored = settle_table(table, POLICY)
    assert scored.rows == n == scored.results.num_rows + scored.rejects.num_rows
    settled = dict(zip(scored.results.column("row").to_pylist(), scored.results.column("total").to_pylist()))
    rejected = {r.row: r for r in scored.reject_records()}
    for i, (total, part) in enumerate(zip(totals, funded)):
        want_total, want_part = oracle_fen(total), oracle_fen(part)
        if want_total is None or want_total < 0 or want_part is None:
            assert i in rejected, (total, part)  # a cell that is no amount never settles
            if want_total is None:
                assert rejected[i].field == "total" and rejected[i].reason
            elif want_total < 0:
                assert rejected[i].field == "total" and rejected[i].reason.startswith("required")
            else:
                assert rejected[i].field in ("total", "全自费")
        elif i in settled:
            assert settled[i] == want_total  # the money is exactly what the cell says
        else:
            assert rejected[i].reason  # refused by a claim check (全自费 above the total …), with a reason


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet", ".xlsx"])
@settings(max_examples=examples(0.4))
@given(data=st.binary(max_size=400))
def test_random_bytes_exit_0_or_2_never_a_crash(tmp_path, capsys, suffix, data):
    path = tmp_path / f"claims{suffix}"
    path.write_bytes(data)
    code = main(["score", str(path), "--policy", POLICY, "-o", str(tmp_path / "out.csv"), "--json"])
    out, err = capsys.readouterr()
    assert code in (0, 2), err
    if code == 0:
        summary = json.loads(out)
        assert summary["rows"] == summary["settled"] + summary["rejected"]
    else:
        assert err.startswith("medcalc: error: ") and "internal" not in err


_CELL_TEXT = st.text(string.printable + "万元年月日中文姓名，。", max_size=20)


@settings(max_examples=examples(0.6))
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {
                "person_id": _CELL_TEXT,
                "settled_on": st.one_of(_CELL_TEXT, st.dates().map(str)),
                "level": st.sampled_from(["level1", "level2", "三级", "", "x"]),
                "total": amount_cells,
                "retired": st.sampled_from(["", "0", "1", "是", "否", "7", "-1", "true"]),
                "age": _CELL_TEXT,
                "备注": _CELL_TEXT,
            }
        ),
        min_size=1,
        max_size=8,
    ),
    suffix=st.sampled_from([".csv", ".jsonl"]),
)
def test_random_cells_in_files_keep_every_row(tmp_path, capsys, rows, suffix):
    path = Path(tmp_path) / f"claims{suffix}"
    if suffix == ".csv":
        assume(
            all("\r" not in v and "\n" not in v for r in rows for v in r.values())
        )  # (Arrow reads no newline in a cell)
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    code = main(["score", str(path), "--policy", POLICY, "-o", str(tmp_path / "out.csv"), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out)
    assert summary["rows"] == len(rows) == summary["settled"] + summary["rejected"]
    with open(tmp_path / "out.csv", encoding="utf-8-sig", newline="") as handle:
        for written in csv.DictReader(handle):
            source = rows[int(written["row"]) - 1]
            assert oracle_fen(source["total"]) not in (None, -1)  # settled rows had an amount for a total
