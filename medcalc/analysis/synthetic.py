"""Synthetic populations: seeded, realistic claim sets for a region, so simulation needs no real data.

``synthetic_claims(policy, rows, seed=…)`` returns a pyarrow Table of claims that the policy can
settle, with this documented shape (every figure a keyword):

- persons with 1–10 claims in the year (uniform; ``claims_per_person``), all in ``year``
  (default: the first year the policy covers in full);
- person categories: ``poverty_share`` (10 %) of persons in the categories the policy tilts
  for (its 大病 / basic modifiers and assistance rules name them; 特困, 低保, 返贫致贫 when it
  names none), in equal parts; everyone else ordinary;
- visits: ``outpatient_share`` of claims (default 0) are 普通门诊 visits to a service of the
  policy that needs no disease (its levels only), the rest admissions;
- admissions at the policy's hospital levels, weighted toward primary care (weights n, n−1,
  …, 1 over the levels in declared order);
- total cost log-normal (median ``median_yuan`` 5,400 for admissions, 1/40 of it for outpatient
  visits) with a long tail, capped at 1,000,000 yuan; 全自费 0–15 % of it, 乙类先行自付 0–5 %;
- ``out_of_area_share`` (5 %) of admissions out of the province, referred (policies without a
  place rule for them reject those rows, as they must);
- claim ids unique; settlement dates cluster (ties within a person); rows shuffled.

Amounts are integer fen from the start (the cost draw is a float, turned into fen once, before
any money exists); with ``yuan=True`` they are decimal128(18, 2) yuan, as in an extract.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from ..policy.model import ADMISSION_RULES, CATEGORIES, Policy
from ..policy.registry import load_policy

__all__ = ["synthetic_claims", "synthetic_arrays", "DEFAULT_POOR", "AMOUNT_COLUMNS"]

#: Categories given to the poverty share when the policy names none.
DEFAULT_POOR = ("tekun", "dibao", "poverty")
#: The amount columns of a synthetic claim set (int64 fen, or decimal yuan with ``yuan=True``).
AMOUNT_COLUMNS = ("total", "self_funded", "pre_self_pay")


def synthetic_arrays(
    rows: int,
    levels,
    *,
    seed: int = 2026,
    year: int = 2025,
    shuffle: bool = True,
    claims_per_person: tuple[int, int] = (1, 10),
    poverty_share: float = 0.10,
    poor_categories=DEFAULT_POOR,
    out_of_area_share: float = 0.05,
    outpatient_share: float = 0.0,
    outpatient_services=(),
    outpatient_levels=(),
    median_yuan: int = 5400,
) -> dict[str, np.ndarray]:
    """The claims as numpy columns (medcalc's column names), ``rows`` of them; see the module docstring."""
    rng = np.random.default_rng(seed)
    low, high = claims_per_person
    per_person = rng.integers(low, high + 1, size=rows // max(low, 1) + 1)
    person = np.repeat(np.arange(len(per_person), dtype=np.int64), per_person)[:rows]
    while len(person) < rows:  # only for tiny sizes
        person = np.concatenate([person, person[-1:] + 1])
    levels = np.array(list(levels))
    weights = np.arange(len(levels), 0, -1, dtype=float)
    level = levels[rng.choice(len(levels), size=rows, p=weights / weights.sum())]
    scale = np.log(median_yuan)
    cost = np.minimum(np.exp(rng.normal(scale, 1.2, size=rows)), 1_000_000)
    outpatient = (rng.random(rows) < outpatient_share) if outpatient_services else np.zeros(rows, bool)
    cost = np.where(outpatient, np.maximum(cost / 40, 1), cost)
    total = (cost * 100).astype(np.int64)  # fen, once, here
    self_funded = total * rng.integers(0, 16, size=rows) // 100
    pre_self_pay = total * rng.integers(0, 6, size=rows) // 100
    day = rng.integers(0, 365 + (year % 4 == 0), size=rows)
    day = np.where(rng.random(rows) < 0.2, day // 7 * 7, day)  # cluster some dates: ties within a person
    settled_on = np.datetime64(f"{year}-01-01") + day.astype("timedelta64[D]")
    out_of_area = (rng.random(rows) < out_of_area_share) & ~outpatient
    place = np.where(out_of_area, "out_of_province", "local")
    referral = np.where(out_of_area, "referred", "none")
    poor_person = rng.random(len(per_person) + 1) < poverty_share
    kinds = np.array(list(poor_categories) or ["ordinary"])
    kind = kinds[rng.integers(0, len(kinds), size=len(per_person) + 1)]
    category = np.where(poor_person[person], kind[person], "ordinary")
    claim_id = np.char.add("C", np.char.zfill(np.arange(rows).astype(str), 9))
    cols = {
        "claim_id": claim_id,
        "person_id": person,
        "settled_on": settled_on,
        "level": level,
        "total": total,
        "self_funded": self_funded,
        "pre_self_pay": pre_self_pay,
        "place": place,
        "referral": referral,
        "category": category,
    }
    if outpatient_services:
        services = np.array(list(outpatient_services))
        cols["visit"] = np.where(outpatient, "outpatient", "inpatient")
        cols["service"] = np.where(outpatient, services[rng.integers(0, len(services), size=rows)], "")
        out_levels = np.array(list(outpatient_levels))
        cols["level"] = np.where(outpatient, out_levels[rng.integers(0, len(out_levels), size=rows)], level)
        zero = np.zeros(rows, np.int64)  # outpatient visits: no 全自费 / 乙类 split drawn
        cols["self_funded"] = np.where(outpatient, zero, self_funded)
        cols["pre_self_pay"] = np.where(outpatient, zero, pre_self_pay)
    if shuffle:
        order = rng.permutation(rows)
        cols = {k: v[order] for k, v in cols.items()}
    return cols


def synthetic_claims(
    policy: Policy | str, rows: int, *, seed: int = 2026, year: int | None = None, yuan: bool = False, **shape
):
    """A seeded claim set the policy can settle, as a pyarrow Table (strings dictionary-encoded).

    ``shape``: the keywords of ``synthetic_arrays`` (poverty_share, out_of_area_share,
    outpatient_share, claims_per_person, median_yuan, shuffle). Amounts are int64 fen, or
    decimal yuan with ``yuan``.
    """
    import pyarrow as pa

    from ..batch.files import fen_to_yuan

    policy = policy if isinstance(policy, Policy) else load_policy(policy)
    year = year if year is not None else _first_full_year(policy)
    on = policy.at(dt.date(year, 7, 1))
    shape.setdefault("poor_categories", _tilted_categories(on) or DEFAULT_POOR)
    if shape.get("outpatient_share"):
        services = [
            r
            for r in on.named("outpatient.service")
            if not r.get("diseases") and not r.get("disease_caps") and not r.get("halve")
        ]
        if not services:
            raise ValueError(f"{policy.id} has no outpatient service without a disease list to draw visits for")
        shape["outpatient_services"] = [r.key.rsplit(".", 1)[1] for r in services]
        shape["outpatient_levels"] = sorted(set[str]().union(*(r["levels"] for r in services)))
    levels = [
        lv
        for lv in policy.levels
        if on.rule("inpatient.deductible") is None or _has_level(on.rule("inpatient.deductible"), lv)
    ]
    cols = synthetic_arrays(rows, levels, seed=seed, year=year, **shape)
    arrays = {}
    for name, values in cols.items():
        if values.dtype.kind == "U" and name != "claim_id":
            arrays[name] = pa.array(values).dictionary_encode()
        elif yuan and name in AMOUNT_COLUMNS:
            arrays[name] = fen_to_yuan(pa.array(values))
        else:
            arrays[name] = pa.array(values)
    return pa.table(arrays)


def _has_level(rule, level: str) -> bool:
    amount = rule.get("amount") if rule.get("amount") is not None else rule["by_admission"][0]
    return amount.get(level) is not None


def _tilted_categories(resolved) -> tuple[str, ...]:
    """Categories (other than ordinary) that some rule in force names in its conditions."""
    found: list[str] = []
    for prefix in ("critical.modifier", "inpatient.modifier", "assistance.category", "backstop.burden_cap"):
        for rule in resolved.named(prefix):
            found.extend(c for c in sorted(rule["when"].categories) if c != "ordinary")
    return tuple(c for c in CATEGORIES if c in found)


def _first_full_year(policy: Policy) -> int:
    """The first calendar year the policy's inpatient rules cover from 1 January to 31 December."""
    for start, end in policy.coverage(ADMISSION_RULES):
        year = start.year if (start.month, start.day) == (1, 1) else start.year + 1
        if end is None or end >= dt.date(year, 12, 31):
            return year
    raise ValueError(f"{policy.id} covers no whole calendar year of inpatient claims")
