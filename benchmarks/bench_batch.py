"""Throughput of batch scoring over columns (medcalc.batch.columns.settle_arrays) on synthetic claims.

A seeded generator: persons with 1–10 claims a year, levels weighted toward primary care, a
long-tailed cost up to about 1,000,000 yuan, 10 % poverty categories, rows unsorted.
Prints figures; asserts nothing. Usage: python benchmarks/bench_batch.py [--rows N] [--policy ID]
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np


def synthetic(rows: int, levels: list[str], seed: int = 2026) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    per_person = rng.integers(1, 11, size=rows)  # 1–10 claims a year
    person = np.repeat(np.arange(len(per_person)), per_person)[:rows]
    weights = np.linspace(len(levels), 1, len(levels))
    level = rng.choice(np.array(levels), size=rows, p=weights / weights.sum())
    cost = np.minimum(np.exp(rng.normal(8.6, 1.2, size=rows)), 1_000_000)  # yuan, long-tailed
    total = (cost * 100).astype(np.int64)  # to fen once, at generation: the engine never sees a float
    self_funded = (total * rng.uniform(0, 0.15, size=rows)).astype(np.int64)
    days = np.datetime64("2025-01-01") + rng.integers(0, 365, size=rows)
    category = np.where(rng.random(rows) < 0.10, rng.choice(["dibao", "tekun", "poverty"], size=rows), "ordinary")
    order = rng.permutation(rows)  # unsorted input
    return {
        "person_id": person[order].astype(str),
        "settled_on": days[order],
        "level": level[order],
        "total": total[order],
        "self_funded": self_funded[order],
        "category": category[order],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--policy", default="huaibei-2025")
    args = parser.parse_args()

    import medcalc
    from medcalc.batch.columns import settle_arrays

    policy = medcalc.load_policy(args.policy)
    data = synthetic(args.rows, list(policy.levels))
    settle_arrays(policy, **{k: v[:1000] for k, v in data.items()})  # warm up
    start = time.perf_counter()
    result = settle_arrays(policy, **data)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"machine: {os.cpu_count()} cores; policy {policy.id}; {args.rows:,} rows")
    print(
        f"settle_arrays: {elapsed:.2f} s, {args.rows / elapsed:,.0f} claims/s; "
        f"{len(result):,} settled, {len(result.rejects):,} rejected; peak RSS {peak:,.0f} MB"
    )
    totals = {k: int(v.sum()) for k, v in result.columns.items()}
    print(
        "fund totals (yuan): "
        + ", ".join(
            f"{k} {medcalc.format_yuan(v)}"
            for k, v in totals.items()
            if k in ("basic", "critical", "assistance", "backstop")
        )
    )


if __name__ == "__main__":
    main()
