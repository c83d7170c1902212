"""``POST /score``: a claims file uploaded (CSV, JSON lines, Parquet or .xlsx), settled whole.

The upload is streamed into a file of a temporary folder of the server's own (its name is
fixed: nothing in the request names a path), then read and settled exactly as ``medcalc
score FILE`` reads and settles a file in one piece (``io.read_batches``, ``settle_table``):
the same column names, amounts, words and reject reasons. The answer holds the summary the
CLI prints (rows, persons, totals by layer, rejects by reason), the settled rows (amounts as
yuan strings) and the rejected rows: at most ``listed`` of each (the first by row), with
``results_omitted`` and ``rejects_omitted`` saying how many more there are, so that the answer
stays small whatever the upload (every row still counts in the summary; ``medcalc score``
writes them all).

The file is read under the server's own read limits (``Limits.read``, tighter than the CLI's:
``limits.SERVE_READ_LIMITS``). One rule for a file a limit refuses whole (its columns, header,
sheet extent, unpacked sizes or compression, a line too long to read): 413, with the CLI's message
and ``read_limit`` naming the limit; a cell over ``max_cell_chars`` rejects its row only, as in the
CLI. Any other unreadable file is 422. Messages name the upload by its file name (else
``upload``), never by the server's temporary path.

The format is the ``format`` parameter, else the uploaded file name's extension, else the
content type, else sniffed from the first bytes (a zip is .xlsx, ``PAR1`` Parquet, ``{`` JSON
lines, anything else CSV), as ``medcalc score -`` does for standard input.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..batch.files import FORMATS, OUTPUT_NAMES, REJECT_NAMES, concat_parts, fen_to_yuan, format_of, read_batches
from ..batch.limits import ReadLimits, how_to_change
from ..errors import MedcalcError
from .limits import SERVE_READ_LIMITS
from .lookup import check_policy_ids, choose_policy
from .problems import ApiError, api_error

__all__ = [
    "Spool",
    "detect_format",
    "score",
    "read_upload",
    "upload_name",
    "CONTENT_TYPES",
    "SCORE_OPTIONS",
    "LISTED_ROWS",
]

#: Content types of the four formats (the first of each is the one documented).
CONTENT_TYPES = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}
#: Options of a scoring request (query parameters), beside the upload.
SCORE_OPTIONS = ("policy", "region", "on", "scheme", "tier", "amounts", "sheet", "encoding", "names", "format")
_HEAD = 1 << 16
#: Settled rows and rejects an answer lists, by default (``medcalc serve --max-listed-rows``).
LISTED_ROWS = 1000
#: How every refusal by a read limit ends (``how_to_change``), the limit's name in it.
_OVER_LIMIT = re.compile(r"(\w+)".join(map(re.escape, how_to_change("\0").split("\0"))))


class Spool:
    """The upload as a file in a temporary folder of its own, written chunk by chunk, at most ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit, self.size, self.head = limit, 0, b""
        self._folder = tempfile.TemporaryDirectory(prefix="medcalc-upload-")
        self.path = Path(self._folder.name) / "upload"
        self._handle = open(self.path, "wb")

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            from .limits import TooLarge

            raise TooLarge(self.limit)
        if len(self.head) < _HEAD:
            self.head += chunk[: _HEAD - len(self.head)]
        self._handle.write(chunk)

    def copy_from(self, handle) -> None:
        """Copy a file object (a multipart part already parsed to a spooled file)."""
        while chunk := handle.read(1 << 20):
            self.write(chunk)

    def finish(self) -> None:
        self._handle.close()

    def close(self) -> None:
        self._handle.close()
        self._folder.cleanup()


