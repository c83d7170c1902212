"""Hypothesis strategies for medcalc: amounts, ratios, random policies and claims they accept.

For property-testing code that builds on medcalc (and medcalc's own tests), in the style of
``hypothesis.extra``: plural names, keyword-only options, strategies accepted where a caller
would customise. Hypothesis is an optional dependency (``pip install "medcalc[strategies]"``);
``import medcalc`` never imports this module.

- :func:`amounts` and :func:`ratios`: exact ``Fen`` and ``Ratio`` values (never floats).
- :func:`policy_texts` and :func:`policies`: random but valid policy files using every inpatient
  mechanism (and, optionally, outpatient services, 大病, 医疗救助 and 兜底), as TOML text or loaded.
- :func:`claims` and :func:`claim_sequences`: ``medcalc.Claim`` objects, one or a list over
  several people and years with ties on dates. Given a ``policy``, only claims it settles
  without rejection: the levels, places, categories, services and dates it declares and covers.

Everything shrinks towards the simplest value: small amounts, few claims, the earliest date,
an inpatient claim at the policy's first level, local care, the ordinary category, no age.
"""

from __future__ import annotations

import atexit
import bisect
import datetime as dt
import functools
import hashlib
import itertools
import shutil
import tempfile
import weakref
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from .api import settle_many
from .claims import MAX_TOTAL, VISITS, Claim
from .engine.layers.basic import REQUIRED_RULES
from .engine.pipeline import vocabulary
from .money import RATIO_ONE, AmountError, Fen, Ratio, parse_amount, parse_ratio
from .policy import CATEGORIES, PLACES, Policy, load_policy
from .policy.model import AgePoints, Condition

__all__ = [
    "LEVELS",
    "SERVICES",
    "DISEASES",
    "LAYERS",
    "amounts",
    "ratios",
    "policy_texts",
    "policies",
    "claims",
    "claim_sequences",
]

#: Hospital levels of generated policies, lowest first; also the default levels of claims without a policy.
LEVELS = ("level1", "level2", "level3")
#: Outpatient services a generated policy may declare; also the default services of claims without a policy.
SERVICES = ("general", "two", "large")
#: Diseases generated services cap or exclude; also the diseases claims without a policy name.
DISEASES = ("高血压", "糖尿病", "冠心病")
#: The layers after basic insurance that :func:`policy_texts` may add.
LAYERS = ("critical", "assistance", "backstop")

#: Where a claim may happen and under which referral status (local care has none), simplest first.
_PLACE_REFERRALS = (("local", "none"),) + tuple(
    (place, referral) for place in PLACES[1:] for referral in ("referred", "emergency", "resident", "not_referred")
)
#: Claims without a policy are settled on these days (two years: accumulators reset once).
_DEFAULT_DAYS = (dt.date(2020, 1, 1), dt.date(2021, 12, 31))
_MAX_AGE = 100


# --- argument checks: hypothesis's InvalidArgument, naming the argument and the value -------------------


def _fen_bound(name: str, value: object) -> int:
    """A bound in fen: ``Fen`` or int (fen), or text in yuan such as "1.5万"."""
    if isinstance(value, bool) or isinstance(value, float) or not isinstance(value, (int, str)):
        raise InvalidArgument(
            f'{name}={value!r} must be Fen (or an int of fen) or yuan text such as "1.5万"; floats are inexact'
        )
    if isinstance(value, str):
        try:
            return int(parse_amount(value))
        except AmountError as exc:
            raise InvalidArgument(f"{name}={value!r}: {exc}") from None
    if value < 0:
        raise InvalidArgument(f"{name}={value!r} must not be negative: amounts of money are at least 0 fen")
    return int(value)


def _ratio_bound(name: str, value: object) -> int:
    """A bound in ratio units (10000 = 100 %): ``Ratio`` or int, or text such as "60%"."""
    if isinstance(value, bool) or isinstance(value, float) or not isinstance(value, (int, str)):
        raise InvalidArgument(f'{name}={value!r} must be a Ratio (or an int of 0.01 % units) or text such as "60%"')
    if isinstance(value, str):
        try:
            return int(parse_ratio(value))
        except AmountError as exc:
            raise InvalidArgument(f"{name}={value!r}: {exc}") from None
    if not 0 <= value <= RATIO_ONE:
        raise InvalidArgument(f"{name}={value!r} must be within [0, {RATIO_ONE}] (0 % to 100 % in 0.01 % units)")
    return int(value)


def _ordered(name: str, low: int, high: int, low_name: str, high_name: str) -> None:
    if low > high:
        raise InvalidArgument(f"{low_name}={low!r} must not be greater than {high_name}={high!r} ({name})")


def _strategy(name: str, value: object) -> None:
    if value is not None and not isinstance(value, st.SearchStrategy):
        raise InvalidArgument(f"{name}={value!r} must be a hypothesis strategy (or None for the default)")


def _choices(name: str, value: object, allowed: Sequence[str] | None) -> tuple[str, ...] | None:
    """A collection of codes, each among ``allowed`` (when known), in the order given."""
    if value is None:
        return None
    if isinstance(value, (str, st.SearchStrategy)) or not isinstance(value, Collection):
        raise InvalidArgument(
            f"{name}={value!r} must be a collection of codes such as {tuple((allowed or LEVELS)[:2])!r}"
        )
    items = tuple(dict.fromkeys(value))
    if not items:
        raise InvalidArgument(f"{name}={value!r} must name at least one code")
    for item in items:
        if not isinstance(item, str) or (allowed is not None and item not in allowed):
            known = f"; one of {', '.join(allowed)}" if allowed is not None else ""
            raise InvalidArgument(f"{name}: {item!r} is not allowed{known}")
    return items


