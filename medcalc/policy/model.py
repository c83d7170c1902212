"""The policy model: frozen values for sources, citations, dated rule versions and policies.

A policy is a set of *rules*, each identified by a key (``inpatient.ratio``) or a key
and a name (``inpatient.place.out_of_city``). A rule has a timeline of versions, each
in force from ``since`` to ``until`` (both inclusive) and each citing its source.
``Policy.at(day)`` picks the version of every rule in force on that day; an amount a rule ties
to the reference wage (``WageAmount``) is then the wage version in force that day times its
share or multiple, computed once at load (``medcalc.policy.wage``) and substituted here.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import attrs

_T = TypeVar("_T")

__all__ = [
    "Source",
    "Citation",
    "ByLevel",
    "Condition",
    "DeductibleShare",
    "PeriodCap",
    "PERIODS",
    "Band",
    "WageAmount",
    "WageUse",
    "RuleVersion",
    "Timeline",
    "Policy",
    "ResolvedPolicy",
    "PLACES",
    "REFERRALS",
    "CATEGORIES",
    "SCHEMES",
    "ADMISSION_RULES",
]

#: Where care happened, relative to the insured area (统筹区).
PLACES = ("local", "in_province", "out_of_province")
#: Referral or filing status; "none" means not applicable (care in the insured area).
REFERRALS = ("none", "referred", "emergency", "resident", "not_referred")
#: Person categories used by tilts and assistance (普通, 特困, 低保, 低收入, 返贫致贫/脱贫, 监测对象, 因病致困).
CATEGORIES = ("ordinary", "tekun", "dibao", "low_income", "poverty", "monitored", "illness_poverty")
SCHEMES = ("residents", "employees")
#: The rules without which no admission can be settled on a day (a policy "covers" the days with both).
ADMISSION_RULES = ("inpatient.deductible", "inpatient.ratio")


@attrs.frozen
class Source:
    """A document a policy value comes from."""

    id: str
    title: str
    official: bool
    file: str | None = None  # text under policies/sources/ that quotes are checked against
    document: str | None = None  # document number, e.g. 皖医保发〔2024〕9号
    date: dt.date | None = None
    address: str | None = None
    defined_in: str = ""  # policy file that declared it


@attrs.frozen
class Citation:
    """Where one rule version comes from: a source and a verbatim quote."""

    source: Source
    quote: str  # the quote as shown: one passage, or several joined by " … "
    verified: bool  # False for unofficial pages or documented choices
    note: str | None = None
    #: Each passage cited, each checked against the source text (one passage: ``(quote,)``).
    quotes: tuple[str, ...] = attrs.field(default=attrs.Factory(lambda self: (self.quote,), takes_self=True))


#: What a ByLevel holds: ratio units or fen (an int), or before ``wage.derive`` a WageAmount.
_Value = TypeVar("_Value")


@attrs.frozen
class ByLevel(Generic[_Value]):
    """A value per hospital level code, or one value for every level (``default``)."""

    values: Mapping[str, _Value] = attrs.field(factory=dict, converter=lambda m: dict(m))
    default: _Value | None = None

    def get(self, level: str) -> _Value | None:
        return self.values.get(level, self.default)

    def levels(self) -> frozenset[str]:
        return frozenset(self.values)


@attrs.frozen
class Condition:
    """Which claims a place rule or modifier applies to; an empty set means any."""

    places: frozenset[str] = frozenset()
    referrals: frozenset[str] = frozenset()
    levels: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    age_under: int | None = None
    age_at_least: int | None = None
    retired: bool | None = None
    services: frozenset[str] = frozenset()  # outpatient services (an inpatient claim has none)
    visits: frozenset[str] = frozenset()  # inpatient, outpatient


@attrs.frozen
class DeductibleShare:
    """Deductible as a share of the admission's total cost, between a floor and a ceiling."""

    share: int  # ratio units
    floor: int  # fen
    ceiling: int | None  # fen


#: The periods an outpatient service's in-scope cost may be capped per, and their length in months.
PERIODS = {"month": 1, "quarter": 3}


@attrs.frozen
class PeriodCap:
    """An outpatient service's cap on the in-scope cost counted per calendar month or quarter
    (``period_cost_cap``): at most ``amount`` (fen) of a period's in-scope cost is counted toward
    the deductible and the ratio; the rest is not paid by the service."""

    amount: int  # fen
    per: str  # one of PERIODS

    @property
    def months(self) -> int:
        return PERIODS[self.per]


