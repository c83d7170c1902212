"""settle_arrays' columns as one bundle (ClaimArrays), as a mapping, or by name: the same batch."""

from __future__ import annotations

import numpy as np
import pytest

from medcalc import load_policy
from medcalc.batch import ClaimArrays, settle_arrays

POLICY = load_policy("jiujiang-residents")
COLUMNS = {
    "person_id": np.array(["p1", "p1", "p2"]),
    "settled_on": np.array(["2020-02-10", "2020-06-01", "2020-06-01"], "datetime64[D]"),
    "level": np.array(["level1", "level2", "level9"]),
    "total": np.array([300000, 2000000, 500000]),
    "self_funded": np.array([0, 150000, 0]),
}


def _paid(batch) -> list[int]:
    return batch.columns["basic"].tolist()


def test_a_bundle_a_mapping_and_names_settle_alike():
    by_name = settle_arrays(POLICY, **COLUMNS)
    assert _paid(by_name) == [261000, 1448000]  # the second admission after the first's deductible
    assert [(r.row, r.field) for r in by_name.rejects] == [(2, "level")]
    for batch in (settle_arrays(POLICY, ClaimArrays(**COLUMNS)), settle_arrays(POLICY, COLUMNS)):
        assert _paid(batch) == _paid(by_name) and batch.rejects == by_name.rejects


def test_columns_named_wrongly_or_twice_are_refused():
    with pytest.raises(TypeError, match="'totl' is no claim field"):
        settle_arrays(POLICY, {**COLUMNS, "totl": COLUMNS["total"]})
    with pytest.raises(TypeError, match="'level' is required"):
        settle_arrays(POLICY, {k: v for k, v in COLUMNS.items() if k != "level"})
    with pytest.raises(TypeError, match="'total' is given twice"):
        settle_arrays(POLICY, COLUMNS, total=COLUMNS["total"])
    with pytest.raises(TypeError, match="one way"):
        settle_arrays(POLICY, ClaimArrays(**COLUMNS), age=np.array([30, 40, 50]))
