"""Table scoring (Arrow, in chunks of people, and streamed) equals the single-claim API to the fen.

The reference here is ``medcalc.settle`` applied one claim at a time in settlement order
(day, then claim id, then input row), each claim starting from the accumulators the
previous claim of its person-year left: what a billing desk would do claim by claim.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import medcalc
from medcalc.batch.stream import settle_batches
from medcalc.batch.tables import settle_table
from medcalc.claims import GIVEN_FIELDS
from medcalc.errors import ClaimError
from medcalc.strategies import claim_sequences, policies
from tests.conftest import examples

FIELDS = ("deductible", "basic", "critical", "assistance", "backstop", "patient")


def as_table(batch) -> pa.Table:
    return pa.table(
        {
            "person_id": [c.person_id for c in batch],
            "claim_id": [c.claim_id for c in batch],
            "settled_on": pa.array([c.settled_on for c in batch], pa.date32()),
            "level": [c.level for c in batch],
            "total": pa.array([int(c.total) for c in batch], pa.int64()),
            "self_funded": pa.array([int(c.self_funded) for c in batch], pa.int64()),
            "over_limit": pa.array([int(c.over_limit) for c in batch], pa.int64()),
            "pre_self_pay": pa.array([int(c.pre_self_pay) for c in batch], pa.int64()),
            "place": [c.place for c in batch],
            "referral": [c.referral for c in batch],
            "category": [c.category for c in batch],
            "age": pa.array([c.age for c in batch], pa.int64()),
            "retired": pa.array([c.retired for c in batch], pa.bool_()),
            "visit": [c.visit for c in batch],
            "service": [c.service for c in batch],
            "diseases": [list(c.diseases) for c in batch],
            "certified": [list(c.certified) for c in batch],
            "bed_fees": pa.array([int(c.bed_fees) for c in batch], pa.int64()),
            "nursing_fees": pa.array([int(c.nursing_fees) for c in batch], pa.int64()),
            **{
                name: pa.array([getattr(c, name) and int(getattr(c, name)) for c in batch], pa.int64())
                for name in GIVEN_FIELDS
            },  # (null: not given)
        }
    )


def one_claim_at_a_time(policy, batch) -> tuple[dict[int, dict[str, int]], set[int]]:
    """Each claim settled alone, in settlement order, from its person-year's accumulators so far."""
    order = sorted(
        range(len(batch)), key=lambda i: (batch[i].person_id, batch[i].settled_on, batch[i].claim_id or "", i)
    )
    state: dict[tuple[str, int], medcalc.Accumulators] = {}
    settled, rejected = {}, set()
    for i in order:
        c = batch[i]
        key = (c.person_id, c.settled_on.year)
        try:
            s = medcalc.settle(policy, c, accumulators=state.get(key))
        except ClaimError:
            rejected.add(i)
            continue
        state[key] = s.after
        settled[i] = {name: int(getattr(s, name)) for name in FIELDS}
    return settled, rejected


def table_results(scored) -> tuple[dict[int, dict[str, int]], set[int]]:
    r = scored.results
    rows = r.column("row").to_pylist()
    got = {row: {name: r.column(name)[j].as_py() for name in FIELDS} for j, row in enumerate(rows)}
    return got, set(scored.rejects.column("row").to_pylist())


@pytest.mark.slow
@settings(max_examples=examples(1.2))
@given(
    policy=policies(allow_warnings=True),
    batch=st.booleans().flatmap(lambda given: claim_sequences(persons=4, max_size=16, given=given)),
    chunk=st.integers(1, 20),
    threads=st.sampled_from([1, 3]),
)
def test_table_scoring_equals_the_single_claim_api_in_settlement_order(policy, batch, chunk, threads):
    expected, expected_rejects = one_claim_at_a_time(policy, batch)
    table = as_table(batch)

    # people sliced into parts of about `chunk` rows, settled one after another or in threads
    scored = settle_table(table, policy, chunk_rows=chunk, threads=threads, amounts="fen")
    assert scored.rows == len(batch)
    got, rejects = table_results(scored)
    assert rejects == expected_rejects
    assert got == expected

    # streamed in record batches of `chunk` rows after sorting by person: the same rows, the same fen
    order = sorted(range(len(batch)), key=lambda i: batch[i].person_id)
    parts = list(settle_batches(table.take(pa.array(order)).to_batches(max_chunksize=chunk), policy, amounts="fen"))
    streamed, streamed_rejects = {}, set()
    for part in parts:
        g, r = table_results(part)
        streamed.update({order[row]: v for row, v in g.items()})
        streamed_rejects |= {order[row] for row in r}
    assert sum(p.rows for p in parts) == len(batch)
    assert streamed == expected and streamed_rejects == expected_rejects


@settings(max_examples=examples(0.3))
@given(batch=claim_sequences(persons=5, max_size=30, visits=["inpatient"]), seed=st.integers(0, 2**32 - 1))
def test_a_file_of_several_policies_settles_each_row_on_its_own(batch, seed):
    ids = np.random.default_rng(seed).choice(["anhui-2019", "jiujiang-residents"], size=len(batch))
    # the same person in two policies would be two insured people: keep the ids apart
    for c, pid in zip(batch, ids):
        object.__setattr__(c, "person_id", f"{pid}:{c.person_id}")
    table = as_table(batch).append_column("policy", pa.array(ids.tolist()))
    scored = settle_table(table, amounts="fen")
    got, rejects = table_results(scored)
    assert scored.rows == len(batch)
    for pid in set(ids.tolist()):
        mine = [i for i in range(len(batch)) if ids[i] == pid]
        expected, expected_rejects = one_claim_at_a_time(medcalc.load_policy(pid), [batch[i] for i in mine])
        assert {mine[i]: v for i, v in expected.items()} == {i: got[i] for i in mine if i in got}
        assert {mine[i] for i in expected_rejects} == {i for i in mine if i in rejects}
