"""What the commands of ``medcalc`` share: the parser class, argument types, options, output.

The argparse parser class (usage errors exit 2 in one line), the argument types, the options
several commands take (output, policy choice, ``--policies``, input formats, ``--sheet``, ``--limit``,
``--no-bom``, ``--encoding``, ``--amounts``, the reforms of ``impact``/``simulate``/``plot``),
the exit codes, the console and JSON printing, and choosing a policy. The command modules
import from here; this module imports none of them (the package's imports run one way:
``medcalc.cli`` -> its command modules -> ``options``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any, NoReturn

from rich.console import Console

from ..claims import GIVEN_LAYERS, parse_day
from ..errors import ClaimError, MedcalcError
from ..policy.model import Policy
from ..policy.registry import POLICIES_VARIABLE, find_policy, load_policy
from ..vocabulary import code_for

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse exits 2 on usage errors; keep it one line
        self.exit(EXIT_BAD_INPUT, f"medcalc: error: {message}\n")


def _word_of(field: str):
    """An argparse type: a code or a word for it (居民, 门诊 …), as the code; else exit 2 with the closest."""

    def convert(value: str) -> str:
        try:
            return code_for(field, value)
        except ClaimError as exc:
            raise argparse.ArgumentTypeError(exc.detail) from None

    convert.__name__ = field  # argparse names the type in its message
    return convert


def _given_layers(value: str) -> tuple[str, ...]:
    """An argparse type: --given basic,critical, the layers whose payments a file gives."""
    layers = tuple(part.strip() for part in value.split(",") if part.strip())
    allowed = tuple(GIVEN_LAYERS)
    for layer in layers:
        if layer not in allowed:
            raise argparse.ArgumentTypeError(f"{layer!r} is not a layer a file may give; one of {', '.join(allowed)}")
    return layers


def amounts_option(parser: argparse.ArgumentParser) -> None:
    """--amounts: the unit of integer amount columns under medcalc's names (a Parquet file's int64 total …)."""
    parser.add_argument(
        "--amounts",
        choices=("fen", "yuan"),
        default=None,
        help="the unit of integer amount columns under medcalc's names (total, self_funded …); "
        "without it such a column is refused (exit 2). Columns under the national interface's "
        "or Chinese names (medfee_sumamt, 医疗费总额 …) are yuan, and so are decimals and text "
        "(every CSV, JSON-lines and .xlsx amount)",
    )


def _output_options() -> argparse.ArgumentParser:
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--json", action="store_true", help="print JSON for machines instead of tables")
    shared.add_argument("--width", type=int, default=None, help="render tables at this many columns")
    return shared


def policies_option(parser: argparse.ArgumentParser) -> None:
    """--policies DIR (repeatable): folders of the user's own policies, for every lookup by id or region."""
    parser.add_argument(
        "--policies",
        action="append",
        default=[],
        metavar="DIR",
        help=f"a folder of your own policies, searched by id and region before ${POLICIES_VARIABLE} "
        "and the shipped policies; repeat for several",
    )


def _policy_options(required_date: bool = False) -> argparse.ArgumentParser:
    shared = argparse.ArgumentParser(add_help=False)
    policies_option(shared)
    shared.add_argument("--policy", help="policy id (see `medcalc policy list`) or path to a policy TOML file")
    shared.add_argument("--region", help="region name instead of --policy: Chinese (淮北, 六安市), pinyin or id")
    shared.add_argument("--on", help="with --region: the date the policy must cover (default: the claim's date)")
    shared.add_argument("--scheme", type=_word_of("scheme"), help="with --region: residents (居民) or employees (职工)")
    shared.add_argument("--tier", help="with --region: contribution tier, e.g. 一档")
    return shared


# ---------------------------------------------------------------- input files


INPUT_FORMATS = ("csv", "jsonl", "parquet", "xlsx")


def sheet_option(parser: argparse.ArgumentParser) -> None:
    """The --sheet option of a command that reads a claims file."""
    parser.add_argument("--sheet", metavar="NAME", help="the sheet of an .xlsx file to read (default: the first)")


