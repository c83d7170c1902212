"""Files in and out: claims from CSV, JSON lines or Parquet; settlements and rejects back out.

Rows are numbered from 1 in file order. A row that is not a valid claim becomes a reject
with its row number, field and reason; nothing is dropped or defaulted. Amounts leave as
yuan with two decimals: strings in CSV and JSON lines, decimal128 in Parquet (exact).
"""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Sequence

import attrs

from .claims import Claim
from .errors import ClaimError, MedcalcError
from .money import format_yuan
from .settlement import Reject, Settlement

__all__ = ["FORMATS", "format_of", "read_claims", "ReadResult", "settlement_rows", "write_rows", "OUTPUT_NAMES"]

FORMATS = ("csv", "jsonl", "parquet")

#: Output column names: medcalc's own, and the national settlement interface's.
OUTPUT_NAMES = {
    "medcalc": {
        "row": "row", "claim_id": "claim_id", "person_id": "person_id", "settled_on": "settled_on",
        "total": "total", "in_scope": "in_scope", "deductible": "deductible", "basic": "basic",
        "critical": "critical", "assistance": "assistance", "backstop": "backstop", "funds": "funds",
        "patient": "patient",
    },
    "national": {
        "row": "row", "claim_id": "setl_id", "person_id": "psn_no", "settled_on": "setl_time",
        "total": "medfee_sumamt", "in_scope": "inscp_scp_amt", "deductible": "act_pay_dedc", "basic": "hifp_pay",
        "critical": "hifmi_pay", "assistance": "maf_pay", "backstop": "backstop_pay", "funds": "fund_pay_sumamt",
        "patient": "psn_part_amt",
    },
}
_MONEY = ("total", "in_scope", "deductible", "basic", "critical", "assistance", "backstop", "funds", "patient")


def format_of(path: str | Path, given: str | None = None) -> str:
    """The file format: as given, else from the extension (.csv, .jsonl/.ndjson, .parquet)."""
    if given is not None:
        if given not in FORMATS:
            raise MedcalcError(f"format {given!r} is not one of {', '.join(FORMATS)}")
        return given
    suffix = Path(path).suffix.lower()
    known = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
    if suffix not in known:
        raise MedcalcError(f"{path}: cannot tell the format from the extension {suffix or '(none)'!r}; "
                           f"use .csv, .jsonl or .parquet, or give --format")
    return known[suffix]


@attrs.define
class ReadResult:
    """Valid claims with their file row numbers, and the rows that are not valid claims."""

    claims: list[Claim]
    rows: list[int]
    rejects: list[Reject]
    count: int  # rows read


def _records(path: Path, fmt: str) -> Iterable[dict[str, Any]]:
    if fmt == "csv":
        with open(path, newline="", encoding="utf-8-sig") as handle:
            for record in csv.DictReader(handle):
                yield {k: v for k, v in record.items() if v not in (None, "")}
    elif fmt == "jsonl":
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield {"__error__": f"not valid JSON: {exc.msg}"}
                    continue
                yield record if isinstance(record, dict) else {"__error__": "a line must be a JSON object"}
    else:
        pq = _parquet()
        for batch in pq.ParquetFile(path).iter_batches(batch_size=65536):
            for record in batch.to_pylist():
                # decimals arrive as Decimal (exact); float columns are refused by the claim itself
                yield {k: v for k, v in record.items() if v is not None}


def _parquet():
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is a dependency of the parquet extra
        raise MedcalcError("reading or writing Parquet needs pyarrow: pip install 'medcalc[parquet]'") from None
    return pq


def read_claims(path: str | Path, fmt: str | None = None, defaults: dict[str, Any] | None = None) -> ReadResult:
    """Read every row; ``defaults`` fills fields a row leaves empty (e.g. a scheme for the file)."""
    path = Path(path)
    if not path.is_file():
        raise MedcalcError(f"{path}: no such file")
    fmt = format_of(path, fmt)
    claims, rows, rejects = [], [], []
    count = 0
    for count, record in enumerate(_records(path, fmt), 1):
        if "__error__" in record:
            rejects.append(Reject(count, "row", record["__error__"]))
            continue
        try:
            claims.append(Claim.from_mapping({**(defaults or {}), **record}))
            rows.append(count)
        except ClaimError as exc:
            rejects.append(Reject(count, exc.field, exc.detail, _claim_id(record)))
    return ReadResult(claims, rows, rejects, count)


def _claim_id(record: dict[str, Any]) -> str | None:
    value = record.get("claim_id", record.get("setl_id", record.get("mdtrt_id")))
    return None if value is None else str(value)


def settlement_rows(settlements: Sequence[Settlement], rows: Sequence[int]) -> list[dict[str, Any]]:
    """One plain dict per settlement (amounts as Decimal yuan), with its file row number."""
    out = []
    for s in settlements:
        record: dict[str, Any] = {
            "row": rows[s.row], "claim_id": s.claim.claim_id, "person_id": s.claim.person_id,
            "settled_on": s.claim.settled_on.isoformat(),
        }
        for name in _MONEY:
            record[name] = Decimal(format_yuan(getattr(s, name)))
        out.append(record)
    return out


def write_rows(path: str | Path, records: list[dict[str, Any]], fmt: str | None = None,
               names: dict[str, str] | None = None, columns: Sequence[str] | None = None) -> None:
    """Write records to CSV, JSON lines or Parquet, renaming columns with ``names``."""
    path = Path(path)
    fmt = format_of(path, fmt)
    columns = list(columns or (records[0].keys() if records else ()))
    names = names or {}
    header = [names.get(c, c) for c in columns]
    if fmt == "csv":
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for r in records:
                writer.writerow(["" if r.get(c) is None else _text(r.get(c)) for c in columns])
    elif fmt == "jsonl":
        with open(path, "w", encoding="utf-8") as handle:
            for r in records:
                handle.write(json.dumps({names.get(c, c): _json(r.get(c)) for c in columns}, ensure_ascii=False) + "\n")
    else:
        import pyarrow as pa

        pq = _parquet()
        arrays = []
        for c in columns:
            values = [r.get(c) for r in records]
            if c in _MONEY:
                arrays.append(pa.array(values, type=pa.decimal128(18, 2)))
            elif c == "row":
                arrays.append(pa.array(values, type=pa.int64()))
            else:
                arrays.append(pa.array(values, type=pa.string()))
        pq.write_table(pa.Table.from_arrays(arrays, names=header), path)


def _text(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, Decimal) else str(value)


def _json(value: Any) -> Any:
    return f"{value:.2f}" if isinstance(value, Decimal) else value
