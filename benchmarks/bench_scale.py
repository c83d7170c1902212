"""Batch scoring at scale: medcalc against what an analyst writes today (DuckDB SQL, a Python loop).

For each size: writes the seeded synthetic claims (benchmarks/synthetic.py) to Parquet, then runs,
each in its own process so its peak memory is its own:

- ``medcalc``: read the Parquet file in one piece as ``medcalc score`` does, score it
  (``settle_table``), write results and rejects to Parquet; read, compute and write timed apart;
- ``medcalc --stream``: the same file sorted by person, scored record batch by record batch
  (``settle_batches``) in bounded memory;
- ``duckdb``: the same policy written by hand as DuckDB SQL with window functions
  (benchmarks/duckdb_huaibei.py), from the Parquet file;
- ``loop``: a plain Python loop over the rows (benchmarks/loop_huaibei.py), for sizes up to
  ``--loop-rows``.

Every run writes its per-row results; they are compared to the fen (deductible, basic, critical,
funds, patient, and which rows are rejected) and the figures are printed only if all agree.
Prints figures; asserts nothing else. The policy is huaibei-2025 (basic + 大病, as inherited from
anhui-2025), which the SQL and the loop hard-code.

Usage: python benchmarks/bench_scale.py --rows 1000000 10000000 [--loop-rows 1000000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FIELDS = ("deductible", "basic", "critical", "funds", "patient")
POLICY = "huaibei-2025"


def _peak_mb() -> float:
    """This process's peak resident memory. VmHWM, where Linux has it: ru_maxrss carries over the
    resident size of the parent at fork across exec, so a child would report its parent's."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- the runs (each in a child process)


def _load_kernels() -> float:
    """Seconds to import numba and load the compiled kernels (from the cache), on a small batch
    of the file's column types: timed apart, so that "compute" is the scoring alone."""
    import medcalc
    from medcalc.analysis.synthetic import synthetic_claims

    claims = synthetic_claims(POLICY, 30_000, seed=1, yuan=True)
    t = time.perf_counter()
    medcalc.settle_table(claims, POLICY, amounts="yuan", engine="compiled")
    return time.perf_counter() - t


def run_medcalc(source: str, out: str) -> dict:
    import medcalc
    from medcalc.batch.files import ResultWriter, read_batches
    from medcalc.cli.score import _whole_file

    policy = medcalc.load_policy(POLICY)
    load = _load_kernels()
    t0 = time.perf_counter()
    held = [_whole_file(read_batches(source))]  # as `medcalc score` reads a file in one piece
    rows = held[0].num_rows
    t1 = time.perf_counter()
    scored = medcalc.settle_table(held.pop(), policy, amounts="yuan")  # handed over, not kept here
    t2 = time.perf_counter()
    _write(ResultWriter, scored, out)
    t3 = time.perf_counter()
    return {"rows": rows, "kernel load": load, "read": t1 - t0, "compute": t2 - t1, "write": t3 - t2}


def _write(writer, scored, out: str) -> None:
    for table, path in ((scored.results, out), (scored.rejects, out.replace(".parquet", ".rejects.parquet"))):
        w = writer(path)
        w.write(table)
        w.close()


def run_stream(source: str, out: str) -> dict:
    import medcalc
    import medcalc.cli  # noqa: F401 - as `medcalc score --stream` runs: the allocator setting it makes
    from medcalc.batch.files import ResultWriter, read_batches

    policy = medcalc.load_policy(POLICY)
    load = _load_kernels()
    results, rejects = ResultWriter(out), ResultWriter(out.replace(".parquet", ".rejects.parquet"))
    times = {"read": 0.0, "compute": 0.0, "write": 0.0}
    rows = 0
    batches = read_batches(source, batch_rows=1 << 18)

    def timed_batches():
        while True:
            t = time.perf_counter()
            batch = next(batches, None)
            times["read"] += time.perf_counter() - t
            if batch is None:
                return
            yield batch

    parts = medcalc.settle_batches(timed_batches(), policy, amounts="yuan")
    while True:
        t = time.perf_counter()
        part = next(parts, None)  # includes the reads it pulls: subtracted below
        elapsed = time.perf_counter() - t
        if part is None:
            break
        t = time.perf_counter()
        results.write(part.results)
        rejects.write(part.rejects)
        times["write"] += time.perf_counter() - t
        times["compute"] += elapsed
        rows += part.rows
    times["compute"] -= times["read"]
    results.close()
    rejects.close()
    return {"rows": rows, "kernel load": load, **times}


def run_duckdb(source: str, out: str) -> dict:
    import pyarrow.parquet as pq

    sys.path.insert(0, str(HERE))
    from duckdb_huaibei import score_duckdb

    t0 = time.perf_counter()
    table = score_duckdb(source)
    t1 = time.perf_counter()
    pq.write_table(table, out)
    return {"rows": table.num_rows, "read+compute": t1 - t0, "write": time.perf_counter() - t1}


