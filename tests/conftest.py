"""Shared test setup: the tests see the shipped policies alone, whatever the developer's environment."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_policy_folders_of_the_developer(monkeypatch):
    # pinned messages list the folders searched, and ids must not be shadowed by one's own policies
    monkeypatch.delenv("MEDCALC_POLICIES", raising=False)
