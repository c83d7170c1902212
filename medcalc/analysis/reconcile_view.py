"""``medcalc reconcile`` on a terminal: counts, totals per field, differences, rejects by reason.

Amounts are yuan, grouped (``17,530.00``), never wrapped. The differences are a table where the
terminal leaves their explanation room (40 cells), else one block per difference: the row,
claim and field with paid, recomputed and difference on one line, the explaining step and its
quote wrapped below it (``layout.wrap``: no number split).
"""

from __future__ import annotations

from collections import Counter

from rich.console import Console, ConsoleOptions, JustifyMethod, RenderableType
from rich.table import Table
from rich.text import Text

from ..report.display import signed_yuan, yuan
from ..report.layout import Paragraph, fits, wrap
from ..report.terminal import printable

__all__ = ["ReconcileView"]

_EXPLANATION = 40  # cells the explanation needs beside the figures for the table layout


class ReconcileView:
    """Renders a ``reconcile.Reconciliation``; ``limit``: differences listed (all are in ``-o``)."""

    def __init__(self, report, limit: int = 50) -> None:
        self.report, self.limit = report, limit

    def __rich_console__(self, console: Console, options: ConsoleOptions):
        r = self.report
        head = Table(title="medcalc reconcile", show_header=False)
        head.add_column("")
        head.add_column("", justify="right", no_wrap=True)
        for label, value in (
            ("rows", r.rows),
            ("matched", r.matched),
            ("differing", r.differing),
            ("rejected", r.rejected),
        ):
            head.add_row(label, f"{value:,}")
        head.add_row("tolerance (yuan)", yuan(r.tolerance))
        yield head
        totals = Table(title="paid vs recomputed (yuan)", header_style="bold")
        for name in ("field", "rows", "paid", "recomputed", "difference"):
            totals.add_column(
                name, justify="left" if name == "field" else "right", no_wrap=name != "field", overflow="fold"
            )
        for t in r.totals.values():
            totals.add_row(
                Text(printable(t["column"])),
                f"{t['rows']:,}",
                yuan(t["paid"]),
                yuan(t["recomputed"]),
                signed_yuan(t["difference"]),
            )
        yield totals
        if r.differences.num_rows:
            shown = r.differences.slice(0, self.limit).to_pylist()
            table = self._table(shown)
            figures = self._table(shown, explained=False)
            if fits(console, options.update_width(max(1, options.max_width - _EXPLANATION)), figures):
                yield table
            else:
                yield from self._blocks(shown, options.max_width)
            if r.differences.num_rows > self.limit:
                yield Text(f"… and {r.differences.num_rows - self.limit:,} more differences (write them all with -o)")
        if r.rejected:
            reasons = Counter(
                f"{f}: {why}"
                for f, why in zip(r.rejects.column("field").to_pylist(), r.rejects.column("reason").to_pylist())
            )
            first: dict[str, int] = {}
            for row, f, why in zip(
                r.rejects.column("row").to_pylist(),
                r.rejects.column("field").to_pylist(),
                r.rejects.column("reason").to_pylist(),
            ):
                first.setdefault(f"{f}: {why}", row)
            table = Table(title="rows not compared (rejected)", header_style="bold")
            table.add_column("reason", overflow="fold")
            table.add_column("rows", justify="right", no_wrap=True)
            table.add_column("first row", justify="right", no_wrap=True)
            for reason, n in reasons.most_common():
                table.add_row(Text(printable(reason)), f"{n:,}", f"{first[reason]:,}")  # Text: never markup
            yield table

    @staticmethod
    def _table(shown: list[dict], explained: bool = True) -> Table:
        table = Table(title="differences (yuan)", header_style="bold", show_lines=explained)
        columns: tuple[tuple[str, JustifyMethod], ...] = (
            ("row", "right"),
            ("claim", "left"),
            ("field", "left"),
            ("paid", "right"),
            ("recomputed", "right"),
            ("difference", "right"),
        )
        for name, justify in columns:
            table.add_column(name, justify=justify, no_wrap=justify == "right", overflow="fold")
        if explained:
            table.add_column("explained by", min_width=_EXPLANATION, ratio=1)
        for d in shown:
            cells: list[RenderableType] = [
                f"{d['row']:,}",
                Text(printable(d["claim_id"] or "")),
                Text(printable(d["field"])),
                yuan(d["paid"]),
                yuan(d["recomputed"]),
                signed_yuan(d["difference"]),
            ]
            if explained:
                cells.append(Paragraph(printable(d["explanation"])))
            table.add_row(*cells)
        return table

    @staticmethod
    def _blocks(shown: list[dict], width: int):
        yield Text("differences (yuan)", style="bold", justify="center")
        for d in shown:
            claim = f" · claim {d['claim_id']}" if d["claim_id"] else ""
            line = (
                f"row {d['row']:,}{claim} · {d['field']}: paid {yuan(d['paid'])}, recomputed "
                f"{yuan(d['recomputed'])}, difference {signed_yuan(d['difference'])}"
            )
            yield Text("")
            yield from wrap(Text(printable(line), style="bold"), width)
            for text_line in wrap(Text(printable(d["explanation"])), width - 4):
                yield Text("    ") + text_line
