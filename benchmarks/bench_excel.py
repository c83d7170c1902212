"""Excel in and out: time reading synthetic claims from .xlsx and writing scored results to .xlsx.

Writes ``--rows`` synthetic claims (medcalc.analysis.synthetic.synthetic_claims) to an .xlsx sheet with
xlsxwriter (amounts as numbers, dates as date cells, as Excel holds them), then times
medcalc's reader (medcalc.batch.files.read_batches), the scoring itself, and medcalc's .xlsx writer
(results and rejects as two sheets of one workbook); the same claims as CSV are read for
comparison. Checks that the .xlsx and CSV readings score to the same fen. Prints figures;
asserts no timing. Usage: python benchmarks/bench_excel.py [--rows 100000] [--policy ID] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def write_claims_xlsx(claims, path: Path) -> None:
    """The claims as a sheet of cells: amounts in yuan as numbers, dates as date cells."""
    import numpy as np
    import pyarrow as pa
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("claims")
    day, money = book.add_format({"num_format": "yyyy-mm-dd"}), book.add_format({"num_format": "0.00"})
    names = claims.column_names
    columns = []
    for name in names:
        column = claims.column(name)
        if pa.types.is_integer(column.type) and name in ("total", "self_funded", "pre_self_pay"):
            columns.append(((np.asarray(column.to_numpy(), np.int64) / 100).tolist(), money))
        elif pa.types.is_date(column.type) or pa.types.is_timestamp(column.type):
            columns.append((column.cast(pa.date32()).to_pylist(), day))
        else:
            columns.append(([None if v is None else str(v) for v in column.to_pylist()], None))
    sheet.write_row(0, 0, names)
    for i in range(claims.num_rows):
        for j, (values, fmt) in enumerate(columns):
            value = values[i]
            if value is None or value == "":
                continue
            if fmt is money:
                sheet.write_number(i + 1, j, value, money)
            elif fmt is day:
                sheet.write_datetime(i + 1, j, value, day)
            else:
                sheet.write_string(i + 1, j, value)
    book.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--policy", default="huaibei-2025")
    parser.add_argument("--workdir", help="where the files go (default: a temporary folder)")
    args = parser.parse_args()

    import pyarrow as pa
    import pyarrow.compute as pc

    from medcalc.analysis.synthetic import synthetic_claims
    from medcalc.batch.excel import XlsxBook
    from medcalc.batch.files import OUTPUT_NAMES, ResultWriter, concat_parts, read_batches
    from medcalc.batch.tables import settle_table

    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(args.workdir or temporary)
        claims = synthetic_claims(args.policy, args.rows, seed=2026)
        source = folder / "claims.xlsx"
        started = time.perf_counter()
        write_claims_xlsx(claims, source)
        generate = time.perf_counter() - started
        size = source.stat().st_size
        csv_source = folder / "claims.csv"
        import pyarrow.csv as pacsv

        from medcalc.batch.files import fen_to_yuan

        as_text = [
            fen_to_yuan(claims.column(n), text=True)
            if n in ("total", "self_funded", "pre_self_pay")
            else claims.column(n)
            for n in claims.column_names
        ]
        pacsv.write_csv(pa.table(as_text, names=claims.column_names), csv_source)

        started = time.perf_counter()
        table = concat_parts(list(read_batches(source)))
        read_xlsx = time.perf_counter() - started
        started = time.perf_counter()
        text = concat_parts(list(read_batches(csv_source)))
        read_csv = time.perf_counter() - started

        started = time.perf_counter()
        scored = settle_table(table, args.policy, amounts="yuan", first_row=1)
        score = time.perf_counter() - started
        scored_csv = settle_table(text, args.policy, amounts="yuan", first_row=1)
        fields = ("row", "total", "basic", "critical", "assistance", "funds", "patient")
        same = scored.results.select(fields).equals(scored_csv.results.select(fields))

        out = folder / "scored.xlsx"
        started = time.perf_counter()
        book = XlsxBook(out)
        results = ResultWriter(out, names=OUTPUT_NAMES["medcalc"], book=book, sheet="results")
        rejects = ResultWriter(out, book=book, sheet="rejects")
        results.write(scored.results)
        rejects.write(scored.rejects)
        results.close()
        rejects.close()
        book.close()
        write_xlsx = time.perf_counter() - started
        out_size = out.stat().st_size

        started = time.perf_counter()
        back = concat_parts(list(read_batches(out)))
        read_back = time.perf_counter() - started
        fen = pc.cast(pc.multiply(back.column("funds"), pa.scalar(100)), pa.int64())
        round_trip = fen.to_pylist() == scored.results.column("funds").to_pylist()

    rows = args.rows
    print(
        f"{rows:,} synthetic claims ({args.policy}); .xlsx written by the benchmark in {generate:.2f} s "
        f"({size / 1e6:.1f} MB)"
    )
    print(f"read .xlsx (medcalc.batch.files.read_batches):  {read_xlsx:6.2f} s  {rows / read_xlsx:>10,.0f} rows/s")
    print(f"read .csv, same claims, for comparison: {read_csv:6.2f} s  {rows / read_csv:>10,.0f} rows/s")
    print(f"score (settle_table):                  {score:6.2f} s  {rows / score:>10,.0f} rows/s")
    print(
        f"write .xlsx results + rejects sheets:  {write_xlsx:6.2f} s  {rows / write_xlsx:>10,.0f} rows/s "
        f"({scored.results.num_rows:,} settled, {scored.rejects.num_rows:,} rejected; {out_size / 1e6:.1f} MB)"
    )
    print(f"read the results back:                 {read_back:6.2f} s")
    print(
        f".xlsx and .csv readings score the same: {'yes' if same else 'NO'}; "
        f"results round trip to the fen: {'yes' if round_trip else 'NO'}"
    )


if __name__ == "__main__":
    main()
