"""``medcalc reconcile``: audit a settlement extract against what medcalc computes.

Its parser and handler, and its own exit code (3: rows differ); the audit is medcalc.analysis.reconcile
and its table medcalc.analysis.reconcile_view.
"""

from __future__ import annotations

import argparse

from ..errors import MedcalcError
from .options import (
    EXIT_OK,
    INPUT_FORMATS,
    _choose_policy,
    _console,
    amounts_option,
    bom_option,
    encoding_option,
    header_row_option,
    limits_option,
    read_limits,
    sheet_option,
)

EXIT_DIFFERENCES = 3  # reconcile: some rows differ or could not be compared (1 is an internal error)


def add_command(sub, policy_choice: argparse.ArgumentParser, output: argparse.ArgumentParser) -> None:
    """Register ``reconcile`` on the CLI's subparsers."""
    reconcile = sub.add_parser(
        "reconcile",
        parents=[policy_choice, output],
        help="audit a settlement extract against what medcalc computes",
        description="Recompute every row of a settlement extract (claims with what was paid: act_pay_dedc, hifp_pay, "
        "hifmi_pay, maf_pay, backstop_pay, fund_pay_sumamt, psn_part_amt, or medcalc's names) and report "
        "the rows paid differently, each with the step that explains it. Exit codes: 0 every row matched, "
        "3 rows differ or could not be compared, 2 bad input, 1 an internal error.",
    )
    reconcile.add_argument("extract", help="the extract: .csv, .jsonl, .parquet or .xlsx")
    reconcile.add_argument(
        "--tolerance",
        default="0",
        help="largest |paid − recomputed| that still matches, in yuan (default 0: exact to the fen)",
    )
    amounts_option(reconcile)
    reconcile.add_argument(
        "--fields", help="paid fields to compare, comma-separated (default: every one the extract has)"
    )
    reconcile.add_argument("--format", dest="in_format", choices=INPUT_FORMATS, help="input format if not by extension")
    sheet_option(reconcile)
    header_row_option(reconcile)
    encoding_option(reconcile, "a CSV or JSON-lines file")
    limits_option(reconcile)
    reconcile.add_argument("-o", "--output", help="write the differences to this CSV file (amounts in yuan)")
    bom_option(reconcile)
    reconcile.set_defaults(run=_reconcile)


def _reconcile(args: argparse.Namespace) -> int:
    """Audit an extract: exit 0 when every row matched, 3 when rows differ or were rejected, 2 on bad input."""
    from ..analysis.reconcile import reconcile
    from ..batch.files import concat_parts, read_batches

    if args.policy is None and args.region is not None and args.on is None:
        raise MedcalcError("reconcile with --region needs --on (the date the policy must cover)")
    policy = _choose_policy(args, None) if (args.policy or args.region) else None
    parts = list(
        read_batches(
            args.extract,
            args.in_format,
            encoding=args.encoding,
            sheet=args.sheet,
            limits=read_limits(args),
            header_row=args.header_row,
        )
    )
    if not parts:
        raise MedcalcError(f"{args.extract}: no rows")
    table = concat_parts(parts)
    fields = [f.strip() for f in args.fields.split(",") if f.strip()] if args.fields else None
    report = reconcile(table, policy, amounts=args.amounts, tolerance=args.tolerance, fields=fields, first_row=1)
    if args.output:
        report.to_csv(args.output, bom=args.bom)
    if args.json:
        print(report.to_json())
    else:
        console = _console(args)
        console.print(report)
        if args.output:
            console.print(f"differences: {args.output}")
    return EXIT_OK if report.ok else EXIT_DIFFERENCES
