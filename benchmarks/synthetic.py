"""A seeded generator of realistic synthetic inpatient claims, as a pyarrow Table.

Shape (documented so benchmark figures can be read against it):

- persons with 1–10 claims in the year (uniform), all in one calendar year;
- levels weighted toward primary care (weights n, n-1, …, 1 over the policy's levels in order);
- total cost log-normal (median about 5,400 yuan) with a long tail, capped at 1,000,000 yuan;
  全自费 0–15 % of it, 乙类先行自付 0–5 %;
- 5 % of claims out of the province (referred), 10 % of rows of people in poverty categories
  (特困, 低保, 返贫致贫 in equal parts), everyone else ordinary;
- claim ids unique, settlement dates with ties (a person often has two claims on one day);
- rows shuffled: the file is not sorted by person or date.

Amounts are integer fen from the start: no float money reaches the engine.
In a Parquet file amounts are decimal yuan, as in a settlement extract.
Usage: python benchmarks/synthetic.py ROWS OUT.parquet [--seed N] [--levels a,b]
"""

from __future__ import annotations

import argparse

import numpy as np

DEFAULT_LEVELS = ("level1", "level3_province")  # the levels huaibei-2025 (anhui-2025) declares


def synthetic_arrays(rows: int, levels=DEFAULT_LEVELS, seed: int = 2026, year: int = 2025,
                     shuffle: bool = True) -> dict[str, np.ndarray]:
    """The claims as numpy columns (medcalc's column names), ``rows`` of them."""
    rng = np.random.default_rng(seed)
    per_person = rng.integers(1, 11, size=rows // 5 + 1)  # 1–10 claims a year; ~5.5 on average
    person = np.repeat(np.arange(len(per_person), dtype=np.int64), per_person)[:rows]
    while len(person) < rows:  # only for tiny sizes
        person = np.concatenate([person, person[-1:] + 1])
    levels = np.array(list(levels))
    weights = np.arange(len(levels), 0, -1, dtype=float)
    level = levels[rng.choice(len(levels), size=rows, p=weights / weights.sum())]
    yuan = np.minimum(np.exp(rng.normal(8.6, 1.2, size=rows)), 1_000_000)
    total = (yuan * 100).astype(np.int64)  # fen, once, here
    self_funded = total * rng.integers(0, 16, size=rows) // 100
    pre_self_pay = total * rng.integers(0, 6, size=rows) // 100
    day = rng.integers(0, 365, size=rows)
    day = np.where(rng.random(rows) < 0.2, day // 7 * 7, day)  # cluster some dates: ties within a person
    settled_on = np.datetime64(f"{year}-01-01") + day.astype("timedelta64[D]")
    out_of_area = rng.random(rows) < 0.05
    place = np.where(out_of_area, "out_of_province", "local")
    referral = np.where(out_of_area, "referred", "none")
    poor_person = rng.random(len(per_person) + 1) < 0.10
    kind = np.array(["tekun", "dibao", "poverty"])[rng.integers(0, 3, size=len(per_person) + 1)]
    category = np.where(poor_person[person], kind[person], "ordinary")
    claim_id = np.char.add("C", np.char.zfill(np.arange(rows).astype(str), 9))
    cols = {"claim_id": claim_id, "person_id": person, "settled_on": settled_on, "level": level,
            "total": total, "self_funded": self_funded, "pre_self_pay": pre_self_pay,
            "place": place, "referral": referral, "category": category}
    if shuffle:
        order = rng.permutation(rows)
        cols = {k: v[order] for k, v in cols.items()}
    return cols


AMOUNTS = ("total", "self_funded", "pre_self_pay")


def synthetic_table(rows: int, yuan: bool = False, **options):
    """The same claims as a pyarrow Table (strings dictionary-encoded as Parquet stores them).

    Amounts are int64 fen, or with ``yuan`` decimal128(18, 2) yuan, as a settlement extract has them.
    """
    import pyarrow as pa

    from medcalc.io import fen_to_yuan

    cols = synthetic_arrays(rows, **options)
    arrays = {}
    for name, values in cols.items():
        if values.dtype.kind == "U" and name != "claim_id":
            arrays[name] = pa.array(values).dictionary_encode()
        elif yuan and name in AMOUNTS:
            arrays[name] = fen_to_yuan(pa.array(values))
        else:
            arrays[name] = pa.array(values)
    return pa.table(arrays)


def main() -> None:
    import pyarrow.parquet as pq

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rows", type=int)
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--levels", default=",".join(DEFAULT_LEVELS))
    args = parser.parse_args()
    table = synthetic_table(args.rows, yuan=True, levels=args.levels.split(","), seed=args.seed)
    pq.write_table(table, args.out, row_group_size=1 << 20)
    print(f"wrote {table.num_rows:,} rows to {args.out}")


if __name__ == "__main__":
    main()