def _size(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgument(f"{name}={value!r} must be a whole number of at least 0")
    return value


# --- amounts and ratios ---------------------------------------------------------------------------------


def amounts(
    *, min_value: Fen | int | str = Fen(0), max_value: Fen | int | str = Fen(MAX_TOTAL)
) -> st.SearchStrategy[Fen]:
    """Exact amounts of money as ``Fen``, between ``min_value`` and ``max_value`` inclusive.

    Bounds are ``Fen`` or ints, both counted in fen here (``Fen(150)`` is 1.50 yuan), or text
    in yuan as medcalc reads it (``"1.5万"``, ``"150元"``); floats are refused. The default
    upper bound is the largest total one claim may have (1000万 yuan). Shrinks towards
    ``min_value``.
    """
    low, high = _fen_bound("min_value", min_value), _fen_bound("max_value", max_value)
    _ordered("amounts", low, high, "min_value", "max_value")
    return st.integers(low, high).map(Fen)


def ratios(
    *, min_value: Ratio | int | str = Ratio(0), max_value: Ratio | int | str = Ratio(RATIO_ONE)
) -> st.SearchStrategy[Ratio]:
    """Exact ratios as ``Ratio``: integers in units of 0.01 percentage point (10000 = 100 %).

    That is how policies hold every ratio ("62.5%" is ``Ratio(6250)``); ``str()`` renders
    them as a policy file writes them. Bounds are ``Ratio``/int units or text such as
    ``"60%"``, within [0 %, 100 %]. Shrinks towards ``min_value``.
    """
    low, high = _ratio_bound("min_value", min_value), _ratio_bound("max_value", max_value)
    _ordered("ratios", low, high, "min_value", "max_value")
    return st.integers(low, high).map(Ratio)


# --- policies -------------------------------------------------------------------------------------------

_HEADER = """[policy]
id = "random"
region = "测试市"
scheme = "residents"

[levels]
level1 = "一级"
level2 = "二级"
level3 = "三级"

[sources.generated]
title = "generated by medcalc.strategies"
official = true
"""
_CITE = 'source = "generated"\nquote = "generated"\n'


def _pct(units: int) -> str:
    return f'"{units // 100}.{units % 100:02d}%"'


def _yuan(fen: int) -> str:
    return f'"{fen // 100}.{fen % 100:02d}"'


def _by_level(values: Sequence[int], render: Callable[[int], str]) -> str:
    return "{ " + ", ".join(f"{lv} = {render(v)}" for lv, v in zip(LEVELS, values)) + " }"


def _points_value(draw, low: int, high: int) -> str:
    """Ratio points within [low, high]: one value for every level, or a table naming some of the levels
    (the others get none)."""
    if draw(st.booleans()):
        return f'"{draw(st.integers(low, high))}"'
    named = draw(st.lists(st.sampled_from(LEVELS), min_size=1, max_size=len(LEVELS), unique=True))
    return "{ " + ", ".join(f'{lv} = "{draw(st.integers(low, high))}"' for lv in named) + " }"


def _wage_or_yuan(draw, wages: Sequence[int], high: int) -> str:
    """An amount of at most about ``high`` fen: in yuan, or (with ``wages``, the reference wage's versions
    in fen) a share or multiple of the wage whose derived amount is at most ``high`` under each version."""
    units = high * RATIO_ONE // max(wages) if wages else 0
    if not units or not draw(st.booleans()):
        return _yuan(draw(_upto(high)))
    units = draw(st.integers(0, min(units, 100 * RATIO_ONE)))
    if units <= RATIO_ONE and draw(st.booleans()):
        return f"{{ wage_share = {_pct(units)} }}"
    return f'{{ wage_multiple = "{units // RATIO_ONE}.{units % RATIO_ONE:04d}" }}'


def _wage_or_yuan_by_level(draw, wages: Sequence[int], high: int) -> str:
    return "{ " + ", ".join(f"{lv} = {_wage_or_yuan(draw, wages, high)}" for lv in LEVELS) + " }"


def _names(items: Sequence[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def _upto(high: int, low: int = 0) -> st.SearchStrategy[int]:
    """Fen from ``low`` to ``high``, shrinking towards ``low``."""
    return st.integers(low, high)


_SMALL = 300_000  # fen: deductibles up to 3000 yuan
_FLAGS = st.sampled_from(("false", "true"))


def policy_texts(
    *,
    outpatient: bool = True,
    layers: Collection[str] = LAYERS,
    allow_warnings: bool = False,
    since: dt.date = dt.date(2020, 1, 1),
) -> st.SearchStrategy[str]:
    """TOML text of random, valid policies (``policies()`` loads them).

    Every policy is a residents' policy of the levels in ``LEVELS`` whose rules are all in force
    from ``since`` on, using every inpatient mechanism at random: a deductible by level or by
    admission number, one for later admissions, a yearly deductible total; a ratio by level or
    cost segments (marginal or step, on the in-scope cost or above the deductible); an annual
    cap on funds or on cost; a place rule for care away (deductible, multiple or share; ratio or
    points; floor); person modifiers for the poor, for minors and, growing with age, for the
    retired; a reference wage (社平工资) in two dated versions, with deductibles as shares of it.
    With ``outpatient``, any of
    the ``SERVICES`` (levels, places, fixed payments or ratios, deductibles, halved fees, caps
    per year, disease and visit, exclusions on certification); and any of ``layers``:
    ``"critical"`` (大病 in either band convention, cap, place, tilt), ``"assistance"`` (医疗救助
    by category, optionally apart for outpatient visits and in cap groups), ``"backstop"``
    (兜底 burden caps and paying again, above a yearly threshold or not). With a reference wage,
    the place deductible, services' deductibles and caps, assistance deductibles, thresholds and
    caps, burden caps and the pay-again threshold are shares or multiples of it at random too.

    By default the policies also pass ``medcalc policy check`` without warnings (ratios fall as
    the level rises, boosted ratios stay within 100 %, the deductible within the fund cap, the
    大病 threshold within its cap); ``allow_warnings=True`` drops those limits, which is what
    tests of the engine want (a clamp at 100 % is a case too).

    Shrinks towards the fewest rules: one deductible table and one ratio table, all zero.
    """
    if not isinstance(outpatient, bool) or not isinstance(allow_warnings, bool):
        raise InvalidArgument(f"outpatient={outpatient!r} and allow_warnings={allow_warnings!r} must be True or False")
    chosen = _choices("layers", layers, LAYERS) if layers else ()
    if not isinstance(since, dt.date) or isinstance(since, dt.datetime):
        raise InvalidArgument(f"since={since!r} must be a date")
    return _policy_text(outpatient, frozenset(chosen or ()), allow_warnings, since)


@st.composite
def _policy_text(draw, outpatient: bool, layers: frozenset[str], allow_warnings: bool, since: dt.date) -> str:
    day = since.isoformat()

    def rule(key: str, body: str) -> str:
        return f"\n[[{key}]]\nsince = {day}\n{body}\n{_CITE}"

    any_ratio = st.integers(0, RATIO_ONE)
    # Person modifiers come first: without warnings they bound the ratios (ratio + boosts <= 100 %).
    poor = draw(st.booleans())
    poor_points = draw(st.integers(-20, 40)) if poor else 0
    minor = draw(st.booleans())
    elder = draw(st.booleans())  # points growing with the age of the retired
    elder_most = draw(st.integers(1, 15)) if elder else 0
    boost = max(poor_points, 0) * 100 + (500 if minor else 0) + elder_most * 100
    ratio = st.integers(0, RATIO_ONE if allow_warnings else RATIO_ONE - boost)

    def level_ratios() -> list[int]:
        values = draw(st.lists(ratio, min_size=3, max_size=3))
        return values if allow_warnings else sorted(values, reverse=True)  # lint: ratios fall as the level rises

    parts = [_HEADER]
    # A reference wage (社平工资) in two versions, and deductibles that are shares of it: each share
    # at most 1.5 % of at most 200 000 yuan, so the derived deductible stays within _SMALL.
    wages: list[int] = []
    if draw(st.booleans()):
        wages = [draw(st.integers(1, 20_000_000)), draw(st.integers(1, 20_000_000))]
        change = since + dt.timedelta(days=draw(st.integers(1, 400)))
        parts.append(
            f"\n[[reference.wage]]\nsince = {day}\nuntil = {(change - dt.timedelta(days=1)).isoformat()}\n"
            f"amount = {_yuan(wages[0])}\nyear = {since.year - 1}\n{_CITE}"
        )
        parts.append(
            f"\n[[reference.wage]]\nsince = {change.isoformat()}\namount = {_yuan(wages[1])}\n"
            f"year = {change.year - 1}\n{_CITE}"
        )

    def deductibles() -> tuple[str, list[int]]:
        """A deductible table by level (amounts, or shares of the wage): its text and largest fen."""
        if not wages:
            values = draw(st.lists(_upto(_SMALL), min_size=3, max_size=3))
            return _by_level(values, _yuan), values
        cells, largest = [], []
        for level in LEVELS:
            if draw(st.booleans()):
                units = draw(st.integers(0, 150))
                cells.append(f"{level} = {{ wage_share = {_pct(units)} }}")
                largest.append(max((2 * w * units + RATIO_ONE) // (2 * RATIO_ONE) for w in wages))
            else:
                largest.append(draw(_upto(_SMALL)))
                cells.append(f"{level} = {_yuan(largest[-1])}")
        return "{ " + ", ".join(cells) + " }", largest

    # each choice's False (where shrinking goes) is the simpler variant: one table, one ratio
    if not draw(st.booleans()):
        text, values = deductibles()
        tables = [values]
        parts.append(rule("inpatient.deductible", f"amount = {text}"))
    else:
        drawn = [deductibles() for _ in range(draw(st.integers(1, 4)))]
        tables = [values for _, values in drawn]
        parts.append(rule("inpatient.deductible", f"by_admission = [{', '.join(text for text, _ in drawn)}]"))
    largest = max(max(t) for t in tables)
    if draw(st.booleans()):
        compounding = "\ncompounding = true" if draw(st.booleans()) else ""
        floor = f"\nfloor = {_yuan(draw(_upto(_SMALL)))}" if draw(st.booleans()) else ""
        fractions = f"fraction = {_pct(draw(any_ratio))}"
        if not compounding and draw(st.booleans()):  # one fraction per admission number, the last repeating
            chosen = draw(st.lists(any_ratio, min_size=1, max_size=4))
            fractions = f"fractions = [{', '.join(_pct(f) for f in chosen)}]"
        parts.append(
            rule(
                "inpatient.deductible_later",
                f"from_admission = {draw(st.integers(2, 4))}\n{fractions}{compounding}{floor}",
            )
        )
    if draw(st.booleans()):
        parts.append(rule("inpatient.deductible_cap", f"yearly = {_yuan(draw(_upto(500_000)))}"))
    if not draw(st.booleans()):
        parts.append(rule("inpatient.ratio", f"ratio = {_by_level(level_ratios(), _pct)}"))
    else:
        uppers = sorted(set(draw(st.lists(st.integers(1, 5_000_000), min_size=1, max_size=4))))
        bands = [f"{{ below = {_yuan(upper)}, ratio = {_by_level(level_ratios(), _pct)} }}" for upper in uppers]
        bands.append(f"{{ ratio = {_pct(draw(ratio))} }}")
        mode = draw(st.sampled_from(("marginal", "step")))
        basis = draw(st.sampled_from(("in_scope", "above_deductible", "admission")))
        rounding = draw(st.sampled_from(("", '\nrounding = "cumulative"')))
        parts.append(
            rule("inpatient.ratio", f'segments = "{mode}"\nbasis = "{basis}"\nbands = [{", ".join(bands)}]{rounding}')
        )
    cap = draw(st.sampled_from(("none", "fund", "cost")))
    if cap == "fund":  # lint: a deductible above the fund cap could never be met
        parts.append(
            rule("inpatient.cap", f"fund = {_yuan(draw(_upto(10_000_000, 0 if allow_warnings else largest)))}")
        )
    elif cap == "cost":
        parts.append(rule("inpatient.cap", f"cost = {_yuan(draw(_upto(10_000_000)))}"))
    if draw(st.integers(0, 3)) == 0:  # a cap per admission, on its fund payment or on its in-scope cost
        kind = draw(st.sampled_from(("fund", "cost")))
        parts.append(rule("inpatient.admission_cap", f"{kind} = {_yuan(draw(_upto(2_000_000)))}"))
    if draw(st.booleans()):
        effect = draw(st.sampled_from(("amount", "multiple", "share")))
        if effect == "amount":
            effect = f"deductible = {_wage_or_yuan(draw, wages, _SMALL)}"
        elif effect == "multiple":
            tenths = draw(st.integers(0, 30))
            effect = f'deductible_multiple = "{tenths // 10}.{tenths % 10}"'
        else:
            effect = (
                f"deductible_share = {{ share = {_pct(draw(any_ratio))}, floor = {_yuan(draw(_upto(_SMALL)))}, "
                'ceiling = "1万" }'
            )
        how = draw(st.sampled_from(("none", "ratio", "points")))
        ratio_change = {
            "none": "",
            "ratio": f"ratio = {_pct(draw(any_ratio))}" if how == "ratio" else "",
            "points": f"ratio_points = {_points_value(draw, -30, 30)}" if how == "points" else "",
        }[how]
        floor = f"floor = {_pct(draw(any_ratio))}" if draw(st.booleans()) else ""
        parts.append(
            rule(
                "inpatient.place.away",
                f'when = {{ place = ["in_province", "out_of_province"] }}\n{effect}\n{ratio_change}\n{floor}',
            )
        )
    if poor:
        parts.append(
            rule(
                "inpatient.modifier.poor",
                f'when = {{ category = ["poverty", "dibao"] }}\n'
                f"ratio_points = {_points_value(draw, min(poor_points, -20), poor_points)}\n"
                f"deductible_fraction = {_pct(draw(any_ratio))}",
            )
        )
    if minor:
        parts.append(rule("inpatient.modifier.minor", 'when = { age_under = 18 }\nratio_points = "+5"'))
    if elder:
        rounding = draw(
            st.sampled_from(("", 'round_to = "1", rounding = "half_up", ', 'round_to = "0.5", rounding = "down", '))
        )
        parts.append(
            rule(
                "inpatient.modifier.elder",
                f"when = {{ retired = true }}\nage_points = {{ from_age = "
                f'{draw(st.integers(0, 70))}, per_year = "+0.{draw(st.integers(1, 9))}", '
                f'{rounding}at_most = "+{elder_most}" }}',
            )
        )
    if outpatient:
        for name in SERVICES:
            if draw(st.booleans()):
                parts.append(rule(f"outpatient.service.{name}", draw(_service(allow_warnings, tuple(wages)))))
    if "critical" in layers and draw(st.booleans()):
        parts.extend(rule(k, body) for k, body in draw(_critical(allow_warnings)))
    if "assistance" in layers and draw(st.booleans()):
        parts.extend(rule(k, body) for k, body in draw(_assistance(tuple(wages))))
    if "backstop" in layers and draw(st.booleans()):
        parts.extend(rule(k, body) for k, body in draw(_backstop(tuple(wages))))
    return "\n".join(parts)


@st.composite
def _service(draw, allow_warnings: bool = True, wages: tuple[int, ...] = ()) -> str:
    """An outpatient service's body: levels, places, deductible, ratio or fixed, caps of every kind."""
    ratio = st.integers(0, RATIO_ONE)
    lines = [f"levels = {_names(draw(st.lists(st.sampled_from(LEVELS), min_size=1, max_size=3, unique=True)))}"]
    if draw(st.booleans()):
        lines.append(f"places = {_names(draw(st.lists(st.sampled_from(PLACES), min_size=1, max_size=3, unique=True)))}")
    if draw(st.booleans()):
        lines.append(f"fixed = {_by_level(draw(st.lists(_upto(5000), min_size=3, max_size=3)), _yuan)}")
    else:
        lines.append(f"ratio = {_by_level(draw(st.lists(ratio, min_size=3, max_size=3)), _pct)}")
        deductible = 0
        if draw(st.booleans()):
            lines.append(f"deductible = {_wage_or_yuan(draw, wages, 20_000)}")
            deductible = 20_000  # (at most, in yuan or of the wage)
        elif draw(st.booleans()):
            lines.append(f"deductible = {_wage_or_yuan_by_level(draw, wages, 20_000)}")
            deductible = 20_000
        if draw(st.booleans()):
            lines.append('halve = ["bed", "nursing"]')
        if draw(st.booleans()):  # in-scope cost counted per calendar month or quarter
            per = draw(st.sampled_from(("month", "quarter")))
            # lint: a year of periods that cannot count more than the deductible would never pay
            low = 1_000 if allow_warnings else max(1_000, deductible // (12 if per == "month" else 4) + 1)
            lines.append(f'period_cost_cap = {{ amount = {_yuan(draw(_upto(max(50_000, low), low)))}, per = "{per}" }}')
    if draw(st.booleans()):
        lines.append(f"cap = {_wage_or_yuan(draw, wages, 100_000)}")
    if draw(st.booleans()):
        chosen = draw(st.lists(st.sampled_from(DISEASES), min_size=1, max_size=3, unique=True))
        caps = ", ".join(f'"{d}" = {_yuan(draw(_upto(50_000)))}' for d in chosen)
        lines.append(f"disease_caps = {{ {caps} }}")
        if draw(st.booleans()):
            lines.append(f"ceiling = {_yuan(draw(_upto(80_000)))}")
        if draw(st.booleans()):
            lines.append("highest_only = true")
    if draw(st.booleans()):
        lines.append(f"visit_cap = {_wage_or_yuan(draw, wages, 20_000)}")
    if draw(st.booleans()):
        lines.append(
            "excluded_if_certified = "
            f"{_names(draw(st.lists(st.sampled_from(DISEASES), min_size=1, max_size=2, unique=True)))}"
        )
    return "\n".join(lines)


@st.composite
def _critical(draw, allow_warnings: bool) -> list[tuple[str, str]]:
    """大病: what qualifies, threshold, bands in either convention, cap, place, tilt."""
    ratio = st.integers(0, RATIO_ONE)
    base = "\n".join(f"{k} = {draw(_FLAGS)}" for k in ("deductible", "coinsurance", "above_cap", "pre_self_pay"))
    threshold = draw(_upto(3_000_000))
    out = [("critical.base", base), ("critical.threshold", f"amount = {_yuan(threshold)}")]
    uppers = sorted(set(draw(st.lists(st.integers(1, 30_000_000), max_size=3))))
    bands = []
    for upper in uppers:
        rate = draw(
            st.one_of(ratio.map(_pct), st.lists(ratio, min_size=3, max_size=3).map(lambda r: _by_level(r, _pct)))
        )
        bands.append(f"{{ below = {_yuan(upper)}, ratio = {rate} }}")
    bands.append(f"{{ ratio = {_pct(draw(ratio))} }}")
    convention = draw(st.sampled_from(("cumulative", "above_threshold")))
    rounding = draw(st.sampled_from(("", '\nrounding = "per_claim"', '\nrounding = "cumulative"')))
    out.append(("critical.bands", f'convention = "{convention}"\nbands = [{", ".join(bands)}]{rounding}'))
    if draw(st.booleans()):  # lint: a threshold above the cap would never pay
        out.append(
            (
                "critical.cap",
                f"amount = {_yuan(draw(_upto(10_000_000 + threshold, 0 if allow_warnings else threshold)))}",
            )
        )
    if draw(st.booleans()):
        change = (
            f"ratio = {_pct(draw(ratio))}" if draw(st.booleans()) else f"ratio_points = {_points_value(draw, -30, 30)}"
        )
        out.append(("critical.place.away", f'when = {{ referral = ["not_referred"] }}\n{change}'))
    if draw(st.booleans()):
        out.append(
            (
                "critical.modifier.poor",
                f'when = {{ category = ["poverty", "dibao"] }}\n'
                f"threshold_fraction = {_pct(draw(ratio))}\n"
                f"ratio_points = {_points_value(draw, 0, 20)}\nuncapped = {draw(_FLAGS)}",
            )
        )
    return out


@st.composite
def _assistance(draw, wages: tuple[int, ...] = ()) -> list[tuple[str, str]]:
    """医疗救助 by category; optionally apart for outpatient visits, in the same or another cap group."""
    out = []
    split = draw(st.booleans())
    visits = [("", "")] if not split else [("", ', visit = ["inpatient"]'), ("_outpatient", ', visit = ["outpatient"]')]
    for name in ("dibao", "poverty"):
        for suffix, visit in visits:
            if draw(st.booleans()):
                cap = f"cap = {_wage_or_yuan(draw, wages, 3_000_000)}" if draw(st.booleans()) else ""
                group = draw(st.sampled_from(("", 'cap_group = "inpatient"', 'cap_group = "outpatient"')))
                out.append(
                    (
                        f"assistance.category.{name}{suffix}",
                        f'when = {{ category = ["{name}"]{visit} }}\n'
                        f"deductible = {_wage_or_yuan(draw, wages, 3_000_000)}\n"
                        f"ratio = {_pct(draw(st.integers(0, RATIO_ONE)))}\n{cap}\n{group}",
                    )
                )
    if draw(st.booleans()):  # 再次救助 on what the first stage left
        cap = f"cap = {_wage_or_yuan(draw, wages, 3_000_000)}" if draw(st.booleans()) else ""
        out.append(
            (
                "assistance.again.poor",
                f'when = {{ category = ["dibao", "poverty"] }}\n'
                f"threshold = {_wage_or_yuan(draw, wages, 3_000_000)}\n"
                f"ratio = {_pct(draw(st.integers(0, RATIO_ONE)))}\n{cap}",
            )
        )
    return out


@st.composite
def _backstop(draw, wages: tuple[int, ...] = ()) -> list[tuple[str, str]]:
    """兜底: a burden cap by level for the poor, and paying the rest again at a ratio (above a
    yearly threshold or not)."""
    out = []
    if draw(st.booleans()):
        caps = _wage_or_yuan_by_level(draw, wages, 2_000_000)
        out.append(("backstop.burden_cap.poor", f'when = {{ category = ["poverty", "dibao"] }}\ncap = {caps}'))
    if draw(st.booleans()):
        threshold = f"\nthreshold = {_wage_or_yuan(draw, wages, 2_000_000)}" if draw(st.booleans()) else ""
        out.append(
            (
                "backstop.pay_again.poor",
                f'when = {{ category = ["poverty"] }}\nratio = {_pct(draw(st.integers(0, RATIO_ONE)))}{threshold}',
            )
        )
    return out


_TEXT_DIR: Path | None = None


def _load_text(text: str) -> Policy:
    """Load policy text through a file (the loader reads files), named by its content.

    Equal texts share one file and, through load_policy's cache, one Policy object; the
    files live in a temporary folder removed when the process exits.
    """
    global _TEXT_DIR
    if _TEXT_DIR is None:
        _TEXT_DIR = Path(tempfile.mkdtemp(prefix="medcalc-strategies-"))
        atexit.register(shutil.rmtree, _TEXT_DIR, True)
    path = _TEXT_DIR / f"random-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:20]}.toml"
    if not path.exists():
        path.write_text(text, encoding="utf-8")
    return load_policy(path)


def policies(
    *,
    outpatient: bool = True,
    layers: Collection[str] = LAYERS,
    allow_warnings: bool = False,
    since: dt.date = dt.date(2020, 1, 1),
) -> st.SearchStrategy[Policy]:
    """Random, valid policies, loaded: ``policy_texts(...)`` (same options) through ``medcalc.load_policy``.

    ``Path(policy.file).read_text()`` gives a drawn policy's text (the file lives in a
    temporary folder until the process exits). For claims the drawn policy accepts, draw both
    from ``st.data()``: ``policy = data.draw(policies())`` then
    ``data.draw(claim_sequences(policy=policy))``. Shrinks as ``policy_texts`` does.
    """
    return policy_texts(outpatient=outpatient, layers=layers, allow_warnings=allow_warnings, since=since).map(
        _load_text
    )


# --- claims ---------------------------------------------------------------------------------------------
#
# A claim is drawn along a tree of choices: the day, then visit (inpatient or an outpatient
# service), level, place and referral, category, age, retired. Without a policy every branch
# is open. With one, the tree holds only the branches the engine settles: each period of the
# policy (days with the same rule versions in force) is tried once on one claim per branch, in
# one batch, and rejected branches are dropped. Categories, ages and retirement are tried per
# class of values the policy's conditions cannot tell apart, so the batch stays small.


@functools.lru_cache(maxsize=4096)  # built once per set of options: draws walk the same nodes again and again
def _pick(options: tuple) -> st.SearchStrategy[Any]:
    """One of ``options``, the first (simplest) about half the time; shrinks towards it."""
    if len(options) == 1:
        return st.just(options[0])
    return st.one_of(st.just(options[0]), st.sampled_from(options))


@functools.lru_cache(maxsize=1024)
def _levels(options: tuple) -> st.SearchStrategy[str]:
    return st.sampled_from(options)


def _conditions(policy: Policy) -> list[Condition]:
    return [
        value
        for timeline in policy.timelines.values()
        for versions in timeline.layers
        for version in versions
        for value in version.params.values()
        if isinstance(value, Condition)
    ]


def _classes(
    policy: Policy | None,
) -> tuple[list[tuple[str, ...]], list[tuple[int, int] | None], list[tuple[bool, ...]]]:
    """Categories, ages and retirement in classes the policy's conditions treat alike, simplest first."""
    conditions = _conditions(policy) if policy is not None else []
    signature: dict[tuple[bool, ...], list[str]] = {}
    for category in CATEGORIES:
        key = tuple(category in c.categories for c in conditions if c.categories)
        signature.setdefault(key, []).append(category)
    categories = [tuple(members) for members in signature.values()]
    bounds = {b for c in conditions for b in (c.age_under, c.age_at_least) if b is not None}
    if policy is not None:  # ratios growing with age start counting at an age: one more class from there
        bounds |= {
            value.from_age
            for timeline in policy.timelines.values()
            for versions in timeline.layers
            for version in versions
            for value in version.params.values()
            if isinstance(value, AgePoints)
        }
    edges = [0, *sorted({min(max(b, 1), _MAX_AGE) for b in bounds}), _MAX_AGE + 1]
    ages: list[tuple[int, int] | None] = [None] + [(a, b - 1) for a, b in zip(edges, edges[1:]) if a < b]
    retired: list[tuple[bool, ...]] = (
        [(False,), (True,)] if any(c.retired is not None for c in conditions) else [(False, True)]
    )
    return categories, ages, retired


class _Space:
    """The tree of claim choices per period of days, and what outpatient services require."""

    def __init__(self) -> None:
        self.starts: list[dt.date] = []
        self.ends: list[dt.date] = []
        self.trees: list[dict] = []
        self.diseases: tuple[str, ...] = DISEASES
        # per period, service -> (lists to name a disease of, certifications that end cover, has disease caps)
        self.needs: list[dict[str, tuple[tuple[tuple[str, ...], ...], frozenset[str], bool]]] = []
        self._days: st.SearchStrategy[dt.date] | None = None

    def add(self, start: dt.date, end: dt.date, tree: dict, needs: dict) -> None:
        if tree:
            self.starts.append(start)
            self.ends.append(end)
            self.trees.append(tree)
            self.needs.append(needs)

    def period(self, day: dt.date) -> int | None:
        i = bisect.bisect_right(self.starts, day) - 1
        return i if i >= 0 and day <= self.ends[i] else None

    def covers(self, day: dt.date) -> bool:
        return self.period(day) is not None

    def days(self) -> st.SearchStrategy[dt.date]:
        """Every day of the periods, uniformly; shrinks towards the earliest."""
        if self._days is None:
            lengths = [(b - a).days + 1 for a, b in zip(self.starts, self.ends)]
            offsets = list(itertools.accumulate(lengths))

            def day(n: int) -> dt.date:
                i = bisect.bisect_right(offsets, n)
                return self.starts[i] + dt.timedelta(days=n - (offsets[i - 1] if i else 0))

            self._days = st.integers(0, offsets[-1] - 1).map(day)
        return self._days


def _tree(branches) -> dict:
    """Nested dicts from (visit, level, place, category class, age class, retired class) paths, in order."""
    tree: dict = {}
    for visit, level, place, category, age, retired in branches:
        node = tree.setdefault(visit, {}).setdefault(level, {}).setdefault(place, {}).setdefault(category, {})
        node.setdefault(age, []).append(retired)
    return tree


def _free_space(levels, visits, services, places, categories) -> _Space:
    """Every combination: claims without a policy (some may be rejected by the policy they meet)."""
    cats = [(c,) for c in (categories or CATEGORIES)]
    kinds = ([("inpatient", None)] if "inpatient" in visits else []) + (
        [("outpatient", s) for s in (services or SERVICES)] if "outpatient" in visits else []
    )
    pairs = [p for p in _PLACE_REFERRALS if places is None or p[0] in places]
    space = _Space()
    tree = _tree(itertools.product(kinds, levels or LEVELS, pairs, cats, [None, (0, 90)], [(False, True)]))
    space.add(dt.date.min, dt.date.max, tree, {})  # every day is open: the dates strategy chooses
    return space


#: Per policy: the branches it settles, per period (computed once, dropped with the policy).
_ACCEPTED: weakref.WeakKeyDictionary[Policy, list] = weakref.WeakKeyDictionary()


def _accepted(policy: Policy) -> list[tuple[dt.date, dt.date, list[tuple], dict]]:
    cached = _ACCEPTED.get(policy)
    if cached is not None:
        return cached
    vocab = vocabulary(policy)
    categories, ages, retired = _classes(policy)
    days = policy.change_days()
    periods: list[tuple[dt.date, dt.date, list[tuple], dict]] = []
    candidates: list[Claim] = []
    rows: list[int] = []  # each period's end in candidates
    for i, start in enumerate(days):
        end = days[i + 1] - dt.timedelta(days=1) if i + 1 < len(days) else dt.date(start.year + 1, 12, 31)
        resolved = policy.at(start)
        kinds: list[tuple[tuple[str, str | None], list[str]]] = []
        needs: dict[str, tuple[tuple[tuple[str, ...], ...], frozenset[str], bool]] = {}
        if all(resolved.rule(k) is not None for k in REQUIRED_RULES):
            kinds.append((("inpatient", None), list(policy.levels)))
        for code in vocab.services:
            rule = resolved.rule(f"outpatient.service.{code}")
            if rule is not None:
                kinds.append((("outpatient", code), [lv for lv in vocab if lv in rule["levels"]]))
                # the claim must name a disease of each list (some of its diseases, some with a cap), and
                # a certification may end the service (without caps) or one disease's cover (with caps)
                named = tuple(
                    r for r in (tuple(rule.get("diseases") or ()), tuple(rule.get("disease_caps") or ())) if r
                )
                needs[code] = (
                    named,
                    frozenset(rule.get("excluded_if_certified") or ()),
                    rule.get("disease_caps") is not None,
                )
        branches = [
            (kind, level, pair, cat, age, ret)
            for kind, levels in kinds
            for level, pair, cat, age, ret in itertools.product(levels, _PLACE_REFERRALS, categories, ages, retired)
        ]
        for (visit, service), level, (place, referral), cat, age, ret in branches:
            candidates.append(
                Claim(
                    person_id=f"x{len(candidates)}",
                    settled_on=start,
                    level=level,
                    total=Fen(10_000),
                    visit=visit,
                    service=service,
                    diseases=[r[0] for r in needs[service][0]] if service else (),
                    place=place,
                    referral=referral,
                    category=cat[0],
                    age=None if age is None else age[0],
                    retired=ret[0],
                )
            )
        rows.append(len(candidates))
        periods.append((start, end, branches, needs))
    rejected = {r.row for r in settle_many(policy, candidates, explain=False).rejects} if candidates else set()
    out, first = [], 0
    for (start, end, branches, needs), last in zip(periods, rows):
        out.append((start, end, [b for j, b in enumerate(branches, first) if j not in rejected], needs))
        first = last
    _ACCEPTED[policy] = out
    return out


def _policy_space(policy: Policy, levels, visits, services, places, categories) -> _Space:
    space = _Space()
    space.diseases = tuple(vocabulary(policy).diseases)
    for start, end, branches, needs in _accepted(policy):
        kept = []
        for (visit, service), level, pair, cat, age, ret in branches:
            if visit not in visits or (services is not None and service is not None and service not in services):
                continue
            if (levels is not None and level not in levels) or (places is not None and pair[0] not in places):
                continue
            cat = tuple(c for c in cat if categories is None or c in categories)
            if cat:
                kept.append(((visit, service), level, pair, cat, age, ret))
        space.add(start, end, _tree(kept), needs)
    if not space.trees:
        wanted = ", ".join(
            f"{k}={v!r}"
            for k, v in (
                ("levels", levels),
                ("visits", visits),
                ("services", services),
                ("places", places),
                ("categories", categories),
            )
            if v is not None
        )
        raise InvalidArgument(f"policy {policy.id} settles no claim with {wanted} on any day")
    return space


def _claim_space(policy, levels, visits, services, places, categories) -> tuple[Policy | None, Callable[[], _Space]]:
    """Check the claim options and return the policy and a lazy builder of the choice tree."""
    if policy is not None and not isinstance(policy, Policy):
        if not isinstance(policy, (str, Path)):
            raise InvalidArgument(f"policy={policy!r} must be a medcalc.Policy, a policy id or a path to a policy file")
        policy = load_policy(policy)
    visits = _choices("visits", visits, VISITS)
    places = _choices("places", places, PLACES)
    categories = _choices("categories", categories, CATEGORIES)
    if policy is None:
        levels, services = _choices("levels", levels, None), _choices("services", services, None)
        space = _free_space(levels, visits, services, places, categories)
        return None, lambda: space
    levels = _choices("levels", levels, tuple(vocabulary(policy)))
    services = _choices("services", services, tuple(vocabulary(policy).services))
    built: list[_Space] = []

    def build() -> _Space:
        if not built:  # the policy is tried on its claims on first draw, not when the strategy is made
            built.append(_policy_space(policy, levels, visits, services, places, categories))
        return built[0]

    return policy, build


def _persons(value: object) -> st.SearchStrategy[str]:
    if isinstance(value, st.SearchStrategy):
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgument(f"persons={value!r} must be a number of people (at least 1) or a strategy of person ids")
    return st.sampled_from([f"p{i}" for i in range(value)])


_CLAIM_IDS = st.one_of(st.none(), st.sampled_from(["a", "b", "c"]))
_TOTALS = st.one_of(amounts(max_value=Fen(2_000_000)), amounts(max_value=Fen(100_000_000)))


def _dates(space: _Space, policy: Policy | None, dates: st.SearchStrategy | None) -> st.SearchStrategy[dt.date]:
    if dates is None:
        if policy is None:
            start, end = _DEFAULT_DAYS
            return st.integers(0, (end - start).days).map(lambda n: start + dt.timedelta(days=n))
        return space.days()
    return dates if policy is None else dates.filter(space.covers)


#: What a claim drawn with ``given=True`` gives of earlier layers (claims.GIVEN_FIELDS): nothing, or some of them.
_GIVEN_MODES = (
    (),
    ("basic_paid", "critical_base"),
    ("basic_paid", "critical_paid"),
    ("basic_paid", "critical_base", "critical_paid"),
    ("basic_paid",),
)


def _given_amounts(draw, in_scope: int, pre_self_pay: int, alone: bool) -> dict[str, Fen]:
    """Amounts of earlier layers as settled elsewhere: 大病's only with basic's, basic and 大病
    payments within the in-scope cost together, a 大病 base within what basic leaves of the in-scope
    cost and 乙类先行自付.
    ``alone``: basic_paid may come without the base."""
    names = draw(st.sampled_from(_GIVEN_MODES if alone else _GIVEN_MODES[:-1]))
    out: dict[str, Fen] = {}
    left = in_scope
    for name in names:
        if name == "critical_base":  # (drawn after basic_paid)
            out[name] = Fen(draw(st.integers(0, in_scope - out["basic_paid"] + pre_self_pay)))
        else:
            out[name] = Fen(draw(st.integers(0, left)))
            left -= out[name]
    return out


@st.composite
def _one_claim(
    draw,
    space: _Space,
    days: st.SearchStrategy[dt.date],
    persons,
    claim_ids,
    totals,
    given: bool = False,
    alone: bool = True,
) -> Claim:
    day = draw(days)
    i = space.period(day)
    assert i is not None, f"{day} is outside the claim space (its dates strategy draws only days inside)"
    node = space.trees[i]
    visit, service = draw(_pick(tuple(node)))
    node = node[(visit, service)]
    level = draw(_levels(tuple(node)))
    node = node[level]
    place, referral = draw(_pick(tuple(node)))
    node = node[(place, referral)]
    category_class = draw(_pick(tuple(node)))
    node = node[category_class]
    age_class = draw(_pick(tuple(node)))
    retired = draw(_pick(draw(_pick(tuple(node[age_class])))))
    category = draw(_pick(category_class))
    age = None if age_class is None else draw(st.integers(*age_class))

    try:
        total = int(parse_amount(draw(totals)))
    except AmountError as exc:
        raise InvalidArgument(f"totals drew a value that is not an amount: {exc}") from None
    if total > MAX_TOTAL:
        raise InvalidArgument(f"totals drew {Fen(total)} yuan, above the 1000万 yuan one claim may have")
    part = st.integers(0, total // 3)
    self_funded, over_limit, pre_self_pay = draw(part), draw(part), draw(part)
    extra: dict[str, Any] = {}
    if visit == "outpatient":
        named, excluded, capped = space.needs[i].get(service, ((), frozenset(), False))
        names = tuple(space.diseases)
        diseases = set(draw(st.lists(st.sampled_from(names), max_size=3, unique=True))) if names else set()
        # without disease caps, a certification among `excluded` would end the service: never drawn
        certifiable = tuple(d for d in names if capped or d not in excluded)
        certified = set(draw(st.lists(st.sampled_from(certifiable), max_size=1))) if certifiable else set()
        for required in named:  # the service pays only for these: name one it still covers
            usable = [d for d in required if d not in certified & excluded]
            if not usable:
                certified, usable = set(), list(required)
            if not diseases & set(usable):
                diseases.add(draw(st.sampled_from(tuple(usable))))
        in_scope = total - self_funded - over_limit - pre_self_pay
        fee = st.integers(0, in_scope // 2)
        extra = dict(
            visit="outpatient",
            service=service,
            diseases=sorted(diseases),
            certified=sorted(certified),
            bed_fees=Fen(draw(fee)),
            nursing_fees=Fen(draw(fee)),
        )
    if given:
        extra.update(_given_amounts(draw, total - self_funded - over_limit - pre_self_pay, pre_self_pay, alone))
    return Claim(
        person_id=draw(persons),
        claim_id=draw(claim_ids),
        settled_on=day,
        level=level,
        total=Fen(total),
        self_funded=Fen(self_funded),
        over_limit=Fen(over_limit),
        pre_self_pay=Fen(pre_self_pay),
        place=place,
        referral=referral,
        category=category,
        age=age,
        retired=retired,
        **extra,
    )


def claims(
    *,
    policy: Policy | str | None = None,
    persons: int | st.SearchStrategy[str] = 3,
    dates: st.SearchStrategy[dt.date] | None = None,
    totals: st.SearchStrategy[Fen] | None = None,
    levels: Collection[str] | None = None,
    visits: Collection[str] = VISITS,
    services: Collection[str] | None = None,
    places: Collection[str] | None = None,
    categories: Collection[str] | None = None,
    claim_ids: st.SearchStrategy[str | None] | None = None,
    given: bool = False,
) -> st.SearchStrategy[Claim]:
    """Single ``medcalc.Claim`` objects; given a ``policy``, only claims it settles without rejection.

    ``policy`` (a Policy, an id or a path) restricts every choice to what the policy settles on
    the claim's day: its hospital levels (outpatient visits: the service's levels and
    institutions), its services in force, places and referral statuses some rule pays, every
    category and age its rules accept, and the days its rules cover (an open-ended policy up
    to the end of the year after its last change). Without a policy, claims use ``LEVELS``,
    ``SERVICES`` and ``DISEASES``, any place and category, days of 2020 and 2021: what
    ``policies()`` generates, and what a test wants to see rejected elsewhere.

    Options narrow the choice: ``levels``, ``visits`` (``"inpatient"``, ``"outpatient"``),
    ``services``, ``places``, ``categories`` are collections of codes (with a policy, codes
    it does not declare are an error); ``persons`` a number of people (ids ``p0``, ``p1``, …)
    or a strategy of ids; ``dates`` a strategy of days (with a policy, days it does not cover
    are filtered out); ``totals`` a strategy of amounts (``amounts()``: ``Fen``; plain ints
    would mean yuan, as everywhere in medcalc), by default up to 2万 or 100万 yuan;
    ``claim_ids`` a strategy of ids or None (default: none or a few that tie).

    Each claim's 全自费, 超限价 and 乙类先行自付 are each up to a third of the total; outpatient
    visits name diseases (one the service requires, if any), sometimes a certification (never
    one that ends the service), and bed and nursing fees within the in-scope cost. With
    ``given=True``, claims may also give amounts of earlier layers settled elsewhere
    (``basic_paid``, with ``critical_base`` or ``critical_paid`` or neither: 大病's figures come
    only with basic's); with a policy, basic_paid always comes with one of them (alone it is
    refused where the policy's 大病 base counts only some
    parts of the self-pay).

    Shrinks towards an inpatient claim of person ``p0`` on the earliest day, at the first level,
    local, ordinary, of no stated age, not retired, with no claim id, a total of 0 (or the
    smallest ``totals`` gives) and no bill parts.
    """
    _strategy("dates", dates)
    _strategy("totals", totals)
    _strategy("claim_ids", claim_ids)
    policy, build = _claim_space(policy, levels, visits, services, places, categories)
    people = _persons(persons)
    ids = _CLAIM_IDS if claim_ids is None else claim_ids
    amounts_ = _TOTALS if totals is None else totals

    @st.composite
    def one(draw) -> Claim:
        space = build()
        return draw(_one_claim(space, _dates(space, policy, dates), people, ids, amounts_, given, policy is None))

    return one()


def claim_sequences(
    *,
    policy: Policy | str | None = None,
    persons: int | st.SearchStrategy[str] = 3,
    min_size: int = 1,
    max_size: int = 12,
    dates: st.SearchStrategy[dt.date] | None = None,
    totals: st.SearchStrategy[Fen] | None = None,
    levels: Collection[str] | None = None,
    visits: Collection[str] = VISITS,
    services: Collection[str] | None = None,
    places: Collection[str] | None = None,
    categories: Collection[str] | None = None,
    claim_ids: st.SearchStrategy[str | None] | None = None,
    given: bool = False,
) -> st.SearchStrategy[list[Claim]]:
    """Lists of ``min_size`` to ``max_size`` claims of a few people over one or more years.

    Each claim is drawn as by ``claims()`` with the same options (``given`` too), except its day: the list
    first draws a few distinct days, and every claim falls on one of them, so claims of one
    person (and of several) often share a day, the ties settlement order must break (claim id,
    then input order). The list is in input order, not settlement order.

    Shrinks towards fewer claims (``min_size``, by default one), all on the earliest day, each
    as ``claims()`` shrinks.
    """
    _strategy("dates", dates)
    _strategy("totals", totals)
    _strategy("claim_ids", claim_ids)
    low, high = _size("min_size", min_size), _size("max_size", max_size)
    _ordered("claim_sequences", low, high, "min_size", "max_size")
    policy, build = _claim_space(policy, levels, visits, services, places, categories)
    people = _persons(persons)
    ids = _CLAIM_IDS if claim_ids is None else claim_ids
    amounts_ = _TOTALS if totals is None else totals

    @st.composite
    def sequence(draw) -> list[Claim]:
        space = build()
        days = sorted(
            draw(st.lists(_dates(space, policy, dates), min_size=1, max_size=max(1, (high + 1) // 2), unique=True))
        )
        claim = _one_claim(space, st.sampled_from(days), people, ids, amounts_, given, policy is None)
        return draw(st.lists(claim, min_size=low, max_size=high))

    return sequence()
