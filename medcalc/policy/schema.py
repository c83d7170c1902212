"""The vocabulary of rule families a policy file may use, and how each field is parsed.

Mechanisms are a closed vocabulary here; regions are an open set in data. Each rule
family lists its fields with a parser that raises ``_Invalid(message, sub_path)``
on a bad value; the loader turns that into a PolicyError naming the file and key path.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from ..errors import NOTHING
from ..money import RATIO_ONE, AmountError, parse_amount, parse_points, parse_ratio
from .model import (
    CATEGORIES,
    PERIODS,
    PLACES,
    REFERRALS,
    AgePoints,
    Band,
    ByLevel,
    Condition,
    DeductibleShare,
    PeriodCap,
    WageAmount,
)

__all__ = [
    "RuleSpec",
    "RULES",
    "LAYER_REQUIRED",
    "Invalid",
    "VERSION_FIELDS",
    "MAX_AMOUNT",
    "MAX_COUNT",
    "FIRST_DAY",
    "LAST_DAY",
]

#: The largest amount a policy may state, in fen: 1000万 yuan, the largest total of one claim
#: (claims.MAX_TOTAL). With ratios at most RATIO_ONE = 10^4, every amount x ratio the engine
#: forms is at most 10^13 and its largest product at most 10^18 < 2^63 (see engine/kernel.py).
MAX_AMOUNT = 10**9
#: The largest count (an admission number) a policy may state; the engine keeps counts in int64.
MAX_COUNT = 1000
#: The days a policy date may name: a day after the last still has a successor (a version's
#: end is its ``until`` + 1 day), and a year is a plain four-digit one.
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(2999, 12, 31)


class Invalid(Exception):
    """A bad value inside a rule: what is allowed, the value, and the sub-path to it."""

    def __init__(self, allowed: str, found: object, path: str = "") -> None:
        super().__init__(allowed)
        self.allowed = allowed
        self.found = found
        self.path = path

    def under(self, segment: str) -> Invalid:
        joined = f"{segment}.{self.path}" if self.path and not self.path.startswith("[") else f"{segment}{self.path}"
        return Invalid(self.allowed, self.found, joined)


Parser = Callable[[object, "ParseContext"], object]


@attrs.frozen
class ParseContext:
    """What a field parser may need to know: the level codes the file can use.

    ``levels`` holds every code (hospital levels and outpatient-only institutions);
    ``required`` the hospital levels that full tables (inpatient deductible, ratio) must cover.
    """

    levels: frozenset[str]
    required: frozenset[str] = frozenset()


#: The keys of an amount tied to the reference wage: ``{ wage_share = "10%" }``, ``{ wage_multiple = "6" }``.
WAGE_KEYS = ("wage_share", "wage_multiple")
#: The fields that accept such an amount (rule key -> fields).
WAGE_FIELDS = {
    "inpatient.deductible": ("amount", "by_admission"),
    "inpatient.deductible_cap": ("yearly",),
    "inpatient.cap": ("fund", "cost"),
    "inpatient.admission_cap": ("fund", "cost"),
    "critical.threshold": ("amount",),
    "critical.cap": ("amount",),
    "inpatient.place": ("deductible",),
    "outpatient.service": ("deductible", "cap", "visit_cap"),
    "assistance.category": ("deductible", "cap"),
    "assistance.again": ("threshold", "cap"),
    "backstop.burden_cap": ("cap",),
    "backstop.pay_again": ("threshold",),
}


def _is_wage_table(value: object) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in WAGE_KEYS


def _amount(value: object, ctx: ParseContext) -> int:
    if _is_wage_table(value):
        allowed = ", ".join(
            f"{key}{'.<name>' if RULES[key].named else ''}.{field}"
            for key, fields in WAGE_FIELDS.items()
            for field in fields
        )
        raise Invalid(
            f'an amount of yuan such as 200 or "1.5万" (a share or multiple of the reference wage is '
            f"allowed only in {allowed})",
            value,
        )
    if isinstance(value, float):
        raise Invalid('an amount written as an integer or a string such as "1.5万" (floats are inexact)', value)
    try:
        fen = int(parse_amount(value))
    except (AmountError, ValueError):
        raise Invalid('an amount of yuan such as 200, "200元" or "1.5万"', value) from None
    if fen > MAX_AMOUNT:
        raise Invalid(f"an amount between 0 and {MAX_AMOUNT // 100} yuan (1000万, the largest claim total)", value)
    return fen


def _wage_amount(value: object, ctx: ParseContext) -> int | WageAmount:
    """An amount of yuan, or a share or multiple of the reference wage in force ([[reference.wage]])."""
    if isinstance(value, dict):
        if not _is_wage_table(value):
            raise Invalid(
                'an amount of yuan such as 200 or "1.5万", or one of { wage_share = "10%" } (a share of the '
                'reference wage in force, [[reference.wage]]) or { wage_multiple = "6" } (a multiple of it)',
                value,
            )
        ((key, term),) = value.items()
        try:
            units = _ratio(term, ctx) if key == "wage_share" else _multiple(term, ctx)
        except Invalid as exc:
            raise exc.under(key) from None
        return WageAmount("share" if key == "wage_share" else "multiple", units, value)
    return _amount(value, ctx)


def _wage(value: object, ctx: ParseContext) -> int:
    fen = _amount(value, ctx)
    if fen <= 0:
        raise Invalid('a yearly wage above 0 yuan, such as 85000 or "8.5万"', value)
    return fen


def _year(value: object, ctx: ParseContext) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not FIRST_DAY.year <= value <= LAST_DAY.year:
        raise Invalid(f"a year such as 2024, between {FIRST_DAY.year} and {LAST_DAY.year}", value)
    return value


def _ratio(value: object, ctx: ParseContext) -> int:
    try:
        return int(parse_ratio(value))
    except AmountError:
        raise Invalid('a ratio within [0%, 100%] written as "60%"', value) from None


def _points(value: object, ctx: ParseContext) -> int:
    try:
        points = parse_points(value)
    except AmountError:
        raise Invalid('percentage points written as "+10" or "-12"', value) from None
    if not -RATIO_ONE <= points <= RATIO_ONE:
        raise Invalid("points within [-100, +100]", value)
    return points


def _multiple(value: object, ctx: ParseContext) -> int:
    """A multiple such as "1.5" (x the local value), in ratio units (1.5 -> 15000)."""
    if not isinstance(value, str):
        raise Invalid('a multiple written as a string such as "1.5"', value)
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise Invalid('a multiple written as a string such as "1.5"', value) from None
    units = number.scaleb(4)
    if units != units.to_integral_value() or number < 0 or number > 100:
        raise Invalid("a multiple between 0 and 100 with at most four decimals", value)
    return int(units)


def _positive_int(value: object, ctx: ParseContext) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COUNT:
        raise Invalid(f"a whole number between 1 and {MAX_COUNT}", value)
    return value


def _admission_number(value: object, ctx: ParseContext) -> int:
    number = _positive_int(value, ctx)
    if number < 2:
        raise Invalid("an admission number of at least 2 (the 2nd admission of the year or later)", value)
    return number


def _bool(value: object, ctx: ParseContext) -> bool:
    if not isinstance(value, bool):
        raise Invalid("true or false", value)
    return value


def _text(value: object, ctx: ParseContext) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("a non-empty string", value)
    return value


def _choice(*choices: str) -> Parser:
    def parse(value: object, ctx: ParseContext) -> str:
        if value not in choices:
            raise Invalid("one of " + ", ".join(repr(c) for c in choices), value)
        return value

    return parse


def by_level(inner: Parser) -> Parser:
    """One value for every level, or a table of level code -> value."""

    def parse(value: object, ctx: ParseContext) -> ByLevel:
        if isinstance(value, dict) and not _is_wage_table(value):  # (a wage term is one value)
            values = {}
            for level, item in value.items():
                if level not in ctx.levels:
                    raise Invalid(
                        "a hospital level declared in [levels]: " + ", ".join(sorted(ctx.levels)), level, str(level)
                    )
                try:
                    values[level] = inner(item, ctx)
                except Invalid as exc:
                    raise exc.under(level) from None
            if not values:
                raise Invalid("at least one level", value)
            return ByLevel(values)
        return ByLevel({}, inner(value, ctx))

    return parse


def _list_of(inner: Parser, minimum: int = 1) -> Parser:
    def parse(value: object, ctx: ParseContext) -> tuple:
        if not isinstance(value, list) or len(value) < minimum:
            raise Invalid(f"an array of at least {minimum} item(s)", value)
        items = []
        for i, item in enumerate(value):
            try:
                items.append(inner(item, ctx))
            except Invalid as exc:
                raise exc.under(f"[{i}]") from None
        return tuple(items)

    return parse


def _table(fields: Mapping[str, tuple[Parser, bool]], build: Callable[..., object]) -> Parser:
    """A sub-table with known fields (parser, required)."""

    def parse(value: object, ctx: ParseContext) -> object:
        if not isinstance(value, dict):
            raise Invalid("a table with keys " + ", ".join(fields), value)
        for key in value:
            if key not in fields:
                raise Invalid("one of the keys " + ", ".join(fields), key, str(key))
        out: dict[str, object] = {}
        for key, (parser, required) in fields.items():
            if key not in value:
                if required:
                    raise Invalid("a value (required)", _MISSING, key)
                out[key] = None
                continue
            try:
                out[key] = parser(value[key], ctx)
            except Invalid as exc:
                raise exc.under(key) from None
        return build(**out)

    return parse


_MISSING = NOTHING  # a missing value: messages then print no "(got ...)"


def _set_of(choices: tuple[str, ...] | None) -> Parser:
    def parse(value: object, ctx: ParseContext) -> frozenset[str]:
        allowed = choices if choices is not None else tuple(sorted(ctx.levels))
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            if item not in allowed:
                raise Invalid(
                    "one of " + ", ".join(repr(c) for c in allowed), item, f"[{i}]" if isinstance(value, list) else ""
                )
        return frozenset(items)

    return parse


def _names_list(value: object, ctx: ParseContext) -> tuple[str, ...]:
    """A list of free names (services, diseases, certifications)."""
    items = value if isinstance(value, list) else [value]
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item.strip():
            raise Invalid("a non-empty name", item, f"[{i}]" if isinstance(value, list) else "")
    return tuple(items)


def _amount_table(value: object, ctx: ParseContext) -> dict[str, int]:
    """A table of name = amount (a cap per disease)."""
    if not isinstance(value, dict) or not value:
        raise Invalid("a table of disease = amount, e.g. { 高血压 = 150, 糖尿病 = 150 }", value)
    out = {}
    for name, amount in value.items():
        try:
            out[name] = _amount(amount, ctx)
        except Invalid as exc:
            raise exc.under(name) from None
    return out


def _age(value: object, ctx: ParseContext) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 150:
        raise Invalid("an age in whole years between 0 and 150", value)
    return value


def _condition(**kw: Any) -> Condition:  # (each value as _CONDITION's parser for it returns)
    return Condition(
        places=kw["place"] or frozenset(),
        referrals=kw["referral"] or frozenset(),
        levels=kw["level"] or frozenset(),
        categories=kw["category"] or frozenset(),
        age_under=kw["age_under"],
        age_at_least=kw["age_at_least"],
        retired=kw["retired"],
        services=kw["service"] or frozenset(),
        visits=kw["visit"] or frozenset(),
    )


_CONDITION = _table(
    {
        "place": (_set_of(PLACES), False),
        "referral": (_set_of(REFERRALS), False),
        "level": (_set_of(None), False),
        "category": (_set_of(CATEGORIES), False),
        "age_under": (_age, False),
        "age_at_least": (_age, False),
        "retired": (_bool, False),
        "service": (lambda v, ctx: frozenset(_names_list(v, ctx)), False),
        "visit": (_set_of(("inpatient", "outpatient")), False),
    },
    _condition,
)

_SHARE = _table(
    {"share": (_ratio, True), "floor": (_amount, True), "ceiling": (_amount, False)},
    lambda share, floor, ceiling: DeductibleShare(share, floor, ceiling),
)

#: A cap on the in-scope cost an outpatient service counts per calendar month or quarter.
_PERIOD_CAP = _table(
    {"amount": (_amount, True), "per": (_choice(*PERIODS), True)},
    lambda amount, per: PeriodCap(amount, per),
)


def _positive_points(value: object, ctx: ParseContext) -> int:
    points = _points(value, ctx)
    if points <= 0:
        raise Invalid('points above 0 written as "+0.5"', value)
    return points


def _age_points(from_age, per_year, at_most, round_to, rounding) -> AgePoints:
    return AgePoints(from_age, per_year, at_most, round_to, rounding or "half_up")


_AGE_POINTS = _table(
    {
        "from_age": (_age, True),
        "per_year": (_positive_points, True),
        "at_most": (_positive_points, True),
        "round_to": (_positive_points, False),
        "rounding": (_choice("half_up", "down"), False),
    },
    _age_points,
)


#: How a layer paid on a cumulative axis rounds: each claim's payment once ("per_claim", the
#: default), or the year's running exact amount, each claim paying the change ("cumulative").
ROUNDINGS = ("per_claim", "cumulative")


def _band(**kw: object) -> Band:
    return Band(kw["below"], kw["ratio"])  # type: ignore[arg-type]


_BAND = _table({"below": (_amount, False), "ratio": (by_level(_ratio), True)}, _band)


def _written(raw: object, *path: object) -> object:
    """The value at ``path`` of a rule's TOML table as the file writes it (``"10万"``, not fen)."""
    for step in path:
        try:
            raw = raw[step]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return raw


