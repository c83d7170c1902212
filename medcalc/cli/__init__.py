"""The ``medcalc`` command line: quote one claim, score a file, and policy tools.

Exit codes: 0 ok, 2 bad input or policy, 1 internal error. Errors are one line on
stderr naming what was wrong and what is allowed. Every output command shares the
same output options (``--json``, ``--width``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, Sequence

from rich.console import Console

# Arrow's allocator (mimalloc) returns freed memory to the system at once rather than after a
# delay: a command holding a file of millions of rows then peaks at its live data (10^7 rows
# in one piece: 1.8 -> 1.4 GB, no slower). Read when Arrow loads, so set before anything
# imports pyarrow; a value set in the environment wins.
os.environ.setdefault("MIMALLOC_PURGE_DELAY", "0")

from .. import __version__
from ..api import settle, settle_many
from ..claims import Claim, parse_day
from ..errors import ClaimError, MedcalcError, UnitNotStated
from ..money import format_yuan
from ..describe import coverage, policy_row, rules_on
from ..score_summary import ScoreSummary
from ..policy.model import ADMISSION_RULES, CATEGORIES, PLACES, REFERRALS, Policy
from ..policy.registry import POLICIES_VARIABLE, find_policy, list_policies, load_policy, search_folders
from ..terminal import markup, printable
from ..vocabulary import choices_text, code_for

__all__ = ["main"]

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2

_CLAIM_FLAGS = {
    "person": "person_id",
    "claim_id": "claim_id",
    "date": "settled_on",
    "admitted": "admitted_on",
    "total": "total",
    "self_funded": "self_funded",
    "over_limit": "over_limit",
    "pre_self_pay": "pre_self_pay",
    "in_scope": "in_scope",
    "level": "level",
    "place": "place",
    "referral": "referral",
    "category": "category",
    "age": "age",
    "visit": "visit",
    "service": "service",
    "diseases": "diseases",
    "certified": "certified",
    "bed_fees": "bed_fees",
    "nursing_fees": "nursing_fees",
    "basic_paid": "basic_paid",
    "critical_base": "critical_base",
    "critical_paid": "critical_paid",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 on usage errors; keep it one line
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
    allowed = ("basic", "critical")
    for layer in layers:
        if layer not in allowed:
            raise argparse.ArgumentTypeError(f"{layer!r} is not a layer a file may give; one of {', '.join(allowed)}")
    return layers


def amounts_option(parser: argparse.ArgumentParser) -> None:
    """--amounts: the unit of integer amount columns under medcalc's names (a Parquet file's int64 total …)."""
    parser.add_argument("--amounts", choices=("fen", "yuan"), default=None,
                        help="the unit of integer amount columns under medcalc's names (total, self_funded …); "
                             "without it such a column is refused (exit 2). Columns under the national interface's "
                             "or Chinese names (medfee_sumamt, 医疗费总额 …) are yuan, and so are decimals and text "
                             "(every CSV, JSON-lines and .xlsx amount)")


def _output_options() -> argparse.ArgumentParser:
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--json", action="store_true", help="print JSON for machines instead of tables")
    shared.add_argument("--width", type=int, default=None, help="render tables at this many columns")
    return shared


def policies_option(parser: argparse.ArgumentParser) -> None:
    """--policies DIR (repeatable): folders of the user's own policies, for every lookup by id or region."""
    parser.add_argument("--policies", action="append", default=[], metavar="DIR",
                        help=f"a folder of your own policies, searched by id and region before ${POLICIES_VARIABLE} "
                             "and the shipped policies; repeat for several")