@attrs.frozen
class AgePoints:
    """Ratio points that grow with age: ``per_year`` for each whole year of age above ``from_age``,
    at most ``at_most``, the sum rounded to a multiple of ``round_to`` (``rounding``) when given."""

    from_age: int
    per_year: int  # ratio units (points x 100), > 0
    at_most: int  # ratio units
    round_to: int | None = None  # ratio units
    rounding: str = "half_up"  # or "down"

    def points(self, age: int) -> int:
        """The points at an age in whole years (exact integer ratio units)."""
        exact = self.per_year * max(age - self.from_age, 0)
        if self.round_to:
            whole, part = divmod(exact, self.round_to)
            if self.rounding == "half_up" and 2 * part >= self.round_to:
                whole += 1
            exact = whole * self.round_to
        return min(exact, self.at_most)


@attrs.frozen
class Band:
    """One cost segment: up to ``upper`` (fen, None = unbounded) at a ratio per level."""

    upper: int | None
    ratio: ByLevel[int]


@attrs.frozen
class WageAmount:
    """An amount tied to the reference wage (社平工资) in force on the claim's day: ``units`` /
    10^4 times the wage, rounded half up to the fen once. ``kind`` is "share" (``units`` in ratio
    units: "10%" -> 1000) or "multiple" ("6" -> 60000); ``written`` is the file's table as written."""

    kind: str
    units: int
    written: Mapping[str, object] = attrs.field(converter=lambda m: dict(m), eq=False)

    def of(self, wage: int) -> int:
        """The amount in fen for a wage in fen: exact, then rounded half up once."""
        return (2 * wage * self.units + _WAGE_ONE) // (2 * _WAGE_ONE)

    def words(self) -> str:
        """As the explanation says it: "10% of" or "6 ×"."""
        if self.kind == "share":
            whole, part = divmod(self.units, 100)
            return f"{whole}{('.' + f'{part:02d}'.rstrip('0')) if part else ''}% of"
        whole, part = divmod(self.units, _WAGE_ONE)
        return f"{whole}{('.' + f'{part:04d}'.rstrip('0')) if part else ''} ×"


_WAGE_ONE = 10_000  # (money.RATIO_ONE: shares and multiples are both in units of 10^-4)


@attrs.frozen
class WageUse:
    """One amount of a rule version derived from the reference wage: where it is in the rule
    (``path``, as in the file: ``amount.level2``, ``fund``), its term, the wage version it used and
    the derived fen."""

    path: str
    term: WageAmount
    wage: RuleVersion
    amount: int


@attrs.frozen
class RuleVersion:
    """One dated version of one rule. ``params`` holds the mechanism's parsed values."""

    key: str
    since: dt.date
    until: dt.date | None
    citation: Citation | None  # None only for a disabled version that names no source
    #: Values typed per field by the rule's parser in schema.RULES (an int of fen, a ByLevel, a Condition ...),
    #: which no static type can express per key: Any, so that readers need not re-check what loading did.
    params: Mapping[str, Any]
    disabled: bool = False
    file: str = ""
    index: int = 0  # position in its file's array, for messages
    #: For a version whose amounts were derived from the reference wage in force: how each was
    #: (the version as written keeps its ``WageAmount`` terms; ``Policy.at`` hands out this one).
    wage: tuple[WageUse, ...] = ()

    def in_force(self, day: dt.date) -> bool:
        return self.since <= day and (self.until is None or day <= self.until)

    def __getitem__(self, name: str) -> Any:
        return self.params[name]

    def get(self, name: str, default: object = None) -> Any:
        return self.params.get(name, default)


@attrs.frozen
class Timeline:
    """The versions of one rule, sorted and non-overlapping, own versions before inherited ones."""

    key: str
    layers: tuple[tuple[RuleVersion, ...], ...]  # child's versions first, then each ancestor's
    # Each layer's ``since`` days: a day's version is found by bisection, so checking a policy
    # on each of its change days costs O(n log n) in its versions, not O(n^2).
    _starts: tuple[tuple[dt.date, ...], ...] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_starts", tuple(tuple(v.since for v in versions) for versions in self.layers))

    def at(self, day: dt.date) -> RuleVersion | None:
        for versions, starts in zip(self.layers, self._starts):
            i = bisect_right(starts, day) - 1  # the last version starting on or before the day
            if i >= 0 and versions[i].in_force(day):
                version = versions[i]
                return None if version.disabled else version
        return None

    def change_days(self) -> set[dt.date]:
        days: set[dt.date] = set()
        for versions in self.layers:
            for v in versions:
                days.add(v.since)
                if v.until is not None:
                    days.add(v.until + dt.timedelta(days=1))
        return days