def _check_bands(bands: tuple[Band, ...], raw: object = None) -> None:
    """Bands sorted by their bounds; errors show each bound as the file writes it."""
    previous = 0
    previous_written: object = None
    for i, band in enumerate(bands):
        last = i == len(bands) - 1
        if band.upper is None and not last:
            raise Invalid("a 'below' bound on every band but the last", _MISSING, f"[{i}].below")
        if band.upper is not None and last:
            raise Invalid(
                "no 'below' bound on the last band (it runs to infinity)", _written(raw, i, "below"), f"[{i}].below"
            )
        if band.upper is not None:
            if band.upper <= previous:
                raise Invalid(
                    f"bands sorted by increasing 'below' without overlap (a bound above the previous band's "
                    f"below = {previous_written!r})",
                    _written(raw, i, "below"),
                    f"[{i}].below",
                )
            previous, previous_written = band.upper, _written(raw, i, "below")


@attrs.frozen
class RuleSpec:
    """A rule family: its fields (parser, required), exclusive groups, and whether it is named."""

    key: str
    title: str  # Chinese and English, for explanations
    fields: Mapping[str, tuple[Parser, bool]]
    one_of: tuple[tuple[str, ...], ...] = ()  # exactly one field of each group
    at_most_one: tuple[tuple[str, ...], ...] = ()
    named: bool = False
    full_levels: tuple[str, ...] = ()  # by-level fields that must cover every declared level
    #: A check of the parsed values together; it gets the parsed ``params`` and the version's TOML
    #: table as written, so its errors show values as the file writes them ("10万", not fen).
    check: Callable[[dict, dict], None] | None = None


