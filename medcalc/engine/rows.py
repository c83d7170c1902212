"""Moving rows: the batch steps around the kernel that touch every row, as plain loops.

Putting rows in settlement order (one sort of packed keys), looking up each row's rules
by its day, and gathering a chunk's inputs and scattering its payments back: one pass
each, compiled like the kernel for large batches (``medcalc.engine.compiled``) instead
of a numpy pass per arithmetic step, and run as they are by CPython for small ones.
"""

from __future__ import annotations


def pack_keys(rows, person, day, first, day_bits, row_bits, key):
    """key[j] = (person, day, row) of row rows[j] packed into one int64: person, then day -
    first, then the row, in fields of fixed width, so that sorting the keys sorts the rows by
    person, then day, then row, and each field is read back with a shift and a mask."""
    for j in range(len(rows)):
        r = rows[j]
        key[j] = ((((int(person[r])) << day_bits) | (int(day[r]) - first)) << row_bits) | r


def unpack_keys(key, day_bits, row_bits, first, order, person_at, day_at):
    """From sorted keys: the row, the person and the day of each position."""
    row_mask = (1 << row_bits) - 1
    day_mask = (1 << day_bits) - 1
    for j in range(len(key)):
        k = key[j]
        order[j] = k & row_mask
        person_at[j] = k >> (row_bits + day_bits)
        day_at[j] = ((k >> row_bits) & day_mask) + first


def mark_days(rows, day, first, present):
    """present[d - first] = 1 for each row's day d."""
    for j in range(len(rows)):
        present[day[rows[j]] - first] = 1


def look_up_days(rows, day, first, table, out):
    """out[row] = table[day - first] for each row: a value per day (rule versions, years)."""
    for j in range(len(rows)):
        r = rows[j]
        out[r] = table[day[r] - first]


def value_range(rows, values):
    """(lowest, highest) of values[rows[j]]: a column's range over some rows (days, profile key
    digits), in one pass."""
    low = high = values[rows[0]]
    for j in range(len(rows)):
        v = values[rows[j]]
        if v < low:
            low = v
        if v > high:
            high = v
    return low, high


def add_digit(rows, values, low, size, key):
    """key[j] += (values[rows[j]] - low) * size: one column's digit of a mixed-radix key."""
    for j in range(len(rows)):
        key[j] += (int(values[rows[j]]) - low) * size


def gather(order, column, target):
    """target[j] = column[order[j]]: a chunk's inputs put in settlement order (and widened)."""
    for j in range(len(order)):
        target[j] = column[order[j]]


def scatter(order, source, target):
    """target[order[j], k] = source[k, j]: a chunk's payments put back by input row, each row's
    side by side (settlement order is random against input order: one cache line per row
    written, not one per payment)."""
    for j in range(len(order)):
        r = order[j]
        for k in range(source.shape[0]):
            target[r, k] = source[k, j]


def take_columns(rows, target, out):
    """out[i, k] = target[rows[i], k]: some rows' payments, all in one pass, into ``out`` that is
    the transpose of an array of columns (so that each payment comes out a contiguous column)."""
    for i in range(len(rows)):
        r = rows[i]
        for k in range(out.shape[1]):
            out[i, k] = target[r, k]


#: The functions numba compiles (none calls another).
FUNCTIONS = (
    "pack_keys",
    "unpack_keys",
    "value_range",
    "mark_days",
    "look_up_days",
    "add_digit",
    "gather",
    "scatter",
    "take_columns",
)