def run_loop(source: str, out: str) -> dict:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    sys.path.insert(0, str(HERE))
    from loop_huaibei import score_loop

    t0 = time.perf_counter()
    table = pq.read_table(source)
    columns = {}
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_decimal(column.type):  # yuan -> fen, exactly, as an analyst would with Decimal
            from medcalc.batch.cells import fen_from_decimal

            columns[name] = fen_from_decimal(column, name, [])
        else:
            columns[name] = column.to_numpy()
    t1 = time.perf_counter()
    result = score_loop(columns)
    t2 = time.perf_counter()
    pq.write_table(pa.table({k: np.asarray(v) for k, v in result.items()}), out)
    return {"rows": table.num_rows, "read": t1 - t0, "compute": t2 - t1, "write": time.perf_counter() - t2}


def run_startup(source: str, out: str) -> dict:
    """The first batch of a process: numba imported and the kernels compiled (an empty cache) or
    loaded from the cache, then 30 000 claims settled."""
    t0 = time.perf_counter()
    import medcalc
    from medcalc.analysis.synthetic import synthetic_claims

    claims = synthetic_claims(POLICY, 30_000, seed=1)
    t1 = time.perf_counter()
    medcalc.settle_table(claims, POLICY, engine="compiled", amounts="fen")
    return {"rows": claims.num_rows, "import": t1 - t0, "first batch": time.perf_counter() - t1}


RUNS = {"medcalc": run_medcalc, "stream": run_stream, "duckdb": run_duckdb, "loop": run_loop, "startup": run_startup}


def child(kind: str, source: str, out: str) -> None:
    figures = RUNS[kind](source, out)
    figures["peak_mb"] = _peak_mb()
    print(json.dumps(figures))


# ---------------------------------------------------------------- agreement


def per_claim(kind: str, out: str, source: str):
    """One run's output as an Arrow table (claim_id, rejected, FIELDS in fen), sorted by claim id."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if kind in ("medcalc", "stream", "score", "score-narrow"):
        results = pq.read_table(out, columns=["claim_id", *FIELDS])
        rejects = pq.read_table(out.replace(".parquet", ".rejects.parquet"), columns=["claim_id"])
        settled = {
            "claim_id": results.column("claim_id").cast(pa.string()),
            "rejected": pa.array(np.zeros(results.num_rows, bool)),
        }
        settled.update({f: pa.array(_fen(results.column(f))) for f in FIELDS})
        zeros = pa.array(np.zeros(rejects.num_rows, np.int64))
        refused = {
            "claim_id": rejects.column("claim_id").cast(pa.string()),
            "rejected": pa.array(np.ones(rejects.num_rows, bool)),
            **{f: zeros for f in FIELDS},
        }
        table = pa.concat_tables([pa.table(settled), pa.table(refused)])
    else:
        table = pq.read_table(out)
        if "claim_id" not in table.column_names:  # the loop's output is in input order
            table = table.append_column("claim_id", pq.read_table(source, columns=["claim_id"]).column("claim_id"))
        table = table.select(["claim_id", "rejected", *FIELDS]).cast(
            pa.schema([("claim_id", pa.string()), ("rejected", pa.bool_())] + [(f, pa.int64()) for f in FIELDS])
        )
        zero = pa.scalar(0, pa.int64())  # a rejected row's amounts are not compared
        table = pa.table(
            {
                "claim_id": table.column("claim_id"),
                "rejected": table.column("rejected"),
                **{f: pc.if_else(table.column("rejected"), zero, table.column(f)) for f in FIELDS},
            }
        )
    return table.sort_by("claim_id").combine_chunks()


def _fen(column):
    """Output amounts (decimal yuan) back to integer fen."""
    from medcalc.batch.cells import fen_from_decimal

    return fen_from_decimal(column, "amount", [])


def agree(outputs: dict[str, str], source: str) -> list[str]:
    """Disagreements between the runs' outputs (empty when every claim matches to the fen)."""
    base_kind = "medcalc"
    base = per_claim(base_kind, outputs[base_kind], source)
    problems = []
    for kind, out in outputs.items():
        if kind == base_kind:
            continue
        other = per_claim(kind, out, source)
        if other.num_rows != base.num_rows or not other.column("claim_id").equals(base.column("claim_id")):
            problems.append(f"{kind}: {other.num_rows} claims vs {base.num_rows}, or other claim ids")
            continue
        differ = np.zeros(base.num_rows, bool)
        for name in ("rejected", *FIELDS):
            differ |= base.column(name).to_numpy() != other.column(name).to_numpy()
        if differ.any():
            i = int(np.flatnonzero(differ)[0])
            row = lambda t, i=i: {k: v[0] for k, v in t.slice(i, 1).to_pydict().items()}  # noqa: E731
            problems.append(f"{kind}: {int(differ.sum())} claims differ, e.g. medcalc {row(base)} vs {row(other)}")
    return problems


# ---------------------------------------------------------------- driver


