"""``medcalc score``: settle a file of claims, writing the settled rows and the rejected rows.

Its parser and handler: one piece or ``--stream`` (record batches, bounded memory) or ``--dask``
(a cluster), standard input spooled to a file, the outputs (CSV, JSON lines, Parquet, .xlsx
sheets), the progress bar on a terminal, and the summary printed at the end. Arrow, the
readers and the engines load inside the handler, so that other commands stay quick to start.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from ..errors import MedcalcError
from ..policy.model import Policy
from ..report.score_summary import ScoreSummary
from ..report.terminal import markup, printable
from .options import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    INPUT_FORMATS,
    _choose_policy,
    _console,
    _given_layers,
    _print_json,
    amounts_option,
    bom_option,
    encoding_option,
    header_row_option,
    limits_option,
    read_limits,
    sheet_option,
)

if TYPE_CHECKING:
    from rich.progress import Progress  # (imported when a bar is drawn, not with the command)


def add_command(sub, policy_choice: argparse.ArgumentParser, output: argparse.ArgumentParser) -> None:
    """Register ``score`` on the CLI's subparsers."""
    score = sub.add_parser(
        "score",
        parents=[policy_choice, output],
        help="settle a file of claims",
        description="Settle every claim of a CSV, JSON-lines, Parquet or .xlsx file; write the "
        "settled rows and, beside them, the rejected rows with their reasons.",
    )
    score.add_argument(
        "file",
        help="claims: .csv, .jsonl, .parquet or .xlsx (columns: medcalc's or the national "
        "interface's names); '-' for CSV or JSON lines on standard input",
    )
    score.add_argument(
        "-o",
        "--output",
        help="settled rows out (.csv, .jsonl, .parquet, .xlsx); default: FILE.settled.csv (stdin.settled.csv for '-')",
    )
    score.add_argument(
        "--rejects",
        help="rejected rows out; default: OUTPUT with .rejects before the extension "
        "(.xlsx: a second sheet, 'rejects', of OUTPUT)",
    )
    score.add_argument(
        "--format",
        dest="in_format",
        choices=INPUT_FORMATS,
        help="input format if not by extension (for '-': sniffed if not given)",
    )
    sheet_option(score)
    header_row_option(score)
    encoding_option(score, "a CSV or JSON-lines file")
    limits_option(score)
    score.add_argument("--output-format", choices=INPUT_FORMATS, help="output format if not by extension")
    score.add_argument(
        "--names",
        choices=("medcalc", "national", "chinese"),
        default="medcalc",
        help="output column names: medcalc's, the national settlement interface's (hifp_pay, …), or "
        "its Chinese labels (基本医疗保险统筹基金支出, …; the rejects' too)",
    )
    bom_option(score)
    amounts_option(score)
    score.add_argument(
        "--given",
        type=_given_layers,
        default=(),
        metavar="LAYERS",
        help="layers settled elsewhere, comma-separated (basic, critical): the file's hifp_pay (or "
        "basic) column is read as basic_paid, hifmi_pay / hifob_pay (or critical) as critical_paid, "
        "and only the later layers are computed",
    )
    score.add_argument(
        "--results-only",
        dest="results_only",
        action="store_true",
        help="write only the results (row, claim id, person, date, policy, amounts) and the rejects' "
        "row, field and reason; by default each row's own columns are written too, the results "
        "added after them",
    )
    score.add_argument("--strict", action="store_true", help="fail (exit 2) if any row is rejected")
    score.add_argument(
        "--stream",
        action="store_true",
        help="score record batch by batch in bounded memory; the file must be sorted by person id",
    )
    score.add_argument(
        "--batch-rows",
        dest="batch_rows",
        type=int,
        default=1 << 20,
        help="rows per record batch read (default 1048576)",
    )
    score.add_argument(
        "--dask",
        metavar="SCHEDULER",
        help="score on a Dask cluster: its scheduler address (tcp://host:8786), or local:N to start N "
        "worker processes here; FILE may be a directory, glob or URL of Parquet/CSV files, and "
        "the outputs are directories of Parquet part files (pip install 'medcalc[dask]')",
    )
    score.add_argument(
        "--partitions",
        type=int,
        default=None,
        help="with --dask: partitions to score after gathering rows by person (default: as read)",
    )
    score.set_defaults(run=_score)


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
    from ..batch.files import format_of

    try:
        return format_of(path, given)
    except MedcalcError:
        return None  # said again, as an error, when the writer is made


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
    from ..batch.files import OUTPUT_NAMES, REJECT_NAMES, ResultWriter, count_rows, format_of, read_batches
    from ..batch.sheet_back import rejects_back, results_back

    output, rejects_path = _default_paths(args)
    if args.policy is None and args.region is not None and args.on is None:
        raise MedcalcError("score with --region needs --on (the date the policy must cover)")
    # no policy named: each row's from its 'policy' or 'region' column
    policy = _choose_policy(args, None) if (args.policy or args.region) else None
    if args.dask:
        if args.limits:
            raise MedcalcError("--limit bounds the files read here; --dask reads them on its workers")
        return _score_dask(args, policy)
    if args.partitions is not None:
        raise MedcalcError("--partitions goes with --dask")
    interactive = not args.json and sys.stderr.isatty()
    limits = read_limits(args)  # a bad --limit: exit 2 before any work
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
        from ..batch.excel import require_excel

        require_excel(writing="xlsx" in (out_format, rejects_format))  # before any work: exit 2, one line
    total_rows = count_rows(args.file, args.in_format) if interactive else None
    book = None
    if rejects_path == output and out_format == "xlsx":
        from ..batch.excel import XlsxBook

        book = XlsxBook(output)  # results and rejects: two sheets of one workbook
    elif rejects_path == output:
        raise MedcalcError(
            f"--rejects {rejects_path}: the same file as the settled rows; only an .xlsx file holds both"
        )
    results = ResultWriter(output, out_format, OUTPUT_NAMES[args.names], bom=args.bom, book=book, sheet="results")
    rejects = ResultWriter(
        rejects_path, rejects_format, REJECT_NAMES.get(args.names), bom=args.bom, book=book, sheet="rejects"
    )
    summary = ScoreSummary()
    try:
        with _progress(interactive, total_rows) as (advance_read, advance):
            batches = _counted(
                read_batches(
                    args.file,
                    args.in_format,
                    args.batch_rows,
                    args.encoding,
                    sheet=args.sheet,
                    limits=limits,
                    header_row=args.header_row,
                ),
                advance_read,
            )
            for part in _scored_parts(args, policy, batches):
                results.write(*results_back(part, OUTPUT_NAMES[args.names]))  # (table, input columns, amounts)
                rejects.write(*rejects_back(part, REJECT_NAMES.get(args.names)))
                summary.add(part)
                advance(part.rows)
            if not summary.rows:  # nothing to settle is no success: said, and nothing written
                raise MedcalcError(f"{args.file}: no claims to score (no row with a value under the header)")
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


