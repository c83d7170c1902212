"""Files in and out: claims from CSV, JSON lines, Parquet or Excel; settlements and rejects back out.

Rows are numbered from 1 in file order. A row that is not a valid claim becomes a reject
with its row number, field and reason; nothing is dropped or defaulted. Amounts leave as
yuan with two decimals: strings in CSV and JSON lines, decimal128 in Parquet (exact), numbers
formatted 0.00 in .xlsx (medcalc.batch.excel). CSV is written UTF-8 with a byte-order mark unless
told otherwise, so that Excel opens it as UTF-8 (and every reader here skips the mark).

Claims are read as Arrow record batches (``read_batches``) for the table scorer: CSV
columns all as text, so every value is parsed by medcalc's rules rather than guessed;
``read_claims`` gives Claim objects for small files (``policy diff --claims``).
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from ..claims import Claim
from ..errors import ClaimError, MedcalcError
from ..settlement import Reject
from ..vocabulary import CHINESE_NAMES
from .headers import HEADER_SCAN
from .limits import DEFAULT_LIMITS, ReadLimits, how_to_change
from .safe_cells import escape_column, unescape_batch, unescape_text
from .tables import INVALID_COLUMN, ROW_COLUMN, invalid_reason, names_a_header

__all__ = [
    "FORMATS",
    "format_of",
    "read_claims",
    "ReadResult",
    "read_batches",
    "count_rows",
    "ResultWriter",
    "OUTPUT_NAMES",
    "REJECT_NAMES",
    "fen_to_yuan",
    "detect_encoding",
    "decode_text",
    "parse_json",
    "text_encoding",
    "json_number_text",
]


FORMATS = ("csv", "jsonl", "parquet", "xlsx")

#: Output column names: medcalc's own, and the national settlement interface's.
OUTPUT_NAMES = {
    "medcalc": {
        "row": "row",
        "claim_id": "claim_id",
        "person_id": "person_id",
        "settled_on": "settled_on",
        "total": "total",
        "in_scope": "in_scope",
        "deductible": "deductible",
        "basic": "basic",
        "critical": "critical",
        "assistance": "assistance",
        "backstop": "backstop",
        "funds": "funds",
        "patient": "patient",
        "policy": "policy",
    },
    "national": {
        "row": "row",
        "claim_id": "setl_id",
        "person_id": "psn_no",
        "settled_on": "setl_time",
        "total": "medfee_sumamt",
        "in_scope": "inscp_scp_amt",
        "deductible": "act_pay_dedc",
        "basic": "hifp_pay",
        "critical": "hifmi_pay",
        "assistance": "maf_pay",
        "backstop": "backstop_pay",
        "funds": "fund_pay_sumamt",
        "patient": "psn_part_amt",
        "policy": "policy",
    },
    # the national interface's own Chinese labels, where it has them: the one table that a
    # file's Chinese header is read by too (medcalc.vocabulary.CHINESE_NAMES)
    "chinese": {
        field: CHINESE_NAMES[field]
        for field in (
            "row",
            "claim_id",
            "person_id",
            "settled_on",
            "total",
            "in_scope",
            "deductible",
            "basic",
            "critical",
            "assistance",
            "backstop",
            "funds",
            "patient",
            "policy",
        )
    },
}
#: Reject column names, where they are not medcalc's.
REJECT_NAMES = {
    "chinese": {"row": CHINESE_NAMES["row"], "claim_id": CHINESE_NAMES["claim_id"], "field": "字段", "reason": "原因"}
}
_MONEY = ("total", "in_scope", "deductible", "basic", "critical", "assistance", "backstop", "funds", "patient")


def format_of(path: str | Path, given: str | None = None) -> str:
    """The file format: as given, else from the extension (.csv, .jsonl/.ndjson, .parquet, .xlsx)."""
    if given is not None:
        if given not in FORMATS:
            raise MedcalcError(f"format {given!r} is not one of {', '.join(FORMATS)}")
        return given
    suffix = Path(path).suffix.lower()
    known = {
        ".csv": "csv",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".parquet": "parquet",
        ".pq": "parquet",
        ".xlsx": "xlsx",
    }
    if suffix not in known:
        raise MedcalcError(
            f"{path}: cannot tell the format from the extension {suffix or '(none)'!r}; "
            f"use .csv, .jsonl, .parquet or .xlsx, or give --format"
        )
    return known[suffix]


@attrs.define
class ReadResult:
    """Valid claims with their file row numbers, and the rows that are not valid claims."""

    claims: list[Claim]
    rows: list[int]
    rejects: list[Reject]
    count: int  # rows read


#: Encodings tried when none is given: UTF-8 (with or without a byte-order mark), then GB18030
#: (which contains GBK and GB2312), the two a Chinese settlement extract comes in.
DETECTED_ENCODINGS = ("utf-8", "gb18030")
_SAMPLE_BYTES = 1 << 22


def detect_encoding(path: str | Path, given: str | None = None) -> str:
    """The text encoding of a file: ``given`` (checked to be a codec), else UTF-8 or GB18030 by
    its first 4 MiB. A file that is neither is refused (MedcalcError): never read as garbage."""
    if given is not None:
        return text_encoding(given)
    with open(path, "rb") as handle:
        return _encoding_of(handle.read(_SAMPLE_BYTES), path, whole=False)


def text_encoding(given: str) -> str:
    """The codec name of ``given``, a text encoding (bytes to text); MedcalcError otherwise. Python's
    codec registry also holds transforms that are no text encoding (rot13 maps text to text, hex
    and base64 bytes to bytes): those are refused here, not failed on later."""
    try:
        info = codecs.lookup(given)
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise MedcalcError(f"--encoding {given!r} is not a known text encoding (e.g. utf-8, gb18030)")
    return info.name


def decode_text(data: bytes, name: str, encoding: str | None = None) -> str:
    """Bytes of a small file (a claim, a history) as text, by ``encoding`` or detected as above."""
    encoding = text_encoding(encoding) if encoding else _encoding_of(data, name, whole=True)
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise MedcalcError(f"{name}: cannot be read as {encoding}: {exc}") from None


def _encoding_of(data: bytes, name: object, *, whole: bool) -> str:
    """UTF-8 with a byte-order mark, else the first of DETECTED_ENCODINGS that reads ``data``
    (``whole``: all of the text; otherwise a sample, which may end inside a character)."""
    import codecs

    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    for encoding in DETECTED_ENCODINGS:
        try:
            codecs.getincrementaldecoder(encoding)().decode(data, final=whole)
            return encoding
        except UnicodeDecodeError:
            continue
    raise MedcalcError(f"{name}: the text is neither UTF-8 nor GB18030; give its encoding with --encoding")


def parse_json(text: str) -> Any:
    """JSON with every number exact: fractions as Decimal (never float); NaN and Infinity refused.

    Every failure is a ValueError: bad syntax, NaN, an integer of more digits than Python reads
    (4300), and nesting deeper than the interpreter's stack (RecursionError, which would
    otherwise escape as an internal error)."""

    def constant(word: str) -> Any:
        raise ValueError(f"{word} is not a number")

    try:
        return json.loads(text, parse_float=Decimal, parse_constant=constant)
    except RecursionError:
        raise ValueError("nested too deeply (arrays or objects inside each other)") from None


def json_number_text(value: Decimal) -> str:
    """A JSON number as the text a CSV cell would hold: its digits written out (1E+2 as "100"), but
    only while that stays short; 1E-999999999 or 1E+128 keep their exponent form, which no
    amount or whole number reads (written out, they would be a billion zeros, or a 129-digit
    amount for a cast that wraps)."""
    exponent = value.as_tuple().exponent  # an int for a finite value ('n', 'N' or 'F' for NaN and infinities)
    if isinstance(exponent, int) and -_JSON_EXPONENT <= exponent and value.adjusted() <= _JSON_EXPONENT:
        return format(value, "f")
    return str(value)


#: Exponents within which a JSON number is written out as plain digits (see json_number_text).
_JSON_EXPONENT = 30


def _records(path: Path, fmt: str, encoding: str | None = None, sheet: str | None = None) -> Iterable[dict[str, Any]]:
    if fmt == "csv":
        with open(path, newline="", encoding=detect_encoding(path, encoding)) as handle:
            try:
                rows = csv.DictReader(handle)
                for record in rows:  # (cells written as text by medcalc read as they were; numbered by line)
                    yield {
                        **{k: unescape_text(v) for k, v in record.items() if v not in (None, "")},
                        LINE: rows.line_num,
                    }
            except (UnicodeDecodeError, csv.Error) as exc:
                raise MedcalcError(f"{path}: not a readable CSV file: {exc}") from None
    elif fmt == "jsonl":
        with open(path, encoding=detect_encoding(path, encoding)) as handle:
            number = 0
            try:
                for number, line in enumerate(_bounded_lines(handle, MAX_JSON_LINE), 1):
                    if line is None:
                        yield {"__error__": f"the line is longer than {MAX_JSON_LINE} characters", LINE: number}
                        continue
                    if not line.strip():
                        continue
                    try:
                        record = parse_json(line)
                    except ValueError as exc:  # JSONDecodeError is one
                        yield {"__error__": f"not valid JSON: {getattr(exc, 'msg', exc)}", LINE: number}
                        continue
                    yield (
                        {**record, LINE: number}
                        if isinstance(record, dict)
                        else {"__error__": "a line must be a JSON object", LINE: number}
                    )
            except UnicodeDecodeError as exc:
                raise MedcalcError(
                    f"{path}: line {number + 1} cannot be read as {handle.encoding}: {exc.reason}; "
                    "give the file's encoding with --encoding"
                ) from None
    elif fmt == "xlsx":
        from .excel import read_xlsx_batches

        for batch in read_xlsx_batches(path, 65536, sheet):
            for record in batch.to_pylist():
                line = record.pop(ROW_COLUMN, None)  # the sheet's own row
                if record.get(INVALID_COLUMN) is not None:
                    field, _, reason = record[INVALID_COLUMN].partition("\x1f")
                    yield {"__error__": reason, "__field__": field, LINE: line}
                else:
                    yield {**{k: v for k, v in record.items() if v is not None and k != INVALID_COLUMN}, LINE: line}
    else:
        for batch in _parquet_batches(path, 65536):
            for record in batch.to_pylist():
                # decimals arrive as Decimal (exact); float columns are refused by the claim itself
                yield {k: v for k, v in record.items() if v is not None}


#: The longest JSON line read as a claim (one claim is a few hundred characters): a longer line is
#: refused as a row, read in pieces and never held whole.
MAX_JSON_LINE = 1 << 16


def _bounded_lines(handle, limit: int) -> Iterator[str | None]:
    """The lines of a text file, each at most ``limit`` characters; None for a longer line,
    whose rest is skipped a piece at a time."""
    while line := handle.readline(limit + 1):
        if len(line) <= limit or line.endswith("\n") and len(line) == limit + 1:
            yield line
            continue
        while line and not line.endswith("\n"):
            line = handle.readline(1 << 20)
        yield None


#: The key a JSON-lines record carries its line number under, from the reader to its callers.
LINE = "\x1fline"


def _parquet_batches(path: Path, batch_rows: int) -> Iterator[Any]:
    """A Parquet file's record batches; a file that is not Parquet (empty, truncated, garbage) is bad input."""
    import pyarrow as pa

    pq = _parquet()
    try:
        # pre_buffer off: with it, iter_batches keeps every row group read so far (memory grows with the file)
        yield from pq.ParquetFile(path, pre_buffer=False).iter_batches(batch_size=batch_rows)
    except (pa.ArrowException, OSError) as exc:  # ArrowInvalid, ArrowIOError, …
        raise MedcalcError(f"{path}: not a readable Parquet file: {exc}") from None


