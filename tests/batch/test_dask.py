"""Scoring on a Dask cluster equals scoring on one machine, row for row, whatever the partitioning.

On a local cluster of two worker processes: random claims of people spread over partitions
(several claims each, same-day ties, same claim ids, invalid rows), shuffled by person or
declared partitioned by person, per-row policies, a worker killed mid-job, and the command line.
"""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import medcalc  # noqa: E402
import medcalc.batch.dask as mdask  # noqa: E402
from medcalc.batch.dask import read_claims, score_dask  # noqa: E402
from medcalc.cli import main  # noqa: E402

pd = pytest.importorskip("pandas")
# every test runs on a local cluster of two worker processes: 1–8 s each, about 20 s the module
pytestmark = pytest.mark.slow
POLICY = "huaibei-2025"  # levels level1 and level3_province, dates from 2025


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0", silence_logs=logging.ERROR
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def random_claims(rows: int = 3000, persons: int = 120, seed: int = 7) -> pa.Table:
    """Claims of ``persons`` people in input order unrelated to person; amounts as yuan text."""
    rng = np.random.default_rng(seed)
    person = np.char.add("P", rng.integers(0, persons, rows).astype(str)).astype(object)
    day = np.datetime64("2025-01-01") + (rng.integers(0, 40, rows) * 9).astype("timedelta64[D]")  # many same-day ties
    settled_on = day.astype(str).astype(object)
    level = rng.choice(["level1", "level1", "level3_province"], rows).astype(object)
    total = rng.integers(5_000, 8_000_000, rows)  # fen
    claim_id = np.char.add("C", rng.integers(0, 4, rows).astype(str)).astype(object)  # ties on day and id too
    category = rng.choice(["ordinary"] * 8 + ["dibao", "tekun"], rows).astype(object)
    total_text = np.array([f"{t // 100}.{t % 100:02d}" for t in total], dtype=object)
    self_funded = np.array([f"{t * s // 10000}" for t, s in zip(total, rng.integers(0, 15, rows))], dtype=object)
    bad = rng.choice(rows, 40, replace=False)  # invalid rows, rejected with a reason
    level[bad[:10]] = "level9"
    total_text[bad[10:20]] = "abc"
    settled_on[bad[20:30]] = None
    person[bad[30:35]] = None
    total_text[bad[35:]] = "-"
    return pa.table(
        {
            "claim_id": claim_id,
            "person_id": person,
            "settled_on": settled_on,
            "level": level,
            "total": total_text,
            "self_funded": self_funded,
            "category": category,
        }
    )


def frame(table: pa.Table, npartitions: int):
    return dd.from_pandas(table.to_pandas(types_mapper=pd.ArrowDtype), npartitions=npartitions, sort=False)


def assert_same(scored, expected) -> None:
    """Every column of results and rejects equal, row for row (policy, field, reason as text)."""
    results, rejects = scored.compute()
    got_r = pa.Table.from_pandas(results, preserve_index=False)
    got_j = pa.Table.from_pandas(rejects, preserve_index=False)
    assert got_r.num_rows + got_j.num_rows == expected.rows  # rows in = results + rejects
    for got, want in ((got_r, expected.results), (got_j, expected.rejects)):
        assert got.column_names == want.column_names
        for name in want.column_names:
            column = want.column(name)
            if pa.types.is_dictionary(column.type):
                column = column.cast(column.type.value_type)
            assert got.column(name).to_pylist() == column.to_pylist(), name
    rows = np.concatenate([results["row"].to_numpy(), rejects["row"].to_numpy()])
    assert np.array_equal(np.sort(rows), np.arange(expected.rows))  # every row exactly once


@pytest.mark.parametrize("npartitions, after", [(1, None), (3, None), (8, None), (5, 2), (2, 7)])
def test_results_equal_one_machine_for_any_partitioning(client, npartitions, after):
    table = random_claims()
    expected = medcalc.settle_table(table, POLICY, amounts="fen")
    assert expected.rejects.num_rows >= 40 and expected.results.num_rows > 2500
    assert_same(score_dask(frame(table, npartitions), POLICY, npartitions=after, amounts="fen"), expected)


@pytest.mark.parametrize("method", ["tasks", "p2p"])
def test_decimal_yuan_and_dictionary_columns_through_either_shuffle(client, method):
    table = random_claims(seed=17)
    amounts = [None if v in ("abc", "-") else v for v in table.column("total").to_pylist()]  # null: rejected
    table = table.set_column(4, "total", pa.array(amounts, pa.string()).cast(pa.decimal128(18, 2)))
    table = table.set_column(3, "level", table.column("level").dictionary_encode())
    assert_same(
        score_dask(frame(table, 4), POLICY, shuffle_method=method, amounts="fen"),
        medcalc.settle_table(table, POLICY, amounts="fen"),
    )


