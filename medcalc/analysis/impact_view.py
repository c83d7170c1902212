"""The fund-impact report of ``medcalc impact`` and ``simulate`` on a terminal, at any width.

First the overall figures in a few sentences: what each scenario's funds paid of the total
cost, its effective rates (实际报销比例 = funds / total cost; 政策范围内报销比例 = funds / in-scope
cost), and each reform's change against the baseline. Then one table per grouping: one row per
scenario and group where the terminal is wide enough for it, else stacked — the groups'
scenarios side by side as columns under a label column, as many as fit, the next ones below.
Numbers are never cut or wrapped; amounts are yuan, grouped (``152,647,037.00``), rounded to
the fen once from the exact weighted sums; the large overall ones also in 万.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from rich.console import Console, ConsoleOptions
from rich.table import Table
from rich.text import Text

from ..report.display import count, percent, signed_yuan, wan, yuan
from ..report.layout import Cell, Paragraph, fits, stacked
from ..report.terminal import printable
from .impact import WEIGHT_ONE, Impact

__all__ = ["ImpactView"]

#: (label, key) of the figures of a group, in order.
FIGURES = (
    ("claims 人次", "claims"),
    ("persons 人数", "persons"),
    ("total 医疗费总额", "total"),
    ("in-scope 政策范围内", "in_scope"),
    ("basic 基本医保", "basic"),
    ("critical 大病/大额", "critical"),
    ("assistance 医疗救助", "assistance"),
    ("backstop 兜底", "backstop"),
    ("funds 基金支付", "funds"),
    ("patient 个人负担", "patient"),
    ("rate 实际报销比例", "rate"),
    ("in-scope rate 政策范围内", "rate_in_scope"),
    ("Δ funds 基金变化", "change_funds"),
    ("Δ patient 个人变化", "change_patient"),
    ("claims changed", "claims_affected"),
    ("persons changed", "persons_affected"),
)
#: Short headers of the same figures, for the table with one row per scenario and group.
_WIDE = {
    "claims": "claims",
    "persons": "persons",
    "total": "total",
    "in_scope": "in-scope",
    "basic": "basic",
    "critical": "critical",
    "assistance": "assist.",
    "backstop": "backstop",
    "funds": "funds",
    "patient": "patient",
    "rate": "rate",
    "rate_in_scope": "in-scope rate",
    "change_funds": "Δ funds",
    "change_patient": "Δ patient",
    "claims_affected": "claims Δ",
    "persons_affected": "persons Δ",
}


def _cells(report: Impact, g: dict[str, Any]) -> list[str]:
    """A group's figures as text, in FIGURES order."""
    baseline = g["scenario"] == report.baseline
    out = []
    for _, key in FIGURES:
        value = g[key]
        if key == "claims":
            out.append(count(value, WEIGHT_ONE))
        elif key == "persons":
            out.append(count(value))
        elif key in ("claims_affected", "persons_affected"):
            out.append("—" if baseline else count(value))
        elif key.startswith("rate"):
            out.append(percent(value))
        elif key.startswith("change_"):
            out.append("—" if baseline else signed_yuan(Impact.fen(value)))
        else:
            out.append(yuan(Impact.fen(value)))
    return out