def _parquet():
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is a dependency of the parquet extra
        raise MedcalcError("reading or writing Parquet needs pyarrow: pip install 'medcalc[parquet]'") from None
    return pq


def read_claims(
    path: str | Path,
    fmt: str | None = None,
    defaults: dict[str, Any] | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
) -> ReadResult:
    """Read every row; ``defaults`` fills fields a row leaves empty (e.g. a scheme for the file)."""
    path = Path(path)
    if not path.is_file():
        raise MedcalcError(f"{path}: no such file")
    fmt = format_of(path, fmt)
    _check_sheet(path, fmt, sheet)
    claims, rows, rejects = [], [], []
    count = 0
    for count, record in enumerate(_records(path, fmt, encoding, sheet), 1):
        row = record.pop(LINE, count)  # (JSON lines: the line)
        if "__error__" in record:
            rejects.append(Reject(row, record.get("__field__", "row"), record["__error__"]))
            continue
        try:
            claims.append(Claim.from_mapping({**(defaults or {}), **record}))
            rows.append(row)
        except ClaimError as exc:
            rejects.append(Reject(row, exc.field, exc.detail, _claim_id(record)))
    return ReadResult(claims, rows, rejects, count)


def _claim_id(record: dict[str, Any]) -> str | None:
    value = record.get("claim_id", record.get("setl_id", record.get("mdtrt_id")))
    return None if value is None else str(value)


