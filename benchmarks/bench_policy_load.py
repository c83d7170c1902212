"""Loading time of a policy file against its number of rule versions (should grow linearly).

Prints figures; asserts nothing. Usage: python benchmarks/bench_policy_load.py [--sizes 2500,5000,10000,20000]
The per-version time staying flat as the size doubles is what linear means here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

HEADER = """[policy]
id = "bench-versions"
region = "测试市"
scheme = "residents"

[levels]
level1 = "一级"

[sources.bench]
title = "benchmark"
official = false

[[inpatient.deductible]]
since = 2000-01-01
amount = 200
source = "bench"
quote = "q"
verified = false
"""


def policy_text(versions: int) -> str:
    start = dt.date(2000, 1, 1)
    parts = [HEADER]
    for i in range(versions):
        day = start + dt.timedelta(days=i)
        parts.append(
            f'\n[[inpatient.ratio]]\nsince = {day}\nuntil = {day}\nratio = "{50 + i % 40}%"\n'
            'source = "bench"\nquote = "q"\nverified = false\n'
        )
    return "".join(parts)


def main() -> None:
    import medcalc
    from medcalc.policy.registry import clear_caches

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2500,5000,10000,20000")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            path = Path(tmp) / f"v{n}.toml"
            path.write_text(policy_text(n), encoding="utf-8")
            clear_caches()
            t = time.perf_counter()
            policy = medcalc.load_policy(path)
            spent = time.perf_counter() - t
            t = time.perf_counter()
            covers = policy.coverage(("inpatient.deductible", "inpatient.ratio"))
            spent_cov = time.perf_counter() - t
            print(
                f"{n:>7,} versions: load {spent:6.2f} s ({spent / n * 1e6:5.0f} µs/version), "
                f"coverage {spent_cov:5.2f} s ({len(covers)} span)"
            )


if __name__ == "__main__":
    main()
