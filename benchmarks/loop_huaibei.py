"""huaibei-2025 as a plain Python loop over the rows: the other thing an analyst writes today.

The same hard-coded policy as benchmarks/duckdb_huaibei.py (see its docstring), one claim at a
time in settlement order (person, day, claim id) with a dict of per-person-year accumulators.
Integer fen throughout; half up is ``(2a + b) // (2b)``.
"""

from __future__ import annotations

DEDUCTIBLE = {"level1": 20000, "level3_province": 100000}
RATE = {"level1": 90, "level3_province": 70}
POOR = {"tekun", "dibao", "poverty"}
BASIC_CAP = CRITICAL_CAP = 30000000
BANDS = ((0, 5000000, 60), (5000000, 10000000, 65), (10000000, 20000000, 75), (20000000, None, 80))


def _half_up(a: int, b: int) -> int:
    return (2 * a + b) // (2 * b)


def score_loop(columns: dict) -> dict[str, list]:
    """Columns in (amounts in integer fen) → result columns, in input order."""
    claim_id, person, day = columns["claim_id"], columns["person_id"], columns["settled_on"]
    level, category, place = columns["level"], columns["category"], columns["place"]
    total, self_funded, pre = columns["total"], columns["self_funded"], columns["pre_self_pay"]
    n = len(claim_id)
    out = {k: [0] * n for k in ("deductible", "basic", "critical", "funds", "patient")}
    out["rejected"] = [False] * n
    order = sorted(range(n), key=lambda i: (person[i], day[i], claim_id[i]))
    years: dict = {}
    for i in order:
        lv = level[i]
        if place[i] != "local" or lv not in DEDUCTIBLE:
            out["rejected"][i] = True
            continue
        key = (person[i], str(day[i])[:4])
        acc = years.setdefault(key, [0, 0, 0])  # basic paid, 大病 base, 大病 paid
        in_scope = int(total[i]) - int(self_funded[i]) - int(pre[i])
        deductible = min(DEDUCTIBLE[lv], in_scope)
        payable = in_scope - deductible
        raw = _half_up(payable * RATE[lv], 100)
        basic = min(raw, max(BASIC_CAP - acc[0], 0))
        acc[0] += basic

        cut = min(_half_up(payable * (raw - basic), raw), max(payable - basic, 0)) if raw > 0 else 0
        base = deductible + max(payable - cut - basic, 0) + cut
        poor = category[i] in POOR
        threshold, points = (750000, 5) if poor else (1500000, 0)
        low, high = max(acc[1], threshold), max(acc[1] + base, threshold)
        acc[1] += base
        exact = 0
        for lower, upper, rate in BANDS:
            top = high if upper is None else min(high, upper)
            exact += max(top - max(low, lower), 0) * (rate + points)
        critical_raw = _half_up(exact, 100)
        critical = critical_raw if poor else min(critical_raw, max(CRITICAL_CAP - acc[2], 0))
        acc[2] += critical

        out["deductible"][i], out["basic"][i], out["critical"][i] = deductible, basic, critical
        out["funds"][i] = basic + critical
        out["patient"][i] = int(total[i]) - basic - critical
    return out
