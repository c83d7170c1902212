"""CSV cells a spreadsheet shows as text: the guard against formula (CSV) injection, and its inverse.

A spreadsheet opening a CSV file evaluates a cell that begins with ``=``, ``+``, ``-`` or ``@``
(and, in some, after a tab or a carriage return) as a formula: a claim id
``=HYPERLINK("http://x","y")`` from an input file would become a live link, ``+cmd|' /C calc'!A0``
a command. Following OWASP's guidance on CSV injection, every text cell medcalc writes to CSV
that begins with one of those six characters gets a single quote in front (``'=1+1``), which
spreadsheets take as the mark of a text cell; the CSV writer quotes cells as CSV requires.

medcalc reads its own output back unchanged: ``unescape_column`` removes that quote again. So
that the two are exact inverses on every text, a cell that already begins with quotes followed by
one of the six characters (``'=x``) gets one more quote too, and reading removes exactly one:
write ``s`` → ``'s`` when ``s`` matches ``^'*[=+-@\\t\\r]``; read ``t`` → ``t[1:]`` when ``t`` matches
``^'+[=+-@\\t\\r]``. Other cells pass untouched both ways.

Amount columns are not text cells here: medcalc writes them as ``-?digits.dd`` (a number to any
spreadsheet, never a formula), and callers pass only their text columns.

Both directions are vectorised with pyarrow.compute and cost next to nothing when no cell needs
them: a first look reads only each cell's first byte (``_may_start_with``), and a column none of
whose cells starts with one of the seven bytes is returned as it is (the usual case: ids of
digits or letters, dates, Chinese text).
"""

from __future__ import annotations

import re
from typing import Any, cast

import numpy as np

__all__ = [
    "FORMULA_STARTS",
    "escape_column",
    "unescape_column",
    "escape_text",
    "unescape_text",
    "escape_columns",
    "unescape_batch",
]

#: First characters that make a spreadsheet read a cell as a formula (OWASP: = + - @ tab CR).
FORMULA_STARTS = "=+-@\t\r"
_CLASS = "[=+\\-@\\t\\r]"
_ESCAPE = "^'*" + _CLASS  # needs a quote written in front
_UNESCAPE = "^'+" + _CLASS  # written with one: read without it
_ESCAPE_RE = re.compile(_ESCAPE)


def escape_text(value: str) -> str:
    """One cell, for writers that build rows in Python (``impact --csv``): the rule of ``escape_column``."""
    return "'" + value if _ESCAPE_RE.match(value) else value


_UNESCAPE_RE = re.compile(_UNESCAPE)


def unescape_text(value: str) -> str:
    """One cell read from CSV, for readers that read cells in Python: the rule of ``unescape_column``."""
    return value[1:] if _UNESCAPE_RE.match(value) else value


def escape_column(column: Any) -> Any:
    """An Arrow text column with every cell that a spreadsheet would take for a formula written as
    text (a quote in front); the column itself when no cell needs it. Nulls stay null."""
    return _rewrite(column, _ESCAPE, b"'" + FORMULA_STARTS.encode(), escape=True)


def unescape_column(column: Any) -> Any:
    """The inverse of ``escape_column``: a text cell that is a quote followed by quotes and one of
    FORMULA_STARTS loses its first quote; every other cell (and a non-text column) is unchanged."""
    return _rewrite(column, _UNESCAPE, b"'", escape=False)


def escape_columns(table: Any, names: Any) -> Any:
    """A table (or record batch) with its text columns in ``names`` escaped (the others untouched)."""
    for name in names:
        if name in table.column_names:
            i = table.column_names.index(name)
            column = table.column(i)
            escaped = escape_column(column)
            if escaped is not column:
                table = table.set_column(i, name, escaped)
    return table


def unescape_batch(batch: Any) -> Any:
    """A record batch read from CSV with every text column unescaped (``unescape_column``)."""
    for i, name in enumerate(batch.schema.names):
        column = batch.column(i)
        plain = unescape_column(column)
        if plain is not column:
            batch = batch.set_column(i, name, plain)
    return batch


def _rewrite(column: Any, pattern: str, first_bytes: bytes, *, escape: bool) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return column
    if not _may_start_with(column, first_bytes):
        return column
    hit = pc.match_substring_regex(column, pattern)
    if not pc.any(hit).as_py():
        return column
    changed = pc.binary_join_element_wise("'", column, "") if escape else pc.utf8_slice_codeunits(column, 1)
    return pc.if_else(hit, changed, column)


def _may_start_with(column: Any, first_bytes: bytes) -> bool:
    """Whether some cell of a string column may begin with one of ``first_bytes``: False only when
    none does. Reads each cell's first byte through the offsets (no copy of the text); an empty or
    null cell reads the next cell's first byte, which can only say "maybe"."""
    import pyarrow as pa

    table = np.zeros(256, bool)
    table[list(first_bytes)] = True
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        _, offsets, data = chunk.buffers()
        if data is None or data.size == 0:
            continue
        width: type[np.integer] = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        offsets = cast(pa.Buffer, offsets)  # (a string array of some rows always has offsets)
        starts = np.frombuffer(memoryview(offsets), width)[chunk.offset : chunk.offset + len(chunk)]
        text = np.frombuffer(memoryview(data), np.uint8)
        if table[np.take(text, starts, mode="clip")].any():
            return True
    return False
