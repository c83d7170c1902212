"""Reform invariants: raising a ratio never lowers what a person's year is paid.

Per claim the statement is false, and deliberately not asserted: a higher basic payment on an
earlier claim lowers that claim's 大病 qualifying self-pay, so a later claim of the year can
reach the 大病 threshold later and be paid less (the worked example below). What holds is:
every person-year's total fund payment never falls by more than rounding (one fen a claim:
each layer rounds half up once per claim, and where the basic cap binds the cut-off cost is
split among the claims in rounded shares, so two scenarios paying the same exact total may
differ by a fen), nor does the payment of a person's first claim of the year (its 大病 loss is
at most the basic gain times a band rate below 100 %).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import medcalc
from tests.conftest import examples

LEVELS = ("level1", "level3_province")


@st.composite
def claim_tables(draw):
    n = draw(st.integers(1, 25))
    rows = draw(
        st.lists(
            st.tuples(
                st.integers(0, 4),
                st.integers(0, 60),
                st.sampled_from(LEVELS),
                st.integers(0, 40_000_000),
                st.sampled_from(("ordinary", "dibao")),
            ),
            min_size=n,
            max_size=n,
        )
    )
    person = [r[0] for r in rows]
    category = {p: c for p, *_, c in rows}  # one category per person
    return pa.table(
        {
            "claim_id": [f"c{i:03d}" for i in range(n)],
            "person_id": person,
            "settled_on": [dt.date(2025, 1, 1) + dt.timedelta(days=r[1] * 6) for r in rows],
            "level": [r[2] for r in rows],
            "total": pa.array([r[3] for r in rows], pa.int64()),
            "category": [category[p] for p in person],
        }
    )


def _raise(tmp: Path, points: int, levels: tuple[str, ...]) -> medcalc.Policy:
    path = tmp / f"raise-{points}-{'-'.join(levels)}.toml"
    path.write_text(
        f'[reform]\nid = "raise"\nbase = "huaibei-2025"\ntitle = "提高比例"\nauthor = "tests"\n'
        f'date = 2026-12-01\nsince = 2025-01-01\n[[adjust]]\nrule = "inpatient.ratio"\n'
        f'levels = {list(levels)!r}\npoints = "+{points}"\n'.replace("'", '"'),
        encoding="utf-8",
    )
    return medcalc.load_policy(path)


@pytest.mark.slow
@settings(max_examples=examples(1.5))
@given(claims=claim_tables(), points=st.integers(0, 10), levels=st.sampled_from([LEVELS, LEVELS[:1], LEVELS[1:]]))
def test_raising_a_ratio_never_lowers_a_persons_year(tmp_path, claims, points, levels):
    base = medcalc.settle_table(claims, "huaibei-2025", amounts="fen").results
    more = medcalc.settle_table(claims, _raise(tmp_path, points, levels), amounts="fen").results
    assert base.column("row").equals(more.column("row"))
    person = base.column("person_id").to_numpy()
    funds_base, funds_more = base.column("funds").to_numpy(), more.column("funds").to_numpy()
    for p in np.unique(person):
        mine = person == p
        assert funds_more[mine].sum() >= funds_base[mine].sum() - mine.sum()  # a fen a claim of rounding
    basic_base, basic_more = base.column("basic").to_numpy(), more.column("basic").to_numpy()
    order = np.lexsort(
        (base.column("claim_id").to_numpy(zero_copy_only=False), base.column("settled_on").to_numpy(), person)
    )
    first = order[np.r_[True, person[order][1:] != person[order][:-1]]]
    assert (funds_more[first] >= funds_base[first]).all()
    assert (basic_more[first] >= basic_base[first]).all()


def test_a_later_claim_can_be_paid_less_when_an_earlier_one_is_paid_more(tmp_path):
    claims = pa.table(
        {
            "person_id": ["p", "p"],
            "claim_id": ["a", "b"],
            "settled_on": [dt.date(2025, 3, 1), dt.date(2025, 6, 1)],
            "level": ["level1", "level3_province"],
            "total": pa.array([10_000_000, 5_000_000]),
        }
    )
    base = medcalc.settle_table(claims, "huaibei-2025", amounts="fen").results.to_pydict()
    more = medcalc.settle_table(claims, _raise(tmp_path, 5, ("level1",)), amounts="fen").results.to_pydict()
    # claim a: 100,000 yuan at level 1 -> basic 90 % then 95 % of 99,800; its 大病 base 10,180 then 5,190
    assert base["basic"][0] == 8_982_000 and more["basic"][0] == 9_481_000
    # claim b is settled the same by basic, but its 大病 stretch starts lower on the year's base
    assert base["basic"][1] == more["basic"][1] == 3_430_000
    assert more["critical"][1] < base["critical"][1]
    assert sum(more["funds"]) > sum(base["funds"])
