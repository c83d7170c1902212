"""One rule for units: integer amounts under the national or Chinese names are yuan; under
medcalc's names their unit must be stated (amounts="fen" | "yuan", --amounts fen|yuan)."""

from __future__ import annotations

import pickle
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import medcalc
from medcalc.analysis.impact import fund_impact
from medcalc.analysis.reconcile import reconcile
from medcalc.batch.stream import settle_batches
from medcalc.batch.tables import settle_table
from medcalc.cli import main
from medcalc.errors import MedcalcError, UnitNotStated

POLICY = "jiujiang-residents"


def _claims(amounts: dict) -> dict:
    return {
        "person_id": ["p1", "p2"],
        "settled_on": pa.array(["2020-06-01", "2020-06-02"]).cast(pa.date32()),
        "level": ["level2", "level3"],
        **amounts,
    }


def _one_claim(total_yuan: str, self_funded_yuan: str = "0"):
    claim = medcalc.Claim(
        person_id="p", settled_on="2020-06-01", level="level2", total=total_yuan, self_funded=self_funded_yuan
    )
    return medcalc.settle(POLICY, claim, explain=False)


@pytest.mark.parametrize("make", [pa.table, pd.DataFrame], ids=["arrow", "pandas"])
def test_national_and_chinese_integer_columns_are_yuan_without_amounts(make):
    expected = _one_claim("20000", "1500")
    for total, self_funded in (("medfee_sumamt", "fulamt_ownpay_amt"), ("医疗费总额", "全自费金额")):
        table = make(
            {
                "psn_no": ["p"],
                "setl_time": ["2020-06-01"],
                "level": ["level2"],
                total: pa.array([20000], pa.int64()) if make is pa.table else [20000],
                self_funded: pa.array([1500], pa.int64()) if make is pa.table else [1500],
            }
        )
        for amounts in (None, "fen", "yuan"):  # whatever amounts says of medcalc-named columns
            r = settle_table(table, POLICY, amounts=amounts).results
            assert r.column("total").to_pylist() == [2_000_000]  # 20000 yuan, in fen
            assert r.column("basic").to_pylist() == [int(expected.basic)]
            assert r.column("patient").to_pylist() == [int(expected.patient)]
        assert settle_table(table, POLICY).results.column("total").to_pylist() == [2_000_000]


@pytest.mark.parametrize("make", [pa.table, pd.DataFrame], ids=["arrow", "pandas"])
def test_an_integer_medcalc_column_without_a_unit_is_refused_naming_it_and_both_options(make):
    table = make(_claims({"total": [2_000_000, 1_000_000]}))
    with pytest.raises(UnitNotStated) as caught:
        settle_table(table, POLICY)
    message = str(caught.value)
    assert "'total'" in message and 'amounts="fen"' in message and 'amounts="yuan"' in message
    assert isinstance(caught.value, MedcalcError) and isinstance(caught.value, ValueError)
    assert caught.value.column == "total"
    assert pickle.loads(pickle.dumps(caught.value)).column == "total"
    # a second integer column is named when it is the one without a unit
    mixed = make(_claims({"total": ["20000", "10000"], "self_funded": [0, 0]}))
    with pytest.raises(UnitNotStated, match="'self_funded'"):
        settle_table(mixed, POLICY)
    for call in (
        lambda t: list(settle_batches([t], POLICY)),
        lambda t: fund_impact(t, "huaibei-2025", "huaibei-level1-plus5"),
        lambda t: reconcile(t, POLICY),
    ):
        with pytest.raises(UnitNotStated, match="'total'"):
            call(pa.table(_claims({"total": pa.array([2_000_000, 1_000_000]), "basic": ["0", "0"]})))


def test_fen_and_yuan_differ_by_exactly_a_hundred_times():
    table = pa.table(
        _claims({"total": pa.array([20_000, 10_000], pa.int64()), "self_funded": pa.array([1_500, 0], pa.int64())})
    )
    fen = settle_table(table, POLICY, amounts="fen").results
    yuan = settle_table(table, POLICY, amounts="yuan").results
    assert fen.column("total").to_pylist() == [20_000, 10_000]
    assert yuan.column("total").to_pylist() == [2_000_000, 1_000_000]
    for field in ("total", "in_scope"):
        assert [y for y in yuan.column(field).to_pylist()] == [100 * f for f in fen.column(field).to_pylist()]
    # what yuan settles is what the single-claim API settles for those yuan
    assert yuan.column("basic").to_pylist()[0] == int(_one_claim("20000", "1500").basic)
    assert fen.column("basic").to_pylist()[0] == int(_one_claim("200", "15").basic)