_SEGMENTS = ("marginal", "step")
_BASES = ("in_scope", "above_deductible", "admission")
_ALLOWED_WITH_BANDS = {
    "segments": 'one of "marginal" (each part of the cost at its band\'s ratio) or "step" (the whole payable '
    "part at the ratio of the band where the year's cumulative cost ends)",
    "basis": 'one of "in_scope" (the year\'s cumulative in-scope cost), "above_deductible" (the year\'s '
    'cumulative cost above deductibles) or "admission" (each admission\'s own in-scope cost: the segments '
    "restart at every admission)",
}


def _check_ratio(params: dict, raw: dict) -> None:
    if params.get("bands") is not None:
        for needed in ("segments", "basis"):
            if params.get(needed) is None:
                raise Invalid(f"a value (required with bands): {_ALLOWED_WITH_BANDS[needed]}", _MISSING, needed)
        try:
            _check_bands(params["bands"], raw.get("bands"))
        except Invalid as exc:
            raise exc.under("bands") from None
    else:
        for extra in ("segments", "basis"):
            if params.get(extra) is not None:
                raise Invalid("only with bands", raw[extra], extra)


#: At most this many fractions for later admissions (one per admission number, the last repeating).
MAX_LATER_FRACTIONS = 100


def _check_later(params: dict, raw: dict) -> None:
    fractions = params.get("fractions")
    if fractions is not None and len(fractions) > MAX_LATER_FRACTIONS:
        raise Invalid(f"an array of at most {MAX_LATER_FRACTIONS} fractions", raw["fractions"], "fractions")
    if fractions is not None and params.get("compounding"):
        raise Invalid(
            "only with one fraction: compounding takes the previous admission's deductible times it; "
            "fractions apply to this admission's own standard",
            raw["compounding"],
            "compounding",
        )