def count_rows(path: str | Path, fmt: str | None = None) -> int | None:
    """Rows in a file, cheaply: Parquet from its footer, text formats by counting lines (.xlsx: None)."""
    fmt = format_of(path, fmt)
    if fmt == "xlsx":
        return None  # only by unpacking the sheet, which is the read itself
    if fmt == "parquet":
        try:
            return _parquet().ParquetFile(path).metadata.num_rows
        except Exception:  # not Parquet: read_batches says so; a count is only for the progress bar
            return None
    lines = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 24):
            lines += block.count(b"\n")
    return max(lines - (fmt == "csv"), 0)  # the header line is not a row (quoted newlines make this an estimate)


def read_batches(
    path: str | Path,
    fmt: str | None = None,
    batch_rows: int = 1 << 20,
    encoding: str | None = None,
    sheet: str | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
    header_row: int | None = None,
) -> Iterator[Any]:
    """The file's claims as Arrow record batches of about ``batch_rows`` rows, in file order.

    CSV, JSON-lines and .xlsx batches carry each row's number as the user sees it (ROW_COLUMN: the
    file's line, the sheet's row). The header of a CSV file or a sheet is the first of its first
    HEADER_SCAN rows that names two claim columns or more (title rows above it are skipped), or
    the row ``header_row`` (the line or sheet row, from 1) when given.

    Text files are read in ``encoding``, or UTF-8 / GB18030 as detected (``detect_encoding``);
    an .xlsx file from its first sheet, or ``sheet`` (medcalc.batch.excel). ``limits`` bound
    what the file may hold (medcalc.batch.limits): a CSV header or .xlsx sheet over them exits 2
    before it is read, a cell over ``max_cell_chars`` rejects its row."""
    path = Path(path)
    if not path.is_file():
        raise MedcalcError(f"{path}: no such file")
    fmt = format_of(path, fmt)
    _check_sheet(path, fmt, sheet)
    if fmt == "xlsx":
        from .excel import read_xlsx_batches

        # (Excel rows are Python objects until converted: batches of at most 2^16 bound that memory)
        yield from read_xlsx_batches(path, min(batch_rows, 1 << 16), sheet, limits, header_row)
    elif header_row is not None and fmt != "csv":
        raise MedcalcError(f"{path}: --header-row is for CSV and .xlsx files, and this is read as {fmt}")
    elif fmt == "parquet":
        yield from _parquet_batches(path, batch_rows)
    elif fmt == "csv":
        yield from _csv_batches(path, batch_rows, encoding, limits, header_row)
    else:
        yield from _jsonl_batches(path, batch_rows, encoding)


