"""The analysis commands of the CLI: ``medcalc impact`` and ``medcalc simulate``.

``impact`` scores a claims file under a baseline policy and one or more reforms and prints the
fund-impact tables (rich), or writes them as JSON and CSV. ``simulate`` does the same on a
seeded synthetic population of the baseline's region (``medcalc.analysis.synthetic``), so a reform can
be priced without real data.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import MedcalcError
from .options import (
    INPUT_FORMATS,
    _console,
    add_reform_options,
    amounts_option,
    bom_option,
    encoding_option,
    header_row_option,
    limits_option,
    policies_option,
    read_limits,
    reform_scenarios,
    sheet_option,
)

__all__ = ["add_commands", "render_impact"]


def add_commands(sub, output: argparse.ArgumentParser) -> None:
    """Register ``impact`` and ``simulate`` on the CLI's subparsers."""
    from ..analysis.groupings import GROUPINGS

    shared = argparse.ArgumentParser(add_help=False)
    policies_option(shared)
    shared.add_argument("--policy", required=True, help="the baseline: a policy id or a policy TOML file")
    add_reform_options(shared)
    shared.add_argument(
        "--by",
        default="level,category,cost_band",
        help=f"groupings, comma-separated, from {', '.join(GROUPINGS)} (default level,category,cost_band)",
    )
    shared.add_argument("--top", type=int, default=5, help="winners and losers listed per reform (default 5)")
    shared.add_argument("--csv", metavar="FILE", help="also write every grouping's figures as CSV")
    shared.add_argument("--json-out", dest="json_out", metavar="FILE", help="also write the whole report as JSON")
    bom_option(shared)

    impact = sub.add_parser(
        "impact",
        parents=[shared, output],
        help="fund impact of reforms on a claims file",
        description="Score one claims file under a baseline policy and each reform; report fund "
        "paid, patient burden and effective rates per layer and group, the claims and "
        "persons affected, and the biggest winners and losers.",
    )
    impact.add_argument("file", help="claims: .csv, .jsonl, .parquet or .xlsx")
    impact.add_argument("--format", dest="in_format", choices=INPUT_FORMATS, help="input format if not by extension")
    sheet_option(impact)
    header_row_option(impact)
    encoding_option(impact, "a CSV or JSON-lines file")
    limits_option(impact)
    impact.add_argument("--weight", help="name of a weight column (rows standing for several people)")
    amounts_option(impact)
    impact.set_defaults(run=_impact)

    simulate = sub.add_parser(
        "simulate",
        parents=[shared, output],
        help="price reforms on a synthetic population",
        description="Generate a seeded synthetic claim set for the baseline's region "
        "(medcalc.analysis.synthetic) and report the fund impact of each reform on it.",
    )
    simulate.add_argument("--rows", type=int, default=100_000, help="claims to generate (default 100000)")
    simulate.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    simulate.add_argument("--year", type=int, help="claims' year (default: the first year the baseline covers in full)")
    simulate.add_argument(
        "--outpatient-share",
        dest="outpatient_share",
        default="0",
        help="share of claims that are 普通门诊 visits, e.g. 0.6 (default 0)",
    )
    simulate.add_argument(
        "--poverty-share",
        dest="poverty_share",
        default="0.10",
        help="share of persons in the categories the policy tilts for (default 0.10)",
    )
    simulate.add_argument("--save", metavar="FILE", help="also write the generated claims (.parquet or .csv)")
    simulate.set_defaults(run=_simulate)


def _groupings(args) -> list[str]:
    return [g.strip() for g in args.by.split(",") if g.strip()]


def _impact(args: argparse.Namespace) -> int:
    from ..analysis.impact import fund_impact
    from ..batch.files import concat_parts, read_batches

    parts = list(
        read_batches(
            args.file,
            args.in_format,
            encoding=args.encoding,
            sheet=args.sheet,
            limits=read_limits(args),
            header_row=args.header_row,
        )
    )
    if not parts:
        raise MedcalcError(f"{args.file}: no rows")
    table = concat_parts(parts)
    report = fund_impact(
        table,
        args.policy,
        reform_scenarios(args),
        amounts=args.amounts,
        by=_groupings(args),
        weight=args.weight,
        top=args.top,
        first_row=1,
    )  # rows counted from 1, as in every file
    return _show(args, report, f"{args.file}")


def _simulate(args: argparse.Namespace) -> int:
    from ..analysis.impact import fund_impact
    from ..analysis.synthetic import synthetic_claims

    shares: dict[str, Any] = {}  # synthetic_claims' shape keywords (each a float here)
    for name in ("outpatient_share", "poverty_share"):
        try:
            shares[name] = float(getattr(args, name))  # a share of rows, not money
        except ValueError:
            raise MedcalcError(
                f"--{name.replace('_', '-')}: a number between 0 and 1 (got {getattr(args, name)!r})"
            ) from None
        if not 0 <= shares[name] <= 1:
            raise MedcalcError(f"--{name.replace('_', '-')}: a number between 0 and 1 (got {getattr(args, name)!r})")
    if args.rows <= 0:
        raise MedcalcError(f"--rows: a positive number of claims (got {args.rows})")
    try:
        claims = synthetic_claims(args.policy, args.rows, seed=args.seed, year=args.year, **shares)
    except ValueError as exc:
        raise MedcalcError(str(exc)) from None
    if args.save:
        from ..analysis.synthetic import AMOUNT_COLUMNS
        from ..batch.files import ResultWriter

        # every amount in yuan with two decimals, as `medcalc score` reads it back (self_funded and
        # pre_self_pay were once written as bare fen, which score read as yuan)
        writer = ResultWriter(args.save, bom=args.bom, money=AMOUNT_COLUMNS)
        writer.write(claims)
        writer.close()
    # synthetic claims hold int64 fen
    report = fund_impact(
        claims, args.policy, reform_scenarios(args), amounts="fen", by=_groupings(args), top=args.top, first_row=1
    )
    return _show(args, report, f"{args.rows:,} synthetic claims (seed {args.seed})")


def _show(args: argparse.Namespace, report, what: str) -> int:
    if args.csv:
        Path(args.csv).write_text(report.to_csv(), encoding="utf-8-sig" if args.bom else "utf-8")
    if args.json_out:
        Path(args.json_out).write_text(report.to_json(), encoding="utf-8")
    if args.json:
        print(report.to_json())
        return 0
    console = _console(args)
    for table in render_impact(report, what):
        console.print(table)
    return 0


def render_impact(report, what: str) -> list:
    """Rich renderables of the report (medcalc.analysis.impact_view): fitted to the width they are drawn at."""
    from ..analysis.impact_view import ImpactView

    return [ImpactView(report, what)]
