"""Rich rendering of settlements and policies for the terminal. No logic lives here.

Every piece of data (ids, codes, quotes, titles, notes) goes through ``terminal.printable`` /
``terminal.markup``: policy text is shown, never obeyed by the terminal.
"""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .money import format_yuan
from .settlement import Settlement, percent_text
from .terminal import markup, printable

__all__ = ["settlement_view", "print_settlement"]


def _yuan(fen: int) -> str:
    return format_yuan(fen)


def settlement_view(s: Settlement, explain: bool = False) -> Group:
    """A breakdown table by layer and, with ``explain``, every step with its source."""
    c = s.claim
    head = Text.assemble(
        (printable(s.policy_id), "bold"),
        printable(f"  ·  person {c.person_id}  ·  settled {c.settled_on}  ·  level {c.level}"),
        printable(f"  ·  place {c.place}" + (f" ({c.referral})" if c.referral != "none" else "")),
        printable(f"  ·  category {c.category}") if c.category != "ordinary" else "",
    )
    table = Table(show_header=True, header_style="bold", expand=False)
    table.add_column("item 项目")
    table.add_column("yuan 元", justify="right")
    rows = [
        ("医疗费总额 total", s.total),
        ("全自费 outside the catalogue", s.self_funded),
        ("超限价自费 above price limits", s.over_limit),
        ("乙类先行自付 class-B co-pay", s.pre_self_pay),
        ("政策范围内费用 in-scope cost", s.in_scope),
        ("起付线 deductible charged", s.deductible),
    ]
    for label, value in rows:
        if value or label.startswith(("医疗费总额", "政策范围内", "起付线")):
            table.add_row(label, _yuan(value))
    table.add_section()
    second = "大额医疗费用补助 supplementary" if s.policy_scheme == "employees" else "大病保险 critical illness"
    layers = [("基本医保统筹 basic insurance", s.basic), (second, s.critical),
              ("医疗救助 medical assistance", s.assistance), ("兜底 backstop", s.backstop)]
    for label, value in layers:
        table.add_row(label, _yuan(value))
    table.add_row(Text("基金支付总额 all funds", style="bold"), Text(_yuan(s.funds), style="bold"))
    table.add_row(Text("个人负担 patient pays", style="bold"), Text(_yuan(s.patient), style="bold"))
    table.add_section()
    table.add_row("实际报销比例 funds / total", percent_text(s.rate_of_total))
    table.add_row("政策范围内报销比例 funds / in-scope", percent_text(s.rate_of_in_scope))
    parts: list = [head, table]
    if explain:
        parts.append(_steps_view(s))
    return Group(*parts)


def _steps_view(s: Settlement) -> Table:
    table = Table(title="explanation 计算过程", show_header=True, header_style="bold", show_lines=True)
    table.add_column("#", justify="right")
    table.add_column("step 步骤")
    table.add_column("how 计算", overflow="fold", ratio=2)
    table.add_column("yuan 元", justify="right")
    table.add_column("source 依据", overflow="fold", ratio=2)
    for n, step in enumerate(s.steps, 1):
        source = Text()
        if step.citation is not None:
            cite = step.citation
            source.append(printable(f"“{cite.quote}”") + "\n", style="italic")
            source.append(printable(f"— {cite.source.title}"))
            if cite.source.document:
                source.append(printable(f" {cite.source.document}"))
            if not cite.verified:
                source.append(" [unverified 未核实]", style="yellow")
            if cite.note:
                source.append(printable(f"\nnote: {cite.note}"))
        elif step.mechanism in ("decompose", "basic_rounded", "patient", "deductible_charged"):
            source.append("medcalc convention (docs/conventions.md §1-§3)", style="dim")
        how = step.detail
        if step.before is not None and step.after is not None:
            how += f"\nyear to date {format_yuan(step.before)} → {format_yuan(step.after)}"
        table.add_row(str(n), markup(step.title), markup(how), "" if step.amount is None else _yuan(step.amount), source)
    return table


def print_settlement(console: Console, s: Settlement, explain: bool = False) -> None:
    console.print(Panel(settlement_view(s, explain), title="medcalc quote 报销测算", expand=False))
