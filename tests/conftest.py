"""Shared test setup: the tests see the shipped policies alone, whatever the developer's environment;
and the one set of hypothesis profiles, chosen by HYPOTHESIS_PROFILE (tests/README.md)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

#: Examples per property under each profile: "default" is what CI runs (Hypothesis's own default,
#: 100), "dev" a quick look while editing, "thorough" a long hunt before a release.
PROFILE_EXAMPLES = {"dev": 10, "default": 100, "thorough": 1000}

for _name, _count in PROFILE_EXAMPLES.items():
    settings.register_profile(
        _name,
        max_examples=_count,
        # no per-example deadline: the first examples compile the kernel (numba) or load policies, and
        # the machine is shared; a property fails on a figure, never on a time
        deadline=None,
        # too_slow: random policies and claim years are big to draw; function_scoped_fixture: the
        # properties that take tmp_path or monkeypatch use them the same way on every example;
        # filter_too_much: the reference-wage property keeps only the random policies tied to the wage
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
        # a failure in CI prints the blob that replays it (@reproduce_failure)
        print_blob=True,
    )
# pytest --hypothesis-profile NAME, when given, loads its profile after this (at configure time)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def examples(share: float) -> int:
    """``share`` of the profile's examples (at least one): a property's own size, in proportion under every profile.

    Read when a test module is imported, after the profile is loaded: ``@settings(max_examples=examples(3))``
    is 300 examples under "default", 30 under "dev" and 3 000 under "thorough".
    """
    return max(1, round(settings.default.max_examples * share))


@pytest.fixture(autouse=True)
def _no_policy_folders_of_the_developer(monkeypatch):
    # pinned messages list the folders searched, and ids must not be shadowed by one's own policies
    monkeypatch.delenv("MEDCALC_POLICIES", raising=False)
