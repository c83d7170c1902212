"""Amounts tied to the reference wage (社平工资): derived once at load, handed out by ``Policy.at``.

A policy states its reference wage as a dated, cited rule of its own, ``[[reference.wage]]``
(``amount`` in yuan a year, optionally the ``year`` the figure is of). A rule's amount may be
written ``{ wage_share = "10%" }`` (a deductible of 10 % of 上年社平工资) or
``{ wage_multiple = "6" }`` (a cap of 6 times 年社平工资): on each day, the wage version in force
that day, times the share or multiple, rounded half up to the fen once.

``derive`` runs when a policy (or a reform) has been loaded and merged: for every pair of a
wage-based rule version and the wage version in force beside it on some day, it builds the
rule version with plain fen amounts (and ``wage`` saying how each was derived), and refuses a
day without a wage and a derived amount above the schema's MAX_AMOUNT. The engine, its kernel
and its builds therefore only ever see fen.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from ..errors import PolicyError
from ..money import format_yuan
from .model import ByLevel, Policy, RuleVersion, WageAmount, WageUse

__all__ = ["WAGE_KEY", "wage_terms", "derive", "derived_params"]

#: The rule holding the reference wage's timeline.
WAGE_KEY = "reference.wage"
#: The largest amount a derived value may be (schema.MAX_AMOUNT, repeated to keep this module light).
_MAX_AMOUNT = 10**9


def _walk(value: object, path: str) -> Iterator[tuple[str, WageAmount]]:
    if isinstance(value, WageAmount):
        yield path, value
    elif isinstance(value, ByLevel):
        for level, item in value.values.items():
            yield from _walk(item, f"{path}.{level}")
        if value.default is not None:
            yield from _walk(value.default, path)
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")


def wage_terms(version: RuleVersion) -> list[tuple[str, WageAmount]]:
    """The wage terms of a version as written: (path in the rule, term), in field order."""
    if version.disabled:
        return []
    return [found for name, value in version.params.items() for found in _walk(value, name)]


def _replace(value: object, wage: int) -> object:
    if isinstance(value, WageAmount):
        return value.of(wage)
    if isinstance(value, ByLevel):
        return ByLevel(
            {k: _replace(v, wage) for k, v in value.values.items()},
            None if value.default is None else _replace(value.default, wage),
        )
    if isinstance(value, tuple):
        return tuple(_replace(v, wage) for v in value)
    return value


def derived_params(version: RuleVersion, wage: int) -> dict[str, object]:
    """The version's parameters with every wage term replaced by its fen amount for ``wage`` fen."""
    return {name: _replace(value, wage) for name, value in version.params.items()}


def derive(policy: Policy) -> Policy:
    """Fill ``policy.derived`` for every (wage-based version, wage version) in force together.

    Raises PolicyError (naming the rule version's file and key path, the term as written and what
    is allowed) when such a version is in force on a day without a reference wage, or when a
    derived amount exceeds 1000万 yuan. Checked on the change days of the rules and the wage only:
    nothing in force changes between them.
    """
    based = {
        key: t
        for key, t in policy.timelines.items()
        if key != WAGE_KEY and any(wage_terms(v) for layer in t.layers for v in layer)
    }
    policy.derived.clear()
    if not based:
        return policy
    wages = policy.timelines.get(WAGE_KEY)
    days: set = set(wages.change_days()) if wages is not None else set()
    for timeline in based.values():
        days |= timeline.change_days()
    for day in sorted(days):
        wage = wages.at(day) if wages is not None else None
        for key, timeline in based.items():
            version = timeline.at(day)
            if version is None or (id(version), id(wage)) in policy.derived:
                continue
            terms = wage_terms(version)
            if not terms:
                continue
            where = f"{key}[{version.index}]"
            path, term = terms[0]
            if wage is None:
                raise PolicyError(
                    version.file,
                    f"{where}.{path}",
                    term.written,
                    f"an amount tied to the reference wage needs a [[{WAGE_KEY}]] version in force on every day "
                    f"this version is; none is in force on {day} (add one, or write the amount in yuan)",
                )
            uses = []
            for path, term in terms:
                amount = term.of(wage["amount"])
                if amount > _MAX_AMOUNT:
                    raise PolicyError(
                        version.file,
                        f"{where}.{path}",
                        term.written,
                        f"an amount of at most {_MAX_AMOUNT // 100} yuan (1000万, the largest claim total): "
                        f"{term.words()} the reference wage {format_yuan(wage['amount'])} of {WAGE_KEY}"
                        f"[{wage.index}] in {wage.file} (in force on {day}) is {format_yuan(amount)}",
                    )
                uses.append(WageUse(path, term, wage, amount))
            policy.derived[(id(version), id(wage))] = attrs.evolve(
                version, params=derived_params(version, wage["amount"]), wage=tuple(uses)
            )
    return policy