class ImpactView:
    """Renders an ``Impact`` (see the module docstring); ``what``: the claims it was computed on."""

    def __init__(self, report: Impact, what: str) -> None:
        self.report, self.what = report, what

    def __rich_console__(self, console: Console, options: ConsoleOptions):
        report = self.report
        yield from self._overall()
        for grouping in dict.fromkeys(g["grouping"] for g in report.groups):
            rows = [g for g in report.groups if g["grouping"] == grouping]
            title = (
                f"fund impact · {printable(self.what)} · by {grouping}"
                + (" · weighted" if report.weighted else "")
                + " · yuan 元"
            )
            wide = self._wide(title, rows)
            if fits(console, options, wide):
                yield wide
            else:
                yield from self._stacked(title, grouping, rows, options.max_width)
        yield from self._changed_most()
        for scenario, groups in report.rejected.items():
            for group in groups:
                first = ", ".join(str(r) for r in group["first_rows"])
                yield Paragraph(
                    Text(
                        printable(
                            f"{scenario}: {group['rows']:,} rows rejected ({group['field']}: "
                            f"{group['reason']}); first rows {first}"
                        ),
                        style="yellow",
                    )
                )
        yield Paragraph(
            f"{report.compared:,} of {report.rows:,} rows compared (settled under every scenario); "
            "amounts in yuan; rate = funds / total cost (实际报销比例), in-scope rate = funds / in-scope "
            "cost (政策范围内报销比例)"
        )

    def _overall(self):
        """One sentence per scenario: funds of total, the rates; a reform's changes against the baseline."""
        report = self.report
        overall = {g["scenario"]: g for g in report.groups if g["grouping"] == "all"}
        base = overall.get(report.baseline)
        if base is None:
            return
        yield Text(f"fund impact · {printable(self.what)}", style="bold")
        for scenario in report.scenarios:
            g = overall.get(scenario)
            if g is None:
                continue
            funds, total = Impact.fen(g["funds"]), Impact.fen(g["total"])
            text = (
                f"{printable(scenario)}{' (baseline)' if scenario == report.baseline else ''}: "
                f"{count(g['claims'], WEIGHT_ONE)} claims of {g['persons']:,} persons; funds paid "
                f"{yuan(funds)} yuan ({wan(funds)}) of {yuan(total)} ({wan(total)}); 实际报销比例 "
                f"{percent(g['rate'])} of the total, {percent(g['rate_in_scope'])} of the in-scope cost"
            )
            if scenario != report.baseline:
                change = Impact.fen(g["change_funds"])
                before = Impact.fen(base["funds"])
                relative = percent(Fraction(change, before), signed=True) if before else "—"
                text += (
                    f"; against the baseline funds {signed_yuan(change)} ({relative}), patients "
                    f"{signed_yuan(Impact.fen(g['change_patient']))}; rate {percent(base['rate'])} → "
                    f"{percent(g['rate'])}; paid differently: {g['claims_affected']:,} claims of "
                    f"{g['persons_affected']:,} persons"
                )
            yield Paragraph(text)

    def _wide(self, title: str, rows: list[dict[str, Any]]) -> Table:
        table = Table(title=title, header_style="bold")
        table.add_column("scenario", overflow="fold")
        table.add_column("group", overflow="fold")
        for _, key in FIGURES:
            table.add_column(_WIDE[key], justify="right", no_wrap=True)
        for g in rows:
            table.add_row(Text(printable(g["scenario"])), Text(printable(g["value"])), *_cells(self.report, g))
        return table

    def _stacked(self, title: str, grouping: str, rows: list[dict[str, Any]], width: int) -> list[Table]:
        blocks: dict[str, list] = {}
        for g in rows:  # a group's scenarios side by side
            header = printable(g["scenario"] if grouping == "all" else f"{g['value']}\n{g['scenario']}")
            blocks.setdefault(g["value"], []).append((header, [Cell(c) for c in _cells(self.report, g)]))
        return stacked(title, [label for label, _ in FIGURES], list(blocks.values()), width, repeat_first=True)

    def _changed_most(self):
        report = self.report
        for reform in report.scenarios[1:]:
            table = Table(title=f"{printable(reform)}: burden changed most", header_style="bold")
            table.add_column("")
            table.add_column("person", overflow="fold")
            table.add_column("claims", justify="right", no_wrap=True)
            table.add_column("Δ patient burden in the year (yuan)", justify="right", no_wrap=True)
            for kind, rows in (("winner", report.winners[reform]), ("loser", report.losers[reform])):
                for row in rows:
                    fen = _fen_of(row["patient_change"])
                    table.add_row(kind, Text(printable(row["person_id"])), f"{row['claims']:,}", signed_yuan(fen))
            if not report.winners[reform] and not report.losers[reform]:
                table.add_row("", "nobody's burden changed", "", "")
            yield table


def _fen_of(text: str) -> int:
    """Yuan text as format_yuan writes it ('-6818.02') back to fen, exactly."""
    sign = -1 if text.startswith("-") else 1
    whole, _, part = text.lstrip("-").partition(".")
    return sign * (int(whole) * 100 + int(part or 0))
