"""huaibei-2025 written by hand as DuckDB SQL with window functions: what an analyst writes today.

The same policy medcalc applies from policies/anhui/huaibei-2025.toml (basic inpatient + 大病保险,
inherited from anhui-2025), hard-coded for the claims of benchmarks/synthetic.py:

- in-scope cost = total − 全自费 − 乙类先行自付; rows out of the insured area are rejected (the
  policy has no place rule), as are levels it does not declare;
- 起付线 200 (一级及以下) or 1000 (三级省属) a stay, at most the in-scope cost; the fund pays 90 % or
  70 % of the rest, rounded half up to the fen; 30万 a year on basic fund payments;
- 大病 base = deductible + co-insurance + the cost the 30万 cap cut off; threshold 1.5万 a year
  (halved for 特困 / 低保 / 返贫致贫); bands 60/65/75/80 % on the year's cumulative base
  (bounds 5万, 10万, 20万), +5 points and no cap for those groups; 30万 a year otherwise.

Integer fen throughout; half up is ``(2a + b) // (2b)``. Caps run as running sums: what a
person has been paid after claim k is min(Σ raw, cap), so claim k gets the difference. This
holds because a person's category does not change within the year in the synthetic data (the
cap would otherwise differ between claims); medcalc has no such restriction.
Settlement order is (person, day, claim id), within each person's calendar year.
"""

from __future__ import annotations

SQL = """
WITH claims AS (
    SELECT claim_id, person_id, settled_on, CAST(level AS VARCHAR) AS level,
           CAST(category AS VARCHAR) IN ('tekun', 'dibao', 'poverty') AS poor,
           CAST(place AS VARCHAR) = 'local'
             AND CAST(level AS VARCHAR) IN ('level1', 'level3_province') AS ok,
           CAST(total * 100 AS BIGINT) AS total,
           CAST(total * 100 AS BIGINT) - CAST(self_funded * 100 AS BIGINT)
             - CAST(pre_self_pay * 100 AS BIGINT) AS in_scope
    FROM read_parquet($source)
),
basic_raw AS (
    SELECT *,
           LEAST(CASE level WHEN 'level1' THEN 20000 ELSE 100000 END, in_scope) AS deductible,
           CASE level WHEN 'level1' THEN 90 ELSE 70 END AS rate
    FROM claims WHERE ok
),
basic_rounded AS (
    SELECT *, in_scope - deductible AS payable,
           (2 * (in_scope - deductible) * rate + 100) // 200 AS raw
    FROM basic_raw
),
basic_capped AS (
    SELECT *, SUM(raw) OVER person_year AS raw_to_date
    FROM basic_rounded
    WINDOW person_year AS (PARTITION BY person_id, year(settled_on)
                           ORDER BY settled_on, claim_id ROWS UNBOUNDED PRECEDING)
),
basic AS (
    SELECT *, LEAST(raw_to_date, 30000000) - LEAST(raw_to_date - raw, 30000000) AS basic
    FROM basic_capped
),
critical_cut AS (
    -- the share of the payable cost the annual cap cut off, split pro rata as medcalc does
    SELECT *, CASE WHEN raw > 0
                   THEN LEAST((2 * payable * (raw - basic) + raw) // (2 * raw), GREATEST(payable - basic, 0))
                   ELSE 0 END AS cut
    FROM basic
),
critical_base AS (
    SELECT *, deductible + GREATEST(payable - cut - basic, 0) + cut AS base
    FROM critical_cut
),
critical_stretch AS (
    SELECT *,
           CASE WHEN poor THEN 750000 ELSE 1500000 END AS threshold,
           CASE WHEN poor THEN 5 ELSE 0 END AS points,
           SUM(base) OVER person_year AS base_to_date
    FROM critical_base
    WINDOW person_year AS (PARTITION BY person_id, year(settled_on)
                           ORDER BY settled_on, claim_id ROWS UNBOUNDED PRECEDING)
),
critical_bounds AS (
    SELECT *, GREATEST(base_to_date - base, threshold) AS low, GREATEST(base_to_date, threshold) AS high
    FROM critical_stretch
),
critical_raw AS (
    SELECT *,
           (2 * (  GREATEST(LEAST(high, 5000000) - LEAST(low, 5000000), 0) * (60 + points)
                 + GREATEST(LEAST(high, 10000000) - GREATEST(low, 5000000), 0) * (65 + points)
                 + GREATEST(LEAST(high, 20000000) - GREATEST(low, 10000000), 0) * (75 + points)
                 + GREATEST(high - GREATEST(low, 20000000), 0) * (80 + points)) + 100) // 200 AS critical_raw
    FROM critical_bounds
),
critical_capped AS (
    SELECT *, SUM(critical_raw) OVER person_year AS critical_to_date,
           CASE WHEN poor THEN 9223372036854775807 ELSE 30000000 END AS critical_cap
    FROM critical_raw
    WINDOW person_year AS (PARTITION BY person_id, year(settled_on)
                           ORDER BY settled_on, claim_id ROWS UNBOUNDED PRECEDING)
),
settled AS (
    SELECT claim_id, deductible, basic,
           LEAST(critical_to_date, critical_cap) - LEAST(critical_to_date - critical_raw, critical_cap) AS critical,
           total
    FROM critical_capped
)
SELECT claim_id, false AS rejected, deductible, basic, critical,
       basic + critical AS funds, total - basic - critical AS patient
FROM settled
UNION ALL
SELECT claim_id, true, 0, 0, 0, 0, 0 FROM claims WHERE NOT ok
"""


def score_duckdb(source: str, threads: int | None = None):
    """Settle the claims of a Parquet file; a pyarrow Table, one row per claim (any order)."""
    import duckdb

    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    table = con.execute(SQL, {"source": str(source)}).to_arrow_table()
    con.close()
    return table


if __name__ == "__main__":
    import sys

    print(score_duckdb(sys.argv[1]).slice(0, 5).to_pandas())
