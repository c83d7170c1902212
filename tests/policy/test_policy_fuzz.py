"""Seeded mutants of every shipped policy file: each loads and settles, or is refused with a
PolicyError naming the file and key path; no other exception, no hang (tests/policy_fuzz.py).
More mutants: ``python -m tests.policy_fuzz --count 5000``."""

from __future__ import annotations

import warnings

from medcalc.policy.registry import shipped_root
from tests import policy_fuzz

COUNT = 300


def test_mutants_of_every_shipped_policy_fail_only_with_policy_errors(tmp_path):
    files = policy_fuzz._files(shipped_root())
    assert COUNT >= 10 * len(files)  # every shipped file, ten times or more
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mutated neighbours are skipped with a warning
        tally = policy_fuzz.run(COUNT, seed=15, workdir=tmp_path)
    assert tally["loaded"] + tally["refused"] == COUNT
    # Both outcomes occur: the mutants exercise the checks and the engine alike.
    assert tally["refused"] >= COUNT // 4 and tally["loaded"] >= COUNT // 10
