"""Column parsers: the one place where a claim file's cells become amounts, days and whole numbers.

Every way claims come in as columns (CSV, JSON lines, Parquet, .xlsx, frames, uploads) reaches the
engine through these functions, so a cell is read by the same rules whatever carried it:

- amounts (``amount_column``): exact yuan as decimals, integers (in a stated unit) or text in the
  forms ``medcalc.money.parse_amount`` reads; the result is integer fen, and a cell that is not an
  amount rejects its row (never wraps, rounds or overflows);
- days (``day_column``): dates, timestamps or text such as 2025-03-01;
- whole numbers (``whole_number_column``): ages;
- yes/no (``flag_column``): the ``retired`` flag.

A rejected cell is reported as ``(rows, field, reason)`` in the ``rejected`` list the caller gives;
the caller names the field as the file named it.
"""

from __future__ import annotations

import numpy as np

from .. import claim_checks
from ..claims import FLAG_REASON, MAX_TOTAL, parse_day, parse_flag
from ..errors import MedcalcError, UnitNotStated
from ..money import AmountError, format_yuan, parse_amount
from .reasons import by_value, shown

__all__ = ["amount_column", "day_column", "flag_column", "whole_number_column", "is_integer_column", "fen_from_decimal"]

#: The largest amount a stored int32 holds; every amount medcalc accepts (at most MAX_TOTAL) fits.
_STORED_MAX = np.iinfo(np.int32).max
#: The longest text cell the fast decimal cast reads: every amount up to MAX_TOTAL and then some;
#: a longer cell goes to medcalc's own parser, which bounds it (Arrow's cast would wrap past 38 digits).
_PLAIN_MAX = 20


def is_integer_column(column) -> bool:
    import pyarrow as pa

    kind = column.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return pa.types.is_integer(kind)


def amount_column(
    column, name: str, amounts: str | None, rejected: list, *, required: bool, absent: int = 0
) -> np.ndarray:
    """An amount column as integer fen (int64, or int32 from decimals that fit); rows that are not
    amounts are refused, not zeroed.

    Only an empty cell (null, or text of nothing but spaces) is "not given": it reads as
    ``absent`` (refused if ``required``); any other text must be an amount."""
    import pyarrow as pa

    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    kind = column.type
    plain = True  # every text cell plain digits (the usual large file): no blanks, and the fast cast reads all
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        plain = _plain_amounts(column)
        if not plain:
            column = _blank_as_null(column)
    nulls = column.is_null().to_numpy(zero_copy_only=False) if column.null_count else None
    values = _within_range(_fen_given(column, kind, name, amounts, rejected, plain), column, name, rejected)
    if nulls is not None:
        if required:
            rejected.append((np.flatnonzero(nulls), name, 'required: an amount of yuan such as 12000 or "1.2万"'))
        elif absent:
            values = np.where(nulls, absent, values)
    return values


#: A cell of nothing but white space, as Python's str.isspace() has it (RE2's \s is ASCII only: the
#: full-width space U+3000 of a Chinese sheet, or U+001F, must be blank here as they are to a Claim).
BLANK_PATTERN = r"^[\s\x{0b}\x{1c}-\x{1f}\x{85}\pZ]*$"

#: A refused amount's reasons when it lies outside what one claim may hold (the claim checks' words).
TOO_LARGE = claim_checks.reason(claim_checks.TOTAL_TOO_LARGE)
NEGATIVE = claim_checks.reason(claim_checks.TOTAL_NEGATIVE)
#: A row without a settlement date (the claim checks' words).
NO_DAY = claim_checks.reason(claim_checks.NO_SETTLED_ON)
OUT_OF_RANGE = f"amount must be between 0 and {format_yuan(MAX_TOTAL)} yuan (1000万)"


def _within_range(values: np.ndarray, column, name: str, rejected: list) -> np.ndarray:
    """``values`` (fen) with every amount beyond ±MAX_TOTAL refused by row, naming the cell as the
    file holds it, and zeroed: nothing outside a claim's range reaches the engine, whose sums of
    a claim's parts must stay exact. (Negative amounts within it are the claim checks' to refuse.)"""
    if not len(values) or (-MAX_TOTAL <= int(values.min()) and int(values.max()) <= MAX_TOTAL):
        return values
    high, low = values > MAX_TOTAL, values < -MAX_TOTAL
    refuse_naming_values(np.flatnonzero(high), column, name, TOO_LARGE, rejected)
    refuse_naming_values(np.flatnonzero(low), column, name, NEGATIVE, rejected)
    return np.where(high | low, 0, values)


