"""The benchmarks' claims: medcalc's synthetic population (medcalc.analysis.synthetic) for huaibei-2025.

Shape: see ``medcalc.analysis.synthetic`` (persons with 1–10 claims a year, levels weighted toward
primary care, log-normal costs up to 1,000,000 yuan, 5 % out of the province, 10 % of persons
in poverty categories, ties on dates, rows shuffled). Seeded: the same rows on every run.
Usage: python benchmarks/synthetic.py ROWS OUT.parquet [--seed N] [--policy ID]
"""

from __future__ import annotations

import argparse

from medcalc.analysis.synthetic import synthetic_claims

POLICY = "huaibei-2025"


def synthetic_table(rows: int, yuan: bool = False, seed: int = 2026, policy: str = POLICY, **shape):
    """``rows`` claims for ``policy`` as a pyarrow Table; amounts int64 fen, or decimal yuan with ``yuan``."""
    return synthetic_claims(policy, rows, seed=seed, yuan=yuan, **shape)


def main() -> None:
    import pyarrow.parquet as pq

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rows", type=int)
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--policy", default=POLICY)
    args = parser.parse_args()
    table = synthetic_table(args.rows, yuan=True, seed=args.seed, policy=args.policy)
    pq.write_table(table, args.out, row_group_size=1 << 20)
    print(f"wrote {table.num_rows:,} rows to {args.out}")


if __name__ == "__main__":
    main()