@attrs.frozen(eq=False)
class ResolvedPolicy:
    """The rule versions of one policy in force on some day(s). Identity-compared."""

    policy: Policy
    rules: Mapping[str, RuleVersion]
    _named: dict[str, list[RuleVersion]] = attrs.field(factory=dict, repr=False)

    def rule(self, key: str) -> RuleVersion | None:
        return self.rules.get(key)

    def required(self, key: str) -> RuleVersion:
        """The rule in force under ``key``, for a caller that has made sure there is one (the
        engine settles a row only on a day its visit's rules are in force)."""
        return self.rules[key]

    def named(self, prefix: str) -> list[RuleVersion]:
        """Rules of a named family (e.g. ``inpatient.place``), in name order (looked up once per family)."""
        found = self._named.get(prefix)
        if found is None:
            start = prefix + "."
            found = self._named[prefix] = [self.rules[k] for k in sorted(self.rules) if k.startswith(start)]
        return found


@attrs.frozen(eq=False)
class Policy:
    """A loaded, validated policy with its ancestors merged in."""

    id: str
    region: str
    scheme: str
    tier: str | None
    aliases: tuple[str, ...]
    notes: str
    levels: Mapping[str, str]  # hospital level code -> Chinese name
    institutions: Mapping[str, str]  # outpatient-only institution code -> Chinese name
    sources: Mapping[str, Source]
    timelines: Mapping[str, Timeline]
    file: str
    chain: tuple[str, ...]  # ids from this policy up to its root base
    #: Rules this file's notes say are not encoded (checked at load to be absent): [policy] not_encoded.
    not_encoded: tuple[str, ...] = ()
    #: The ResolvedPolicy of each set of versions in force (``at``): equal sets share one object.
    _resolved: dict = attrs.field(factory=dict, repr=False, eq=False)
    #: What is derived from the policy once it is loaded, by name (``memo``).
    _memo: dict = attrs.field(factory=dict, repr=False, eq=False)
    #: (id of a version with wage terms, id of the reference.wage version) -> that version with the
    #: amounts derived in fen (``medcalc.policy.wage.derive`` fills it at load).
    derived: dict = attrs.field(factory=dict, repr=False)

    def at(self, day: dt.date) -> ResolvedPolicy:
        """The rule versions in force on ``day``. Equal sets of versions share one object.

        A version tying amounts to the reference wage comes with them derived from the wage in
        force on ``day`` (so a change of either the rule or the wage takes effect on its day)."""
        chosen = {}
        for key, timeline in self.timelines.items():
            version = timeline.at(day)
            if version is not None:
                chosen[key] = version
        if self.derived:
            wage = id(chosen.get("reference.wage"))
            for key, version in chosen.items():
                derived = self.derived.get((id(version), wage))
                if derived is not None:
                    chosen[key] = derived
        signature = tuple(sorted((k, id(v)) for k, v in chosen.items()))
        cached = self._resolved.get(signature)
        if cached is None:
            cached = self._resolved[signature] = ResolvedPolicy(self, chosen)
        return cached

    def memo(self, name: str, build: Callable[[Policy], _T]) -> _T:
        """``build(self)``, made once per policy and kept under ``name``: the tables of its words
        (``medcalc.vocabulary``), its engine form (``medcalc.engine.compiled_policy``). A loaded
        policy does not change, so what is derived from it never goes stale."""
        value = self._memo.get(name)
        if value is None:
            value = self._memo[name] = build(self)
        return value

    def change_days(self) -> list[dt.date]:
        """Every day on which some rule changes, sorted."""
        days: set[dt.date] = set()
        for timeline in self.timelines.values():
            days |= timeline.change_days()
        return sorted(days)

    def coverage(self, required: tuple[str, ...]) -> list[tuple[dt.date, dt.date | None]]:
        """Date ranges on which every ``required`` rule is in force."""
        ranges: list[tuple[dt.date, dt.date | None]] = []
        days = self.change_days()
        for i, start in enumerate(days):
            resolved = self.at(start)
            ok = all(resolved.rule(k) is not None for k in required)
            end = days[i + 1] - dt.timedelta(days=1) if i + 1 < len(days) else None
            if not ok:
                continue
            if ranges and ranges[-1][1] is not None and ranges[-1][1] + dt.timedelta(days=1) == start:
                ranges[-1] = (ranges[-1][0], end)
            else:
                ranges.append((start, end))
        return ranges