def _check_sheet(path: Path, fmt: str, sheet: str | None) -> None:
    if sheet is not None and fmt != "xlsx":
        raise MedcalcError(f"{path}: --sheet is for .xlsx files, and this is read as {fmt}")
    if fmt == "xlsx":
        from .excel import require_excel

        require_excel()


def concat_parts(parts: list[Any]) -> Any:
    """Record batches or tables read from one file as one table. A column typed differently by
    part (an .xlsx sheet's numbers in one batch, text in the next) is joined as text, which
    every part can be and which medcalc parses by the same rules."""
    import pyarrow as pa

    tables = [pa.Table.from_batches([p]) if isinstance(p, pa.RecordBatch) else p for p in parts]
    if len(tables) == 1:
        return tables[0]
    kinds: dict[str, set] = {}
    for table in tables:
        for field in table.schema:
            kinds.setdefault(field.name, set()).add(field.type)
    mixed = {name for name, types in kinds.items() if len(types - {pa.null()}) > 1}
    if mixed:
        tables = [_columns_as_text(t, mixed) for t in tables]
    return pa.concat_tables(tables, promote_options="permissive")


def _columns_as_text(table: Any, names: set[str]) -> Any:
    import pyarrow as pa

    for name in names & set(table.column_names):
        table = table.set_column(table.column_names.index(name), name, table.column(name).cast(pa.string()))
    return table


def compact_decimals(batch: Any) -> Any:
    """A batch with its decimal128 columns of up to 18 digits held as decimal64: the same exact
    values (yuan) in half the memory, for a file scored in one piece."""
    import pyarrow as pa

    for i, field in enumerate(batch.schema):
        if pa.types.is_decimal128(field.type) and field.type.precision <= 18:
            batch = batch.set_column(
                i, field.name, batch.column(i).cast(pa.decimal64(field.type.precision, field.type.scale))
            )
    return batch


