"""``medcalc plot rates|burden``: charts of a baseline policy and its reforms (PNG or SVG).

Its parser and handler; the data and the drawing are medcalc.analysis.charts, and matplotlib (an
optional extra) loads only when the command runs.
"""

from __future__ import annotations

import argparse

from ..errors import MedcalcError
from ..policy.registry import load_policy
from .options import (
    EXIT_OK,
    _day,
    _Parser,
    add_reform_options,
    amounts_option,
    encoding_option,
    policies_option,
    reform_scenarios,
)


def add_command(sub) -> None:
    """Register ``plot`` and its kinds (rates, burden) on the CLI's subparsers."""
    plot = sub.add_parser(
        "plot",
        help="charts: reimbursement rate against cost, patient burden (PNG or SVG)",
        description='Draw charts with matplotlib (pip install "medcalc[charts]"): the baseline '
        "policy and any reforms, each settling the same claims.",
    )
    kinds = plot.add_subparsers(dest="plot_command", required=True, parser_class=_Parser)
    common = argparse.ArgumentParser(add_help=False)
    policies_option(common)
    common.add_argument("--policy", required=True, help="the baseline: policy id or path to a policy TOML file")
    add_reform_options(common)  # drawn beside the baseline
    common.add_argument("-o", "--output", required=True, help="the chart file: .png or .svg")
    common.add_argument(
        "--ascii",
        action="store_true",
        help="English labels, even if a CJK font is installed (without one they are English anyway, with a warning)",
    )
    encoding_option(common, "a CSV or JSON-lines --claims file")
    amounts_option(common)
    rates = kinds.add_parser(
        "rates",
        parents=[common],
        help="effective reimbursement rate against total cost, per level",
        description="实际报销比例 (funds / total) against total cost, one curve per hospital level "
        "and scenario: a synthetic sweep of one fresh person's single claim from 100 "
        "to 1,000,000 yuan, or --claims binned by total cost.",
    )
    rates.add_argument("--claims", help="a claims file (.csv, .jsonl, .parquet) instead of the synthetic sweep")
    rates.add_argument("--on", help="the sweep's settlement date (default: each policy's newest rule set)")
    rates.add_argument(
        "--level",
        action="append",
        dest="levels",
        metavar="LEVEL",
        help="draw this level only; repeat for several (default: every declared level)",
    )
    rates.add_argument(
        "--points", type=int, default=60, help="sweep points, or log-scale bins of --claims (default 60)"
    )
    burden = kinds.add_parser(
        "burden",
        parents=[common],
        help="distribution of patient burden over a claims file",
        description="How many claims (or person-years) bear each amount of 个人负担, per scenario.",
    )
    burden.add_argument("--claims", required=True, help="a claims file (.csv, .jsonl, .parquet)")
    burden.add_argument(
        "--per",
        choices=("claim", "person"),
        default="claim",
        help="one burden per claim, or per person-year (the year's claims summed)",
    )
    burden.add_argument(
        "--bins", type=int, default=None, help="that many equal bins (default: 0, 100, 200, 500, 1000 … yuan)"
    )
    plot.set_defaults(run=_plot)


def _plot(args: argparse.Namespace) -> int:
    """`medcalc plot rates|burden`: data from medcalc.analysis.charts, drawn and saved by the output's extension."""
    from ..analysis import charts

    charts.require_matplotlib()  # before any settling: a missing extra is a clear error, not a traceback
    charts._format_of(args.output)
    scenarios = [load_policy(args.policy), *reform_scenarios(args, required=False)]
    chinese = False if args.ascii else None
    if args.plot_command == "rates":
        on = _day(args.on, "--on") if args.on else None
        if on is not None and args.claims:
            raise MedcalcError("--on is for the synthetic sweep; --claims are settled on their own dates")
        rates = charts.rate_curve_data(
            args.claims,
            scenarios,
            amounts=args.amounts,
            levels=args.levels,
            points=args.points,
            on=on,
            encoding=args.encoding,
        )
        charts.plot_rate_curve(rates, args.output, chinese=chinese)
        detail, refused = f"{len(rates.curves)} curves", rates.rejected
    else:
        burden = charts.burden_distribution_data(
            args.claims, scenarios, amounts=args.amounts, bins=args.bins, per=args.per, encoding=args.encoding
        )
        charts.plot_burden(burden, args.output, chinese=chinese)
        detail, refused = f"{len(burden.lows)} bins per {args.per}", {d.scenario: d.rejected for d in burden.scenarios}
    # claims a scenario cannot settle are not in its chart: say so, not silently
    note = "".join(f"; {k} refused {v} claims" for k, v in refused.items() if v)
    print(f"wrote {args.output} ({', '.join(p.id for p in scenarios)}; {detail}{note})")
    return EXIT_OK
