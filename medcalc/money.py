"""Exact money and ratios.

Money is integer fen (分) inside medcalc and yuan with two decimals at the edges.
Ratios are exact integers in units of 0.01 percentage point (basis points of a
percent), so "62.5%" is 6250 and every product amount x ratio is an exact
rational with denominator 10000. Nothing here ever touches a float.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Literal, overload

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "Fen",
    "Ratio",
    "RATIO_ONE",
    "AmountError",
    "MAX_FEN",
    "MAX_TEXT",
    "parse_amount",
    "parse_ratio",
    "parse_points",
    "round_half_up",
    "apply_ratio",
    "format_yuan",
]

#: 100 % in ratio units (0.01 percentage point).
RATIO_ONE = 10000


class AmountError(ValueError):
    """A value that cannot be read as an amount, a ratio or a number of points."""


class Fen(int):
    """An exact amount of money in fen (1 yuan = 100 fen).

    Plain ints passed to medcalc as amounts mean *yuan*; wrap a value in ``Fen``
    to pass fen exactly. ``Fen + Fen`` and ``Fen - Fen`` are ``Fen`` (so is ``sum()``
    of Fens, which starts from 0); any other arithmetic returns plain ints.
    """

    __slots__ = ()

    # Only Fen ± Fen stays money: a plain int beside it could be yuan (as medcalc reads plain
    # ints), so Fen + 5 is a plain int, as before. 0 is the same amount in either unit.
    @overload
    def __add__(self, other: Fen | Literal[0]) -> Fen: ...
    @overload
    def __add__(self, other: int) -> int: ...
    def __add__(self, other: int) -> int:
        return _kept(int.__add__(self, other), other)

    __radd__ = __add__

    @overload
    def __sub__(self, other: Fen | Literal[0]) -> Fen: ...
    @overload
    def __sub__(self, other: int) -> int: ...
    def __sub__(self, other: int) -> int:
        return _kept(int.__sub__(self, other), other)

    @overload
    def __rsub__(self, other: Fen | Literal[0]) -> Fen: ...
    @overload
    def __rsub__(self, other: int) -> int: ...
    def __rsub__(self, other: int) -> int:
        return _kept(int.__rsub__(self, other), other)

    @property
    def yuan(self) -> Decimal:
        """The amount in yuan as an exact Decimal with two places."""
        return Decimal(int(self)).scaleb(-2).quantize(Decimal("0.01"))

    def __repr__(self) -> str:
        return f"Fen({int(self)})"

    def __str__(self) -> str:
        return format_yuan(self)


def _kept(result, other: object):
    """An int operation's result on a Fen and ``other``: a Fen when ``other`` is one too (or 0)."""
    if result is NotImplemented or not (isinstance(other, Fen) or (type(other) is int and other == 0)):
        return result
    return Fen(result)