def refuse_naming_values(rows: np.ndarray, column, name: str, reason: str, rejected: list) -> None:
    """Refuse ``rows`` for ``reason``, each group of one value ending ``(got VALUE)`` as the
    column holds it (reasons.by_value: past reasons.MAX_VALUES different values, the reason alone)."""
    rejected.extend((at, name, why) for at, why in by_value(column, rows, reason))


def _plain_amounts(column) -> bool:
    """Whether every text cell is plain digits and dots, neither first nor last (none empty): the
    text Arrow's decimal cast may read. Anything else ("1.5万", "15,000", or what the cast would
    also take: "1e3", "-5", "+5", ".5") is read by medcalc's own rules, one parse per distinct
    value. Checked on the column's bytes with numpy (a regex per cell doubled the read time)."""
    import pyarrow as pa

    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    for chunk in chunks:
        if not len(chunk) or chunk.null_count == len(chunk):
            continue
        wide = pa.types.is_large_string(chunk.type)
        _, offset_buffer, data_buffer = chunk.buffers()[:3]
        assert offset_buffer is not None and data_buffer is not None  # (a string chunk with values has both)
        offsets = np.frombuffer(memoryview(offset_buffer), np.int64 if wide else np.int32)[
            chunk.offset : chunk.offset + len(chunk) + 1
        ]
        data = np.frombuffer(memoryview(data_buffer), np.uint8)[offsets[0] : offsets[-1]]
        if not (((data >= 48) & (data <= 57)) | (data == 46)).all():  # bytes of null cells count too: safe side
            return False
        length = np.diff(offsets)
        given = length > 0
        if chunk.null_count:
            valid = chunk.is_valid().to_numpy(zero_copy_only=False)
            if (valid & ~given).any():  # an empty text cell: read as not given, by the slow path
                return False
            given &= valid
        elif not given.all():
            return False
        if length.max(initial=0) > _PLAIN_MAX:  # (Arrow's cast to decimal128 wraps past 38 digits)
            return False
        start = offsets[:-1][given] - offsets[0]
        if (data[start] == 46).any() or (data[start + length[given] - 1] == 46).any():
            return False
    return True


def _blank_as_null(column):
    """Text cells of nothing but spaces as null: the only way a text cell says "not given"."""
    import pyarrow.compute as pc

    blank = pc.match_substring_regex(column, BLANK_PATTERN)
    return pc.if_else(blank, None, column) if pc.any(blank).as_py() else column


