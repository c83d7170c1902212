"""medcalc: what China's basic medical insurance pays on a claim, exact to the fen.

Regional policies are data (TOML files under ``policies/``); one engine applies them
to claims, keeping each person's year-to-date accumulators. Importing this package
reads no policy and does no work.
"""

from .accumulators import Accumulators
from .api import settle, settle_many, settle_sequence
from .claims import Claim
from .errors import ClaimError, MedcalcError, PolicyError, PolicyNotFound
from .money import Fen, Ratio, format_yuan, parse_amount, parse_ratio
from .policy import Policy
from .settlement import Batch, Reject, Settlement, Step


def _version() -> str:
    """The installed package's version, from its metadata (pyproject's version), so it is written once."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("medcalc")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


#: Imported on first use so ``import medcalc`` stays light: the batch entry points (numpy, Arrow)
#: and the policy registry (the loader, TOML, pathlib).
_LAZY = {
    "find_policy": "policy.registry",
    "list_policies": "policy.registry",
    "load_policy": "policy.registry",
    "settle_table": "batch.tables",
    "ScoredTable": "batch.tables",
    "settle_batches": "batch.stream",
    "settle_arrays": "batch.columns",
    "fund_impact": "analysis.impact",
    "Impact": "analysis.impact",
    "synthetic_claims": "analysis.synthetic",
}


def __getattr__(name: str):
    if name == "__version__":  # read on first use: importlib.metadata would add ~20 ms to every `import medcalc`
        globals()["__version__"] = found = _version()
        return found
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'medcalc' has no attribute {name!r}")


__all__ = [
    "Accumulators",
    "Batch",
    "Claim",
    "ClaimError",
    "Fen",
    "Impact",
    "MedcalcError",
    "Policy",
    "PolicyError",
    "PolicyNotFound",
    "Ratio",
    "Reject",
    "ScoredTable",
    "Settlement",
    "Step",
    "find_policy",
    "format_yuan",
    "fund_impact",
    "list_policies",
    "load_policy",
    "parse_amount",
    "parse_ratio",
    "settle",
    "settle_arrays",
    "settle_batches",
    "settle_many",
    "settle_sequence",
    "settle_table",
    "synthetic_claims",
]
