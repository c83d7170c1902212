"""Policies as data: the model, the strict loader and the registry of shipped policies.

The registry (and with it the loader, TOML and pathlib) is imported on first use of its
names, so that importing the model, as every claim does, stays light.
"""

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

#: The registry's names, imported from it when first asked for.
_REGISTRY = ("adjusted_policy", "find_policy", "list_policies", "load_policy", "shipped_root")


def __getattr__(name: str):
    if name in _REGISTRY:
        from . import registry

        return getattr(registry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    "adjusted_policy",
    "find_policy",
    "list_policies",
    "load_policy",
    "shipped_root",
]