def _fen_given(column, kind, name: str, amounts: str | None, rejected: list, plain: bool) -> np.ndarray:
    """The amounts of a column as int64 fen (0 where null); ``plain``: text that the fast cast may read."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_null(kind):
        return np.zeros(len(column), np.int64)
    if pa.types.is_floating(kind):
        raise MedcalcError(
            f"column {name!r} holds floating-point numbers ({kind}), which cannot carry every amount of "
            "fen exactly; give decimals, integer fen or text"
        )
    if pa.types.is_integer(kind):
        if amounts is None:
            raise UnitNotStated(name)
        raw = column.fill_null(0).to_numpy()
        # beyond a claim's range before any cast or product (-2^63 has no abs, 2^64-1 no int64):
        # refused here, by the value the file holds
        limit = MAX_TOTAL // 100 if amounts == "yuan" else MAX_TOTAL
        high = raw > limit
        low = raw < -limit if raw.dtype.kind == "i" else np.zeros(len(raw), bool)
        if high.any() or low.any():
            refuse_naming_values(np.flatnonzero(high), column, name, TOO_LARGE, rejected)
            refuse_naming_values(np.flatnonzero(low), column, name, NEGATIVE, rejected)
            raw = np.where(high | low, 0, raw)
        values = raw.astype(np.int64)
        return values * 100 if amounts == "yuan" else values
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        if not plain:
            return _fen_from_text(column, name, rejected)
        try:
            column = pc.cast(column, pa.decimal128(38, 2))
            kind = column.type
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return _fen_from_text(column, name, rejected)
    if pa.types.is_decimal256(kind) or (pa.types.is_decimal(kind) and kind.precision > 38):
        # wider than the 128-bit words read below (a decimal256 column): each value by its text, exactly
        return _fen_from_text(pc.cast(column, pa.string()), name, rejected)
    if pa.types.is_decimal(kind):
        return fen_from_decimal(column, name, rejected)
    raise MedcalcError(f"column {name!r} has type {kind}; amounts are decimals, integers or text")


def _fen_from_text(column, name: str, rejected: list) -> np.ndarray:
    """Text amounts the fast cast could not read ("1.5万", "150元", or mistakes): one parse per distinct value."""
    from .arrays import factorize

    names, code = factorize(column)
    fen = np.zeros(len(names), np.int64)
    errors: dict[str, list[int]] = {}
    for i, value in enumerate(names):
        if value is None or value == "":
            continue
        try:
            fen[i] = int(parse_amount(str(value), max_fen=MAX_TOTAL))
        except AmountError as exc:  # worded as the claim record words it
            errors.setdefault(f"{str(exc).split(' (got')[0]} (got {shown(value)})", []).append(i)
    for reason, codes in errors.items():
        rejected.append((np.flatnonzero(np.isin(code, codes)), name, reason))
    return fen[code]


def fen_from_decimal(column, name: str, rejected: list) -> np.ndarray:
    """Decimal yuan to fen exactly, from the unscaled 128-bit integers Arrow stores."""
    import pyarrow as pa

    scale = column.type.scale
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    if scale == 2 and all(pa.types.is_decimal64(c.type) and not c.null_count for c in chunks):
        # the common case (a Parquet file's amounts, held as decimal64): the unscaled words are
        # fen already, narrowed to int32 when they fit, straight from Arrow's buffers
        views = [_values_of(c, np.int64) for c in chunks if len(c)]
        if (
            views
            and -_STORED_MAX <= min(int(v.min()) for v in views)
            and max(int(v.max()) for v in views) <= _STORED_MAX
        ):
            return np.concatenate(views, out=np.empty(len(column), np.int32), casting="unsafe")  # (in range: checked)
    parts = []
    for chunk in chunks:
        if pa.types.is_decimal64(chunk.type):  # 64-bit unscaled values: read as they are
            low = _values_of(chunk, np.int64)
            if chunk.null_count:
                low = np.where(chunk.is_valid().to_numpy(zero_copy_only=False), low, 0)
            parts.append((low, None))  # never out of range
            continue
        if not pa.types.is_decimal128(chunk.type):
            chunk = chunk.cast(pa.decimal128(38, scale))
        words = _values_of(chunk, np.int64, words=2)
        low, high = words[0::2], words[1::2]
        fits = high == (low >> 63)  # the 128-bit value is the sign extension of its low word
        if chunk.null_count:
            valid = chunk.is_valid().to_numpy(zero_copy_only=False)
            low, fits = np.where(valid, low, 0), fits | ~valid
        parts.append((np.where(fits, low, 0), ~fits))
    unscaled = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    if any(p[1] is not None for p in parts):
        overflow = np.concatenate([np.zeros(len(p[0]), bool) if p[1] is None else p[1] for p in parts])
        if overflow.any():
            refuse_naming_values(np.flatnonzero(overflow), column, name, OUT_OF_RANGE, rejected)
    if scale <= 2:
        return unscaled * 10 ** (2 - scale) if scale < 2 else unscaled
    step = 10 ** (scale - 2)
    finer = unscaled % step != 0
    if finer.any():
        rejected.append((np.flatnonzero(finer), name, "amount has more than two decimals of a yuan (fen)"))
    return unscaled // step


def day_column(column, rejected: list | None = None, name: str = "settled_on") -> np.ndarray:
    """Dates as datetime64[D]; text that is not a date is refused by row (NaT)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    kind = column.type
    if pa.types.is_timestamp(kind) or pa.types.is_date64(kind):
        column = pc.cast(column, pa.date32())
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        try:
            column = pc.cast(column, pa.date32())
        except pa.ArrowInvalid:
            return _days_from_text(column, rejected, name)
    elif not pa.types.is_date32(kind):
        raise MedcalcError(f"column {name!r} has type {kind}; dates are dates, timestamps or text such as 2025-03-01")
    days = _date32_days(column)
    if rejected is not None and name == "settled_on" and column.null_count:
        rejected.append((np.flatnonzero(np.isnat(days)), name, NO_DAY))
    return _days_in_range(days, column, rejected, name)


#: The days a claim may carry: those of a calendar date (Arrow's date32 reaches year 5 877 641,
#: and its text cast reads year 0, neither of which is a day a policy can be in force on).
FIRST_DAY, LAST_DAY = np.datetime64("0001-01-01"), np.datetime64("9999-12-31")
DAY_RANGE = "a date between 0001-01-01 and 9999-12-31"


def _days_in_range(days: np.ndarray, column, rejected: list | None, name: str) -> np.ndarray:
    """``days`` with those outside FIRST_DAY … LAST_DAY refused by row (naming the value) and NaT."""
    valid = ~np.isnat(days)
    out = valid & ((days < FIRST_DAY) | (days > LAST_DAY))
    if not out.any():
        return days
    if rejected is not None:
        refuse_naming_values(np.flatnonzero(out), column, name, DAY_RANGE, rejected)
    days = days.copy()
    days[out] = np.datetime64("NaT")
    return days