def _check_critical_bands(params: dict, raw: dict) -> None:
    try:
        _check_bands(params["bands"], raw.get("bands"))
    except Invalid as exc:
        raise exc.under("bands") from None


def _check_critical_modifier(params: dict, raw: dict) -> None:
    if all(params.get(k) is None for k in ("threshold_fraction", "ratio_points", "uncapped")):
        raise Invalid("at least one of threshold_fraction, ratio_points, uncapped", _MISSING, "")


def _check_service(params: dict, raw: dict) -> None:
    if params.get("disease_caps") is None:
        for name in ("ceiling", "highest_only"):
            if params.get(name) is not None:
                raise Invalid("only with disease_caps", raw[name], name)
    if params.get("fixed") is not None:
        for name in ("deductible", "halve", "period_cost_cap"):
            if params.get(name) is not None:
                raise Invalid("not with a fixed payment", raw[name], name)


def _check_place(params: dict, raw: dict) -> None:
    effects = ("deductible", "deductible_multiple", "deductible_share", "ratio", "ratio_points", "floor")
    if all(params.get(e) is None for e in effects):
        raise Invalid("at least one of " + ", ".join(effects), _MISSING, "")


def _check_modifier(params: dict, raw: dict) -> None:
    if all(params.get(e) is None for e in ("ratio_points", "age_points", "deductible_fraction")):
        raise Invalid("at least one of ratio_points, age_points, deductible_fraction", _MISSING, "")


