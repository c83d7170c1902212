"""Excel workbooks in and out: claims from one sheet of an .xlsx file; results and rejects as sheets.

Reading (python-calamine) yields Arrow record batches, as medcalc.batch.files's other readers do. A
column is typed by its cells: amount columns whose cells are all numbers become exact
decimal128(18, 2) yuan, columns of date cells become dates, anything else text (numbers as
their digits, dates as 2025-03-01), so every value is still parsed by medcalc's rules. Excel
stores a number as a float: it is an amount only if it is the float of a number with at most
two decimals (``round(x, 2) == x``); any other number refuses its row, naming the column and
the value, as other text that is not an amount is refused. A number in an id column (person_id,
claim_id, 人员编号 …) from 10^15 up or with a fraction refuses its row: Excel keeps 15 significant
digits, so it may be another person's id. Rows are numbered from 1 after the header row (so
Excel's row 2 is row 1); rows with no value at all are skipped, as blank lines of a CSV file are.

Before the reader (which holds a sheet as a dense grid from A1 to its last cell) opens the file,
the archive's unpacked sizes and the sheet's real extent are checked against the read limits
(medcalc.batch.limits), streaming the sheet's XML without building it.

Writing (xlsxwriter, in constant memory) puts amounts as numbers with the cell format ``0.00``:
the float nearest the two-decimal value, which reads back to the same fen.

Both libraries are the optional extra ``excel`` and are imported only when an .xlsx file is used.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from ..claims import FIELD_ALIASES
from ..errors import MedcalcError
from .limits import DEFAULT_LIMITS, ReadLimits, how_to_change
from .tables import _AMOUNTS, INVALID_COLUMN, ROW_COLUMN, invalid_reason

__all__ = ["read_xlsx_batches", "XlsxBook", "XlsxSheet", "MAX_ROWS", "INSTALL_HINT"]

INSTALL_HINT = 'pip install "medcalc[excel]"'
#: Rows an .xlsx sheet holds, the header row included.
MAX_ROWS = 1_048_576
#: Claim columns that are true or false (an Excel TRUE/FALSE cell reads as 1 or 0).
_FLAGS = frozenset({"retired"})
#: Paid columns of a settled file or an extract (reconcile reads them): amounts too.
_PAID = (
    "deductible",
    "basic",
    "critical",
    "assistance",
    "backstop",
    "funds",
    "patient",
    "act_pay_dedc",
    "hifp_pay",
    "hifmi_pay",
    "maf_pay",
    "backstop_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "实际支付起付线",
    "基本医疗保险统筹基金支出",
    "大病保险资金支出",
    "医疗救助基金支出",
    "兜底保障支出",
    "基金支付总额",
    "个人负担总金额",
)


def _calamine():
    try:
        import python_calamine
    except ImportError:
        raise MedcalcError(f"reading .xlsx files needs python-calamine: {INSTALL_HINT}") from None
    return python_calamine


def _xlsxwriter():
    try:
        import xlsxwriter
    except ImportError:
        raise MedcalcError(f"writing .xlsx files needs xlsxwriter: {INSTALL_HINT}") from None
    return xlsxwriter


def require_excel(writing: bool = False) -> None:
    """Fail at once (MedcalcError, exit 2) if the extra is missing: before any work is done."""
    _calamine()
    if writing:
        _xlsxwriter()


def is_amount(name: str) -> bool:
    """Whether a column of this name holds yuan (a claim amount or a paid amount)."""
    return FIELD_ALIASES.get(name, name) in _AMOUNTS or name in _PAID


# ---------------------------------------------------------------- reading


def sheet_names(path: str | Path, limits: ReadLimits = DEFAULT_LIMITS) -> list[str]:
    _check_archive(Path(path), None, limits, scan=False)
    return list(_open(Path(path)).sheet_names)


def _open(path: Path):
    calamine = _calamine()
    try:
        return calamine.CalamineWorkbook.from_path(str(path))
    except (calamine.CalamineError, OSError, ValueError) as exc:
        raise MedcalcError(f"{path}: not a readable .xlsx file: {exc}") from None


def read_xlsx_batches(
    path: str | Path,
    batch_rows: int = 1 << 16,
    sheet: str | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
    header_row: int | None = None,
) -> Iterator[Any]:
    """The claims of one sheet (``sheet`` by name, else the first) as Arrow record batches, each
    row numbered by the sheet's own row (ROW_COLUMN). The header is the row ``header_row`` (from
    1), else the first of the first HEADER_SCAN rows that names claim columns (title rows and
    merged group labels above it are skipped), else the first row.

    The archive and the sheet's extent are checked against ``limits`` first (``_check_archive``):
    the reader builds a dense grid of the sheet's extent, so it must not see one too large."""
    import pyarrow as pa

    calamine = _calamine()
    path = Path(path)
    _check_archive(path, sheet, limits)
    book = _open(path)
    try:
        table = book.get_sheet_by_name(sheet) if sheet is not None else book.get_sheet_by_index(0)
    except calamine.CalamineError:
        raise MedcalcError(f"{path}: no sheet named {sheet!r}; its sheets: {', '.join(book.sheet_names)}") from None
    try:
        rows: Iterator[tuple[int, Sequence[Any]]] = enumerate(table.iter_rows(), 1)  # (the sheet's row numbers, from 1)
        header, rows = _header_row(path, rows, header_row)
        if header is None:
            return
        names = [_header(cell, i) for i, cell in enumerate(header)]
        _check_names(path, names)
        # rows are Python objects until a batch is converted: a wide sheet gets fewer rows a batch
        batch_rows = max(1, min(batch_rows, _BATCH_CELLS // max(len(names), 1)))
        held: list[Sequence[Any]] = []
        numbers: list[int] = []
        for number, row in rows:
            if any(cell != "" for cell in row):  # a row with no value at all is not a claim (a blank line)
                held.append(row)
                numbers.append(number)
            if len(held) >= batch_rows:
                yield _batch(names, held, pa, limits, numbers)
                held, numbers = [], []
        if held:
            yield _batch(names, held, pa, limits, numbers)
    except calamine.CalamineError as exc:
        raise MedcalcError(f"{path}: not a readable .xlsx file: {exc}") from None


def _header_row(
    path: Path, rows: Iterator[tuple[int, Sequence[Any]]], header_row: int | None
) -> tuple[Sequence[Any] | None, Iterator[tuple[int, Sequence[Any]]]]:
    """The header's cells and the rows under it: the row ``header_row``, else the first of the
    first HEADER_SCAN rows naming claim columns, else the first row (and then the rows looked at
    while searching are data again)."""
    import itertools

    from .headers import HEADER_SCAN
    from .tables import names_a_header

    if header_row is not None:
        if header_row < 1:
            raise MedcalcError(f"--header-row must be a row number from 1 (got {header_row})")
        for number, row in rows:
            if number == header_row:
                return row, rows
        raise MedcalcError(f"{path}: no row {header_row} to read the header from")
    seen: list[tuple[int, Sequence[Any]]] = []
    for number, row in rows:
        if names_a_header([c for c in row if isinstance(c, str)]):
            return row, rows
        seen.append((number, row))
        if len(seen) >= HEADER_SCAN:
            break
    if not seen:
        return None, rows
    return seen[0][1], itertools.chain(seen[1:], rows)


#: Cells of a batch of rows held as Python objects (about 50 bytes each): 2^16 rows of 16 columns.
_BATCH_CELLS = 1 << 20


# -------- the archive, before the reader opens it
#
# An .xlsx file is a zip of XML parts: xl/workbook.xml lists the sheets, xl/_rels/workbook.xml.rels
# says which part holds each, xl/worksheets/sheetN.xml holds a sheet's cells (each <c r="B7">,
# a value in <v> or an inline string, in rows <row r="7">), xl/sharedStrings.xml the text of every
# cell of type "s" (Excel, LibreOffice and xlsxwriter keep text there). The reader (calamine) holds
# the shared strings in memory, and turns a sheet into a dense grid from its first to its last
# cell: two cells far apart (A1 and XFD1048576) make it ask for 2^34 cells. The <dimension> element
# may lie or be missing, so the extent is found from the cells' own references.

#: Parts the reader reads whole, besides the sheet and the shared strings: a few kilobytes in real files.
_SMALL_PART_BYTES = 16 << 20
#: Parts bigger than this unpacked are held to max_compression_ratio (a small part may pack 1 000 times).
_RATIO_FLOOR = 1 << 20
_CHUNK = 1 << 20
#: A cell with a value is a <c …> not closed at once (<c r="Z9" s="1"/> is a styled, empty cell,
#: which the reader skips). The slow, exact scan: rows and cells in order, for sheets whose cells do not all
#: say where they are.
_ROW_OR_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(row|c)(?=[\s/>])([^>]*)>")
_R_ATTRIBUTE = re.compile(rb"\sr\s*=\s*([\"'])(.*?)\1", re.S)
_REFERENCE = re.compile(rb"([A-Za-z]{1,3})?([0-9]{1,7})?")


@attrs.frozen
class SheetExtent:
    """The highest row and column (from 1) holding a value in a sheet, found from its XML."""

    rows: int
    columns: int

    @property
    def cells(self) -> int:
        return self.rows * self.columns


def _check_archive(path: Path, sheet: str | None, limits: ReadLimits, *, scan: bool = True) -> SheetExtent | None:
    """Refuse (MedcalcError) an .xlsx file whose unpacked sizes, compression or sheet extent pass
    ``limits``, before the reader spends memory on it; the extent of the sheet read (``scan``)."""
    import zipfile

    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise MedcalcError(f"{path}: not a readable .xlsx file: {exc}") from None
    with archive:
        parts = {info.filename: info for info in archive.infolist()}
        _check_sizes(path, parts.values(), limits)
        names, targets = _sheet_parts(path, archive, parts)
        if sheet is None and not names:
            raise MedcalcError(f"{path}: not a readable .xlsx file: its workbook lists no sheet")
        if sheet is not None and sheet not in names:
            raise MedcalcError(f"{path}: no sheet named {sheet!r}; its sheets: {', '.join(names)}")
        chosen = targets.get(names[0] if sheet is None else sheet)
        if chosen is None or chosen not in parts:
            raise MedcalcError(
                f"{path}: not a readable .xlsx file: the part of sheet "
                f"{names[0] if sheet is None else sheet!r} is missing"
            )
        # every part the reader reads on opening (workbook, relationships, styles, shared strings)
        # is unpacked here once through zipfile, which stops at its declared size and checks its
        # checksum: a part that unpacks to more than it declares is refused, not believed
        others = set(targets.values()) - {chosen}
        for name, info in parts.items():
            if name not in others and name != chosen and not name.startswith("xl/media/") and not name.endswith("/"):
                _read_through(path, archive, info)
        if not scan:
            return None
        if parts[chosen].file_size > limits.max_sheet_bytes:  # (a sheet kept outside xl/worksheets/)
            raise _refuse(
                path,
                f"its sheet part {chosen} unpacks to {parts[chosen].file_size:,} bytes",
                "max_sheet_bytes",
                limits.max_sheet_bytes,
                "bytes of one sheet's XML",
            )
        extent = _scan_extent(path, archive, parts[chosen], limits)
    _check_extent(path, names[0] if sheet is None else sheet, extent, limits)
    return extent


def _refuse(path: Path, found: str, name: str, limit: int, what: str) -> MedcalcError:
    return MedcalcError(f"{path}: {found}, over the limit {name}={limit:,} ({what}); {how_to_change(name)}")


def _check_sizes(path: Path, infos: Iterable[Any], limits: ReadLimits) -> None:
    total = 0
    for info in infos:
        total += info.file_size
        lower = info.filename.lower()
        if lower.endswith("sharedstrings.xml") and info.file_size > limits.max_shared_strings_bytes:
            raise _refuse(
                path,
                f"its shared strings ({info.filename}) unpack to {info.file_size:,} bytes",
                "max_shared_strings_bytes",
                limits.max_shared_strings_bytes,
                "bytes of the text every sheet shares, held in memory by the reader",
            )
        if lower.startswith("xl/worksheets/") and info.file_size > limits.max_sheet_bytes:
            raise _refuse(
                path,
                f"its sheet part {info.filename} unpacks to {info.file_size:,} bytes",
                "max_sheet_bytes",
                limits.max_sheet_bytes,
                "bytes of one sheet's XML",
            )
        if info.file_size > _RATIO_FLOOR and info.file_size > limits.max_compression_ratio * max(info.compress_size, 1):
            ratio = info.file_size / max(info.compress_size, 1)
            raise _refuse(
                path,
                f"its part {info.filename} unpacks {ratio:,.0f} times ({info.compress_size:,} bytes "
                f"to {info.file_size:,})",
                "max_compression_ratio",
                limits.max_compression_ratio,
                "unpacked over packed size of a part",
            )
    if total > limits.max_xlsx_bytes:
        raise _refuse(
            path,
            f"its parts unpack to {total:,} bytes",
            "max_xlsx_bytes",
            limits.max_xlsx_bytes,
            "bytes of the whole workbook unpacked",
        )


def _sheet_parts(path: Path, archive: Any, parts: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """The workbook's sheet names in order, and the part holding each (as the reader finds it)."""
    import posixpath
    import xml.etree.ElementTree as ET

    def small_xml(name: str):
        info = parts.get(name)
        if info is None:
            raise MedcalcError(f"{path}: not a readable .xlsx file: it has no {name}")
        if info.file_size > _SMALL_PART_BYTES:
            raise MedcalcError(f"{path}: not a readable .xlsx file: its {name} unpacks to {info.file_size:,} bytes")
        try:
            return ET.fromstring(_read_through(path, archive, info, keep=True))
        except ET.ParseError as exc:
            raise MedcalcError(f"{path}: not a readable .xlsx file: {name}: {exc}") from None

    def local(tag: str) -> str:
        return tag.rpartition("}")[2]

    relations = {}
    for element in small_xml("xl/_rels/workbook.xml.rels").iter():
        if local(element.tag) == "Relationship" and element.get("Id") and element.get("Target"):
            target = element.get("Target").replace("\\", "/")
            target = target[1:] if target.startswith("/") else posixpath.normpath("xl/" + target)
            relations[element.get("Id")] = target
    names, targets = [], {}
    for element in small_xml("xl/workbook.xml").iter():
        if local(element.tag) == "sheet" and element.get("name") is not None:
            names.append(element.get("name"))
            rid = next((v for k, v in element.attrib.items() if local(k) == "id"), None)
            if rid in relations:
                targets[element.get("name")] = relations[rid]
    return names, targets


def _read_through(path: Path, archive: Any, info: Any, keep: bool = False) -> bytes:
    """A part unpacked in pieces (kept only if ``keep``): a part that is not what it declares is refused."""
    import zipfile
    import zlib

    kept = []
    try:
        with archive.open(info) as part:
            while piece := part.read(_CHUNK):
                if keep:
                    kept.append(piece)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise MedcalcError(f"{path}: not a readable .xlsx file: {info.filename}: {exc}") from None
    return b"".join(kept)


def _scan_extent(path: Path, archive: Any, info: Any, limits: ReadLimits) -> SheetExtent:
    """The sheet's extent as far as ``limits`` need it, read in pieces of 1 MiB (never the whole
    XML, never a tree); the <dimension> the sheet claims is not relied on.

    Excel, LibreOffice and xlsxwriter write r="B7" first on every cell. Then the columns are
    found from the cells' references (``_exact``) only in a piece where one search finds a cell
    beyond what the limits still allow: a column past the widest so far, or a row past
    max_sheet_cells over the columns. A normal sheet costs that search per piece and no work per
    cell. Where a cell is written otherwise, the rows and cells are followed in order as the
    reader places them (``_follow_cells``). The scan stops as soon as the extent is over."""
    import zipfile
    import zlib

    top = right = 0
    try:
        with archive.open(info) as part:
            beyond: tuple[Any, Any] | None = None
            for text in _pieces(path, part):
                if _ODD_CELL.search(text) or (b":c" in text and _PREFIXED_CELL.search(text)):
                    break
                if beyond is None or beyond[0].search(text) or beyond[1].search(text):
                    top, right = _exact(text, top, right)
                    if _over(SheetExtent(top, right), limits):
                        return SheetExtent(top, right)
                    beyond = _beyond(right, limits.max_sheet_cells // max(right, 1))
            else:
                return SheetExtent(top, right)
            part.seek(0)
            return _follow_cells(path, part, limits)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise MedcalcError(f"{path}: not a readable .xlsx file: {info.filename}: {exc}") from None


#: A cell with a value whose reference is not plain (r="B7", the first attribute), or a cell
#: under a prefix (<x:c …>): the sheet is then followed cell by cell.
_ODD_CELL = re.compile(rb"<c(?=[\s>])(?! r=\"[A-Z]{1,3}[1-9][0-9]{0,6}\")[^>]*(?<!/)>")
_PREFIXED_CELL = re.compile(rb"<[A-Za-z_][\w.-]*:c[\s/>]")
_PLAIN_CELL = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"[^>]*(?<!/)>')


def _beyond(columns: int, rows: int) -> tuple[Any, Any]:
    """Two searches: a cell with a value past ``columns``, and one past a row at most ``rows``
    (rounded down to its first digit, d x 10^k: a stricter bound, and a short expression)."""
    letters = _letters(columns - 1).encode() if columns else b""
    past_columns = re.compile(rb'<c r="(?:' + _greater(letters, _UPPER) + rb')[1-9][0-9]*"[^>]*(?<!/)>')
    digits = str(max(rows, 1))
    lead, zeros = digits[0], len(digits) - 1
    past_rows = re.compile(
        rb'<c r="[A-Z]{1,3}(?:[1-9][0-9]{%d,}|[%s-9][0-9]{%d})"[^>]*(?<!/)>' % (zeros + 1, lead.encode(), zeros)
    )  # row >= lead x 10^zeros
    return past_columns, past_rows


def _exact(text: bytes, top: int, right: int) -> tuple[int, int]:
    """The highest row and column so far, with the cells of ``text`` (all plain) counted."""
    found = _PLAIN_CELL.findall(text)
    if not found:
        return top, right
    return (max(top, max(map(int, {f[1] for f in found}))), max(right, max(map(_column_number, {f[0] for f in found}))))


_UPPER = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS = b"0123456789"


def _greater(value: bytes, alphabet: bytes) -> bytes:
    """A regular expression matching the words over ``alphabet`` (first letter not its first
    character, for numbers) greater than ``value``: longer ones, or as long and greater at
    their first difference. Column letters and row numbers beyond what is allowed."""
    first = alphabet[1:] if alphabet == _DIGITS else alphabet
    any_of = b"[" + alphabet[:1] + b"-" + alphabet[-1:] + b"]"
    longer = b"[" + first[:1] + b"-" + first[-1:] + b"]" + any_of + b"{%d,}" % len(value)
    choices = [longer]
    for i, character in enumerate(value):
        above = alphabet[alphabet.index(character) + 1 :]
        if above:
            choices.append(
                re.escape(value[:i])
                + b"["
                + above[:1]
                + b"-"
                + above[-1:]
                + b"]"
                + any_of
                + b"{%d}" % (len(value) - i - 1)
            )
    return b"|".join(choices)


def _over(extent: SheetExtent, limits: ReadLimits) -> bool:
    return extent.columns > limits.max_columns or extent.cells > limits.max_sheet_cells


def _pieces(path: Path, part: Any) -> Iterator[bytes]:
    """The part's bytes in pieces that each end after a whole tag (a tag cut by a piece's end waits)."""
    held = b""
    while piece := part.read(_CHUNK):
        text = held + piece
        cut = text.rfind(b"<")
        if cut < 0 or text.find(b">", cut) >= 0:
            cut = len(text)
        held = text[cut:]
        if len(held) > _CHUNK:  # no tag of a sheet is a megabyte long
            raise MedcalcError(f"{path}: not a readable .xlsx file: a tag of its sheet is over {_CHUNK:,} bytes long")
        yield text[:cut]
    if held:
        yield held


def _follow_cells(path: Path, part: Any, limits: ReadLimits) -> SheetExtent:
    """The extent as the reader places cells: a row or cell without r follows the one before it."""
    row = column = top = right = 0
    for text in _pieces(path, part):
        for match in _ROW_OR_CELL.finditer(text):
            kind, attributes = match.group(1), match.group(2)
            given = _R_ATTRIBUTE.search(attributes)
            reference = _REFERENCE.fullmatch(given.group(2)) if given else None
            if given and (reference is None or not any(reference.groups())):
                raise MedcalcError(
                    f"{path}: not a readable .xlsx file: a cell or row reference "
                    f"{given.group(2)[:40].decode('latin-1')!r} is not understood"
                )
            if kind == b"row":
                row = int(reference.group(2)) if reference and reference.group(2) else row + 1
                column = 0
                continue
            if reference is not None:
                column = _column_number(reference.group(1)) if reference.group(1) else column + 1
                row = int(reference.group(2)) if reference.group(2) else row
            else:
                column += 1
            if not attributes.endswith(b"/"):  # a cell with a value (an empty <c/> is skipped by the reader)
                top, right = max(top, row), max(right, column)
        if _over(SheetExtent(top, right), limits):
            break
    return SheetExtent(top, right)


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - 64
    return number


def _check_extent(path: Path, sheet: str, extent: SheetExtent, limits: ReadLimits) -> None:
    where = f"sheet {sheet!r} reaches row {extent.rows:,}, column {_letters(extent.columns - 1)}"
    if extent.columns > limits.max_columns:
        raise _refuse(
            path, f"{where} ({extent.columns:,} columns)", "max_columns", limits.max_columns, "columns of a sheet"
        )
    if extent.cells > limits.max_sheet_cells:
        raise _refuse(
            path,
            f"{where}: {extent.cells:,} cells from A1",
            "max_sheet_cells",
            limits.max_sheet_cells,
            "rows x columns of a sheet, which the reader holds as a grid",
        )


# -------- cells


def _check_names(path: Path, names: list[str]) -> None:
    """Refuse a header naming a column twice (no column can be told from the other), before any row is read."""
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in seen:
            raise MedcalcError(
                f"{path}: the header names column {name!r} twice (columns {_letters(seen[name])} and "
                f"{_letters(index)}); give each column its own name"
            )
        seen[name] = index


def _header(cell: Any, index: int) -> str:
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    text = str(cell).strip() if cell != "" else ""
    return text or f"column {_letters(index)}"  # a blank header: named by its column, so an error can point at it


def _letters(index: int) -> str:
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = chr(65 + rest) + out
    return out


def _batch(
    names: list[str],
    rows: list[Sequence[Any]],
    pa,
    limits: ReadLimits = DEFAULT_LIMITS,
    numbers: list[int] | None = None,
) -> Any:
    n = len(rows)
    invalid: list[str | None] = [None] * n
    arrays, kept = [], []
    for j, name in enumerate(names):
        cells = [row[j] if j < len(row) else "" for row in rows]
        if name.startswith("column ") and all(c == "" for c in cells):
            continue  # an unnamed, empty column (formatting beyond the data): nothing to read
        arrays.append(_column(name, cells, invalid, pa, limits))
        kept.append(name)
    if any(r is not None for r in invalid):
        arrays.append(pa.array(invalid, pa.string()))
        kept.append(INVALID_COLUMN)
    if numbers is not None:
        arrays.append(pa.array(numbers, pa.int64()))
        kept.append(ROW_COLUMN)
    return pa.RecordBatch.from_arrays(arrays, names=kept)


def _column(name: str, cells: list[Any], invalid: list[str | None], pa, limits: ReadLimits = DEFAULT_LIMITS) -> Any:
    kinds = {type(c) for c in cells if c != ""}
    if not kinds:
        return pa.nulls(len(cells), pa.string())
    amount = is_amount(name)
    if amount and kinds <= {float, int}:
        return _decimal_yuan(name, cells, invalid, pa)
    if kinds <= {dt.date, dt.datetime} and all(not isinstance(c, dt.datetime) or c.time() == dt.time() for c in cells):
        return pa.array(
            [None if c == "" else (c.date() if isinstance(c, dt.datetime) else c) for c in cells], pa.date32()
        )
    ident = is_id(name)
    longest = limits.max_cell_chars
    out: list[str | None] = []
    for i, cell in enumerate(cells):
        try:
            if isinstance(cell, str) and len(cell) > longest:
                raise ValueError(_too_long(len(cell), longest))
            if ident and isinstance(cell, float) and not _exact_id(cell):
                raise ValueError(_NUMBER_ID)
            out.append(_text(name, cell, amount))
        except ValueError as exc:
            out.append(None)
            if invalid[i] is None:  # the first problem of a row names it, as the other readers do
                invalid[i] = invalid_reason(name, str(exc))
    return pa.array(out, pa.string())


def _too_long(length: int, limit: int) -> str:
    """The reason refusing a cell over max_cell_chars: its length, never its text."""
    return (
        f"a cell of {length:,} characters, over the limit max_cell_chars={limit:,}; {how_to_change('max_cell_chars')}"
    )


def is_id(name: str) -> bool:
    """Whether a column of this name holds a person's or a claim's id (人员编号, psn_no, setl_id, …)."""
    return FIELD_ALIASES.get(name, name) in _IDS


_IDS = frozenset({"person_id", "claim_id"})
#: Excel stores every number as a float, exact to 15 significant digits: an id from 10^15 up
#: (an 18-digit 身份证号 or 人员编号) may already be another id (340601199001011234 is kept as
#: 340601199001011328), so two people could merge. One reason for every such cell of a column, so
#: that the rejects group by it; the row number says where.
_NUMBER_ID = (
    "an id typed as a number: Excel keeps a number to 15 significant digits, so an id of 16 or more "
    "digits (or with a fraction) may not be the one typed; format the column as Text in Excel and "
    "type the ids again (a number cannot be turned back into its digits)"
)


def _exact_id(cell: float) -> bool:
    return cell.is_integer() and abs(cell) < 1e15


def _decimal_yuan(name: str, cells: list[Any], invalid: list[str | None], pa) -> Any:
    """Numeric amount cells as decimal128(18, 2) yuan, exact: from the float only where it is
    the float of a two-decimal number; any other number refuses its row."""
    import pyarrow.compute as pc

    given = np.array([c != "" for c in cells])
    x = np.array([c if c != "" else 0.0 for c in cells], np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        fen = np.rint(x * 100)
        # fen / 100 is the float nearest fen/100 yuan: equal to x exactly when round(x, 2) == x
        exact = np.isfinite(x) & (np.abs(fen) < 2.0**53) & (fen / 100 == x)
    for i in np.flatnonzero(given & ~exact):
        if invalid[i] is None:
            invalid[i] = invalid_reason(name, _not_an_amount(cells[i]))
    fen = np.where(exact, fen, 0).astype(np.int64)
    words = np.empty(2 * len(fen), np.int64)
    words[0::2], words[1::2] = fen, fen >> 63  # little-endian 128-bit two's complement
    decimal = pa.Array.from_buffers(pa.decimal128(18, 2), len(fen), [None, pa.py_buffer(words)])
    keep = given & exact
    return decimal if keep.all() else pc.if_else(pa.array(keep), decimal, pa.scalar(None, decimal.type))


def _not_an_amount(value: float) -> str:
    return f"amount {value!r} is not a number of yuan with at most two decimals (got {value!r})"


def _text(name: str, cell: Any, amount: bool) -> str | None:
    """A cell as the text a CSV cell would hold; ValueError for a cell of the wrong kind."""
    if isinstance(cell, str):
        return cell if cell != "" else None
    if isinstance(cell, bool):
        if name in _FLAGS or FIELD_ALIASES.get(name, name) in _FLAGS:
            return "1" if cell else "0"
        raise ValueError(f"must be a number or text, not an Excel TRUE/FALSE (got {cell!r})")
    if isinstance(cell, (int, float)):
        if amount:
            if not (np.isfinite(cell) and round(cell, 2) == cell):
                raise ValueError(_not_an_amount(cell))
            return format(round(cell, 2), ".2f")
        if isinstance(cell, float) and cell.is_integer():
            return str(int(cell))  # 1001.0, as Excel stores every number: the id or age 1001
        return repr(cell)
    if isinstance(cell, (dt.date, dt.datetime)):
        if amount:
            raise ValueError(f"amount {cell.isoformat()!r} is a date, not a number of yuan (got {cell.isoformat()!r})")
        if isinstance(cell, dt.datetime) and cell.time() == dt.time():
            cell = cell.date()
        return cell.isoformat()
    return str(cell)  # times and durations: as text, refused by any field that needs something else


# ---------------------------------------------------------------- writing


class XlsxBook:
    """An .xlsx workbook being written, one sheet per table (results, rejects); closed once."""

    def __init__(self, path: str | Path) -> None:
        xlsxwriter = _xlsxwriter()
        self.path = Path(path)
        # constant memory: each row goes to disk once written. Text stays text: no cell becomes
        # a formula, number or link because of what it says (a claim id "=1+1" is not computed)
        self._book = xlsxwriter.Workbook(
            str(self.path),
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
            },
        )
        self.amount_format = self._book.add_format({"num_format": "0.00"})
        self.date_format = self._book.add_format({"num_format": "yyyy-mm-dd"})
        self.header_format = self._book.add_format({"bold": True})
        self._closed = False

    def sheet(self, name: str) -> XlsxSheet:
        return XlsxSheet(self, self._book.add_worksheet(name))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._book.close()


class XlsxSheet:
    """One sheet: a header row, then rows of text, integers and amounts (fen, written as yuan)."""

    def __init__(self, book: XlsxBook, sheet: Any) -> None:
        self.book, self._sheet = book, sheet
        self.rows = 0  # rows written after the header
        self._headed = False

    def write(self, table: Any, money: frozenset[str] | set[str]) -> None:
        """Write an Arrow table: columns in ``money`` hold int64 fen; the others text or integers."""
        import pyarrow as pa

        if not self._headed:
            self._sheet.write_row(0, 0, table.column_names, self.book.header_format)
            self._sheet.freeze_panes(1, 0)
            self._headed = True
        if self.rows + table.num_rows > MAX_ROWS - 1:
            raise MedcalcError(
                f"{self.book.path}: an .xlsx sheet holds at most {MAX_ROWS - 1:,} rows; write .csv or .parquet for more"
            )
        columns = []
        for name in table.column_names:
            column = table.column(name)
            if name in money:
                fen = np.ascontiguousarray(column.to_numpy(zero_copy_only=False), np.int64)
                columns.append(((fen / 100).tolist(), True))  # the float nearest the two-decimal yuan
            else:
                if pa.types.is_dictionary(column.type):
                    column = column.cast(column.type.value_type)
                columns.append((column.to_pylist(), False))
        write_number, write_string = self._sheet.write_number, self._sheet.write_string
        write_datetime, day = self._sheet.write_datetime, self.book.date_format
        amount = self.book.amount_format
        start = self.rows + 1
        # row by row: in constant-memory mode a row is flushed when the next one is begun
        for i in range(table.num_rows):
            r = start + i
            for j, (values, is_money) in enumerate(columns):
                value = values[i]
                if value is None:
                    continue
                if is_money:
                    write_number(r, j, value, amount)
                elif isinstance(value, str):
                    write_string(r, j, value)
                elif isinstance(value, dt.date):  # a date cell, as the sheet it came from had (datetimes too)
                    write_datetime(
                        r,
                        j,
                        value if isinstance(value, dt.datetime) else dt.datetime(value.year, value.month, value.day),
                        day,
                    )
                elif isinstance(value, Decimal):  # a sheet's own number, passed through: the number it was,
                    # where a float holds it exactly as written (Excel's own cells do); else its text
                    if Decimal(repr(float(value))) == value:
                        write_number(r, j, float(value))
                    else:
                        write_string(r, j, format(value, "f"))
                else:
                    write_number(r, j, value)
        self.rows += table.num_rows
