"""Text and tables that fit the terminal's width without cutting a number.

rich folds a run of text with no spaces at any cell, so Chinese text (which has none) would
break ``起付线500元`` as ``起付线5`` / ``00元``, and a table too wide for the terminal would squeeze
its columns until ``153,730,357.06`` became ``1537…``. Here instead:

- ``wrap(text, width)``: lines of at most ``width`` cells (rich's cell measure: a CJK character
  is two), broken at spaces and between Chinese characters, but never inside a number with its
  unit (``500元``, ``90%``, ``12,000.00``), before closing punctuation or after opening
  punctuation. Only a piece wider than the whole line (a long path) is broken inside: after a
  ``/`` or a hyphen between letters if it can be, else by cells.
- ``fits(console, options, table)``: whether a table drawn at its natural width fits.
- ``stacked(...)``: records as columns beside a label column (label: value for each record),
  as many records per table as fit the width, so a table too wide is stacked, not cut.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

__all__ = ["wrap", "fits", "stacked", "Cell", "Paragraph"]

_NO_START = set("，。、；：？！）》」』”’,.;:?!)]}%…")  # never begins a line
_NO_END = set("（《「『“‘([{")  # never ends one
_UNITS = set("元万亿岁点倍次个%")  # stay with the number before them


def _wide(char: str) -> bool:
    return cell_len(char) > 1


def _may_break(text: str, i: int) -> bool:
    """Whether a line may start at ``text[i]`` (``0 < i < len(text)``)."""
    a, b = text[i - 1], text[i]
    if b.isspace():
        return False  # spaces end the line before them; the break is after them
    if a.isspace():
        return True
    if b in _NO_START or a in _NO_END:
        return False
    if not (_wide(a) or _wide(b)):  # inside a run of narrow characters: a word, a number, a path
        return False
    if b in _UNITS and (a.isdigit() or a in ".,%"):
        return False  # 500元, 30万
    return True


def _soft_break(text: str, i: int) -> bool:
    """Where a piece too long for a line is broken first: after '/', or a hyphen between letters."""
    a, b = text[i - 1], text[i]
    return a == "/" or (a == "-" and b.isalpha() and text[i - 2 : i - 1].isalpha())


def _line_starts(text: str, width: int) -> list[int]:
    """Offsets where lines after the first begin, so that each line is at most ``width`` cells."""
    width = max(width, 2)
    starts: list[int] = []
    start, fits_to = 0, None
    candidates = [i for i in range(1, len(text)) if _may_break(text, i)] + [len(text)]
    for b in candidates:
        while cell_len(text[start:b].rstrip()) > width:
            if fits_to is not None and fits_to > start:
                start = fits_to
            else:  # one piece wider than a line: after a / or a hyphen if one fits, else by cells
                soft = [i for i in range(start + 1, b) if _soft_break(text, i) and cell_len(text[start:i]) <= width]
                end = soft[-1] if soft else start + 1
                while not soft and end < b and cell_len(text[start : end + 1]) <= width:
                    end += 1
                start = end
            starts.append(start)
            fits_to = None
        fits_to = b
    return starts


def wrap(text: Text | str, width: int) -> list[Text]:
    """``text`` as lines of at most ``width`` cells (styles kept), its own newlines kept."""
    if isinstance(text, str):
        text = Text(text)
    out: list[Text] = []
    for paragraph in text.split("\n", allow_blank=True):
        plain = paragraph.plain
        starts = _line_starts(plain, width)
        lines = paragraph.divide(starts) if starts else [paragraph]
        out.extend(line.copy() for line in lines)
    for line in out:
        line.rstrip()
    return out


class Paragraph:
    """Text wrapped by ``wrap`` to the width it is drawn at (rich's own wrapping would split
    Chinese text inside a number)."""

    def __init__(self, text: Text | str) -> None:
        self.text = Text(text) if isinstance(text, str) else text

    def __rich_console__(self, console: Console, options: ConsoleOptions):
        yield from wrap(self.text, options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        widest = max((cell_len(line) for line in self.text.plain.split("\n")), default=1)
        return Measurement(min(widest, 20, options.max_width), min(widest, options.max_width))


def fits(console: Console, options: ConsoleOptions, renderable) -> bool:
    """Whether ``renderable`` at its natural width (nothing wrapped) fits the width available."""
    natural = Measurement.get(console, options.update_width(1 << 16), renderable)  # get() clamps to the width
    return natural.maximum <= options.max_width


class Cell:
    """A value of a stacked record: its text and whether it is a number (right-aligned, never wrapped)."""

    __slots__ = ("text", "number")

    def __init__(self, text: str, number: bool = True) -> None:
        self.text, self.number = text, number


def stacked(
    title: str | None,
    labels: Sequence[str],
    blocks: Sequence[Sequence[tuple[str, Sequence[Cell | str]]]],
    width: int,
    label_header: str = "",
    max_header: int = 16,
    repeat_first: bool = False,
) -> list[Table]:
    """Records side by side as columns (header: the record's name; one row per label) under a
    label column, as many per table as fit ``width`` cells, in order; the next ones in the next
    table, under the same labels. ``blocks``: records that belong together (a group's scenarios)
    share a table where they fit in one; a block split across tables starts each part with its
    first record again if ``repeat_first`` (the baseline beside each reform). A value is never
    wrapped: its column is as wide as its widest value; a header longer than that (up to
    ``max_header``) widens it, beyond that it wraps (by ``wrap``: at a hyphen if it must)."""
    label_width = max([cell_len(label_header)] + [cell_len(label) for label in labels])

    def column(header: str, values: Sequence[Cell | str]):
        cells = [v if isinstance(v, Cell) else Cell(v, number=False) for v in values]
        need = max([cell_len(c.text) for c in cells] + [1])
        head = max((cell_len(line) for line in header.split("\n")), default=0)
        w = max(need, min(head, max_header))
        return "\n".join(line.plain for part in header.split("\n") for line in wrap(part, w)), cells, w

    def table_width(columns) -> int:  # a box: one edge, then each column's padding and edge
        return 1 + (label_width + 3) + sum(w + 3 for _, _, w in columns)

    tables_columns: list[list] = []
    chunk: list = []
    for block in blocks:
        columns = [column(header, values) for header, values in block]
        if chunk and table_width(chunk + columns) > width:  # the block goes to a table of its own
            tables_columns.append(chunk)
            chunk = []
        for c in columns:  # a block wider than a whole table is split across tables
            if chunk and table_width(chunk + [c]) > width:
                tables_columns.append(chunk)
                chunk = [columns[0]] if repeat_first and table_width([columns[0], c]) <= width else []
            chunk.append(c)
    if chunk:
        tables_columns.append(chunk)
    tables: list[Table] = []
    for n, group in enumerate(tables_columns):
        table = Table(title=title if n == 0 else None, header_style="bold")
        table.add_column(label_header, overflow="fold", min_width=min(label_width, max(4, width // 3)))
        for header, _cells, w in group:
            table.add_column(Text(header, overflow="fold"), justify="right", min_width=w, max_width=w)
        for i, label in enumerate(labels):
            row = [Text(label)]
            for _, cells, _ in group:
                cell = cells[i] if i < len(cells) else Cell("")
                row.append(
                    Text(cell.text, no_wrap=cell.number, overflow="fold", justify="right" if cell.number else "left")
                )
            table.add_row(*row)
        tables.append(table)
    return tables