class Ratio(int):
    """An exact ratio in units of 0.01 percentage point (10000 = 100 %)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Ratio({str(self)!r})"

    def __str__(self) -> str:
        return _format_hundredths(int(self)) + "%"


def _format_hundredths(value: int) -> str:
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 100)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:02d}".rstrip("0")


def format_yuan(fen: int) -> str:
    """Fen as yuan with exactly two decimals: 408750 -> '4087.50'."""
    sign = "-" if fen < 0 else ""
    whole, frac = divmod(abs(int(fen)), 100)
    return f"{sign}{whole}.{frac:02d}"


#: Digits, with thousands separators only in whole groups of three ("15,000", never "1,5").
_AMOUNT = re.compile(r"^\s*(?P<num>(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?)\s*(?P<wan>万)?\s*(?:元)?\s*$")
_RATIO = re.compile(r"^\s*(?P<num>[0-9]+(?:\.[0-9]+)?)\s*%\s*$")
_POINTS = re.compile(r"^\s*(?P<sign>[+-])?\s*(?P<num>[0-9]+(?:\.[0-9]+)?)\s*(?:点|个百分点|points?)?\s*$")


#: The longest amount, ratio or points text read: far longer than any amount (1000万 yuan with
#: separators and decimals is 16 characters), short enough that reading any cell costs nothing.
MAX_TEXT = 40
#: Digits a Decimal may carry into an exact scaling (beyond them it is no amount, whatever its value).
_MAX_DIGITS = 64
#: The largest amount parse_amount reads unless told a bound: 10^17 fen (a thousand 万亿 yuan), so
#: that every amount, and the sum of a hundred of them, stays far inside int64. Claim amounts are
#: bounded tighter (claims.MAX_TOTAL, 1000万 yuan).
MAX_FEN = 10**17


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text.replace(",", ""))  # (constructing a Decimal from text is exact: no context applies)
    except InvalidOperation as exc:  # pragma: no cover - the regexes admit only digits
        raise AmountError(f"not a number: {text!r}") from exc


def _exact_int(value: Decimal, scale: int, what: str, original: object) -> int:
    """``value`` x 10^scale as an exact int, or AmountError if that is not a whole number.

    Integer arithmetic on the Decimal's digits: Decimal's own scaleb and quantize round to the
    context's 28 digits, which would read 12000.0000000000000000000000009 as 12000.00 and
    1E-999999999 as 0. A value of more than 64 digits, or whose scaled value would have more,
    is refused before any big number is formed."""
    if not value.is_finite():
        raise AmountError(f"{what} {_shown(original)} is not a finite number")
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # (finite)
    if len(digits) > _MAX_DIGITS:
        raise AmountError(f"{what} {_shown(original)} has more digits than any {what} (at most {_MAX_DIGITS})")
    coefficient = int("".join(map(str, digits)))
    if coefficient == 0:
        return 0
    shift = exponent + scale
    if shift >= 0:
        if len(digits) + shift > _MAX_DIGITS:
            raise AmountError(f"{what} {_shown(original)} is out of range")
        result = coefficient * 10**shift
    else:
        if -shift > _MAX_DIGITS:  # coefficient < 10^64: not a multiple of 10^-shift
            raise AmountError(f"{what} {_shown(original)} has more precision than allowed")
        result, rest = divmod(coefficient, 10**-shift)
        if rest:
            raise AmountError(f"{what} {_shown(original)} has more precision than allowed")
    return -result if sign else result


def parse_amount(value: object, *, max_fen: int = MAX_FEN) -> Fen:
    """Read an amount of money as exact fen.

    Accepted: ``Fen`` (already fen), an int or Decimal (yuan), or a string in yuan
    such as ``"150"``, ``"150元"``, ``"1.5万"``, ``"12,000.50"``. Negative amounts,
    floats (inexact), more than two decimals of a yuan, text longer than MAX_TEXT characters
    and amounts above ``max_fen`` are refused (AmountError), never rounded, wrapped or clipped.
    """
    if isinstance(value, Fen):
        if value < 0:
            raise AmountError(f"amount must not be negative (got {format_yuan(value)} yuan)")
        fen = int(value)
    elif isinstance(value, bool) or isinstance(value, float):
        raise AmountError(
            f'amount {value!r} must be an integer, a Decimal or a string such as "1.5万" (floats are inexact)'
        )
    elif isinstance(value, int):
        if value < 0:
            raise AmountError(f"amount must not be negative (got {value!r})")
        fen = value * 100 if value <= max_fen else max_fen + 1  # (a huge int is not multiplied: it is refused below)
    elif isinstance(value, Decimal):
        if not value.is_finite():  # NaN and Infinity are not amounts (and would not compare or scale)
            raise AmountError(f"amount {value!r} is not a finite number of yuan")
        if value.is_signed() and not value.is_zero():
            raise AmountError(f"amount must not be negative (got {value!r})")
        fen = abs(_exact_int(value, 2, "amount", value))
    elif isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise AmountError(f"amount text is longer than {MAX_TEXT} characters (got {len(value)} characters)")
        match = _AMOUNT.match(value)
        if not match:
            raise AmountError(f'amount {value!r} is not a number of yuan such as "150", "150元" or "1.5万"')
        fen = _exact_int(_decimal(match["num"]), 6 if match["wan"] else 2, "amount", value)
    else:
        raise AmountError(f"amount must be a number of yuan, got {type(value).__name__} {value!r}")
    if fen > max_fen:
        raise AmountError(f"amount must not exceed {format_yuan(max_fen)} yuan{_in_wan(max_fen)} (got {_shown(value)})")
    return Fen(fen)


def _in_wan(fen: int) -> str:
    """ " (1000万)" for a bound that is a whole number of 万 yuan."""
    return f" ({fen // 1_000_000}万)" if fen % 1_000_000 == 0 else ""


def _shown(value: object) -> str:
    """A value in a message: its repr, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= 60 else text[:40] + f"… ({len(text)} characters)"


def parse_ratio(value: object) -> Ratio:
    """Read a ratio written with a percent sign, e.g. ``"60%"`` or ``"62.5%"``.

    Bare numbers are refused because "0.6" and "60" would both be plausible.
    At most two decimals of a percent; the result lies in [0 %, 100 %].
    """
    if isinstance(value, Ratio):
        number = Decimal(int(value)).scaleb(-2)
    elif isinstance(value, str) and len(value) <= MAX_TEXT and (match := _RATIO.match(value)):
        number = _decimal(match["num"])
    else:
        raise AmountError(f'ratio must be a percentage such as "60%" (got {value!r})')
    units = _exact_int(number, 2, "ratio", value)
    if not 0 <= units <= RATIO_ONE:
        raise AmountError(f"ratio must be within [0%, 100%] (got {value!r})")
    return Ratio(units)


def parse_points(value: object) -> int:
    """Read percentage points such as ``"+10"``, ``"-12"`` or ``"+5点"`` as 0.01-point units."""
    if isinstance(value, bool) or isinstance(value, float):
        raise AmountError(f'points must be written as a string such as "+10" (got {value!r})')
    if isinstance(value, int):
        return value * 100
    if isinstance(value, str) and len(value) <= MAX_TEXT and (match := _POINTS.match(value)):
        units = _exact_int(_decimal(match["num"]), 2, "points", value)
        return -units if match["sign"] == "-" else units
    raise AmountError(f'points must be a signed number of percentage points such as "+10" (got {value!r})')


@overload
def round_half_up(numerator: int, denominator: int) -> int: ...
@overload
def round_half_up(numerator: np.ndarray, denominator: np.ndarray | int) -> np.ndarray: ...
def round_half_up(numerator, denominator):
    """Round numerator/denominator half up; both non-negative, denominator > 0."""
    return (2 * numerator + denominator) // (2 * denominator)


def apply_ratio(fen: int, ratio: int) -> int:
    """fen x ratio rounded half up to the fen (one rounding)."""
    return round_half_up(fen * ratio, RATIO_ONE)
