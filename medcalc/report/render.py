"""Rich rendering of a quote for the terminal. No logic lives here.

The header says whose claim it is and what was settled in words (the person, 住院 or the
outpatient service, the level's Chinese name from the policy, the place); the breakdown gives
amounts grouped (``12,000.00``); ``--explain`` lists every step as a block of lines wrapped to
the terminal's width by ``layout.wrap`` (so 80 columns hold it, and no number is split).

Every piece of data (ids, codes, quotes, titles, notes) goes through ``terminal.printable``:
policy text is shown, never obeyed by the terminal.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group
from rich.measure import Measurement
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..policy.model import Policy
from ..settlement import Settlement, Step
from ..vocabulary import LABELS, SERVICE_LABELS, fold
from .display import grouped_text, percent, yuan
from .layout import wrap
from .terminal import printable

__all__ = ["settlement_view", "print_settlement", "header_lines"]

#: The person id ``medcalc quote`` uses when none is given: not worth showing.
_UNNAMED = "person"


def _word(field: str, code: str) -> str:
    """A code with its Chinese name first: '跨省 out_of_province'."""
    label = LABELS.get(field, {}).get(code)
    return f"{label} {code}" if label else code


def _level(policy: Policy | None, word: str) -> str:
    """The level's Chinese name with its code: '二级和县级医疗机构 (level2)'."""
    if policy is None:
        return f"level {word}"
    from ..errors import ClaimError
    from ..vocabulary import resolve_level

    try:
        code = resolve_level(policy, word)
    except ClaimError:  # settled, so it resolves; never fail a quote on its header
        return f"level {word}"
    name = policy.levels.get(code) or policy.institutions.get(code)
    return f"{name} ({code})" if name else f"level {code}"


def _service(word: str) -> str:
    for code, names in SERVICE_LABELS.items():
        if fold(word) in {fold(code), *map(fold, names)}:
            return f"{names[0]} {code}"
    return word


_DOT = "  ·  "


def header_lines(s: Settlement, policy: Policy | None = None) -> list[list[str]]:
    """Who, what and where, in words: the policy, the person, the visit and level, the dates
    (each line as its parts, to be joined by ' · ')."""
    c = s.claim
    first = [s.policy_id]
    if policy is not None:
        first += [policy.region] + ([policy.tier] if policy.tier else [])
    person = [] if c.person_id == _UNNAMED else [f"person {c.person_id}"]
    person.append(_word("scheme", c.scheme or s.policy_scheme))
    person.append(_word("category", c.category))
    if c.age is not None:
        person.append(f"{c.age}岁 age {c.age}")
    if c.retired:
        person.append("退休 retired")
    visit = [_word("visit", c.visit)]
    if c.service:
        visit.append(_service(c.service))
    if c.diseases:
        visit.append("病种 " + ", ".join(c.diseases))
    visit.append(_level(policy, c.level))
    place = _word("place", c.place)
    if c.referral != "none":
        place += ", " + _word("referral", c.referral)
    visit.append(place)
    dates = (
        ([f"claim {c.claim_id}"] if c.claim_id else [])
        + ([f"admitted {c.admitted_on}"] if c.admitted_on else [])
        + [f"settled {c.settled_on}"]
    )
    if c.certified:
        dates.append("慢特病 certified " + ", ".join(c.certified))
    return [[printable(p) for p in line] for line in (first, person, visit, dates)]