def prepare(rows: int, workdir: Path) -> tuple[Path, Path]:
    """The synthetic claims as Parquet, unsorted and sorted by person (generated once per size)."""
    unsorted, by_person = workdir / f"claims-{rows}.parquet", workdir / f"claims-{rows}-by-person.parquet"
    if not unsorted.exists():  # in a child: the runs are children too, and inherit their parent's peak memory
        subprocess.run([sys.executable, __file__, "--generate", str(rows), str(unsorted), str(by_person)], check=True)
    return unsorted, by_person


def generate(rows: int, unsorted: str, by_person: str) -> None:
    import pyarrow.parquet as pq

    sys.path.insert(0, str(HERE))
    from synthetic import synthetic_table

    table = synthetic_table(rows, yuan=True)
    pq.write_table(table, unsorted, row_group_size=1 << 18)
    pq.write_table(table.sort_by("person_id"), by_person, row_group_size=1 << 18)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--loop-rows", type=int, default=1_000_000, help="largest size the Python loop runs on")
    parser.add_argument("--workdir", help="where the claims and outputs go (default: a temporary directory)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--generate", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.generate:
        generate(int(args.generate[0]), *args.generate[1:])
        return

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="medcalc-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; policy {POLICY}; files in {workdir}")
    failed = False
    cache = tempfile.mkdtemp(prefix="medcalc-numba-cache-")  # empty: the first run compiles
    for label in ("first run, empty cache (compiles)", "second run, cached"):
        done = subprocess.run(
            [sys.executable, __file__, "--child", "startup", "-", "-"],
            capture_output=True,
            text=True,
            env={**os.environ, "NUMBA_CACHE_DIR": cache},
        )
        if done.returncode:
            print(f"startup failed:\n{done.stderr}")
            failed = True
            break
        f = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"  kernel start-up, {label}: first batch of {f['rows']:,} claims {f['first batch']:.2f} s")
    for rows in args.rows:
        unsorted, by_person = prepare(rows, workdir)
        kinds = ["medcalc", "stream", "duckdb", "score", "score-narrow"] + (["loop"] if rows <= args.loop_rows else [])
        figures, outputs, wall = {}, {}, {}
        for kind in kinds:
            source = by_person if kind == "stream" else unsorted
            out = str(workdir / f"out-{rows}-{kind}.parquet")
            command = [sys.executable, __file__, "--child", kind, str(source), out]
            if kind.startswith("score"):  # the command line, whole process: spawn to the output written
                # score: the sheet back (every input column beside the results, as a user gets by default);
                # score-narrow: --results-only, the results alone, as the DuckDB query writes them
                command = [
                    sys.executable,
                    "-c",
                    "import sys; from medcalc.cli import main; sys.exit(main())",
                    "score",
                    str(source),
                    "--policy",
                    POLICY,
                    "-o",
                    out,
                ] + (["--results-only"] if kind == "score-narrow" else [])
            t = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True)
            wall[kind] = time.perf_counter() - t
            if done.returncode:
                print(f"{kind} failed:\n{done.stderr}")
                failed = True
                continue
            outputs[kind] = out
            if not kind.startswith("score"):
                figures[kind] = json.loads(done.stdout.strip().splitlines()[-1])
        problems = agree(outputs, str(unsorted))
        print(
            f"\n{rows:,} rows: {', '.join(outputs)} agree to the fen on every claim"
            if not problems
            else f"\n{rows:,} rows: DISAGREE\n  " + "\n  ".join(problems)
        )
        if problems:
            failed = True
            continue
        for kind, f in figures.items():
            print("  " + _line(kind, rows, f))
        for kind, seconds in wall.items():
            print(f"  {kind:8} whole process (spawn to output written): {seconds:.2f} s")
        if "duckdb" in figures:
            mine = figures["medcalc"]["read"] + figures["medcalc"]["compute"]
            print(
                f"  medcalc compute / DuckDB read+compute: "
                f"{figures['medcalc']['compute'] / figures['duckdb']['read+compute']:.3f}; "
                f"medcalc read+compute vs DuckDB query: {figures['duckdb']['read+compute'] / mine:.2f}x as fast"
            )
            if "score" in wall:
                print(
                    f"  medcalc score / DuckDB, whole process: {wall['score'] / wall['duckdb']:.2f} (the sheet back); "
                    f"{wall['score-narrow'] / wall['duckdb']:.2f} (--results-only)"
                )
    sys.exit(1 if failed else 0)


def _line(kind: str, rows: int, f: dict) -> str:
    rate = {
        k: f"{k} {f[k]:.2f} s" + ("" if k == "kernel load" else f" ({rows / f[k]:,.0f} rows/s)")
        for k in f
        if k not in ("rows", "peak_mb") and f[k] > 0
    }
    return f"{kind:8} " + "; ".join(rate.values()) + f"; peak memory {f['peak_mb']:,.0f} MB"


if __name__ == "__main__":
    main()
