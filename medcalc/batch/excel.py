"""Excel workbooks in and out: claims from one sheet of an .xlsx file; results and rejects as sheets.

Reading (python-calamine) yields Arrow record batches, as medcalc.batch.files's other readers do. A
column is typed by its cells: amount columns whose cells are all numbers become exact
decimal128(18, 2) yuan, columns of date cells become dates, anything else text (numbers as
their digits, dates as 2025-03-01), so every value is still parsed by medcalc's rules. Excel
stores a number as a float: it is an amount only if it is the float of a number with at most
two decimals (``round(x, 2) == x``); any other number refuses its row, naming the column and
the value, as other text that is not an amount is refused. Rows are numbered from 1 after the
header row (so Excel's row 2 is row 1); rows with no value at all are skipped, as blank lines
of a CSV file are.

Writing (xlsxwriter, in constant memory) puts amounts as numbers with the cell format ``0.00``:
the float nearest the two-decimal value, which reads back to the same fen.

Both libraries are the optional extra ``excel`` and are imported only when an .xlsx file is used.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from ..claims import FIELD_ALIASES
from ..errors import MedcalcError
from .tables import _AMOUNTS, INVALID_COLUMN, invalid_reason

__all__ = ["read_xlsx_batches", "XlsxBook", "XlsxSheet", "MAX_ROWS", "INSTALL_HINT"]

INSTALL_HINT = 'pip install "medcalc[excel]"'
#: Rows an .xlsx sheet holds, the header row included.
MAX_ROWS = 1_048_576
#: Claim columns that are true or false (an Excel TRUE/FALSE cell reads as 1 or 0).
_FLAGS = frozenset({"retired"})
#: Paid columns of a settled file or an extract (reconcile reads them): amounts too.
_PAID = ("deductible", "basic", "critical", "assistance", "backstop", "funds", "patient",
         "act_pay_dedc", "hifp_pay", "hifmi_pay", "maf_pay", "backstop_pay", "fund_pay_sumamt", "psn_part_amt",
         "实际支付起付线", "基本医疗保险统筹基金支出", "大病保险资金支出", "医疗救助基金支出", "兜底保障支出",
         "基金支付总额", "个人负担总金额")


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


def sheet_names(path: str | Path) -> list[str]:
    return list(_open(Path(path)).sheet_names)


def _open(path: Path):
    calamine = _calamine()
    try:
        return calamine.CalamineWorkbook.from_path(str(path))
    except (calamine.CalamineError, OSError, ValueError) as exc:
        raise MedcalcError(f"{path}: not a readable .xlsx file: {exc}") from None


def read_xlsx_batches(path: str | Path, batch_rows: int = 1 << 16, sheet: str | None = None) -> Iterator[Any]:
    """The claims of one sheet (``sheet`` by name, else the first) as Arrow record batches."""
    import pyarrow as pa

    calamine = _calamine()
    path = Path(path)
    book = _open(path)
    try:
        table = book.get_sheet_by_name(sheet) if sheet is not None else book.get_sheet_by_index(0)
    except calamine.CalamineError:
        raise MedcalcError(f"{path}: no sheet named {sheet!r}; its sheets: {', '.join(book.sheet_names)}") from None
    try:
        rows = table.iter_rows()
        header = next(rows, None)
        if header is None:
            return
        names = [_header(cell, i) for i, cell in enumerate(header)]
        held: list[Sequence[Any]] = []
        for row in rows:
            if any(cell != "" for cell in row):  # a row with no value at all is not a claim (a blank line)
                held.append(row)
            if len(held) >= batch_rows:
                yield _batch(names, held, pa)
                held = []
        if held:
            yield _batch(names, held, pa)
    except calamine.CalamineError as exc:
        raise MedcalcError(f"{path}: not a readable .xlsx file: {exc}") from None


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


def _batch(names: list[str], rows: list[Sequence[Any]], pa) -> Any:
    n = len(rows)
    invalid: list[str | None] = [None] * n
    arrays, kept = [], []
    for j, name in enumerate(names):
        cells = [row[j] if j < len(row) else "" for row in rows]
        if name.startswith("column ") and all(c == "" for c in cells):
            continue  # an unnamed, empty column (formatting beyond the data): nothing to read
        arrays.append(_column(name, cells, invalid, pa))
        kept.append(name)
    if any(r is not None for r in invalid):
        arrays.append(pa.array(invalid, pa.string()))
        kept.append(INVALID_COLUMN)
    return pa.RecordBatch.from_arrays(arrays, names=kept)


def _column(name: str, cells: list[Any], invalid: list[str | None], pa) -> Any:
    kinds = {type(c) for c in cells if c != ""}
    if not kinds:
        return pa.nulls(len(cells), pa.string())
    amount = is_amount(name)
    if amount and kinds <= {float, int}:
        return _decimal_yuan(name, cells, invalid, pa)
    if kinds <= {dt.date, dt.datetime} and all(not isinstance(c, dt.datetime) or c.time() == dt.time() for c in cells):
        return pa.array([None if c == "" else (c.date() if isinstance(c, dt.datetime) else c) for c in cells],
                        pa.date32())
    out: list[str | None] = []
    for i, cell in enumerate(cells):
        try:
            out.append(_text(name, cell, amount))
        except ValueError as exc:
            out.append(None)
            if invalid[i] is None:  # the first problem of a row names it, as the other readers do
                invalid[i] = invalid_reason(name, str(exc))
    return pa.array(out, pa.string())


def _decimal_yuan(name: str, cells: list[Any], invalid: list[str | None], pa) -> Any:
    """Numeric amount cells as decimal128(18, 2) yuan, exact: from the float only where it is
    the float of a two-decimal number; any other number refuses its row."""
    import pyarrow.compute as pc

    given = np.array([c != "" for c in cells])
    x = np.array([c if c != "" else 0.0 for c in cells], np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        fen = np.rint(x * 100)
        # fen / 100 is the float nearest fen/100 yuan: equal to x exactly when round(x, 2) == x
        exact = np.isfinite(x) & (np.abs(fen) < 2.0 ** 53) & (fen / 100 == x)
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
        self._book = xlsxwriter.Workbook(str(self.path), {"constant_memory": True, "strings_to_formulas": False,
                                                          "strings_to_numbers": False, "strings_to_urls": False})
        self.amount_format = self._book.add_format({"num_format": "0.00"})
        self.date_format = self._book.add_format({"num_format": "yyyy-mm-dd"})
        self.header_format = self._book.add_format({"bold": True})
        self._closed = False

    def sheet(self, name: str) -> "XlsxSheet":
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
            raise MedcalcError(f"{self.book.path}: an .xlsx sheet holds at most {MAX_ROWS - 1:,} rows; "
                               "write .csv or .parquet for more")
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
                    write_datetime(r, j, value if isinstance(value, dt.datetime) else
                                   dt.datetime(value.year, value.month, value.day), day)
                elif isinstance(value, Decimal):  # a sheet's own amount, passed through: the number it was
                    write_number(r, j, float(value))
                else:
                    write_number(r, j, value)
        self.rows += table.num_rows
