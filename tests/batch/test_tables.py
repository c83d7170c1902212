"""The table API: inputs (Arrow, pandas, polars), amounts, policies per row, traces, streaming, files."""

from __future__ import annotations

import json
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import medcalc
from medcalc.batch.stream import UnsortedInput, settle_batches
from medcalc.batch.tables import settle_table
from medcalc.cli import main
from medcalc.errors import MedcalcError


def claims(**overrides) -> pa.Table:
    """Three admissions of two people on jiujiang-residents (2020), amounts in fen."""
    data = {
        "claim_id": ["a", "b", "c"],
        "person_id": ["p1", "p2", "p1"],
        "settled_on": pa.array(["2020-06-01", "2020-06-02", "2020-07-01"]).cast(pa.date32()),
        "level": ["level2", "level3", "level2"],
        "total": pa.array([2_000_000, 1_000_000, 500_000], pa.int64()),
        "self_funded": pa.array([150_000, 0, 0], pa.int64()),
    }
    data.update(overrides)
    return pa.table(data)


def quote(claim_id: str, person: str, day: str, level: str, total: str, self_funded: str = "0", history=()):
    claim = medcalc.Claim(
        person_id=person, claim_id=claim_id, settled_on=day, level=level, total=total, self_funded=self_funded
    )
    return medcalc.settle("jiujiang-residents", claim, history=list(history), explain=False), claim


def test_results_match_the_single_claim_api_and_keep_input_order():
    scored = settle_table(claims(), "jiujiang-residents", amounts="fen")
    first, claim_a = quote("a", "p1", "2020-06-01", "level2", "20000", "1500")
    second, _ = quote("b", "p2", "2020-06-02", "level3", "10000")
    third, _ = quote("c", "p1", "2020-07-01", "level2", "5000", history=[claim_a])
    r = scored.results
    assert r.column("row").to_pylist() == [0, 1, 2]
    assert r.column("claim_id").to_pylist() == ["a", "b", "c"]
    assert r.column("basic").to_pylist() == [int(first.basic), int(second.basic), int(third.basic)]
    assert r.column("patient").to_pylist() == [int(first.patient), int(second.patient), int(third.patient)]
    assert r.column("policy").to_pylist() == ["jiujiang-residents"] * 3
    assert scored.rejects.num_rows == 0


def test_amounts_as_decimal_yuan_text_or_integer_yuan_give_the_same_fen():
    fen = settle_table(claims(), "jiujiang-residents", amounts="fen").results
    decimal = claims(
        total=pa.array([Decimal("20000.00"), Decimal("10000"), Decimal("5000.00")], pa.decimal128(12, 2)),
        self_funded=pa.array([Decimal("1500.00"), Decimal(0), Decimal(0)], pa.decimal128(12, 2)),
    )
    text = claims(total=["2万", "10000元", "5,000.00"], self_funded=["1500", None, ""])
    whole_yuan = claims(total=pa.array([20000, 10000, 5000]), self_funded=pa.array([1500, 0, 0]))
    for table, amounts in ((decimal, "fen"), (text, "fen"), (whole_yuan, "yuan")):
        assert settle_table(table, "jiujiang-residents", amounts=amounts).results.equals(fen)


def test_bad_values_are_rejected_by_row_with_the_reason_and_never_dropped():
    table = claims(
        total=["20000", "abc", "5000.001"],
        level=["level2", "nowhere", "level2"],
        settled_on=["2020-06-01", "2020-06-02", "2020年7月1日"],
    )
    scored = settle_table(table, "jiujiang-residents", amounts="fen")
    assert scored.results.column("row").to_pylist() == [0]
    assert scored.rejects.column("row").to_pylist() == [1, 2]
    reasons = dict(zip(scored.rejects.column("row").to_pylist(), scored.rejects.column("reason").to_pylist()))
    assert reasons[1] == 'amount \'abc\' is not a number of yuan such as "150", "150元" or "1.5万" (got \'abc\')'
    assert reasons[2] == "amount '5000.001' has more precision than allowed (got '5000.001')"