def test_decimal_and_text_columns_stay_yuan_whatever_amounts_says():
    decimal = pa.table(_claims({"total": pa.array([Decimal("20000.00"), Decimal("10000")], pa.decimal128(12, 2))}))
    text = pa.table(_claims({"total": ["2万", "10000"]}))
    expected = [2_000_000, 1_000_000]
    for table in (decimal, text):
        for amounts in (None, "fen", "yuan"):
            assert settle_table(table, POLICY, amounts=amounts).results.column("total").to_pylist() == expected


def test_amounts_must_be_fen_yuan_or_none():
    with pytest.raises(ValueError, match="'fen' or 'yuan'"):
        settle_table(pa.table(_claims({"total": ["1", "2"]})), POLICY, amounts="jiao")


def test_reconcile_reads_national_paid_integers_as_yuan_and_medcalc_ones_in_the_stated_unit():
    base = _claims({"total": pa.array([20_000, 10_000], pa.int64())})
    paid = settle_table(pa.table(base), POLICY, amounts="yuan").results.column("basic").to_pylist()
    in_yuan = [p // 100 for p in paid]
    assert all(p % 100 == 0 for p in paid)  # whole yuan here, so integers can say them
    national = pa.table(
        {
            **_claims({"medfee_sumamt": pa.array([20_000, 10_000], pa.int64())}),
            "hifp_pay": pa.array(in_yuan, pa.int64()),
        }
    )
    assert reconcile(national, POLICY).matched == 2  # no amounts needed: both are yuan
    ours = pa.table({**base, "basic": pa.array(paid, pa.int64())})
    with pytest.raises(UnitNotStated):
        reconcile(ours, POLICY)
    ours_yuan = pa.table({**base, "basic": pa.array(in_yuan, pa.int64())})
    assert reconcile(ours_yuan, POLICY, amounts="yuan").matched == 2


def test_cli_amounts_option_and_exit_2_without_it(tmp_path, capsys):
    path = tmp_path / "claims.parquet"
    pq.write_table(
        pa.table(
            {"claim_id": ["a", "b"], **_claims({"total": pa.array([20_000, 10_000], pa.int64())}), "basic": ["0", "0"]}
        ),
        path,
    )  # a paid column too, for reconcile
    for command in (
        ["score", str(path), "--policy", POLICY, "-o", str(tmp_path / "out.csv")],
        ["impact", str(path), "--policy", "huaibei-2025", "--reform", "huaibei-level1-plus5"],
        ["reconcile", str(path), "--policy", POLICY],
    ):
        assert main(command) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [
            "medcalc: error: column 'total' holds integer amounts of no stated unit: "
            "give --amounts fen or --amounts yuan"
        ]
    pq.write_table(pq.read_table(path).drop_columns(["basic"]), path.with_name("plain.parquet"))
    assert main(["reconcile", str(path), "--policy", POLICY, "--amounts", "fen"]) != 2  # stated: audited
    totals = {}
    for unit in ("fen", "yuan"):
        out = tmp_path / f"out-{unit}.csv"
        assert (
            main(["score", str(path.with_name("plain.parquet")), "--policy", POLICY, "--amounts", unit, "-o", str(out)])
            == 0
        )
        totals[unit] = pd.read_csv(out, dtype=str)["total"].tolist()
    capsys.readouterr()
    assert totals == {"fen": ["200.00", "100.00"], "yuan": ["20000.00", "10000.00"]}
    national = tmp_path / "national.parquet"
    pq.write_table(
        pa.table(
            {
                "setl_id": ["a"],
                "psn_no": ["p"],
                "setl_time": ["2020-06-01"],
                "level": ["level2"],
                "medfee_sumamt": pa.array([20_000], pa.int64()),
            }
        ),
        national,
    )
    out = tmp_path / "national.csv"
    assert main(["score", str(national), "--policy", POLICY, "-o", str(out)]) == 0  # yuan by definition
    assert pd.read_csv(out, dtype=str)["medfee_sumamt"].tolist() == ["20000.00"]  # (the sheet's own column, as settled)
    with pytest.raises(SystemExit) as exit_:
        main(["score", str(path), "--policy", POLICY, "--amounts", "jiao"])
    assert exit_.value.code == 2