class HeaderLines:
    """Lines of parts joined by ' · ': a line too long for the width continues on the next
    line at a part's boundary (a part longer than the whole width is wrapped by words)."""

    def __init__(self, lines: list[list[str]]) -> None:
        self.lines = lines

    def __rich_console__(self, console: Console, options: ConsoleOptions):
        width = options.max_width
        for n, parts in enumerate(self.lines):
            style = "bold" if n == 0 else ""
            line = ""
            for part in parts:
                joined = f"{line}{_DOT}{part}" if line else part
                if line and cell_len(joined) > width:
                    yield from wrap(Text(line, style=style), width)
                    line = part
                else:
                    line = joined
            yield from wrap(Text(line, style=style), width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        widest = max((cell_len(_DOT.join(parts)) for parts in self.lines), default=1)
        part = max((cell_len(p) for parts in self.lines for p in parts), default=1)
        return Measurement(min(part, options.max_width), min(widest, options.max_width))


def _breakdown(s: Settlement) -> Table:
    table = Table(show_header=True, header_style="bold", expand=False)
    table.add_column("item 项目")
    table.add_column("yuan 元", justify="right", no_wrap=True)
    rows = [
        ("医疗费总额 total", s.total),
        ("全自费 outside the catalogue", s.self_funded),
        ("超限价自费 above price limits", s.over_limit),
        ("乙类先行自付 class-B co-pay", s.pre_self_pay),
        ("政策范围内费用 in-scope cost", s.in_scope),
        ("起付线 deductible charged", s.deductible),
    ]
    given_basic = s.claim.basic_paid is not None  # layers settled elsewhere: no deductible was computed
    for label, value in rows:
        if label.startswith("起付线") and given_basic:
            table.add_row(label, "— (basic_paid given)")
        elif value or label.startswith(("医疗费总额", "政策范围内", "起付线")):
            table.add_row(label, yuan(value))
    table.add_section()
    second = "大额医疗费用补助 supplementary" if s.policy_scheme == "employees" else "大病保险 critical illness"
    layers = [
        ("基本医保统筹 basic insurance", s.basic, given_basic),
        (second, s.critical, s.claim.critical_paid is not None),
        ("医疗救助 medical assistance", s.assistance, False),
        ("兜底 backstop", s.backstop, False),
    ]
    for label, value, given in layers:
        table.add_row(label + (" (given)" if given else ""), yuan(value))
    table.add_row(Text("基金支付总额 all funds", style="bold"), Text(yuan(s.funds), style="bold"))
    table.add_row(Text("个人负担 patient pays", style="bold"), Text(yuan(s.patient), style="bold"))
    table.add_section()
    table.add_row("实际报销比例 funds / total", percent(s.rate_of_total))
    table.add_row("政策范围内报销比例 funds / in-scope", percent(s.rate_of_in_scope))
    return table


def _source(step: Step) -> Text:
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
    elif step.mechanism in (
        "decompose",
        "basic_rounded",
        "patient",
        "deductible_charged",
        "basic_given",
        "critical_given",
    ):
        source.append("medcalc convention (docs/conventions.md §1-§3)", style="dim")
    return source


class StepBlocks:
    """The explanation: one block per step (number, title and amount; how; source), wrapped to the width."""

    indent = 4

    def __init__(self, steps: tuple[Step, ...]) -> None:
        self.steps = steps

    title = "explanation 计算过程"
    columns = ("#", "step 步骤", "how 计算", "yuan 元", "source 依据")

    def rows(self) -> list[tuple[str, Text, Text, str, Text]]:
        """Per step: number, title, how (with the year to date), amount, source: what a block shows."""
        out = []
        for n, step in enumerate(self.steps, 1):
            how = grouped_text(printable(step.detail))
            if step.before is not None and step.after is not None:
                how += f"\nyear to date {yuan(step.before)} → {yuan(step.after)}"
            out.append(
                (
                    str(n),
                    Text(printable(step.title), style="bold"),
                    Text(how),
                    "" if step.amount is None else yuan(step.amount),
                    _source(step),
                )
            )
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions):
        width = options.max_width
        pad = " " * self.indent
        yield Text(self.title, style="bold", justify="center")
        for n, title, how, amount, source in self.rows():
            room = width - self.indent - (cell_len(amount) + 2 if amount else 0)
            titles = wrap(title, room)
            first = Text(f"{n:>2}. ", style="bold") + titles[0]
            if amount:
                first.append(" " * max(1, width - cell_len(first.plain) - cell_len(amount)) + amount)
            yield Text("")
            yield first
            for line in titles[1:]:
                yield Text(pad) + line
            for part in (how, source):
                if not part.plain:
                    continue
                for line in wrap(part, width - self.indent):
                    yield Text(pad) + line

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(40, options.max_width)


def settlement_view(s: Settlement, explain: bool = False, policy: Policy | None = None) -> Group:
    """The header, the breakdown by layer and, with ``explain``, every step with its source."""
    parts: list = [HeaderLines(header_lines(s, policy)), _breakdown(s)]
    if explain:
        parts.append(StepBlocks(s.steps))
    return Group(*parts)


def print_settlement(console: Console, s: Settlement, explain: bool = False, policy: Policy | None = None) -> None:
    console.print(Panel(settlement_view(s, explain, policy), title="medcalc quote 报销测算", expand=False))