def test_person_ids_of_any_kind_group_claims_and_a_missing_one_is_refused():
    # integer ids close-packed or far apart, text ids; a null or empty id is refused, not merged
    base = settle_table(claims(), "jiujiang-residents", chunk_rows=1, threads=2, amounts="fen").results
    for ids in ([7, 8, 7], [10**15, 3, 10**15], ["x", "y", "x"]):
        got = settle_table(claims(person_id=ids), "jiujiang-residents", chunk_rows=1, threads=2, amounts="fen").results
        assert got.column("basic").equals(base.column("basic"))
        assert got.column("person_id").to_pylist() == ids  # given back as given
        assert settle_table(claims(person_id=ids), "jiujiang-residents", chunk_rows=1, amounts="fen").persons == 2
    for missing in (pa.array([None, 2, None], pa.int64()), ["", "p2", None]):
        scored = settle_table(claims(person_id=missing), "jiujiang-residents", chunk_rows=1, amounts="fen")
        assert scored.results.column("row").to_pylist() == [1]
        assert scored.persons == 1  # only the settled rows' people
        assert scored.rejects.to_pydict() == {
            "row": [0, 2],
            "claim_id": ["a", "c"],
            "field": ["person_id"] * 2,
            "reason": ["required"] * 2,
        }


def test_float_amounts_and_unknown_columns_are_refused_with_a_clear_error():
    with pytest.raises(MedcalcError, match="floating-point"):
        settle_table(claims(total=pa.array([1.0, 2.0, 3.0])), "jiujiang-residents", amounts="fen")
    with pytest.raises(MedcalcError, match="column 'self_fundd' is not a claim field"):
        settle_table(
            claims().rename_columns(["claim_id", "person_id", "settled_on", "level", "total", "self_fundd"]),
            "jiujiang-residents",
            amounts="fen",
        )


def test_pandas_and_polars_frames_score_like_arrow():
    pandas = pytest.importorskip("pandas")
    polars = pytest.importorskip("polars")
    expected = settle_table(claims(), "jiujiang-residents", amounts="fen").results
    frame = claims().to_pandas()
    assert isinstance(frame, pandas.DataFrame)
    assert (
        settle_table(frame, "jiujiang-residents", amounts="fen")
        .results.column("basic")
        .equals(expected.column("basic"))
    )
    assert (
        settle_table(polars.from_arrow(claims()), "jiujiang-residents", amounts="fen")
        .results.column("basic")
        .equals(expected.column("basic"))
    )


def test_each_row_is_settled_on_its_policy_or_its_region_in_force_on_its_day():
    by_id = settle_table(claims(policy=["jiujiang-residents", "jiujiang-residents", "no-such-policy"]), amounts="fen")
    assert by_id.results.column("row").to_pylist() == [0, 1]
    assert by_id.rejects.column("field").to_pylist() == ["policy"]
    by_region = settle_table(claims(region=["九江", "九江", "九江"], scheme=["residents"] * 3), amounts="fen")
    assert by_region.results.column("basic").equals(
        settle_table(claims(), "jiujiang-residents", amounts="fen").results.column("basic")
    )
    with pytest.raises(MedcalcError, match="no policy given"):
        settle_table(claims(), amounts="fen")


def test_traced_rows_carry_the_explanation_of_the_single_claim_api():
    scored = settle_table(claims(), "jiujiang-residents", trace=[2], amounts="fen")
    _, claim_a = quote("a", "p1", "2020-06-01", "level2", "20000", "1500")
    claim_c = medcalc.Claim(person_id="p1", claim_id="c", settled_on="2020-07-01", level="level2", total="5000")
    expected = medcalc.settle("jiujiang-residents", claim_c, history=[claim_a])
    assert list(scored.traces) == [2]
    assert [(s.mechanism, s.amount) for s in scored.traces[2]] == [(s.mechanism, s.amount) for s in expected.steps]


