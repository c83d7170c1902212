"""Numbers as people read them on a terminal: yuan in groups of three, 万, signed changes, rates.

Only for what is shown to a person (rich tables, summaries, messages). Machine output (CSV,
JSON, Parquet, .xlsx) keeps ``money.format_yuan``'s plain ``4087.50``, which every reader parses.
Everything is formatted from integer fen with integer arithmetic: no float ever holds money.
"""

from __future__ import annotations

import re
from fractions import Fraction

from ..money import round_half_up

__all__ = ["yuan", "signed_yuan", "wan", "count", "percent", "grouped_text"]


def _grouped(whole: int) -> str:
    return f"{whole:,}"


def yuan(fen: int) -> str:
    """Fen as yuan, two decimals, thousands grouped: 9943453693 -> '99,434,536.93'."""
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(int(fen)), 100)
    return f"{sign}{_grouped(whole)}.{part:02d}"


def signed_yuan(fen: int) -> str:
    """A change in yuan with its sign: '+1,234.50', '-20.00', '0.00'."""
    return ("+" if fen > 0 else "") + yuan(fen)


def wan(fen: int) -> str:
    """Fen in 万 yuan (10 000 yuan) with two decimals, half up, grouped: 9943453693 -> '9,943.45万'."""
    sign = "-" if fen < 0 else ""
    hundredths = round_half_up(abs(int(fen)), 100 * 100)  # 0.01万 = 100 yuan = 10 000 fen
    whole, part = divmod(hundredths, 100)
    return f"{sign}{_grouped(whole)}.{part:02d}万"


def count(units: int, one: int = 1) -> str:
    """A count (``units`` / ``one``, e.g. weighted claims in 1/10 000), grouped; decimals only if any."""
    whole, part = divmod(int(units), one)
    if not part:
        return _grouped(whole)
    digits = len(str(one)) - 1
    return f"{_grouped(whole)}.{part:0{digits}d}".rstrip("0")


def percent(rate: Fraction | None, signed: bool = False) -> str:
    """An exact rate as a percentage with two decimals, half up ('—' where there is no denominator)."""
    if rate is None:
        return "—"
    hundredths = round_half_up(abs(rate.numerator) * 10_000, rate.denominator)
    sign = "-" if rate < 0 and hundredths else ("+" if signed and rate > 0 else "")
    return f"{sign}{hundredths // 100}.{hundredths % 100:02d}%"


# an amount as format_yuan writes it (digits, a point, two decimals), not part of a longer number
_PLAIN_AMOUNT = re.compile(r"(?<![\d.,])(\d{4,})(\.\d{2})(?![\d.])")


def grouped_text(text: str) -> str:
    """``text`` (medcalc's own wording, never a quoted source) with each plain yuan amount grouped:
    'total 12000.00 − 500.00' -> 'total 12,000.00 − 500.00'. Dates and ids have no decimals: kept."""
    return _PLAIN_AMOUNT.sub(lambda m: _grouped(int(m.group(1))) + m.group(2), text)
