"""A person-year's accumulators as the kernel keeps them: one int64 vector, its layout derived.

The fields are declared once, by the record people read (``medcalc.accumulators``:
``STATE_FIELDS``, then the ``KEYED_FIELDS`` kept per outpatient service and per assistance cap
group). Here their offsets in the vector are derived from those names, for the layers'
kernel functions (``S_*``: plain integers, constants to numba), and the vector is turned
into an ``Accumulators`` record and back.

Layout: the STATE_FIELDS in order; from ``S_KEYED`` the keyed blocks in KEYED_FIELDS order,
each as long as its vocabulary (at least 1): four blocks of services, then two of assistance
cap groups. A layer finds a keyed entry at ``S_KEYED + block * services + index`` (service
blocks) or ``S_KEYED + SERVICE_BLOCKS * services + block' * groups + index`` (group blocks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..accumulators import KEYED_FIELDS, STATE_FIELDS, Accumulators, period_code

if TYPE_CHECKING:
    from .common import Vocabulary

__all__ = ["S_KEYED", "SERVICE_BLOCKS", "width", "keyed_slices", "to_vector", "from_vector"]

_AT = {name: k for k, name in enumerate(STATE_FIELDS)}

S_ADMISSIONS = _AT["admissions"]
S_DEDUCTIBLE_PAID = _AT["deductible_paid"]
S_IN_SCOPE_TOTAL = _AT["in_scope_total"]
S_PAYABLE_TOTAL = _AT["payable_total"]
S_BASIC_PAID = _AT["basic_paid"]
S_ABOVE_COST_CAP = _AT["above_cost_cap"]
S_CRITICAL_BASE = _AT["critical_base"]
S_CRITICAL_PAID = _AT["critical_paid"]
S_BURDEN = _AT["burden"]
S_BURDEN_CAP_USED = _AT["burden_cap_used"]
S_BACKSTOP_CAP_PAID = _AT["backstop_cap_paid"]
S_BACKSTOP_PAID = _AT["backstop_paid"]
S_BASIC_CARRY = _AT["basic_carry"]
S_CRITICAL_CARRY = _AT["critical_carry"]
S_LAST_DEDUCTIBLE = _AT["last_deductible"]
S_AGAIN_BASE = _AT["assistance_again_base"]
S_AGAIN_PAID = _AT["assistance_again_paid"]
S_BACKSTOP_AGAIN_BASE = _AT["backstop_again_base"]
S_BACKSTOP_AGAIN_PAID = _AT["backstop_again_paid"]
#: Where the keyed blocks start.
S_KEYED = len(STATE_FIELDS)

_SERVICE_KEYED = [name for name, names in KEYED_FIELDS.items() if names == "services"]
_GROUP_KEYED = [name for name, names in KEYED_FIELDS.items() if names == "assistance_groups"]
assert list(KEYED_FIELDS) == _SERVICE_KEYED + _GROUP_KEYED, "service blocks come before assistance group blocks"
#: How many blocks are kept per outpatient service (they come first).
SERVICE_BLOCKS = len(_SERVICE_KEYED)
#: Block numbers among the service blocks, and among the group blocks.
K_SERVICE_DEDUCTIBLE = _SERVICE_KEYED.index("service_deductible")
K_SERVICE_PAID = _SERVICE_KEYED.index("service_paid")
K_SERVICE_PERIOD = _SERVICE_KEYED.index("service_period")
K_SERVICE_PERIOD_COST = _SERVICE_KEYED.index("service_period_cost")
K_ASSISTANCE_BASE = _GROUP_KEYED.index("assistance_base")
K_ASSISTANCE_PAID = _GROUP_KEYED.index("assistance_paid")


def sizes(vocab: Vocabulary) -> tuple[int, int]:
    """(services, assistance groups): the length of a service block and of a group block."""
    return max(1, len(vocab.services)), max(1, len(vocab.assistance_groups))


def keyed_slices(vocab: Vocabulary) -> dict[str, slice]:
    """Where each keyed accumulator (per service, per assistance cap group) lies in a state vector
    (worked out once per vocabulary: every run asks)."""
    kept = vocab.__dict__.get("_keyed_slices")
    if kept is None:
        services, groups = sizes(vocab)
        kept, start = {}, S_KEYED
        for name, names in KEYED_FIELDS.items():  # (the kernel's order)
            size = services if names == "services" else groups
            kept[name] = slice(start, start + size)
            start += size
        vocab.__dict__["_keyed_slices"] = kept
    return kept


def width(vocab: Vocabulary) -> int:
    """The length of a person-year's state vector: the fields, then the keyed ones."""
    return keyed_slices(vocab)[list(KEYED_FIELDS)[-1]].stop


def to_vector(acc: Accumulators, vocab: Vocabulary, size: int) -> np.ndarray:
    """An Accumulators record as a state vector of ``size`` entries."""
    vector = np.zeros(size, np.int64)
    vector[: len(STATE_FIELDS)] = acc.values()
    for name, where in keyed_slices(vocab).items():
        names = getattr(vocab, KEYED_FIELDS[name])
        for item, value in getattr(acc, name).items():
            if item in names:
                vector[where.start + names.index(item)] = (
                    period_code(value, acc.year) if name == "service_period" else value
                )
    return vector


def from_vector(key: tuple[str, int], vector: np.ndarray, vocab: Vocabulary) -> Accumulators:
    """A state vector as the Accumulators record of person-year ``key``."""
    values = vector.tolist()
    keyed = {
        name: {
            item: values[where.start + i]
            for i, item in enumerate(getattr(vocab, KEYED_FIELDS[name]))
            if values[where.start + i]
        }
        for name, where in keyed_slices(vocab).items()
    }
    return Accumulators.from_fen(key[0], key[1], dict(zip(STATE_FIELDS, values)), keyed)