def _policy_options(required_date: bool = False) -> argparse.ArgumentParser:
    shared = argparse.ArgumentParser(add_help=False)
    policies_option(shared)
    shared.add_argument("--policy", help="policy id (see `medcalc policy list`) or path to a policy TOML file")
    shared.add_argument("--region", help="region name instead of --policy: Chinese (淮北, 六安市), pinyin or id")
    shared.add_argument("--on", help="with --region: the date the policy must cover (default: the claim's date)")
    shared.add_argument("--scheme", type=_word_of("scheme"), help="with --region: residents (居民) or employees (职工)")
    shared.add_argument("--tier", help="with --region: contribution tier, e.g. 一档")
    return shared


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="medcalc", description="What China's basic medical insurance pays on a claim, exact to the fen.")
    parser.add_argument("--version", action="version", version=f"medcalc {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    output, policy_choice = _output_options(), _policy_options()

    quote = sub.add_parser("quote", parents=[policy_choice, output], help="settle one claim and show the breakdown",
                           description="Settle one claim and show what each layer pays and why.")
    quote.add_argument("--claim", metavar="FILE", help="the claim as a JSON or TOML file ('-' for JSON on stdin); flags override its fields")
    quote.add_argument("--history", metavar="FILE", help="the person's earlier claims this year: a JSON array (or TOML [[claims]])")
    encoding_option(quote, "--claim and --history")
    quote.add_argument("--person", help="person id (default: 'person')")
    quote.add_argument("--claim-id", dest="claim_id")
    quote.add_argument("--date", help="settlement (discharge) date, e.g. 2025-03-01 (default: --on)")
    quote.add_argument("--admitted", help="admission date")
    quote.add_argument("--total", help="total bill 医疗费总额 in yuan: 12000, 1.2万, 12000元")
    quote.add_argument("--self-funded", dest="self_funded", help="全自费: outside the catalogue")
    quote.add_argument("--over-limit", dest="over_limit", help="超限价自费: above price limits")
    quote.add_argument("--pre-self-pay", dest="pre_self_pay", help="乙类先行自付: class-B co-pay")
    quote.add_argument("--in-scope", dest="in_scope", help="政策范围内费用, if known directly")
    quote.add_argument("--level", help="hospital level: its code or the policy's Chinese name (三级, 三级医院, 3 where "
                                       "the policy has one such level; see `medcalc policy list`)")
    quote.add_argument("--place", help="one of " + choices_text("place", PLACES) + ", or 本地, 省外 …")
    quote.add_argument("--referral", help="one of " + choices_text("referral", REFERRALS))
    quote.add_argument("--category", help="person category: one of " + choices_text("category", CATEGORIES))
    quote.add_argument("--age", help="age in years")
    quote.add_argument("--retired", action="store_true", default=None, help="the person is retired (employees)")
    quote.add_argument("--visit", type=_word_of("visit"), help="inpatient 住院 (default) or outpatient 门诊")
    quote.add_argument("--service", help="outpatient service of the policy, e.g. general 普通门诊, two_diseases 两病 "
                                         "(see `medcalc policy show`)")
    quote.add_argument("--diseases", help="diseases the visit treats, comma-separated, e.g. 高血压,糖尿病")
    quote.add_argument("--certified", help="慢特病 the person is certified for, comma-separated")
    quote.add_argument("--bed-fees", dest="bed_fees", help="bed fees within the in-scope cost (日间病床)")
    quote.add_argument("--nursing-fees", dest="nursing_fees", help="nursing fees within the in-scope cost (日间病床)")
    quote.add_argument("--basic-paid", dest="basic_paid", help="what basic insurance paid, settled elsewhere: only the "
                       "later layers are computed (a 大病 or assistance office's policy)")
    quote.add_argument("--critical-base", dest="critical_base", help="the claim's 大病 qualifying self-pay, if known directly")
    quote.add_argument("--critical-paid", dest="critical_paid", help="what 大病 insurance paid, settled elsewhere")
    quote.add_argument("--explain", action="store_true", help="show every step with the policy sentence behind it")

    score = sub.add_parser("score", parents=[policy_choice, output], help="settle a file of claims",
                           description="Settle every claim of a CSV, JSON-lines, Parquet or .xlsx file; write the "
                                       "settled rows and, beside them, the rejected rows with their reasons.")
    score.add_argument("file", help="claims: .csv, .jsonl, .parquet or .xlsx (columns: medcalc's or the national "
                                    "interface's names); '-' for CSV or JSON lines on standard input")
    score.add_argument("-o", "--output", help="settled rows out (.csv, .jsonl, .parquet, .xlsx); default: "
                                              "FILE.settled.csv (stdin.settled.csv for '-')")
    score.add_argument("--rejects", help="rejected rows out; default: OUTPUT with .rejects before the extension "
                                         "(.xlsx: a second sheet, 'rejects', of OUTPUT)")
    score.add_argument("--format", dest="in_format", choices=INPUT_FORMATS, help="input format if not by extension "
                                                                               "(for '-': sniffed if not given)")
    sheet_option(score)
    encoding_option(score, "a CSV or JSON-lines file")
    score.add_argument("--output-format", choices=INPUT_FORMATS, help="output format if not by extension")
    score.add_argument("--names", choices=("medcalc", "national", "chinese"), default="medcalc",
                       help="output column names: medcalc's, the national settlement interface's (hifp_pay, …), or "
                            "its Chinese labels (基本医疗保险统筹基金支出, …; the rejects' too)")
    bom_option(score)
    amounts_option(score)
    score.add_argument("--given", type=_given_layers, default=(), metavar="LAYERS",
                       help="layers settled elsewhere, comma-separated (basic, critical): the file's hifp_pay (or "
                            "basic) column is read as basic_paid, hifmi_pay / hifob_pay (or critical) as critical_paid, "
                            "and only the later layers are computed")
    score.add_argument("--strict", action="store_true", help="fail (exit 2) if any row is rejected")
    score.add_argument("--stream", action="store_true",
                       help="score record batch by batch in bounded memory; the file must be sorted by person id")
    score.add_argument("--batch-rows", dest="batch_rows", type=int, default=1 << 20,
                       help="rows per record batch read (default 1048576)")
    score.add_argument("--dask", metavar="SCHEDULER",
                       help="score on a Dask cluster: its scheduler address (tcp://host:8786), or local:N to start N "
                            "worker processes here; FILE may be a directory, glob or URL of Parquet/CSV files, and "
                            "the outputs are directories of Parquet part files (pip install 'medcalc[dask]')")
    score.add_argument("--partitions", type=int, default=None,
                       help="with --dask: partitions to score after gathering rows by person (default: as read)")

    from .analysis import add_analysis_commands

    add_analysis_commands(sub, output)
    _add_reconcile_command(sub, policy_choice, output)

    policy = sub.add_parser("policy", help="policy tools: list, show, check, diff")
    psub = policy.add_subparsers(dest="policy_command", required=True, parser_class=_Parser)
    listing = psub.add_parser("list", parents=[output], help="list the shipped policies (and those of --policies)")
    policies_option(listing)
    show = psub.add_parser("show", parents=[output], help="show a policy's rules on a date, each with its source")
    policies_option(show)
    show.add_argument("policy", help="policy id or path")
    show.add_argument("--on", help="the date (default: the first day the policy settles claims)")
    check = psub.add_parser("check", parents=[output], help="load a policy file strictly and lint it")
    policies_option(check)
    check.add_argument("file", help="path to a policy TOML file, or a policy id")
    diff = psub.add_parser("diff", parents=[output], help="compare two policies, or one policy on two dates")
    policies_option(diff)
    diff.add_argument("a", help="policy id or path")
    diff.add_argument("b", nargs="?", help="second policy (default: the same policy)")
    diff.add_argument("--on", required=True, help="the date for A (and for B unless --on-b)")
    diff.add_argument("--on-b", dest="on_b", help="the date for B")
    diff.add_argument("--claims", help="a claims file to settle under both: how many change, and by how much")
    encoding_option(diff, "--claims")
    _add_plot_command(sub)
    from ..serve.command import add_serve_command

    policies_option(add_serve_command(sub))  # `medcalc serve`: FastAPI and uvicorn load only when it runs
    return parser


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


INPUT_FORMATS = ("csv", "jsonl", "parquet", "xlsx")


def sheet_option(parser: argparse.ArgumentParser) -> None:
    """The --sheet option of a command that reads a claims file."""
    parser.add_argument("--sheet", metavar="NAME", help="the sheet of an .xlsx file to read (default: the first)")


def bom_option(parser: argparse.ArgumentParser) -> None:
    """The --no-bom option of a command that writes CSV."""
    parser.add_argument("--no-bom", dest="bom", action="store_false",
                        help="write CSV without the UTF-8 byte-order mark (by default it is written, so that Excel "
                             "opens the file as UTF-8)")


def encoding_option(parser: argparse.ArgumentParser, what: str) -> None:
    """The --encoding option of a command that reads text files (``what`` it reads)."""
    parser.add_argument("--encoding", help=f"text encoding of {what} (default: UTF-8, with or without BOM, or GB18030, "
                                           "detected)")


def _read_data_file(name: str, encoding: str | None = None) -> object:
    """A claim or history file: JSON (or TOML by its extension), numbers read exactly (Decimal,
    never float); unreadable text or syntax is bad input (exit 2)."""
    from ..io import decode_text, parse_json

    if name == "-":
        data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
        path = Path("stdin")
    else:
        path = Path(name)
        if not path.is_file():
            raise MedcalcError(f"{name}: no such file")
        data = path.read_bytes()
    text = decode_text(data, name, encoding)
    if path.suffix == ".toml":
        try:
            parsed = tomllib.loads(text, parse_float=Decimal)
        except tomllib.TOMLDecodeError as exc:
            raise MedcalcError(f"{name}: not valid TOML: {exc}") from None
        return parsed.get("claims", parsed)
    try:
        return parse_json(text)
    except ValueError as exc:  # JSONDecodeError, NaN or Infinity
        raise MedcalcError(f"{name}: not valid JSON: {exc}") from None


def _claim_from_args(args: argparse.Namespace) -> tuple[Claim, dict[str, str]]:
    """The claim of the --claim file and the flags (a flag wins over the file's field, however the
    file names it), and how each field was written: the file's key (setl_time, 结算日期) or the flag
    (--total), so that an error names what the user wrote rather than medcalc's name for it."""
    from ..claims import FIELD_ALIASES

    fields: dict[str, object] = {}
    spelled: dict[str, str] = {}
    if args.claim:
        data = _read_data_file(args.claim, args.encoding)
        if not isinstance(data, dict):
            raise MedcalcError(f"{args.claim}: a claim must be a JSON object or TOML table")
        fields.update(data)
        spelled.update((FIELD_ALIASES.get(str(key), str(key)), str(key)) for key in data)

    def given(name: str, value: object, flag: str) -> None:
        for key in [k for k in fields if FIELD_ALIASES.get(str(k), str(k)) == name]:
            del fields[key]
        fields[name] = value
        spelled[name] = flag

    for flag, name in _CLAIM_FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            given(name, value, "--" + flag.replace("_", "-"))
    if args.retired:
        given("retired", True, "--retired")
    if "settled_on" not in spelled and args.on:
        given("settled_on", args.on, "--on")
    if "person_id" not in spelled:
        fields["person_id"] = "person"
    try:
        return Claim.from_mapping(fields), spelled
    except ClaimError as exc:
        raise _as_spelled(exc, spelled) from None


def _as_spelled(exc: ClaimError, spelled: dict[str, str]) -> ClaimError:
    """The same error naming the field as the user wrote it (a flag, a claim file's key)."""
    return ClaimError(spelled.get(exc.field, exc.field), exc.found, exc.reason, exc.row)


def _history(args: argparse.Namespace, person: str) -> list[Claim]:
    if not args.history:
        return []
    data = _read_data_file(args.history, args.encoding)
    if not isinstance(data, list):
        raise MedcalcError(f"{args.history}: history must be an array of claims")
    claims = []
    for i, row in enumerate(data, 1):
        if not isinstance(row, dict):
            raise MedcalcError(f"{args.history}: claim {i}: must be a JSON object or TOML table (got {row!r})")
        row = dict(row)
        row.setdefault("person_id", person)
        try:
            claims.append(Claim.from_mapping(row))
        except ClaimError as exc:
            raise MedcalcError(f"{args.history}: claim {i}: {exc}") from None
    return claims


def _console(args: argparse.Namespace, stderr: bool = False) -> Console:
    return Console(width=args.width, highlight=False, soft_wrap=False, stderr=stderr)


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


# ---------------------------------------------------------------- quote


def _quote(args: argparse.Namespace) -> int:
    if not args.policy and not args.region:
        raise MedcalcError("--policy or --region is required")
    claim, spelled = _claim_from_args(args)
    policy = _choose_policy(args, claim.settled_on)
    history = _history(args, claim.person_id)
    try:
        result = settle(policy, claim, history=history)
    except ClaimError as exc:
        raise _as_spelled(exc, spelled) from None
    if args.json:
        _print_json(result.to_dict())
        return EXIT_OK
    from ..render import print_settlement

    print_settlement(_console(args), result, explain=args.explain, policy=policy)
    return EXIT_OK


# ---------------------------------------------------------------- score


def _default_paths(args: argparse.Namespace) -> tuple[Path, Path]:
    source = Path("stdin" if getattr(args, "shown_file", args.file) == "-" else args.file)
    output = Path(args.output) if args.output else source.with_name(source.stem + ".settled.csv")
    if args.rejects:
        rejects = Path(args.rejects)
    elif _format_or_none(output, args.output_format) == "xlsx":
        rejects = output  # a second sheet of the same workbook
    else:
        rejects = output.with_name(output.stem + ".rejects" + (output.suffix or ".csv"))
    return output, rejects


def _format_or_none(path: Path, given: str | None) -> str | None:
    from ..io import format_of

    try:
        return format_of(path, given)
    except MedcalcError:
        return None  # said again, as an error, when the writer is made


def _score(args: argparse.Namespace) -> int:
    if args.file == "-":
        if args.dask:
            raise MedcalcError("--dask reads files, not standard input")
        import tempfile

        with tempfile.TemporaryDirectory(prefix="medcalc-stdin-") as folder:
            args.file, args.in_format = _spool_stdin(Path(folder), args.in_format)
            args.shown_file = "-"
            return _score_file(args)
    return _score_file(args)


def _spool_stdin(folder: Path, fmt: str | None) -> tuple[str, str]:
    """Standard input copied to a file (the readers read files; Arrow's CSV reader twice), and its
    format: as given, else JSON lines if its first non-space byte is '{', else CSV (a zip: .xlsx)."""
    import shutil

    path = folder / "stdin"
    source = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else None
    with open(path, "wb") as handle:
        if source is not None:
            shutil.copyfileobj(source, handle, 1 << 20)
        else:  # a text stream (a test's StringIO)
            handle.write(sys.stdin.read().encode("utf-8"))
    if fmt is None:
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
        start = head.removeprefix(b"\xef\xbb\xbf").lstrip()
        fmt = "xlsx" if head.startswith(b"PK\x03\x04") else "jsonl" if start.startswith(b"{") else "csv"
    return str(path), fmt


def _score_file(args: argparse.Namespace) -> int:
    from ..io import OUTPUT_NAMES, REJECT_NAMES, ResultWriter, count_rows, format_of, read_batches

    output, rejects_path = _default_paths(args)
    if args.policy is None and args.region is not None and args.on is None:
        raise MedcalcError("score with --region needs --on (the date the policy must cover)")
    # no policy named: each row's from its 'policy' or 'region' column
    policy = _choose_policy(args, None) if (args.policy or args.region) else None
    if args.dask:
        return _score_dask(args, policy)
    if args.partitions is not None:
        raise MedcalcError("--partitions goes with --dask")
    interactive = not args.json and sys.stderr.isatty()
    if not Path(args.file).is_file():
        raise MedcalcError(f"{args.file}: no such file")
    if args.sheet is not None and format_of(args.file, args.in_format) != "xlsx":
        raise MedcalcError(f"{args.file}: --sheet is for .xlsx files")
    for path in (output, rejects_path):
        if not path.parent.is_dir():  # said now, not as an OSError after the file is read
            raise MedcalcError(f"{path}: no such folder {str(path.parent)!r} to write into")
    out_format = format_of(output, args.output_format)
    rejects_format = out_format if rejects_path.suffix == output.suffix else format_of(rejects_path)
    if "xlsx" in (out_format, rejects_format, format_of(args.file, args.in_format)):
        from ..excel import require_excel

        require_excel(writing="xlsx" in (out_format, rejects_format))  # before any work: exit 2, one line
    total_rows = count_rows(args.file, args.in_format) if interactive else None
    book = None
    if rejects_path == output and out_format == "xlsx":
        from ..excel import XlsxBook

        book = XlsxBook(output)  # results and rejects: two sheets of one workbook
    elif rejects_path == output:
        raise MedcalcError(f"--rejects {rejects_path}: the same file as the settled rows; only an .xlsx file holds both")
    results = ResultWriter(output, out_format, OUTPUT_NAMES[args.names], bom=args.bom, book=book, sheet="results")
    rejects = ResultWriter(rejects_path, rejects_format, REJECT_NAMES.get(args.names), bom=args.bom, book=book,
                           sheet="rejects")
    summary = ScoreSummary()
    try:
        with _progress(interactive, total_rows) as advance:
            batches = read_batches(args.file, args.in_format, args.batch_rows, args.encoding, sheet=args.sheet)
            for part in _scored_parts(args, policy, batches):
                results.write(part.results)
                rejects.write(part.rejects)
                summary.add(part)
                advance(part.rows)
        results.close(_RESULT_SCHEMA())
        rejects.close(_REJECT_SCHEMA())
        if book is not None:
            book.close()
    except BaseException:
        for writer in (results, rejects):
            writer.close()
        if book is not None:
            book.close()
        for writer in (results, rejects):
            writer.path.unlink(missing_ok=True)  # no half-written output left behind
        raise
    return _report_score(args, summary, policy, output, rejects_path)


def _report_score(args: argparse.Namespace, summary: "ScoreSummary", policy: Policy | None, output, rejects_path) -> int:
    """Print the summary of a scored file (either path); exit 2 with --strict if any row was rejected."""
    report = summary.report(policy, output, rejects_path)
    if args.json:
        _print_json(report)
    else:
        _print_summary(_console(args), report)
    return EXIT_BAD_INPUT if args.strict and summary.rejected else EXIT_OK


def _score_dask(args: argparse.Namespace, policy: Policy | None) -> int:
    """--dask: score on a cluster (medcalc.dask), writing one Parquet part file per partition."""
    try:
        import fsspec
        from distributed import Client, LocalCluster
    except ImportError:
        raise MedcalcError("--dask needs dask and distributed: pip install 'medcalc[dask]'") from None
    from ..dask import read_claims, score_dask, write_parquet
    from ..io import format_of

    if args.partitions is not None and args.partitions < 1:
        raise MedcalcError(f"--partitions must be at least 1 (got {args.partitions})")
    if args.stream:
        raise MedcalcError("give --stream or --dask, not both (on Dask, rows are gathered by person: any order works)")
    source = args.file.rstrip("/")
    if args.output is None and ("://" in source or any(c in source for c in "*?[")):
        raise MedcalcError("--dask with a URL or glob input needs -o OUTPUT.parquet")
    output = args.output or str(Path(source).with_suffix("")) + ".settled.parquet"
    base, dot, suffix = output.rstrip("/").rpartition(".")
    rejects_path = args.rejects or (f"{base}.rejects.{suffix}" if dot else output + ".rejects")
    for path, fmt in ((output, args.output_format), (rejects_path, None)):
        if format_of(path, fmt) != "parquet":
            raise MedcalcError(f"{path}: --dask writes directories of Parquet part files; name it *.parquet")
    fs_out = [fsspec.core.url_to_fs(p) for p in (output, rejects_path)]
    for fs, root in fs_out:
        if fs.isfile(root):
            raise MedcalcError(f"{root}: is a file; --dask writes a directory of part files there")
    claims = read_claims(args.file, args.in_format, encoding=args.encoding)  # lazy: only the schema is read here
    if args.dask.startswith("local:"):
        workers = args.dask.removeprefix("local:")
        if not workers.isdigit() or int(workers) < 1:
            raise MedcalcError(f"--dask local:N needs a number of worker processes (got {args.dask!r})")
        import logging

        cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=logging.ERROR)
    else:
        cluster = None
    try:
        try:
            client = Client(cluster if cluster is not None else args.dask, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise MedcalcError(f"cannot reach the Dask scheduler at {args.dask}: {exc}") from None
        with client:
            for fs, root in fs_out:  # a previous run's parts would mix with this one's
                fs.rm(fs.glob(f"{root.rstrip('/')}/part.*.parquet"))
            scored = score_dask(claims, policy, amounts=args.amounts, first_row=1, npartitions=args.partitions,
                                given=args.given)
            try:
                parts = write_parquet(scored, output, rejects_path, names=args.names, summarize=_part_summary)
            except BaseException:
                for fs, root in fs_out:  # no half-written output left behind
                    fs.rm(fs.glob(f"{root.rstrip('/')}/part.*.parquet"))
                raise
    finally:
        if cluster is not None:
            cluster.close()
    summary = ScoreSummary()
    for part in parts:
        summary.merge(part)
    return _report_score(args, summary, policy, output, rejects_path)


def _part_summary(part) -> "ScoreSummary":
    """The summary of one scored part, made on the worker that scored it (a few numbers travel back)."""
    summary = ScoreSummary()
    summary.add(part)
    return summary


def _scored_parts(args: argparse.Namespace, policy: Policy | None, batches):
    """ScoredTables of the file: streamed part by part (sorted input), or the file in one piece."""
    from ..engine.compiled import AUTO_COMPILED_ROWS, load_in_background
    from ..stream import settle_batches
    from ..tables import settle_table

    if args.stream:
        yield from settle_batches(batches, policy, amounts=args.amounts, first_row=1, given=args.given)
        return
    batches = iter(batches)
    first = [next(batches, None)]
    if first[0] is None:
        return
    if first[0].num_rows >= AUTO_COMPILED_ROWS:  # a large file: numba loads while the rest is read
        load_in_background()
    # neither the first batch nor the table is kept in a local here: each is freed once compacted,
    # and settle_table can free the decimals it turns into fen
    yield settle_table(_whole_file(_prepend(first, batches)), policy, amounts=args.amounts, first_row=1,
                       given=args.given)


def _prepend(held: list, rest):
    """The batch in ``held`` (taken out of it, so only the reader holds it), then the rest."""
    yield held.pop()
    yield from rest


def _whole_file(batches):
    """The file's batches as one table, decimal amounts held compactly (see io.compact_decimals)."""
    import pyarrow as pa

    from ..io import compact_decimals, concat_parts

    table = concat_parts([compact_decimals(b) if isinstance(b, pa.RecordBatch) else b for b in batches])
    pa.default_memory_pool().release_unused()  # the reader's buffers: returned to the system, not kept
    return table


def _RESULT_SCHEMA():
    import pyarrow as pa

    from ..tables import RESULT_FIELDS

    return pa.schema([("row", pa.int64()), ("claim_id", pa.string()), ("person_id", pa.string()),
                      ("settled_on", pa.string()), ("policy", pa.string())] + [(f, pa.int64()) for f in RESULT_FIELDS])


def _REJECT_SCHEMA():
    import pyarrow as pa

    return pa.schema([("row", pa.int64()), ("claim_id", pa.string()), ("field", pa.string()), ("reason", pa.string())])


class _progress:
    """A rich progress bar counting rows, on a terminal only; elsewhere a no-op."""

    def __init__(self, interactive: bool, total: int | None) -> None:
        self.interactive, self.total = interactive, total
        self._progress = None

    def __enter__(self):
        if not self.interactive:
            return lambda rows: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self._progress = Progress(TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TextColumn("rows"),
                                  TimeElapsedColumn(), TimeRemainingColumn(), transient=True)
        self._progress.start()
        task = self._progress.add_task("score", total=self.total)
        return lambda rows: self._progress.advance(task, rows)

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()


#: Reasons listed in the summary; the rest are counted in one line (every one is in the rejects file).
_REASONS_SHOWN = 10


def _print_summary(console: Console, summary: dict[str, Any]) -> None:
    """The summary of ``medcalc score``: counts, amounts in yuan (grouped) and in 万, both rates."""
    from rich.table import Table
    from rich.text import Text

    from ..display import wan, yuan
    from ..layout import Paragraph
    from ..money import parse_amount

    table = Table(title=f"medcalc score · {markup(summary['policy'])} · amounts in yuan 元", header_style="bold")
    table.add_column("")
    table.add_column("", justify="right", no_wrap=True)
    table.add_column("in 万元 (rounded)", justify="right", no_wrap=True)
    for label, key in (("rows read", "rows"), ("settled", "settled"), ("rejected", "rejected"), ("persons", "persons")):
        table.add_row(label, f"{summary[key]:,}", "")
    table.add_section()
    labels = {"total": "医疗费总额 total", "in_scope": "政策范围内 in-scope", "basic": "基本医保 basic",
              "critical": "大病/大额 second layer", "assistance": "医疗救助 assistance", "backstop": "兜底 backstop",
              "funds": "基金支付 all funds", "patient": "个人负担 patient"}
    for key, label in labels.items():
        fen = parse_amount(summary["totals"][key])
        table.add_row(label, yuan(fen), wan(fen) if abs(fen) >= 1_000_000 else "")  # from 1万 yuan up
    table.add_section()
    table.add_row("实际报销比例 funds / total", summary["rates"]["funds_of_total"], "")
    table.add_row("政策范围内报销比例 funds / in-scope", summary["rates"]["funds_of_in_scope"], "")
    console.print(table)
    if summary["rejects_by_reason"]:
        reasons = Table(title="rejects by reason", header_style="bold")
        reasons.add_column("reason", overflow="fold")
        reasons.add_column("rows", justify="right", no_wrap=True)
        reasons.add_column("first row", justify="right", no_wrap=True)
        listed = list(summary["rejects_by_reason"].items())
        for reason, n in listed[:_REASONS_SHOWN]:
            reasons.add_row(Text(printable(reason)), f"{n:,}", f"{summary['first_row_by_reason'][reason]:,}")
        rest = listed[_REASONS_SHOWN:]
        if rest:
            reasons.add_row(Text(f"… {len(rest):,} more reasons (every one is in the rejects file)"),
                            f"{sum(n for _, n in rest):,}", "")
        console.print(reasons)
    console.print(Paragraph(f"settled rows: {summary['output']}\nrejected rows: {summary['rejects_file']}\n"
                            "rows are counted from 1, the first row under the header"))


# ---------------------------------------------------------------- policy tools


def _policy_list(args: argparse.Namespace) -> int:
    rows = [policy_row(p) for p in list_policies()]
    if args.json:
        _print_json(rows)
        return EXIT_OK
    from rich.table import Table

    own = search_folders()[:-1]
    title = f"policies of {', '.join(map(str, own))} and shipped" if own else "shipped policies"
    table = Table(title=markup(title), header_style="bold")
    for col in ("id", "region", "scheme", "covers (inpatient)", "levels"):
        table.add_column(col, overflow="fold")
    for r in rows:
        covers = ", ".join(f"{a}…{b or ''}" for a, b in r["covers"]) or "— (no inpatient rules)"
        scheme = r["scheme"] + (f" {r['tier']}" if r["tier"] else "")
        table.add_row(*(markup(v) for v in (r["id"], r["region"], scheme, covers, ", ".join(r["levels"]))))
    _console(args).print(table)
    return EXIT_OK


def _policy_show(args: argparse.Namespace) -> int:
    policy = load_policy(args.policy)
    spans = policy.coverage(ADMISSION_RULES)
    day = _day(args.on, "--on") if args.on else (spans[0][0] if spans else min(policy.change_days(), default=dt.date.today()))
    rules = rules_on(policy, day)
    if args.json:
        _print_json({"id": policy.id, "region": policy.region, "scheme": policy.scheme, "tier": policy.tier,
                     "on": day.isoformat(), "chain": list(policy.chain), "levels": dict(policy.levels),
                     "covers": coverage(policy), "notes": policy.notes, "rules": rules})
        return EXIT_OK
    from rich.tree import Tree

    escape = markup  # every piece of policy text: control characters escaped, then rich markup

    tree = Tree(f"[bold]{escape(policy.id)}[/bold] · {escape(policy.region)} · {policy.scheme}"
                f"{' ' + escape(policy.tier) if policy.tier else ''} · on {day} · extends "
                f"{escape(' → '.join(policy.chain[1:]) or 'nothing')}")
    levels = tree.add("levels")
    for code, name in policy.levels.items():
        levels.add(escape(f"{code}: {name}"))
    for r in rules:
        until = f" to {r['until']}" if r["until"] else ""
        node = tree.add(f"[bold]{escape(r['rule'])}[/bold]  " + escape(f"(from {r['since']}{until}; {r['file']})"))
        for name, value in r["values"].items():
            node.add(escape(f"{name}: {value}"))
        s = r["source"]
        flag = "" if s["verified"] else " [yellow]\\[unverified 未核实][/yellow]"
        node.add(f"[italic]{escape('“' + s['quote'] + '”')}[/italic] — {escape(s['title'])}"
                 f"{escape(' ' + s['document']) if s['document'] else ''}{flag}"
                 + (escape(f"\nnote: {s['note']}") if s["note"] else ""))
    if not rules:
        tree.add("no rule is in force on this day")
    if policy.notes.strip():
        tree.add("[bold]notes[/bold] (what the sources leave open)").add(escape(policy.notes.strip()))
    _console(args).print(tree)
    return EXIT_OK


def _policy_check(args: argparse.Namespace) -> int:
    from ..policy.lint import lint, services_covered

    policy = load_policy(args.file)
    versions = [v for t in policy.timelines.values() for layer in t.layers for v in layer if not v.disabled]
    services = {name: [[a.isoformat(), b.isoformat() if b else None] for a, b in spans]
                for name, spans in services_covered(policy).items()}
    report = {
        "id": policy.id, "region": policy.region, "scheme": policy.scheme, "file": policy.file,
        "chain": list(policy.chain), "rule_versions": len(versions),
        "unverified": sum(1 for v in versions if not v.citation.verified), "covers": coverage(policy),
        "services": services, "warnings": lint(policy),
    }
    if args.json:
        _print_json(report)
        return EXIT_OK
    covers = ", ".join(f"{a} to {b or 'open'}" for a, b in report["covers"]) or (
        "no day (no inpatient deductible and ratio in force)" if policy.levels
        else "none (an outpatient-only policy: no hospital level in [levels])")
    print(printable(f"ok: {policy.id} ({policy.region}, {policy.scheme}) from {policy.file}"))
    print(f"  extends: {' -> '.join(policy.chain[1:]) or 'nothing'}")
    print(f"  rule versions: {len(versions)}, of which unverified: {report['unverified']}")
    print(f"  settles inpatient claims dated: {covers}")
    for name, spans in report["services"].items():
        print(printable(f"  outpatient service {name}: " + (", ".join(f"{a} to {b or 'open'}" for a, b in spans)
                                                            or "no day")))
    for warning in report["warnings"]:
        print(printable(f"  warning: {warning}"))
    return EXIT_OK


def _policy_diff(args: argparse.Namespace) -> int:
    a = load_policy(args.a)
    b = load_policy(args.b) if args.b else a
    day_a = _day(args.on, "--on")
    day_b = _day(args.on_b, "--on-b") if args.on_b else day_a
    rules_a = {r["rule"]: r for r in rules_on(a, day_a)}
    rules_b = {r["rule"]: r for r in rules_on(b, day_b)}
    changes = []
    for key in sorted(set(rules_a) | set(rules_b)):
        ra, rb = rules_a.get(key), rules_b.get(key)
        for name in sorted(set(ra["values"] if ra else {}) | set(rb["values"] if rb else {})):
            va = ra["values"].get(name) if ra else None
            vb = rb["values"].get(name) if rb else None
            if va != vb:
                changes.append({"rule": key, "value": name, "a": va, "b": vb,
                                "source_a": ra["source"]["title"] if ra else None,
                                "source_b": rb["source"]["title"] if rb else None})
    report: dict[str, Any] = {"a": f"{a.id} on {day_a}", "b": f"{b.id} on {day_b}", "changes": changes}
    if args.claims:
        report["claims"] = _diff_claims(args.claims, a, b, args.encoding)
    if args.json:
        _print_json(report)
        return EXIT_OK
    from rich.table import Table

    console = _console(args)
    table = Table(title=f"{report['a']}  →  {report['b']}", header_style="bold")
    for col in ("rule", "value", "A", "B", "sources (A → B)"):
        table.add_column(col, overflow="fold")
    for c in changes:
        table.add_row(*(markup(v) for v in (c["rule"], c["value"], c["a"] or "—", c["b"] or "—",
                                            f"{c['source_a'] or '—'} → {c['source_b'] or '—'}")))
    if not changes:
        table.add_row("(no differences)", "", "", "", "")
    console.print(table)
    if "claims" in report:
        r = report["claims"]
        from ..display import grouped_text
        from ..layout import Paragraph

        console.print(Paragraph(grouped_text(
            f"claims settled under both: {r['settled_both']:,}; changed: {r['changed']:,}; "
            f"funds A {r['funds_a']} → B {r['funds_b']} (difference {r['difference']}); "
            f"largest change {r['largest_change']} on row {r['largest_row']} (rows counted from 1)")))
    return EXIT_OK


def _diff_claims(path: str, a: Policy, b: Policy, encoding: str | None = None) -> dict[str, Any]:
    from ..io import read_claims

    read = read_claims(path, encoding=encoding)
    settled_a = {s.row: s for s in settle_many(a, read.claims, explain=False).settlements}
    settled_b = {s.row: s for s in settle_many(b, read.claims, explain=False).settlements}
    both = sorted(set(settled_a) & set(settled_b))
    deltas = {i: settled_b[i].funds - settled_a[i].funds for i in both}
    largest = max(both, key=lambda i: abs(deltas[i]), default=None)
    return {
        "rows": read.count, "settled_both": len(both), "changed": sum(1 for d in deltas.values() if d),
        "funds_a": format_yuan(sum(settled_a[i].funds for i in both)),
        "funds_b": format_yuan(sum(settled_b[i].funds for i in both)),
        "difference": format_yuan(sum(deltas.values())),
        "largest_change": format_yuan(deltas[largest]) if largest is not None else "0.00",
        "largest_row": read.rows[largest] if largest is not None else None,
    }


# ---------------------------------------------------------------- plot


def _add_plot_command(sub) -> None:
    plot = sub.add_parser("plot", help="charts: reimbursement rate against cost, patient burden (PNG or SVG)",
                          description="Draw charts with matplotlib (pip install \"medcalc[charts]\"): the baseline "
                                      "policy and any reforms, each settling the same claims.")
    kinds = plot.add_subparsers(dest="plot_command", required=True, parser_class=_Parser)
    common = argparse.ArgumentParser(add_help=False)
    policies_option(common)
    common.add_argument("--policy", required=True, help="the baseline: policy id or path to a policy TOML file")
    from .analysis import add_reform_options

    add_reform_options(common)  # drawn beside the baseline
    common.add_argument("-o", "--output", required=True, help="the chart file: .png or .svg")
    common.add_argument("--ascii", action="store_true", help="English labels, even if a CJK font is installed (without one they are English anyway, "
                             "with a warning)")
    encoding_option(common, "a CSV or JSON-lines --claims file")
    amounts_option(common)
    rates = kinds.add_parser("rates", parents=[common], help="effective reimbursement rate against total cost, per level",
                             description="实际报销比例 (funds / total) against total cost, one curve per hospital level "
                                         "and scenario: a synthetic sweep of one fresh person's single claim from 100 "
                                         "to 1,000,000 yuan, or --claims binned by total cost.")
    rates.add_argument("--claims", help="a claims file (.csv, .jsonl, .parquet) instead of the synthetic sweep")
    rates.add_argument("--on", help="the sweep's settlement date (default: each policy's newest rule set)")
    rates.add_argument("--level", action="append", dest="levels", metavar="LEVEL",
                       help="draw this level only; repeat for several (default: every declared level)")
    rates.add_argument("--points", type=int, default=60, help="sweep points, or log-scale bins of --claims (default 60)")
    burden = kinds.add_parser("burden", parents=[common], help="distribution of patient burden over a claims file",
                              description="How many claims (or person-years) bear each amount of 个人负担, per scenario.")
    burden.add_argument("--claims", required=True, help="a claims file (.csv, .jsonl, .parquet)")
    burden.add_argument("--per", choices=("claim", "person"), default="claim",
                        help="one burden per claim, or per person-year (the year's claims summed)")
    burden.add_argument("--bins", type=int, default=None, help="that many equal bins (default: 0, 100, 200, 500, 1000 … yuan)")


def _plot(args: argparse.Namespace) -> int:
    """`medcalc plot rates|burden`: data from medcalc.charts, drawn and saved by the output's extension."""
    from .. import charts

    charts.require_matplotlib()  # before any settling: a missing extra is a clear error, not a traceback
    charts._format_of(args.output)
    from .analysis import reform_scenarios

    scenarios = [load_policy(args.policy), *reform_scenarios(args, required=False)]
    chinese = False if args.ascii else None
    if args.plot_command == "rates":
        on = _day(args.on, "--on") if args.on else None
        if on is not None and args.claims:
            raise MedcalcError("--on is for the synthetic sweep; --claims are settled on their own dates")
        rates = charts.rate_curve_data(args.claims, scenarios, amounts=args.amounts, levels=args.levels, points=args.points, on=on,
                                       encoding=args.encoding)
        charts.plot_rate_curve(rates, args.output, chinese=chinese)
        detail, refused = f"{len(rates.curves)} curves", rates.rejected
    else:
        burden = charts.burden_distribution_data(args.claims, scenarios, amounts=args.amounts, bins=args.bins, per=args.per,
                                                 encoding=args.encoding)
        charts.plot_burden(burden, args.output, chinese=chinese)
        detail, refused = f"{len(burden.lows)} bins per {args.per}", {d.scenario: d.rejected for d in burden.scenarios}
    # claims a scenario cannot settle are not in its chart: say so, not silently
    note = "".join(f"; {k} refused {v} claims" for k, v in refused.items() if v)
    print(f"wrote {args.output} ({', '.join(p.id for p in scenarios)}; {detail}{note})")
    return EXIT_OK


# ---------------------------------------------------------------- reconcile

EXIT_DIFFERENCES = 3  # reconcile: some rows differ or could not be compared (1 is an internal error)


def _add_reconcile_command(sub, policy_choice: argparse.ArgumentParser, output: argparse.ArgumentParser) -> None:
    reconcile = sub.add_parser(
        "reconcile", parents=[policy_choice, output], help="audit a settlement extract against what medcalc computes",
        description="Recompute every row of a settlement extract (claims with what was paid: act_pay_dedc, hifp_pay, "
                    "hifmi_pay, maf_pay, backstop_pay, fund_pay_sumamt, psn_part_amt, or medcalc's names) and report "
                    "the rows paid differently, each with the step that explains it. Exit codes: 0 every row matched, "
                    "3 rows differ or could not be compared, 2 bad input, 1 an internal error.")
    reconcile.add_argument("extract", help="the extract: .csv, .jsonl, .parquet or .xlsx")
    reconcile.add_argument("--tolerance", default="0",
                           help="largest |paid − recomputed| that still matches, in yuan (default 0: exact to the fen)")
    amounts_option(reconcile)
    reconcile.add_argument("--fields", help="paid fields to compare, comma-separated (default: every one the extract has)")
    reconcile.add_argument("--format", dest="in_format", choices=INPUT_FORMATS,
                           help="input format if not by extension")
    sheet_option(reconcile)
    encoding_option(reconcile, "a CSV or JSON-lines file")
    reconcile.add_argument("-o", "--output", help="write the differences to this CSV file (amounts in yuan)")
    bom_option(reconcile)
    reconcile.set_defaults(run=_reconcile)


def _reconcile(args: argparse.Namespace) -> int:
    """Audit an extract: exit 0 when every row matched, 3 when rows differ or were rejected, 2 on bad input."""
    from ..io import concat_parts, read_batches
    from ..reconcile import reconcile

    if args.policy is None and args.region is not None and args.on is None:
        raise MedcalcError("reconcile with --region needs --on (the date the policy must cover)")
    policy = _choose_policy(args, None) if (args.policy or args.region) else None
    parts = list(read_batches(args.extract, args.in_format, encoding=args.encoding, sheet=args.sheet))
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


# ---------------------------------------------------------------- entry point

_POLICY_COMMANDS = {"list": _policy_list, "show": _policy_show, "check": _policy_check, "diff": _policy_diff}


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line on stderr (a skipped policy file names itself), not Python's two."""
    print(printable(f"medcalc: warning: {message}"), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    import warnings

    shown, warnings.showwarning = warnings.showwarning, _show_warning
    try:
        return _run(args)
    finally:
        warnings.showwarning = shown


@contextlib.contextmanager
def _policy_folders(folders: Sequence[str]):
    """The --policies folders, put before those of MEDCALC_POLICIES for this command.

    Through the variable rather than a ``search=`` on each call, so that every lookup the
    command makes sees them: each row's region, reforms and bases, and the worker processes
    of ``score --dask local:N`` (which inherit the environment).
    """
    if not folders:
        yield
        return
    for folder in folders:
        if not Path(folder).is_dir():
            raise MedcalcError(f"--policies {folder}: " + ("not a folder" if Path(folder).exists() else "no such folder"))
    before = os.environ.get(POLICIES_VARIABLE)
    own = [str(Path(folder).absolute()) for folder in folders]  # a worker may start in another folder
    os.environ[POLICIES_VARIABLE] = os.pathsep.join(own + ([before] if before else []))
    try:
        yield
    finally:
        if before is None:
            del os.environ[POLICIES_VARIABLE]
        else:
            os.environ[POLICIES_VARIABLE] = before


def _run(args: argparse.Namespace) -> int:
    try:
        with _policy_folders(getattr(args, "policies", None) or ()):
            return _command(args)
    except UnitNotStated as exc:  # said with the option that states the unit
        print(printable(f"medcalc: error: {exc.command_line}"), file=sys.stderr)
        return EXIT_BAD_INPUT
    except MedcalcError as exc:
        print(printable(f"medcalc: error: {exc}"), file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # the reader went away (`medcalc policy list | head`): not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # an internal error: still one line, but a distinct exit code
        print(printable(f"medcalc: internal error: {type(exc).__name__}: {exc}"), file=sys.stderr)
        return EXIT_INTERNAL


def _command(args: argparse.Namespace) -> int:
    if args.command == "quote":
        return _quote(args)
    if args.command == "score":
        return _score(args)
    if args.command == "plot":
        return _plot(args)
    if getattr(args, "run", None) is not None:  # commands defined in their own modules
        return args.run(args)
    return _POLICY_COMMANDS[args.policy_command](args)