def detect_format(given: str | None, filename: str | None, content_type: str | None, head: bytes) -> str:
    """The upload's format (see the module docstring); 422 for a format or extension medcalc does not read."""
    if given:
        if given not in FORMATS:
            raise ApiError(422, f"format: {given!r} is not one of {', '.join(FORMATS)}", "format")
        return given
    if filename and Path(filename).suffix:
        try:
            return format_of(Path(filename).name)  # only the name's extension is read, never a path
        except MedcalcError as exc:
            raise ApiError(422, str(exc).replace("give --format", "give format="), "format") from None
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in CONTENT_TYPES:
        return CONTENT_TYPES[kind]
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"PAR1"):
        return "parquet"
    return "jsonl" if head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{") else "csv"


def _option(options: Mapping[str, Any], key: str) -> str | None:
    value = options.get(key)
    return None if value in (None, "") else str(value)


def _first_rows(table, listed: int):
    """The ``listed`` rows of a table of results or rejects with the lowest ``row`` numbers, in order."""
    import pyarrow.compute as pc

    if table.num_rows <= listed:
        return table.sort_by("row") if table.num_rows > 1 else table
    return table.take(pc.bottom_k_unstable(table.column("row"), listed)).sort_by("row")


def _yuan_rows(table, names: dict[str, str] | None) -> list[dict[str, Any]]:
    """An Arrow table of results or rejects as JSON rows: amounts in yuan text, columns renamed."""
    import pyarrow as pa

    from ..batch.tables import RESULT_FIELDS

    columns, labels = [], []
    for name in table.column_names:
        column = table.column(name)
        if name in RESULT_FIELDS:
            column = fen_to_yuan(column, text=True)
        elif pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_date(column.type):
            column = column.cast(pa.string())
        columns.append(column)
        labels.append((names or {}).get(name, name))
    return pa.table(columns, names=labels).to_pylist()


def upload_name(filename: str | None) -> str:
    """What messages call the upload: its file name without any folder, else ``upload``."""
    name = Path(filename.replace("\\", "/")).name if filename else ""  # (a Windows path too)
    return name[:200] or "upload"


def read_upload(
    path: Path, fmt: str, options: Mapping[str, Any], limits: ReadLimits = SERVE_READ_LIMITS, name: str = "upload"
) -> list[Any]:
    """The upload's record batches, read under ``limits``: a file refused by a limit is 413 naming it
    (``read_limit``), any other unreadable file 422, with the CLI's message about the file ``name``."""
    try:
        return list(
            read_batches(
                path, fmt, encoding=_option(options, "encoding"), sheet=_option(options, "sheet"), limits=limits
            )
        )
    except MedcalcError as exc:
        error = api_error(exc)  # (its status and field, as for any other request)
        error.message = error.message.replace(str(path), name)
        over = _OVER_LIMIT.search(error.message)
        if over:
            raise ApiError(413, error.message, "file", read_limit=over.group(1)) from None
        raise error from None


def score(
    path: Path,
    fmt: str,
    options: Mapping[str, Any],
    listed: int = LISTED_ROWS,
    limits: ReadLimits = SERVE_READ_LIMITS,
    name: str = "upload",
) -> dict[str, Any]:
    """Settle the uploaded file (read under ``limits``, called ``name`` in messages); the CLI's summary,
    and the first ``listed`` settled rows and rejected rows."""
    from ..batch.tables import canonical_names, settle_table
    from ..report.score_summary import ScoreSummary  # as `medcalc score` reports it

    names = _option(options, "names") or "medcalc"
    if names not in OUTPUT_NAMES:
        raise ApiError(422, f"names: must be one of {', '.join(OUTPUT_NAMES)} (got {names!r})", "names")
    amounts = _option(options, "amounts")
    if amounts not in (None, "fen", "yuan"):
        raise ApiError(422, f"amounts: must be fen or yuan (got {amounts!r})", "amounts")
    if _option(options, "sheet") is not None and fmt != "xlsx":
        raise ApiError(422, f"sheet: is for .xlsx files, and this upload is read as {fmt}", "sheet")
    if _option(options, "policy") is None and _option(options, "region") is not None and _option(options, "on") is None:
        raise ApiError(422, "score with region needs on (the date the policy must cover)", "on")
    policy = choose_policy(options, None) if (_option(options, "policy") or _option(options, "region")) else None
    if fmt == "xlsx":
        from ..batch.excel import require_excel

        require_excel()
    parts = read_upload(path, fmt, options, limits, name)
    summary = ScoreSummary()
    results: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    results_omitted = rejects_omitted = 0
    if parts:
        table = concat_parts(parts)
        del parts
        if policy is None:  # each row's policy column: ids only, never a path
            fields = canonical_names(table.column_names)
            column = next((name for name, field in fields.items() if field == "policy"), None)
            if column is not None:
                import pyarrow.compute as pc

                check_policy_ids(pc.unique(table.column(column)).to_pylist())
        scored = settle_table(table, policy, amounts=amounts, first_row=1)
        summary.add(scored)
        results = _yuan_rows(_first_rows(scored.results, listed), OUTPUT_NAMES[names])
        rejects = _yuan_rows(_first_rows(scored.rejects, listed), REJECT_NAMES.get(names))
        results_omitted, rejects_omitted = (
            scored.results.num_rows - len(results),
            scored.rejects.num_rows - len(rejects),
        )
    report = summary.report(policy, "", "")
    for key in ("output", "rejects_file"):  # the CLI's files: the API answers with the rows instead
        report.pop(key, None)
    return {
        **report,
        "results": results,
        "results_omitted": results_omitted,
        "rejects": rejects,
        "rejects_omitted": rejects_omitted,
    }