def test_streamed_batches_equal_one_piece_and_unsorted_input_is_refused():
    table = claims().sort_by("person_id")
    one = settle_table(table, "jiujiang-residents", amounts="fen")
    parts = list(settle_batches(table.to_batches(max_chunksize=1), "jiujiang-residents", amounts="fen"))
    assert pa.concat_tables([p.results for p in parts]).equals(one.results)
    with pytest.raises(UnsortedInput, match="row 2: person 'p1' comes after 'p2'"):
        list(settle_batches(claims().to_batches(max_chunksize=1), "jiujiang-residents", amounts="fen"))


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_score_streams_a_sorted_parquet_file_and_refuses_an_unsorted_one(capsys, tmp_path):
    source = tmp_path / "claims.parquet"
    pq.write_table(
        claims(total=["20000", "10000", "5000"], self_funded=["1500", "0", "0"]).sort_by("person_id"), source
    )
    code, out, _ = run(
        capsys,
        "score",
        str(source),
        "--policy",
        "jiujiang-residents",
        "--stream",
        "--batch-rows",
        "1",
        "-o",
        str(tmp_path / "out.parquet"),
        "--json",
    )
    whole, _, _ = run(
        capsys, "score", str(source), "--policy", "jiujiang-residents", "-o", str(tmp_path / "one.parquet"), "--json"
    )
    assert code == whole == 0
    assert json.loads(out)["settled"] == 3
    assert pq.read_table(tmp_path / "out.parquet").equals(pq.read_table(tmp_path / "one.parquet"))

    unsorted = tmp_path / "unsorted.parquet"
    pq.write_table(claims(total=["20000", "10000", "5000"], self_funded=["0", "0", "0"]), unsorted)
    code, _, err = run(
        capsys,
        "score",
        str(unsorted),
        "--policy",
        "jiujiang-residents",
        "--stream",
        "--batch-rows",
        "1",
        "-o",
        str(tmp_path / "bad.csv"),
    )
    assert code == 2 and "must be sorted by person id" in err
    assert not (tmp_path / "bad.csv").exists() and not (tmp_path / "bad.rejects.csv").exists()


def test_score_without_a_policy_uses_the_policy_column(capsys, tmp_path):
    source = tmp_path / "claims.csv"
    source.write_text(
        "claim_id,person_id,settled_on,level,total,policy\n"
        "a,p1,2020-06-01,level2,20000,jiujiang-residents\n"
        "b,p2,2025-03-01,level1,8000,huaibei-2025\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "score", str(source), "-o", str(tmp_path / "out.csv"), "--json")
    summary = json.loads(out)
    assert code == 0 and summary["settled"] == 2
    assert summary["policy"] == "jiujiang-residents, huaibei-2025"


def test_an_empty_place_referral_or_category_cell_is_not_given_so_the_default(tmp_path):
    import pyarrow as pa

    rows = {
        "person_id": ["a", "b", "c", "d"],
        "settled_on": ["2021-06-01"] * 4,
        "level": ["level1"] * 4,
        "total": ["10000", "10000", "10000", "10000"],
    }
    given = pa.table(
        {
            **rows,
            "place": ["local", None, "", "local"],
            "referral": ["none", "none", None, " "],
            "category": [None, "ordinary", "", "ordinary"],
        }
    )
    plain = pa.table(rows)
    got, expected = (medcalc.settle_table(t, "luan-2021") for t in (given, plain))
    assert got.rejects.num_rows == 0
    assert got.results.column("basic").to_pylist() == expected.results.column("basic").to_pylist()
    # as a dictionary column (Parquet's way), nulls too
    coded = given.set_column(given.column_names.index("place"), "place", given.column("place").dictionary_encode())
    assert (
        medcalc.settle_table(coded, "luan-2021").results.column("basic").to_pylist()
        == expected.results.column("basic").to_pylist()
    )
