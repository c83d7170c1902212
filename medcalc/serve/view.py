"""The CLI's quote table as data, for the page: what ``medcalc quote`` prints, cell for cell.

``render.settlement_view`` builds the terminal's view (rich: a heading, the breakdown table
and, when explaining, the steps with their policy sentences). This reads that same view back
as JSON — each table's title, column headers and alignment, rows as plain text, where
sections end and which rows are bold — so the page shows the CLI's labels and figures
without a second copy of them, and follows any change to the terminal's table.
"""

from __future__ import annotations

import io
from typing import Any

from ..settlement import Settlement

__all__ = ["settlement_tables", "renderable_data"]


def settlement_tables(s: Settlement, explain: bool = False, policy=None) -> list[dict[str, Any]]:
    """The parts of ``medcalc quote``'s output for one settlement (with ``--explain``: the steps too)."""
    from ..report.render import settlement_view

    return renderable_data(settlement_view(s, explain, policy))


def _plain(cell: Any) -> str:
    from rich.text import Text

    if cell is None:
        return ""
    if isinstance(cell, Text):
        return cell.plain
    if isinstance(cell, str):  # rich markup (escaped policy text): what the terminal shows
        return Text.from_markup(cell).plain
    return _as_text(cell)


def _bold(cell: Any) -> bool:
    from rich.text import Text

    return isinstance(cell, Text) and "bold" in str(cell.style)


def _as_text(renderable: Any) -> str:
    from rich.console import Console

    console = Console(width=100, record=True, color_system=None, file=_Null())
    console.print(renderable)
    return console.export_text().rstrip()


class _Null(io.StringIO):  # (a text file to rich; keeps nothing)
    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        pass


def renderable_data(renderable: Any) -> list[dict[str, Any]]:
    """A rich renderable as a list of parts: ``{"kind": "text", "text"}`` or ``{"kind": "table", …}``."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    from ..report.render import HeaderLines, StepBlocks

    if isinstance(renderable, Group):
        return [part for r in renderable.renderables for part in renderable_data(r)]
    if isinstance(renderable, HeaderLines):  # each line of the heading, its parts joined as the terminal joins them
        return [{"kind": "text", "text": " · ".join(parts)} for parts in renderable.lines]
    if isinstance(renderable, StepBlocks):  # the terminal's blocks, as the table they are laid out from
        rows = [[_plain(cell) for cell in row] for row in renderable.rows()]
        return [
            {
                "kind": "table",
                "title": renderable.title,
                "columns": list(renderable.columns),
                "align": ["right", "left", "left", "right", "left"],
                "rows": rows,
                "section_ends": [],
                "bold_rows": [],
            }
        ]
    if isinstance(renderable, Panel):
        return renderable_data(renderable.renderable)
    if isinstance(renderable, (Text, str)):
        return [{"kind": "text", "text": _plain(renderable)}]
    if isinstance(renderable, Table):
        columns = renderable.columns
        cells = [list(c.cells) for c in columns]
        rows = [[_plain(cells[j][i]) for j in range(len(columns))] for i in range(renderable.row_count)]
        return [
            {
                "kind": "table",
                "title": _plain(renderable.title) or None,
                "columns": [_plain(c.header) for c in columns],
                "align": [c.justify for c in columns],
                "rows": rows,
                "section_ends": [i for i, row in enumerate(renderable.rows) if row.end_section],
                "bold_rows": [
                    i for i in range(renderable.row_count) if any(_bold(cells[j][i]) for j in range(len(columns)))
                ],
            }
        ]
    return [{"kind": "text", "text": _as_text(renderable)}]