def _report_score(args: argparse.Namespace, summary: ScoreSummary, policy: Policy | None, output, rejects_path) -> int:
    """Print the summary of a scored file (either path); exit 2 with --strict if any row was rejected."""
    report = summary.report(policy, output, rejects_path)
    if args.json:
        _print_json(report)
    else:
        _print_summary(_console(args), report)
    return EXIT_BAD_INPUT if args.strict and summary.rejected else EXIT_OK


def _score_dask(args: argparse.Namespace, policy: Policy | None) -> int:
    """--dask: score on a cluster (medcalc.batch.dask), writing one Parquet part file per partition."""
    try:
        import fsspec
        from distributed import Client, LocalCluster
    except ImportError:
        raise MedcalcError("--dask needs dask and distributed: pip install 'medcalc[dask]'") from None
    from ..batch.dask import read_claims, score_dask, write_parquet
    from ..batch.files import format_of

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

        cluster = LocalCluster(
            n_workers=int(workers),
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )
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
            # rows numbered as the file shows them: a CSV file's lines (its header is line 1), Parquet's from 1
            first = 2 if (args.in_format or Path(str(args.file)).suffix.lower().lstrip(".")) == "csv" else 1
            scored = score_dask(
                claims, policy, amounts=args.amounts, first_row=first, npartitions=args.partitions, given=args.given
            )
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


def _part_summary(part) -> ScoreSummary:
    """The summary of one scored part, made on the worker that scored it (a few numbers travel back)."""
    summary = ScoreSummary()
    summary.add(part)
    return summary


def _scored_parts(args: argparse.Namespace, policy: Policy | None, batches):
    """ScoredTables of the file: streamed part by part (sorted input), or the file in one piece."""
    from ..batch.stream import settle_batches
    from ..batch.tables import settle_table
    from ..engine.compiled import AUTO_COMPILED_ROWS, load_in_background

    if args.stream:
        yield from settle_batches(
            batches, policy, amounts=args.amounts, first_row=1, given=args.given, keep_columns=not args.results_only
        )
        return
    batches = iter(batches)
    first = [next(batches, None)]
    if first[0] is None:
        return
    if first[0].num_rows >= AUTO_COMPILED_ROWS:  # a large file: numba loads while the rest is read
        load_in_background()
    # neither the first batch nor the table is kept in a local here: each is freed once compacted,
    # and settle_table can free the decimals it turns into fen
    yield settle_table(
        _whole_file(_prepend(first, batches)),
        policy,
        amounts=args.amounts,
        first_row=1,
        given=args.given,
        keep_columns=not args.results_only,
    )