def _date32_days(column) -> np.ndarray:
    """A date32 column as datetime64[D], NaT where null: each chunk's day numbers widened
    straight into the result (one pass, no intermediate array)."""
    out = np.empty(len(column), "datetime64[D]")
    chunks = [c for c in getattr(column, "chunks", [column]) if len(c)]
    if chunks:
        np.concatenate([_values_of(c, np.int32) for c in chunks], out=out.view(np.int64))
    if column.null_count:
        out[column.is_null().to_numpy(zero_copy_only=False)] = np.datetime64("NaT")
    return out


def _values_of(chunk, dtype, words: int = 1) -> np.ndarray:
    """An Arrow array's fixed-width values buffer as numpy, without a copy (``words`` per value)."""
    return np.frombuffer(chunk.buffers()[1], dtype)[words * chunk.offset : words * (chunk.offset + len(chunk))]


def _days_from_text(column, rejected: list | None, name: str) -> np.ndarray:
    from .arrays import factorize

    names, code = factorize(column)
    days = np.full(len(names), np.datetime64("NaT"), "datetime64[D]")
    bad: dict[int, str] = {}
    for i, value in enumerate(names):
        if value is None or value == "":
            continue
        try:
            days[i] = np.datetime64(parse_day(str(value)).isoformat())
        except ValueError:
            bad[i] = str(value)
    out = days[code]
    if rejected is not None:
        for i, value in bad.items():
            rejected.append((np.flatnonzero(code == i), name, f"a date such as 2025-03-01 (got {value!r})"))
        if name == "settled_on":
            rejected.append((np.flatnonzero(np.isnat(out) & ~np.isin(code, list(bad))), name, NO_DAY))
    return out


def flag_column(column, name: str, rejected: list) -> np.ndarray:
    """A yes/no column (``retired``) as int64 0 or 1, 0 where empty: booleans, the integers 0 and 1,
    or text that ``claims.parse_flag`` reads (1/0, true/false, 是/否, yes/no). Any other cell (7,
    -1, 2, "maybe") is refused by row, never read as a third state."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from .arrays import factorize

    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_boolean(column.type):
        return pc.cast(column, pa.int64()).fill_null(0).to_numpy().astype(np.int64)
    if pa.types.is_integer(column.type) and len(column):
        low, high = pc.min_max(column).values()
        if low.as_py() is not None and 0 <= low.as_py() and high.as_py() <= 1:  # the usual 0/1 column: as it is
            return column.fill_null(0).to_numpy().astype(np.int64)
    names, code = factorize(column)
    values = np.zeros(len(names), np.int64)
    bad: list[int] = []
    for i, value in enumerate(names):
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            values[i] = parse_flag(value)
        except ValueError:
            bad.append(i)
    for i in bad:
        rejected.append((np.flatnonzero(code == i), name, f"{FLAG_REASON} (got {shown(names[i])})"))
    return values[code]


def whole_number_column(column, name: str, rejected: list, default: int) -> np.ndarray:
    """A column of whole numbers (age, retired) as int64, ``default`` where empty. Cells that are
    not whole numbers are refused by row (text such as "65" or "65.0" is read, and for retired
    true / false), never the whole file."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_boolean(column.type):
        column = pc.cast(column, pa.int64())
    if not pa.types.is_integer(column.type):
        try:
            column = pc.cast(column, pa.int64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return _integers_by_value(column, name, rejected, default)
    return column.fill_null(default).to_numpy().astype(np.int64)


def _integers_by_value(column, name: str, rejected: list, default: int) -> np.ndarray:
    """_integers for cells Arrow's cast cannot read: one parse per distinct value."""
    from decimal import Decimal, InvalidOperation

    from .arrays import factorize

    names, code = factorize(column)
    values = np.full(len(names), default, np.int64)
    bad: dict[int, str] = {}
    for i, value in enumerate(names):
        text = "" if value is None else str(value).strip()
        if not text:
            continue
        if name == "retired" and text.lower() in ("true", "false"):
            values[i] = text.lower() == "true"
            continue
        try:
            number = Decimal(text)
            if not number.is_finite() or number != number.to_integral_value() or abs(number) >= 1 << 62:
                raise InvalidOperation
            values[i] = int(number)
        except InvalidOperation:
            bad[i] = text
    for i, text in bad.items():
        rejected.append((np.flatnonzero(code == i), name, f"a whole number (got {text!r})"))
    return values[code]