def _csv_batches(
    path: Path,
    batch_rows: int,
    encoding: str | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
    header_row: int | None = None,
) -> Iterator[Any]:
    """A CSV file's rows as batches of text columns. The header is read first, at most
    ``max_header_chars`` of it, and its columns counted (``max_columns``) before Arrow reads the
    body; a cell over ``max_cell_chars`` rejects its row (``_long_cells``)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    encoding = detect_encoding(path, encoding)
    try:
        with open(path, newline="", encoding=encoding) as handle:
            header, lines_above = _csv_header(path, handle, limits, header_row)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise MedcalcError(f"{path}: the header cannot be read as {encoding}: {exc}") from None
    if not header:
        return
    types = {name: pa.string() for name in header}  # text: medcalc parses every value itself
    # only an empty cell is null: Arrow's default markers (N/A, NaN, null, #N/A …) stay text, which
    # is then refused as an amount instead of read as "not given"
    options = pacsv.ConvertOptions(
        column_types=types, null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=True
    )
    # Arrow reads in blocks, and a line must fit in one ("straddling object" otherwise). A block
    # holds the longest line the limits allow (every column's cell at its longest, 4 bytes a
    # character), so that an over-long cell is a rejected row, not a failed file; a longer line
    # still exits 2, naming the limit. (Default limits: 4 MB; 64 MB for the default batch rows.)
    longest_line = len(header) * (4 * limits.max_cell_chars + 3)
    block = max(1 << 16, batch_rows * 64, longest_line)
    # Arrow skips a UTF-8 byte-order mark itself and transcodes any other encoding to UTF-8
    reader_options = pacsv.ReadOptions(
        column_names=header,
        skip_rows=lines_above,
        block_size=block,
        encoding="utf8" if encoding in ("utf-8", "utf-8-sig") else encoding,
    )
    # an empty line is kept, as a row of empty cells (which the scorer skips): each row is then the
    # line after the one before, and is numbered by it
    parse = pacsv.ParseOptions(ignore_empty_lines=False)
    line = lines_above + 1
    try:
        reader = pacsv.open_csv(path, read_options=reader_options, parse_options=parse, convert_options=options)
        for batch in reader:
            # "'=1+1", as medcalc writes a text cell "=1+1", read as "=1+1"; a cell over the limit rejects its row
            batch = unescape_batch(_long_cells(batch, limits.max_cell_chars))
            yield batch.append_column(ROW_COLUMN, pa.array(np.arange(line, line + batch.num_rows)))
            line += batch.num_rows
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        if "straddl" in str(exc):
            raise MedcalcError(
                f"{path}: a line is over {block:,} bytes, the most read at once (more than "
                f"{len(header):,} cells of max_cell_chars={limits.max_cell_chars:,} characters can "
                f"be); {how_to_change('max_cell_chars')}"
            ) from None
        raise MedcalcError(f"{path}: not a valid CSV file in {encoding}: {exc}") from None


def _csv_header(
    path: Path, handle: Any, limits: ReadLimits, header_row: int | None = None
) -> tuple[list[str] | None, int]:
    """The header and the lines up to and including it: the line ``header_row`` (from 1), else the
    first of the first HEADER_SCAN rows that names claim columns (``names_a_header``), else the
    first. Each row is read a line at a time (a quoted name may hold a line break), at most
    ``max_header_chars`` characters, and a header past it or past ``max_columns`` is refused."""
    lines = 0

    def read_lines() -> Iterator[str]:
        nonlocal lines
        while line := handle.readline(limits.max_header_chars + 1):
            if len(line) > limits.max_header_chars:  # each row's line bounded on its own
                raise MedcalcError(
                    f"{path}: the header line is longer than max_header_chars="
                    f"{limits.max_header_chars:,} characters; {how_to_change('max_header_chars')}"
                )
            lines += 1
            yield line

    def skip_line() -> bool:
        """Past one line, however long (a title line above the header); False at the end of the file."""
        while piece := handle.readline(1 << 20):
            if piece.endswith(("\n", "\r")):
                return True
        return False

    if header_row is not None:
        if header_row < 1:
            raise MedcalcError(f"--header-row must be a line number from 1 (got {header_row})")
        for _ in range(header_row - 1):
            if not skip_line():
                raise MedcalcError(f"{path}: no line {header_row} to read the header from")
        lines = header_row - 1
        header = next(csv.reader(read_lines()), None)
    else:
        header, first, first_lines = None, None, 0
        rows = csv.reader(read_lines())
        for _ in range(HEADER_SCAN):
            try:
                row = next(rows)
            except StopIteration:
                break
            except MedcalcError:
                if first is None:
                    raise
                break  # a long line below the first: data, not a header
            if first is None:
                first, first_lines = row, lines
            if names_a_header(row):
                header = row
                break
        if header is None:  # no row names claim columns: the first is the header, as it always was
            header, lines = first, first_lines
    if header is not None and len(header) > limits.max_columns:
        raise MedcalcError(
            f"{path}: the header has {len(header):,} columns, over the limit max_columns="
            f"{limits.max_columns:,}; {how_to_change('max_columns')}"
        )
    return header, lines


def _long_cells(batch: Any, limit: int) -> Any:
    """The batch with every cell over ``limit`` characters made null and its row invalid
    (INVALID_COLUMN: the column, the cell's length, the limit; the first such cell of a row)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    reasons = None
    for index, name in enumerate(batch.schema.names):
        column = batch.column(index)
        # bytes first (a character is at least one): the common case costs one pass of lengths
        if not len(column) or (pc.max(pc.binary_length(column)).as_py() or 0) <= limit:
            continue
        lengths = pc.utf8_length(column)
        long = pc.fill_null(pc.greater(lengths, pa.scalar(limit)), False)
        if not pc.any(long).as_py():
            continue
        said = pa.array(
            [
                None
                if n is None or n <= limit
                else invalid_reason(
                    name,
                    f"a cell of {n:,} characters, over the limit max_cell_chars={limit:,}; "
                    f"{how_to_change('max_cell_chars')}",
                )
                for n in lengths.to_pylist()
            ],
            pa.string(),
        )
        reasons = said if reasons is None else pc.coalesce(reasons, said)  # a row's first long cell names it
        batch = batch.set_column(index, name, pc.if_else(long, pa.scalar(None, pa.string()), column))
    if reasons is not None:
        batch = batch.append_column(INVALID_COLUMN, reasons)
    return batch


def _jsonl_batches(path: Path, batch_rows: int, encoding: str | None = None) -> Iterator[Any]:
    """JSON objects as text columns; a line that is not one, or a value of the wrong JSON kind,
    becomes an invalid row (refused by the scorer, naming the key and the value)."""
    import pyarrow as pa

    def batch(records: list[dict[str, Any]], lines: list[int]) -> Any:
        names = list(dict.fromkeys(k for r in records for k in r))
        columns = {n: pa.array([r.get(n) for r in records], pa.string()) for n in names}
        return pa.table({**columns, ROW_COLUMN: pa.array(lines, pa.int64())})

    records: list[dict[str, Any]] = []
    lines: list[int] = []  # each record's line: rows are numbered by it
    for record in _records(path, "jsonl", encoding):
        lines.append(record.pop(LINE))
        if "__error__" in record:
            records.append({INVALID_COLUMN: invalid_reason("row", record["__error__"])})
        else:
            try:
                records.append({k: _as_text(k, v) for k, v in record.items()})
            except _WrongKind as exc:
                records.append({INVALID_COLUMN: invalid_reason(exc.key, exc.reason)})
        if len(records) >= batch_rows:
            yield batch(records, lines)
            records, lines = [], []
    if records:
        yield batch(records, lines)


#: Keys whose JSON value may be a list of names, and the one that may be true or false.
_LIST_KEYS = frozenset({"diseases", "certified"})
_FLAG_KEYS = frozenset({"retired"})


class _WrongKind(Exception):
    def __init__(self, key: str, reason: str) -> None:
        self.key, self.reason = key, reason


def _as_text(key: str, value: Any) -> str | None:
    """A JSON value as the text a CSV cell would hold. Numbers keep their digits exactly
    (Decimal, never float); true/false only for a flag, a list only of names, never an object."""
    if value is None:
        return None
    if isinstance(value, bool):
        if key in _FLAG_KEYS:
            return "1" if value else "0"
        raise _WrongKind(key, f"must be a number or a string, not a JSON true/false (got {json.dumps(value)})")
    if isinstance(value, (list, tuple)) and key in _LIST_KEYS and all(isinstance(v, str) for v in value):
        return ",".join(value)
    if isinstance(value, (list, tuple, dict)):
        shown = json.dumps(value, ensure_ascii=False, default=str)
        raise _WrongKind(
            key,
            f"must be a number or a string, not a JSON {'object' if isinstance(value, dict) else 'list'} "
            f"(got {shown[:80]})",
        )
    if isinstance(value, Decimal):
        return json_number_text(value)  # 1E+2 as "100": the digits, exactly (within bounds)
    return str(value)


class ResultWriter:
    """Writes scored rows (or rejects) to CSV, JSON lines, Parquet or .xlsx, one table at a time.

    Amounts arrive as int64 fen and leave as yuan: DECIMAL(18, 2) in Parquet (decimal128 to Arrow), numbers
    formatted 0.00 in .xlsx, text with two decimals elsewhere. Columns are renamed with ``names`` (medcalc's,
    the national interface's or Chinese). CSV starts with a UTF-8 byte-order mark unless ``bom`` is false.
    An .xlsx file gets one sheet, ``sheet``, in ``book`` (an excel.XlsxBook shared with another writer,
    closed by its owner) or in a workbook of its own. ``money``: the columns holding fen (default: the
    result amounts; a claims table adds its own, e.g. self_funded).

    CSV text cells that a spreadsheet would evaluate as a formula (``=…``, ``+…``, ``-…``, ``@…``)
    are written as text, with a quote in front (medcalc.batch.safe_cells; medcalc's CSV reader
    removes it again). In .xlsx every text cell is a string cell, never a formula.
    """

    def __init__(
        self,
        path: str | Path,
        fmt: str | None = None,
        names: dict[str, str] | None = None,
        *,
        bom: bool = True,
        book: Any = None,
        sheet: str = "results",
        money: Iterable[str] = _MONEY,
    ) -> None:
        self.path = Path(path)
        self.fmt = format_of(self.path, fmt)
        self.names = names or {}
        self.money = frozenset(money)
        self.bom = bom
        self._book, self._own_book = book, book is None
        self._sheet: Any = None  # the results sheet of an .xlsx book (fmt xlsx only)
        if self.fmt == "xlsx":
            from .excel import XlsxBook

            if self._book is None:
                self._book = XlsxBook(self.path)
            self._sheet = self._book.sheet(sheet)
        self._writer: Any = None
        self._handle: Any = None
        self._pending: Any = None  # the Parquet slice being written
        self._behind: Any = None
        self.rows = 0

    def write(
        self, table: Any, passed: tuple[str, ...] | frozenset[str] = (), amounts: tuple[str, ...] | frozenset[str] = ()
    ) -> None:
        """Write a table; ``passed``: the input's own columns in it (medcalc.batch.sheet_back), written
        under their own names, as they are except ``amounts`` among them: fen, written as yuan."""
        # in slices: converting amounts to decimals doubles a slice's memory, not the whole table's
        for start in range(0, max(table.num_rows, 1), self.SLICE_ROWS):
            self._write(table.slice(start, self.SLICE_ROWS), frozenset(passed) - frozenset(amounts), frozenset(amounts))

    SLICE_ROWS = 1 << 18

    def _write(self, table: Any, passed: frozenset[str] = frozenset(), amounts: frozenset[str] = frozenset()) -> None:
        import pyarrow as pa

        money = self.money - passed | amounts  # columns of fen: the results', and input columns settled

        columns, fields = [], []
        for name in table.column_names:
            column = table.column(name)
            if name in passed:
                if pa.types.is_dictionary(column.type):
                    column = column.cast(column.type.value_type)
                if self.fmt == "xlsx" and (
                    pa.types.is_temporal(column.type)
                    or pa.types.is_decimal(column.type)
                    or pa.types.is_integer(column.type)
                ):
                    pass  # date cells and numbers, as a sheet holds them
                elif self.fmt != "parquet":
                    column = _as_text_column(column)  # (dates as ISO text)
                if self.fmt == "csv":
                    column = escape_column(column)  # the user's own cells: no formula either
                columns.append(column)
                fields.append(name)
                continue
            if name in money:
                if self.fmt == "parquet":
                    column = _stored_yuan(column)
                elif self.fmt != "xlsx":  # (.xlsx: the fen, written as numbers of yuan)
                    column = fen_to_yuan(column, text=True)
            elif pa.types.is_dictionary(column.type) and self.fmt != "parquet":
                # (Parquet stores the dictionary as it is, and readers see its values: without
                # the cast, a policy column of 10^7 rows is written in half the time)
                column = column.cast(column.type.value_type)
            if self.fmt != "parquet" and name not in money and name != "row":
                column = column.cast(pa.string())
                if self.fmt == "csv":
                    column = escape_column(column)  # (amounts are digits: never a formula)
            columns.append(column)
            fields.append(name if name in amounts else self.names.get(name, name))
        out = pa.table(columns, names=fields)
        if self.fmt == "parquet":
            if self._writer is None:
                # dictionaries only where values repeat: on ids and amounts they cost time and save nothing
                repeated = [self.names.get(c, c) for c in ("settled_on", "policy", "field", "reason")]
                # Amounts are stored as 64-bit integers with the DECIMAL(18, 2) type, made from
                # the fen without a copy; the Arrow schema is not stored, so every reader (Arrow
                # included) reads them as DECIMAL(18, 2), decimal128 in Arrow.
                # Min/max statistics on rows, ids, dates and policies, the columns a reader filters
                # row groups by; on the ten amount columns they cost 0.7 s per 10^7 rows.
                described = [self.names.get(c, c) for c in table.column_names if c not in money and c not in passed]
                self._writer = _parquet().ParquetWriter(
                    self.path,
                    out.schema,
                    use_dictionary=[c for c in fields if c in repeated],
                    write_statistics=described,
                    store_decimal_as_integer=True,
                    store_schema=False,
                )
            self._write_behind(out)
        elif self.fmt == "xlsx":
            self._sheet.write(
                out, {m if m in amounts else self.names.get(m, m) for m in money if m in table.column_names}
            )
        elif self.fmt == "csv":
            import pyarrow.csv as pacsv

            if self._handle is None:
                self._handle = open(self.path, "wb")
                if self.bom:  # Excel reads a CSV file as UTF-8 only when it begins with the mark
                    self._handle.write(codecs.BOM_UTF8)
                self._writer = pacsv.CSVWriter(
                    self._handle, out.schema, write_options=pacsv.WriteOptions(quoting_style="needed")
                )
            self._writer.write_table(out)
        else:
            if self._handle is None:
                self._handle = open(self.path, "w", encoding="utf-8")
            for record in out.to_pylist():
                self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.rows += table.num_rows

    def _write_behind(self, out: Any) -> None:
        """Hand a Parquet slice to a writing thread, after the one before it is written: the
        next slice is prepared while this one is encoded (Arrow's writer releases the
        interpreter lock), and at most one slice waits."""
        if self._pending is None:
            from concurrent.futures import ThreadPoolExecutor

            self._behind = ThreadPoolExecutor(1)
        else:
            self._pending.result()
        self._pending = self._behind.submit(self._writer.write_table, out)

    def close(self, empty_schema: Any = None) -> None:
        """Finish the file; a file that got no rows is still written, with its header."""
        if (
            self._writer is None
            and self._handle is None
            and empty_schema is not None
            and (self._sheet is None or not self._sheet.rows)
        ):
            self.write(empty_schema.empty_table())
        if self._pending is not None:
            self._behind.shutdown()
            self._pending.result()  # its error, if writing failed
            self._pending = None
        if self._writer is not None:
            self._writer.close()
        if self._handle is not None:
            self._handle.close()
        if self._book is not None and self._own_book:
            self._book.close()


def _as_text_column(column: Any) -> Any:
    """An input column as text for a text format: bytes that are not UTF-8 (a Parquet file's binary
    ids) shown with backslash escapes, as the rejects' reasons show them, instead of failing."""
    import pyarrow as pa

    try:
        return column.cast(pa.string())
    except pa.ArrowInvalid:
        return pa.array(
            [None if v is None else v.decode("utf-8", "backslashreplace") for v in column.to_pylist()], pa.string()
        )


def _stored_yuan(column: Any) -> Any:
    """int64 fen as decimal64(18, 2) yuan over the same buffer (for the Parquet writer)."""
    import pyarrow as pa

    fen = _fen_values(column)
    return pa.Array.from_buffers(pa.decimal64(18, 2), len(fen), [None, pa.py_buffer(fen)])


def fen_to_yuan(column: Any, text: bool = False) -> Any:
    """int64 fen as decimal128(18, 2) yuan (the same integer, unscaled), or its text."""
    import numpy as np
    import pyarrow as pa

    fen = _fen_values(column)
    words = np.empty(2 * len(fen), np.int64)
    words[0::2], words[1::2] = fen, fen >> 63  # little-endian 128-bit two's complement
    decimal = pa.Array.from_buffers(pa.decimal128(18, 2), len(fen), [None, pa.py_buffer(words.data)])  # no copy
    return decimal.cast(pa.string()) if text else decimal


def _fen_values(column: Any):
    """An Arrow column of fen as one contiguous int64 numpy array."""
    import numpy as np
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return np.ascontiguousarray(column.to_numpy(), np.int64)