def test_a_partition_is_settled_in_input_order_whatever_order_its_rows_arrive_in():
    table = random_claims(seed=21)
    expected = medcalc.settle_table(table, POLICY, amounts="fen")
    rows = table.to_pandas(types_mapper=pd.ArrowDtype).assign(**{mdask.ROW_COLUMN: np.arange(table.num_rows)})
    empty = mdask._settle(mdask._arrow(rows.iloc[:0, :-1]), medcalc.load_policy(POLICY), "fen")
    part = mdask._score_part(rows.iloc[::-1], POLICY, "fen", (empty.results.schema, empty.rejects.schema))
    results = part.results.sort_by("row")  # in row order, the amounts depend on settlement order only
    for name in ("row", "deductible", "basic", "critical", "patient"):
        assert results.column(name).equals(expected.results.column(name)), name
    assert part.rejects.sort_by("row").column("row").equals(expected.rejects.column("row"))


def test_the_task_shuffle_too(client):
    table = random_claims(seed=11)
    assert_same(
        score_dask(frame(table, 4), POLICY, shuffle_method="tasks", amounts="fen"),
        medcalc.settle_table(table, POLICY, amounts="fen"),
    )


def test_input_partitioned_by_person_is_scored_without_a_shuffle(client):
    table = random_claims(seed=3)
    persons = table.column("person_id").to_pandas()
    key = persons.map(lambda p: hash(p) % 4 if p is not None else 0).to_numpy()
    order = np.argsort(key, kind="stable")  # the file as written by a job partitioned by person
    table = table.take(pa.array(order))
    frames = [
        table.take(pa.array(np.flatnonzero(key[order] == k))).to_pandas(types_mapper=pd.ArrowDtype) for k in range(4)
    ]
    claims = dd.from_map(lambda k: frames[k], range(4), meta=frames[0].iloc[:0])
    scored = score_dask(claims, POLICY, partitioned_by_person=True, amounts="fen")
    assert "shuffle" not in str(scored.results.dask.keys())
    assert_same(scored, medcalc.settle_table(table, POLICY, amounts="fen"))


def test_rows_choose_their_policy_and_the_policy_is_loaded_once_per_worker(client):
    table = random_claims(seed=5)
    rng = np.random.default_rng(5)
    policy = rng.choice([POLICY, POLICY, POLICY, "no-such-policy"], table.num_rows)
    table = table.append_column("policy", pa.array(policy))
    assert_same(score_dask(frame(table, 3), amounts="fen"), medcalc.settle_table(table, amounts="fen"))
    client.run(mdask._POLICIES.clear)
    assert_same(
        score_dask(frame(table.drop_columns(["policy"]), 3), POLICY, amounts="fen"),
        medcalc.settle_table(table.drop_columns(["policy"]), POLICY, amounts="fen"),
    )
    # the tasks carried the id; each worker process loaded the policy once and kept it
    assert all(ids == [POLICY] for ids in client.run(lambda: list(mdask._POLICIES)).values())


def test_persisted_scoring_is_read_by_both_frames(client):
    table = random_claims(rows=800, seed=19)
    scored = score_dask(frame(table, 3), POLICY, amounts="fen").persist()
    assert all(type(p).__name__ == "Delayed" for p in scored.parts)
    assert_same(scored, medcalc.settle_table(table, POLICY, amounts="fen"))
    assert len(scored.results) + len(scored.rejects) == 800


def _kill_on_first_scoring(marker: str) -> None:
    """On a worker: the first call to settle_table anywhere on the cluster kills its worker process."""
    real = mdask.settle_table

    def dying(*args, **kwargs):
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))  # once, across processes
        except FileExistsError:
            return real(*args, **kwargs)
        os._exit(1)  # the nanny starts a fresh worker (unpatched); the lost tasks run again

    mdask.settle_table = dying


@pytest.mark.parametrize("method", ["p2p", "tasks"])
def test_a_worker_killed_mid_job_still_gives_every_row_once(client, tmp_path, method):
    client.wait_for_workers(2)
    before = set(client.scheduler_info()["workers"])
    marker = tmp_path / "killed"
    client.run(_kill_on_first_scoring, str(marker))
    table = random_claims(seed=9)
    assert_same(
        score_dask(frame(table, 4), POLICY, shuffle_method=method, amounts="fen"),
        medcalc.settle_table(table, POLICY, amounts="fen"),
    )
    assert marker.exists()  # a worker did die, after the shuffle, while scoring
    client.wait_for_workers(2)
    assert set(client.scheduler_info()["workers"]) != before
    client.run(lambda: setattr(mdask, "settle_table", medcalc.settle_table))  # the survivor's patch