RULES: dict[str, RuleSpec] = {
    spec.key: spec
    for spec in (
        RuleSpec(
            "inpatient.deductible",
            "起付线 deductible",
            {"amount": (by_level(_wage_amount), False), "by_admission": (_list_of(by_level(_wage_amount)), False)},
            one_of=(("amount", "by_admission"),),
            full_levels=("amount", "by_admission"),
        ),
        RuleSpec(
            "inpatient.deductible_later",
            "再次住院起付线 later admissions",
            {
                "from_admission": (_admission_number, True),
                "fraction": (_ratio, False),
                "fractions": (_list_of(_ratio), False),
                "compounding": (_bool, False),
                "floor": (_amount, False),
            },
            one_of=(("fraction", "fractions"),),
            check=_check_later,
        ),
        RuleSpec(
            "inpatient.deductible_cap",
            "年度累计起付线限额 yearly deductible total",
            {"yearly": (_wage_amount, True)},
        ),
        RuleSpec(
            "inpatient.ratio",
            "报销比例 ratio",
            {
                "ratio": (by_level(_ratio), False),
                "bands": (_list_of(_BAND), False),
                "segments": (_choice(*_SEGMENTS), False),
                "basis": (_choice(*_BASES), False),
                "rounding": (_choice(*ROUNDINGS), False),
            },
            one_of=(("ratio", "bands"),),
            full_levels=("ratio",),
            check=_check_ratio,
        ),
        RuleSpec(
            "inpatient.cap",
            "年度最高支付限额 annual cap",
            {"fund": (_wage_amount, False), "cost": (_wage_amount, False)},
            one_of=(("fund", "cost"),),
        ),
        RuleSpec(
            "inpatient.admission_cap",
            "每次住院最高支付限额 cap per admission",
            {"fund": (_wage_amount, False), "cost": (_wage_amount, False)},
            one_of=(("fund", "cost"),),
        ),
        RuleSpec(
            "inpatient.place",
            "异地/转诊 place and referral",
            {
                "when": (_CONDITION, True),
                "deductible": (by_level(_wage_amount), False),
                "deductible_multiple": (_multiple, False),
                "deductible_share": (_SHARE, False),
                "ratio": (by_level(_ratio), False),
                "ratio_points": (by_level(_points), False),
                "floor": (_ratio, False),
            },
            at_most_one=(("deductible", "deductible_multiple", "deductible_share"), ("ratio", "ratio_points")),
            named=True,
            check=_check_place,
        ),
        RuleSpec(
            "inpatient.modifier",
            "人群倾斜 person modifier",
            {
                "when": (_CONDITION, True),
                "ratio_points": (by_level(_points), False),
                "age_points": (_AGE_POINTS, False),
                "deductible_fraction": (_ratio, False),
            },
            named=True,
            check=_check_modifier,
        ),
        # Outpatient services (门诊): each named service is a category with its own rules and caps.
        RuleSpec(
            "outpatient.service",
            "门诊 outpatient service",
            {
                "levels": (_set_of(None), True),
                "places": (_set_of(PLACES), False),
                "diseases": (_names_list, False),
                "deductible": (by_level(_wage_amount), False),
                "ratio": (by_level(_ratio), False),
                "fixed": (by_level(_amount), False),
                "cap": (_wage_amount, False),
                "disease_caps": (_amount_table, False),
                "ceiling": (_amount, False),
                "highest_only": (_bool, False),
                "visit_cap": (_wage_amount, False),
                "period_cost_cap": (_PERIOD_CAP, False),  # in-scope cost counted per calendar month / quarter
                "excluded_if_certified": (_names_list, False),
                "halve": (_set_of(("bed", "nursing")), False),
            },
            one_of=(("ratio", "fixed"),),
            named=True,
            check=_check_service,
        ),
        # 大病保险 (residents) or 大额医疗费用补助 (employees): the second layer.
        RuleSpec(
            "critical.base",
            "大病保险基数 qualifying self-pay",
            {
                "deductible": (_bool, True),
                "coinsurance": (_bool, True),
                "above_cap": (_bool, True),
                "pre_self_pay": (_bool, True),
                "services": (_names_list, False),  # outpatient services whose self-pay also qualifies
            },
        ),
        RuleSpec("critical.threshold", "大病保险起付线 threshold", {"amount": (_wage_amount, True)}),
        RuleSpec(
            "critical.bands",
            "大病保险分段 bands",
            {
                "convention": (_choice("cumulative", "above_threshold"), True),
                "bands": (_list_of(_BAND), True),
                "rounding": (_choice(*ROUNDINGS), False),
            },
            check=_check_critical_bands,
        ),
        RuleSpec("critical.cap", "大病保险年度限额 annual cap", {"amount": (_wage_amount, True)}),
        RuleSpec(
            "critical.place",
            "大病保险 place and referral",
            {
                "when": (_CONDITION, True),
                "ratio": (by_level(_ratio), False),
                "ratio_points": (by_level(_points), False),
            },
            one_of=(("ratio", "ratio_points"),),
            named=True,
        ),
        RuleSpec(
            "critical.modifier",
            "大病保险倾斜 tilt",
            {
                "when": (_CONDITION, True),
                "threshold_fraction": (_ratio, False),
                "ratio_points": (by_level(_points), False),
                "uncapped": (_bool, False),
            },
            named=True,
            check=_check_critical_modifier,
        ),
        # 医疗救助: per person category.
        RuleSpec(
            "assistance.category",
            "医疗救助 medical assistance",
            {
                "when": (_CONDITION, True),
                "deductible": (_wage_amount, True),
                "ratio": (_ratio, True),
                "cap": (_wage_amount, False),
                "cap_group": (_text, False),
            },
            named=True,
        ),
        # 再次救助: a second stage on what the first assistance left, with its own threshold and cap.
        RuleSpec(
            "assistance.again",
            "再次救助 assistance again",
            {
                "when": (_CONDITION, True),
                "threshold": (_wage_amount, True),
                "ratio": (_ratio, True),
                "cap": (_wage_amount, False),
            },
            named=True,
        ),
        # 兜底: caps on the year's personal burden, and paying the rest again at a ratio (optionally
        # only the year's rest above a threshold, charged once a year).
        RuleSpec(
            "backstop.burden_cap",
            "兜底 annual burden cap",
            {"when": (_CONDITION, True), "cap": (by_level(_wage_amount), True)},
            named=True,
            full_levels=("cap",),
        ),
        RuleSpec(
            "backstop.pay_again",
            "再报销 paid again",
            {"when": (_CONDITION, True), "ratio": (_ratio, True), "threshold": (_wage_amount, False)},
            named=True,
        ),
        # The reference wage (上年社平工资) that amounts may be a share or multiple of: a dated,
        # cited value of its own (yuan a year; ``year``: the year the figure is of).
        RuleSpec("reference.wage", "社平工资 reference wage", {"amount": (_wage, True), "year": (_year, False)}),
    )
}

#: Rules that make up a layer: all of them in force on a day, or none.
LAYER_REQUIRED = {"critical": ("critical.base", "critical.threshold", "critical.bands")}

#: Fields every rule version may carry besides its mechanism's own.
VERSION_FIELDS = ("since", "until", "source", "quote", "verified", "note", "disabled")

DATE_HELP = "a date such as 2019-07-01"


def parse_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        raise Invalid(DATE_HELP + " (a day, not a time)", value)
    day = None
    if isinstance(value, dt.date):
        day = value
    elif isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            pass
    if day is None:
        raise Invalid(DATE_HELP, value)
    if not FIRST_DAY <= day <= LAST_DAY:
        raise Invalid(f"{DATE_HELP} between {FIRST_DAY} and {LAST_DAY}", value)
    return day
