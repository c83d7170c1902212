"""Scoring on Dask vs one process: synthetic claims in Parquet, a local cluster on this machine.

The claims of ``benchmarks/synthetic.py`` (``synthetic_table(rows, yuan=True)``: decimal yuan,
persons with 1–10 claims, rows not sorted by person) are written as several Parquet files of
several row groups. Then:

1. one process: read the files (``pyarrow.parquet.read_table``) and ``settle_table`` them;
2. a local cluster of ``--workers`` worker processes (one thread each): the whole job, twice,
   ``score_dask`` with every partition scored into worker memory (``persist``); peak memory of
   each worker process (its maximum resident set, VmHWM);
3. the same cluster restarted, the phases one by one, each persisted before the next starts:
   reading, reading + row numbers + the shuffle by person, and scoring the shuffled partitions
   (rows per second of each partition's scoring task, from the task stream).

From the measured per-worker rates it prints the expected time on N machines (formula printed).
Prints figures; asserts only that the results of 1 and 2 agree row for row.
Usage: python benchmarks/bench_dask.py [--rows N] [--workers W] [--files F] [--policy ID]
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))


def peak_mb() -> float:
    """This process's peak resident memory, MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--files", type=int, default=8, help="Parquet files the claims are written as")
    parser.add_argument("--policy", default="huaibei-2025")
    parser.add_argument("--bandwidth", type=float, default=1.0, help="GB/s per machine assumed for the estimate")
    args = parser.parse_args()

    import dask
    import pyarrow.parquet as pq
    from distributed import Client, LocalCluster, get_task_stream, wait
    from synthetic import synthetic_table

    import medcalc
    import medcalc.batch.dask as mdask

    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
        folder = Path(tmp) / "claims"
        folder.mkdir()
        start = time.perf_counter()
        table = synthetic_table(args.rows, yuan=True)
        step = -(-args.rows // args.files)
        for i in range(args.files):
            pq.write_table(table.slice(i * step, step), folder / f"part.{i:03d}.parquet", row_group_size=1 << 18)
        size = sum(p.stat().st_size for p in folder.iterdir())
        del table
        print(
            f"{args.rows:,} rows, {args.files} Parquet files, {size / 1e6:.0f} MB, written in "
            f"{time.perf_counter() - start:.1f} s; policy {args.policy}; machine: {_cores()} cores"
        )

        # 1. one process
        start = time.perf_counter()
        claims = pq.read_table(folder)
        read_s = time.perf_counter() - start
        one = medcalc.settle_table(claims, args.policy, amounts="fen")
        one_s = time.perf_counter() - start
        in_memory = claims.nbytes
        del claims
        print(
            f"\none process: {one_s:.1f} s ({read_s:.1f} s reading, {one_s - read_s:.1f} s scoring), "
            f"{args.rows / one_s:,.0f} rows/s; claims in memory {in_memory / 1e6:,.0f} MB; peak memory of this "
            f"process {peak_mb():,.0f} MB (generating the claims included: bench_scale.py measures scoring alone)"
        )

        with (
            LocalCluster(
                n_workers=args.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as client,
        ):
            # 2. the whole job, on fresh workers (modules imported and the policy loaded: as one process had them)
            client.run(_warm, args.policy)
            runs = []
            for _ in range(2):  # twice: the first run also pays for the workers' first allocations
                start = time.perf_counter()
                frame = mdask.read_claims(folder)
                scored = mdask.score_dask(frame, args.policy, amounts="fen")
                parts = dask.persist(*scored.parts)
                wait(list(parts))
                runs.append(time.perf_counter() - start)
                if len(runs) == 1:
                    _agree(parts, one)
                del parts
            total_s = min(runs)
            peaks = client.run(_process_peak_mb)
            print(
                f"\ndask, {args.workers} workers × 1 thread, {frame.npartitions} partitions: "
                f"{' s, '.join(f'{r:.1f}' for r in runs)} s; best {args.rows / total_s:,.0f} rows/s "
                f"({one_s / total_s:.2f}× one process)"
            )
            print("  peak memory per worker: " + ", ".join(f"{mb:,.0f} MB" for mb in peaks.values()))
            del scored, one

            # 3. phase by phase, each persisted
            client.restart()
            client.run(_warm, args.policy)
            start = time.perf_counter()
            frame = mdask.read_claims(folder).persist()
            wait(frame)
            phase_read = time.perf_counter() - start
            start = time.perf_counter()  # the same steps as score_dask, one by one
            shuffled = mdask._by_person(
                mdask.read_claims(folder), "person_id", first_row=0, npartitions=None, shuffle_method="tasks"
            ).persist()
            wait(shuffled)
            phase_shuffle = time.perf_counter() - start
            del frame
            empty = mdask._settle(mdask._arrow(shuffled._meta.iloc[:, :-1]), medcalc.load_policy(args.policy), "fen")
            schemas = (empty.results.schema, empty.rejects.schema)
            start = time.perf_counter()
            with get_task_stream() as stream:
                scored_parts = dask.persist(*mdask._scoring(shuffled, args.policy, "fen", schemas))
                wait(list(scored_parts))
            phase_score = time.perf_counter() - start
            rows_of = client.compute([dask.delayed(lambda s: s.rows)(p) for p in scored_parts], sync=True)
            rates = [n / s for n, s in _rows_and_seconds(stream.data, scored_parts, rows_of)]
            shuffle_only = max(phase_shuffle - phase_read, 1e-3)
            print(f"\nphases, each persisted ({args.workers} workers):")
            print(f"  read:                          {phase_read:6.1f} s")
            print(
                f"  read + row numbers + shuffle:  {phase_shuffle:6.1f} s  (the shuffle itself ≈ {shuffle_only:.1f} s)"
            )
            print(f"  scoring the shuffled parts:    {phase_score:6.1f} s")
            print(
                f"  the shuffle's share of read + shuffle + scoring: "
                f"{shuffle_only / (phase_shuffle + phase_score):.0%}; "
                f"of the whole job above: {shuffle_only / total_s:.0%}"
            )
            print(
                f"  scoring per partition ({len(rates)} partitions of {min(rows_of):,}–{max(rows_of):,} rows): "
                f"{np.median(rates):,.0f} rows/s median ({min(rates):,.0f}–{max(rates):,.0f}) on one core"
            )

        # the estimate: every phase scales with workers; the shuffle also crosses the network
        w = args.workers
        r_read = args.rows / (phase_read * w)
        r_shuffle = args.rows / (shuffle_only * w)
        r_score = float(np.median(rates))
        per_row = 1 / r_read + 1 / r_shuffle + 1 / r_score
        print(
            f"\nexpected time on N machines of C cores (one worker per core), from per-worker rates measured here:"
            f"\n  T(N) = rows / (N·C) × (1/r_read + 1/r_shuffle + 1/r_score) + (1 − 1/N) × bytes / (N × B)"
            f"\n  r_read = {r_read:,.0f}, r_shuffle = {r_shuffle:,.0f}, r_score = {r_score:,.0f} rows/s per worker; "
            f"bytes = {in_memory / 1e9:.2f} GB (claims in memory), B = {args.bandwidth:g} GB/s per machine (assumed)"
        )
        for machines in (1, 2, 4, 8, 16):
            for cores in (2, 16):
                compute = args.rows / (machines * cores) * per_row
                network = (1 - 1 / machines) * in_memory / 1e9 / (machines * args.bandwidth)
                print(
                    f"  N = {machines:2d}, C = {cores:2d}: {compute + network:7.1f} s "
                    f"({compute:.1f} s compute + {network:.1f} s network)"
                )


def _warm(policy: str) -> None:
    """On a worker: import what scoring imports and load the policy, so timings start warm."""
    import dask.dataframe  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import medcalc.batch.dask

    medcalc.batch.dask._policy(policy)


def _process_peak_mb() -> float:
    """Peak resident memory of this process since it started, MB (VmHWM: getrusage would count the parent's too)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


def _compute_seconds(task: dict) -> float:
    return sum(s["stop"] - s["start"] for s in task["startstops"] if s["action"] == "compute")


def _rows_and_seconds(stream: list[dict], parts, rows_of: list[int]):
    """(rows, compute seconds) of each partition's scoring task, matched by key."""
    keys = {p.key: n for p, n in zip(parts, rows_of)}
    for task in stream:
        if task["key"] in keys:
            yield keys[task["key"]], _compute_seconds(task)


def _agree(parts, one) -> None:
    """The cluster's results equal the one process's, row for row, every column; every row once."""
    import dask
    import pyarrow as pa

    tables = dask.compute(*parts)
    results = pa.concat_tables([t.results for t in tables]).sort_by("row")
    rejects = pa.concat_tables([t.rejects for t in tables]).sort_by("row")
    assert results.num_rows + rejects.num_rows == one.rows
    for got, want in ((results, one.results), (rejects, one.rejects)):
        for name in want.column_names:
            column = want.column(name)
            if pa.types.is_dictionary(column.type):
                column = column.cast(column.type.value_type)
            assert got.column(name).equals(column.cast(got.column(name).type)), name
    print(
        f"  results agree with one process: {results.num_rows:,} settled + {rejects.num_rows:,} rejected, every column"
    )


if __name__ == "__main__":
    main()
