"""Policies as data: the model, the strict loader and the registry of shipped policies."""

from .model import (
    CATEGORIES,
    PLACES,
    REFERRALS,
    SCHEMES,
    Citation,
    Policy,
    ResolvedPolicy,
    RuleVersion,
    Source,
)
from .registry import find_policy, list_policies, load_policy, shipped_root

__all__ = [
    "CATEGORIES",
    "PLACES",
    "REFERRALS",
    "SCHEMES",
    "Citation",
    "Policy",
    "ResolvedPolicy",
    "RuleVersion",
    "Source",
    "find_policy",
    "list_policies",
    "load_policy",
    "shipped_root",
]
