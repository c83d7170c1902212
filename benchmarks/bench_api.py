"""Timing figures for the Python API: import, one claim, and many claims through settle_many.

Prints figures; asserts nothing. Usage: python benchmarks/bench_api.py [--claims N] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time


def import_time(repeat: int) -> float:
    """Median wall time of a fresh `import medcalc`, in ms (interpreter start excluded)."""
    code = "import time; t = time.perf_counter(); import medcalc; print(time.perf_counter() - t)"
    runs = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(repeat)
    ]
    return statistics.median(runs) * 1000


def claims(n: int, seed: int = 7):
    import medcalc

    rng = random.Random(seed)
    levels = ["level1"] * 5 + ["level2"] * 3 + ["level3_city", "level3_province"]
    out = []
    for i in range(n):
        total = int(rng.lognormvariate(9, 1.1) * 100)
        out.append(
            medcalc.Claim(
                person_id=f"p{rng.randrange(n // 3 + 1)}",
                claim_id=f"c{i}",
                settled_on=f"2021-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                level=rng.choice(levels),
                total=medcalc.Fen(total),
                self_funded=medcalc.Fen(total // rng.randint(5, 40)),
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()

    import medcalc

    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"import medcalc: {import_time(7):.1f} ms (median of 7 fresh interpreters)")

    policy = medcalc.load_policy("luan-2021")
    sample = claims(args.repeat)
    for explain in (True, False):
        times = []
        for claim in sample:
            t = time.perf_counter()
            medcalc.settle(policy, claim, explain=explain)
            times.append(time.perf_counter() - t)
        print(
            f"settle one claim (explain={explain}): median {statistics.median(times) * 1e6:.0f} µs, "
            f"p95 {sorted(times)[int(len(times) * 0.95)] * 1e6:.0f} µs over {len(times)} claims"
        )

    many = claims(args.claims)
    t = time.perf_counter()
    batch = medcalc.settle_many(policy, many, explain=False)
    elapsed = time.perf_counter() - t
    print(
        f"settle_many on {len(many)} claim objects (explain=False): {elapsed:.2f} s, "
        f"{len(many) / elapsed:,.0f} claims/s, {len(batch.rejects)} rejects"
    )


if __name__ == "__main__":
    main()
