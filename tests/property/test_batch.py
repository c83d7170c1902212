"""Batch scoring over columns equals the claim-object API to the fen, row for row."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import medcalc
from medcalc.batch.columns import settle_arrays
from medcalc.claims import GIVEN_FIELDS
from medcalc.engine.checks import NOT_GIVEN
from medcalc.strategies import claim_sequences, policies
from tests.conftest import examples


def _columns(batch):
    return dict(
        person_id=[c.person_id for c in batch],
        claim_id=[c.claim_id or "" for c in batch],
        settled_on=np.array([c.settled_on.isoformat() for c in batch], dtype="datetime64[D]"),
        level=[c.level for c in batch],
        total=np.array([int(c.total) for c in batch], np.int64),
        self_funded=np.array([int(c.self_funded) for c in batch], np.int64),
        over_limit=np.array([int(c.over_limit) for c in batch], np.int64),
        pre_self_pay=np.array([int(c.pre_self_pay) for c in batch], np.int64),
        place=[c.place for c in batch],
        referral=[c.referral for c in batch],
        category=[c.category for c in batch],
        age=np.array([-1 if c.age is None else c.age for c in batch], np.int64),
        retired=np.array([c.retired for c in batch], bool),
        visit=[c.visit for c in batch],
        service=[c.service or "" for c in batch],
        diseases=[list(c.diseases) for c in batch],
        certified=[",".join(c.certified) for c in batch],
        bed_fees=np.array([int(c.bed_fees) for c in batch], np.int64),
        nursing_fees=np.array([int(c.nursing_fees) for c in batch], np.int64),
        **{
            name: np.array([NOT_GIVEN if getattr(c, name) is None else int(getattr(c, name)) for c in batch], np.int64)
            for name in GIVEN_FIELDS
        },
    )


@pytest.mark.slow
@settings(max_examples=examples(1.5))
@given(
    policy=policies(allow_warnings=True),
    batch=st.booleans().flatmap(lambda given: claim_sequences(persons=4, max_size=14, given=given)),
)
def test_batch_equals_one_by_one(policy, batch):
    objects = medcalc.settle_many(policy, batch, explain=False)
    columns = settle_arrays(policy, **_columns(batch))
    assert len(columns) + len(columns.rejects) == len(batch)
    assert [(r.row, r.field) for r in columns.rejects] == [(r.row, r.field) for r in objects.rejects]
    expected = {s.row: s for s in objects.settlements}
    assert list(columns.row) == sorted(expected)
    for j, row in enumerate(columns.row):
        s = expected[int(row)]
        got = {
            name: int(columns.columns[name][j])
            for name in ("deductible", "basic", "critical", "assistance", "backstop", "patient")
        }
        assert got == {name: int(getattr(s, name)) for name in got}