def test_score_cli_on_a_local_cluster_writes_the_same_rows_as_one_machine(capsys, tmp_path):
    source = tmp_path / "claims.csv"
    random_claims(rows=1500, seed=13).to_pandas().to_csv(source, index=False)
    # (--dask writes the results alone, as --results-only does on one machine)
    assert (
        main(
            ["score", str(source), "--policy", POLICY, "-o", str(tmp_path / "one.parquet"), "--json", "--results-only"]
        )
        == 0
    )
    one = json.loads(capsys.readouterr().out)
    out = tmp_path / "dask.parquet"
    code = main(
        ["score", str(source), "--policy", POLICY, "--dask", "local:2", "--partitions", "3", "-o", str(out), "--json"]
    )
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {k: v for k, v in summary.items() if k not in ("output", "rejects_file")} == {
        k: v for k, v in one.items() if k not in ("output", "rejects_file")
    }
    assert sorted(p.name for p in out.iterdir()) == ["part.00000.parquet", "part.00001.parquet", "part.00002.parquet"]
    assert pq.read_table(out).sort_by("row").equals(pq.read_table(tmp_path / "one.parquet"))
    rejects = pq.read_table(tmp_path / "dask.rejects.parquet").sort_by("row")
    assert rejects.equals(pq.read_table(tmp_path / "one.rejects.parquet"))
    assert rejects.num_rows + pq.read_table(out).num_rows == summary["rows"] == 1500

    assert main(["score", str(source), "--policy", POLICY, "--dask", "local:1", "-o", str(tmp_path / "x.csv")]) == 2
    assert "--dask writes directories of Parquet part files" in capsys.readouterr().err


def test_score_cli_on_a_local_cluster_finds_each_rows_region_in_policies_folders(capsys, tmp_path):
    from tests.cli.test_cli import own_policies

    # the workers choose each row's policy: they see --policies through the environment they inherit
    folder = own_policies(tmp_path / "mine")
    source = tmp_path / "claims.csv"
    source.write_text(
        "person_id,settled_on,level,total,region\n"
        "p1,2021-07-01,level1,10200,测试市\n"  # (10200 − 200) × 95 % = 9500
        "p2,2025-03-01,level1,1000,淮北\n",
        encoding="utf-8",
    )  # (1000 − 200) × 90 % = 720
    out = tmp_path / "dask.parquet"
    code = main(["score", str(source), "--policies", str(folder), "--dask", "local:1", "-o", str(out), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert (code, summary["settled"], summary["totals"]["basic"]) == (0, 2, "10220.00")
    assert pq.read_table(out).sort_by("row").column("policy").to_pylist() == ["test-city", "huaibei-2025"]
    assert "MEDCALC_POLICIES" not in os.environ


def test_without_dask_the_command_says_what_to_install(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(__import__("sys").modules, "distributed", None)
    source = tmp_path / "claims.csv"
    source.write_text("person_id,settled_on,level,total\np,2025-03-01,level1,100\n", encoding="utf-8")
    assert main(["score", str(source), "--policy", POLICY, "--dask", "local:1"]) == 2
    assert "pip install 'medcalc[dask]'" in capsys.readouterr().err


def test_read_claims_reads_csv_as_text_and_refuses_other_formats(tmp_path):
    source = tmp_path / "claims.csv"
    source.write_text("\ufeffperson_id,settled_on,level,total\np,2025/3/1,level1,1.5万\nq,,level1,\n", encoding="utf-8")
    claims = read_claims(source).compute()
    assert list(claims.columns) == ["person_id", "settled_on", "level", "total"]
    assert claims["total"].tolist()[0] == "1.5万" and pd.isna(claims["total"].tolist()[1])
    with pytest.raises(medcalc.MedcalcError, match="Parquet or CSV"):
        read_claims(tmp_path / "claims.jsonl")


def test_read_claims_takes_the_encoding_given_or_detects_it(tmp_path):
    text = "person_id,settled_on,level,total\n张三,2025-03-01,level1,1000\n"
    path = tmp_path / "gb.csv"
    path.write_bytes(text.encode("gb18030"))
    for encoding in (None, "gb18030"):
        assert read_claims(str(path), encoding=encoding).compute()["person_id"].tolist() == ["张三"]
    with pytest.raises(medcalc.MedcalcError, match="not a known text encoding"):
        read_claims(str(path), encoding="nope")