def _prepend(held: list, rest):
    """The batch in ``held`` (taken out of it, so only the reader holds it), then the rest."""
    yield held.pop()
    yield from rest


def _whole_file(batches):
    """The file's batches as one table, decimal amounts held compactly (see io.compact_decimals)."""
    import pyarrow as pa

    from ..batch.files import compact_decimals, concat_parts

    table = concat_parts([compact_decimals(b) if isinstance(b, pa.RecordBatch) else b for b in batches])
    pa.default_memory_pool().release_unused()  # the reader's buffers: returned to the system, not kept
    return table


def _RESULT_SCHEMA():
    import pyarrow as pa

    from ..batch.tables import RESULT_FIELDS

    columns: list[tuple[str, pa.DataType]] = [
        ("row", pa.int64()),
        ("claim_id", pa.string()),
        ("person_id", pa.string()),
        ("settled_on", pa.string()),
        ("policy", pa.string()),
    ]
    return pa.schema(columns + [(f, pa.int64()) for f in RESULT_FIELDS])


def _REJECT_SCHEMA():
    import pyarrow as pa

    fields: list[tuple[str, pa.DataType]] = [
        ("row", pa.int64()),
        ("claim_id", pa.string()),
        ("field", pa.string()),
        ("reason", pa.string()),
    ]
    return pa.schema(fields)


def _counted(batches, advance):
    """The reader's batches, each counted as read (the progress bar's first line)."""
    for batch in batches:
        advance(batch.num_rows)
        yield batch


class _progress:
    """Two rich progress bars on a terminal, rows read and rows settled (elsewhere no-ops): reading
    moves batch by batch in every mode; settling moves part by part (with --stream, as reading
    does; in one piece, once the file is read)."""

    def __init__(self, interactive: bool, total: int | None) -> None:
        self.interactive, self.total = interactive, total
        self._progress: Progress | None = None

    def __enter__(self):
        if not self.interactive:
            return (lambda rows: None), (lambda rows: None)
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        progress = self._progress = Progress(
            TextColumn("{task.description:>8}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            transient=True,
        )
        progress.start()
        read = progress.add_task("read", total=self.total)
        settled = progress.add_task("settled", total=self.total)
        return (lambda rows: progress.advance(read, rows)), (lambda rows: progress.advance(settled, rows))

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()


#: Reasons listed in the summary; the rest are counted in one line (every one is in the rejects file).
_REASONS_SHOWN = 10


def _print_summary(console: Console, summary: dict[str, Any]) -> None:
    """The summary of ``medcalc score``: counts, amounts in yuan (grouped) and in 万, both rates."""
    from rich.table import Table
    from rich.text import Text

    from ..money import parse_amount
    from ..report.display import wan, yuan
    from ..report.layout import Paragraph

    table = Table(title=f"medcalc score · {markup(summary['policy'])} · amounts in yuan 元", header_style="bold")
    table.add_column("")
    table.add_column("", justify="right", no_wrap=True)
    table.add_column("in 万元 (rounded)", justify="right", no_wrap=True)
    for label, key in (("rows read", "rows"), ("settled", "settled"), ("rejected", "rejected"), ("persons", "persons")):
        table.add_row(label, f"{summary[key]:,}", "")
    table.add_section()
    labels = {
        "total": "医疗费总额 total",
        "in_scope": "政策范围内 in-scope",
        "basic": "基本医保 basic",
        "critical": "大病/大额 second layer",
        "assistance": "医疗救助 assistance",
        "backstop": "兜底 backstop",
        "funds": "基金支付 all funds",
        "patient": "个人负担 patient",
    }
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
            reasons.add_row(
                Text(f"… {len(rest):,} more reasons (every one is in the rejects file)"),
                f"{sum(n for _, n in rest):,}",
                "",
            )
        console.print(reasons)
    if summary.get("columns_not_used"):
        console.print(
            Paragraph(
                "columns not used (no claim field; passed through): "
                + ", ".join(printable(c) for c in summary["columns_not_used"])
            )
        )
    console.print(
        Paragraph(
            f"settled rows: {summary['output']}\nrejected rows: {summary['rejects_file']}\n"
            "rows are numbered as the file shows them: the line of a CSV or JSON-lines "
            "file, the row of a sheet (Parquet: from 1)"
        )
    )