def header_row_option(parser: argparse.ArgumentParser) -> None:
    """The --header-row option of a command that reads a claims file."""
    parser.add_argument(
        "--header-row",
        dest="header_row",
        type=int,
        metavar="N",
        help="the line (CSV) or sheet row (.xlsx) of the header, from 1 (default: the first of the "
        "first 30 that names two claim columns or more; title rows above it are skipped)",
    )


def bom_option(parser: argparse.ArgumentParser) -> None:
    """The --no-bom option of a command that writes CSV."""
    parser.add_argument(
        "--no-bom",
        dest="bom",
        action="store_false",
        help="write CSV without the UTF-8 byte-order mark (by default it is written, so that Excel "
        "opens the file as UTF-8)",
    )


def encoding_option(parser: argparse.ArgumentParser, what: str) -> None:
    """The --encoding option of a command that reads text files (``what`` it reads)."""
    parser.add_argument(
        "--encoding", help=f"text encoding of {what} (default: UTF-8, with or without BOM, or GB18030, detected)"
    )


def limits_option(parser: argparse.ArgumentParser) -> None:
    """--limit NAME=VALUE (repeatable): raise or lower a read limit (medcalc.batch.limits.ReadLimits)."""
    parser.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        dest="limits",
        help="change a limit on what the file may hold, e.g. max_sheet_cells=50000000 (names: "
        "max_columns, max_header_chars, max_cell_chars, max_sheet_cells, max_sheet_bytes, "
        "max_shared_strings_bytes, max_xlsx_bytes, max_compression_ratio); repeat for several",
    )


def read_limits(args: argparse.Namespace):
    """The ReadLimits the --limit options give (the defaults where none is given)."""
    from ..batch.limits import DEFAULT_LIMITS, parse_override

    limits = DEFAULT_LIMITS
    for text in getattr(args, "limits", None) or ():
        limits = parse_override(text, limits)
    return limits


# ---------------------------------------------------------------- reforms (impact, simulate, plot)
# here, not in analysis.py: plot draws the same reforms beside its baseline


def add_reform_options(parser: argparse.ArgumentParser) -> None:
    """--reform FILE|ID (repeatable), and a one-line reform: --adjust "RULE[LEVELS] +5" [--since DATE]."""
    parser.add_argument(
        "--reform",
        action="append",
        default=[],
        help="a reform (id or TOML file with a [reform] table), or another policy; repeat for several",
    )
    parser.add_argument(
        "--adjust",
        action="append",
        default=[],
        metavar="CHANGE",
        help='a one-line reform of the baseline, e.g. "inpatient.ratio[level1] +5" or '
        '"critical.threshold *50%%"; repeat to combine changes into one reform named "adjusted"',
    )
    parser.add_argument("--since", help="with --adjust: from when (default: when the baseline's newest rules began)")


def reform_scenarios(args: argparse.Namespace, *, required: bool = True) -> list:
    """The reforms the options name (policies), the --adjust one last."""
    from ..policy.registry import adjusted_policy

    if args.since and not args.adjust:
        raise MedcalcError("--since goes with --adjust")
    reforms = [load_policy(r) for r in args.reform]
    if args.adjust:
        reforms.append(adjusted_policy(args.policy, args.adjust, since=args.since))
    if required and not reforms:
        raise MedcalcError('name a reform: --reform FILE|ID, or --adjust "RULE[LEVELS] +POINTS"')
    return reforms


# ---------------------------------------------------------------- helpers


def _day(text: str, flag: str) -> dt.date:
    try:
        return parse_day(text)
    except ValueError:
        raise MedcalcError(f"{flag}: must be a date such as 2025-03-01 (got {text!r})") from None


def _choose_policy(args: argparse.Namespace, day: dt.date | None) -> Policy:
    if args.policy and args.region:
        raise MedcalcError("give --policy or --region, not both")
    if args.policy:
        return load_policy(args.policy)
    if not args.region:
        raise MedcalcError("--policy or --region is required")
    on = _day(args.on, "--on") if args.on else day
    if on is None:
        raise MedcalcError("--region needs a date: --on or the claim's --date")
    return find_policy(args.region, on, scheme=args.scheme, tier=args.tier)


def _console(args: argparse.Namespace, stderr: bool = False) -> Console:
    return Console(width=args.width, highlight=False, soft_wrap=False, stderr=stderr)


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))
