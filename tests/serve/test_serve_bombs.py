"""A live `medcalc serve` sent the files and bodies that crashed or swelled medcalc, and still serving.

Each is sent to a real server on 127.0.0.1 (a child process on a free port, ``serve_live``):
an .xlsx of 1.5 KB with cells at A1 and XFD1048576 (the Excel reader asks for 512 GiB and
aborts the process without the read limits), a CSV header of a million columns, a JSON line
of 1e-999999999, a cell of 4 million zeros, a quote nested 100 000 deep and one of 1e5000, an
8 MiB CSV of rejected rows, and a 39-digit total that a float wraps to 5 000 000. Each answer
is asserted (4xx with the JSON error body naming the limit, or 200 with the bad row rejected),
and after each the server still answers GET /policies and a good POST /quote, and its peak
memory (VmHWM of the server and of its worker processes) stays under ``MAX_RSS_MB``. A second
server, ``--workers 2 --limit max_columns=3``, shows the read limits reach every worker.
All traffic is to 127.0.0.1, a bounded number of requests, each with a timeout.
"""

from __future__ import annotations

import http.client
import io
import json
import time
import uuid
import zipfile
from pathlib import Path

import pytest

from .serve_live import LiveServer, serve_extra_or_skip

POLICY = "jiujiang-residents"
QUICK = {"policy": POLICY, "settled_on": "2020-06-01", "level": "level2", "total": "20000", "self_funded": "1500"}
#: Peak resident memory the server (and each worker) may reach, in MB. Measured: 76 MB idle; about 310 MB
#: once a file has been settled (the engine's compiled code and LLVM, loaded once per worker, and Arrow);
#: 350-420 MB at the peak of the 8 MiB upload (792 MiB when the answer listed every reject).
MAX_RSS_MB = 500
#: Seconds a request may take: the machine's two cores are shared with other test runs.
TIMEOUT = 60
HEADER = "person_id,settled_on,level,total,self_funded\n"


def started(*args: str) -> LiveServer:
    """`medcalc serve ARGS` once it accepts connections: a worker logs its start-up before it listens,
    so the first connection may be refused for a moment (more often with two workers)."""
    live = LiveServer(*args)
    deadline = time.monotonic() + 30
    while True:
        try:
            if ask(live, "GET", "/health")[0] == 200:
                return live
        except ConnectionRefusedError:
            pass
        if time.monotonic() > deadline:
            live.stop()
            pytest.fail("medcalc serve logged its start but refused connections:\n" + "".join(live.log))
        time.sleep(0.1)


@pytest.fixture(scope="module")
def server():
    serve_extra_or_skip()
    live = started("--workers", "1")
    yield live
    live.stop()


# ---------------------------------------------------------------- talking to the server


def ask(
    server: LiveServer, method: str, path: str, body: bytes | None = None, content_type: str | None = None
) -> tuple[int, bytes]:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    assert host == "127.0.0.1"
    connection = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    try:
        headers = {"Content-Type": content_type} if content_type else {}
        connection.request(method, path, body=body, headers=headers)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def upload(
    server: LiveServer,
    body: bytes,
    filename: str | None = None,
    query: str = f"policy={POLICY}",
    content_type: str | None = None,
) -> tuple[int, bytes]:
    """POST /score: ``body`` as the request body, or as a form's file part named ``filename``."""
    if filename is not None:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + body
            + f"\r\n--{boundary}--\r\n".encode()
        )
        content_type = f"multipart/form-data; boundary={boundary}"
    return ask(server, "POST", f"/score?{query}", body, content_type)


def process_ids(pid: int) -> list[int]:
    """The process and its descendants (uvicorn's worker processes, their helpers)."""
    found, waiting = [], [pid]
    while waiting:
        current = waiting.pop()
        found.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        waiting.extend(int(c) for c in children)
    return found


def peak_mb(server: LiveServer) -> dict[int, float]:
    """Each process's peak resident memory (VmHWM) in MB."""
    peaks = {}
    for pid in process_ids(server.process.pid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        line = next((ln for ln in status.splitlines() if ln.startswith("VmHWM:")), None)
        if line is not None:
            peaks[pid] = int(line.split()[1]) / 1000
    return peaks


def still_serving(server: LiveServer) -> None:
    """The server answers a policy list and a good quote, its processes are those it started with,
    and none has passed MAX_RSS_MB."""
    assert server.process.poll() is None, "the server exited:\n" + "".join(server.log[-20:])
    status, body = ask(server, "GET", "/policies")
    assert status == 200 and any(p["id"] == POLICY for p in json.loads(body))
    status, body = ask(server, "POST", "/quote", json.dumps(QUICK).encode(), "application/json")
    assert status == 200 and json.loads(body)["basic"] == "14480.00"
    peaks = peak_mb(server)
    assert peaks and max(peaks.values()) < MAX_RSS_MB, peaks


def refused(status: int, body: bytes, code: int) -> dict:
    assert status == code, body[:500]
    data = json.loads(body)
    assert data["status"] == code and data["error"]
    assert "medcalc-upload" not in data["error"]  # the server's own temporary path is never shown
    return data


# ---------------------------------------------------------------- the files


def far_cells_xlsx() -> bytes:
    """A workbook of one sheet whose only cells are A1 and XFD1048576, written by hand: 1.5 KB."""
    main = "http://schemas.openxmlformats.org"
    parts = {
        "[Content_Types].xml": f'<Types xmlns="{main}/package/2006/content-types"><Default Extension="rels" ContentType="application/'
        f'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        f'spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
        f'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": f'<Relationships xmlns="{main}/package/2006/relationships"><Relationship Id="rId1" Type="{main}/'
        f'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{main}/spreadsheetml/2006/main" xmlns:r="{main}/officeDocument/2006/relationships">'
        f'<sheets><sheet name="claims" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{main}/package/2006/relationships"><Relationship Id="rId1" Type="{main}/'
        f'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{main}/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is>'
        f'<t>person_id</t></is></c></row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>'
        f"</worksheet>",
    }
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return packed.getvalue()


def test_an_xlsx_of_two_far_cells_is_413_naming_the_limit(server):
    bomb = far_cells_xlsx()
    assert len(bomb) < 1700
    data = refused(*upload(server, bomb, filename="bomb.xlsx"), 413)
    assert data["read_limit"] == "max_columns" and data["field"] == "file"
    # the CLI's message, about the file as the caller named it
    assert data["error"] == (
        "bomb.xlsx: sheet 'claims' reaches row 1,048,576, column XFD (16,384 columns), over the "
        "limit max_columns=200 (columns of a sheet); raise it with --limit max_columns=N if the "
        "file is genuine"
    )
    still_serving(server)


def test_an_unreadable_xlsx_is_422_named_as_the_caller_named_it(server):
    data = refused(*upload(server, b"PK\x03\x04" + b"\x00" * 100, filename="C:\\desk\\claims.xlsx"), 422)
    assert data["error"].startswith("claims.xlsx: not a readable .xlsx file") and "read_limit" not in data
    still_serving(server)


def test_a_csv_header_of_a_million_columns_is_413(server):
    header = ",".join(f"c{i:06d}" for i in range(1_000_000)).encode() + b"\n"
    assert 7_000_000 < len(header) < 32 << 20  # under the upload limit: the reader's limit refuses it
    data = refused(*upload(server, header + b"p1,2020-06-01\n"), 413)
    assert data["read_limit"] == "max_header_chars"
    assert data["error"].startswith("upload: the header line is longer than max_header_chars=65,536 characters")
    still_serving(server)


def test_a_json_line_of_1e_minus_999999999_is_a_rejected_row(server):
    line = b'{"person_id":"p1","settled_on":"2020-06-01","level":"level2","total":"20000","self_funded":1e-999999999}'
    assert len(line) == 104
    status, body = upload(server, line + b"\n", content_type="application/x-ndjson")
    assert status == 200, body[:500]
    data = json.loads(body)
    assert (data["rows"], data["settled"], data["rejected"]) == (1, 0, 1)
    assert data["rejects"][0]["row"] == 1
    still_serving(server)


def test_a_cell_of_four_million_zeros_rejects_its_row_only(server):
    text = HEADER + "p1,2020-06-01,level2,0." + "0" * 4_000_000 + "1,0\np2,2020-06-01,level2,20000,1500\n"
    status, body = upload(server, text.encode())
    assert status == 200, body[:500]
    data = json.loads(body)
    assert (data["rows"], data["settled"], data["rejected"]) == (2, 1, 1)
    assert data["results"][0]["basic"] == "14480.00" and data["totals"]["total"] == "20000.00"
    reject = data["rejects"][0]
    assert reject["row"] == 2 and "max_cell_chars=1,000" in reject["reason"]
    assert len(body) < 10_000  # the cell is not copied into the answer
    still_serving(server)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"policy":"jiujiang-residents","settled_on":"2020-06-01","level":"level2","total":1e5000}',
    ],
    ids=["nested-100000", "total-1e5000"],
)
def test_quote_bodies_that_are_no_claim_answer_422(server, body):
    refused(*ask(server, "POST", "/quote", body, "application/json"), 422)
    still_serving(server)


def test_an_8_mib_csv_of_rejected_rows_gets_a_small_answer(server):
    line = "p{:07d},2020-06-01,level9,5000,0\n"  # level9: no such level, every row rejected
    rows = (8 << 20) // len(line.format(0))
    text = (HEADER + "".join(line.format(i) for i in range(rows))).encode()
    assert len(text) <= (8 << 20) + 100
    status, body = upload(server, text)
    assert status == 200, body[:500]
    data = json.loads(body)
    assert (data["rows"], data["settled"], data["rejected"]) == (rows, 0, rows)
    assert data["rejects_omitted"] == rows - 1000 and [r["row"] for r in data["rejects"][:3]] == [
        2,
        3,
        4,
    ]  # (the upload's lines)
    assert len(body) < 300_000
    still_serving(server)


def test_a_39_digit_total_is_a_reject_never_five_million(server):
    wraps = "680564733841876926926749214863541422912"  # 2^129 + 5e8: a float-to-int64 of it is 500000000 fen
    text = HEADER + f"p1,2020-06-01,level2,20000,1500\np2,2020-06-01,level2,{wraps},0\n"
    status, body = upload(server, text.encode())
    assert status == 200, body[:500]
    data = json.loads(body)
    assert (data["settled"], data["rejected"]) == (1, 1) and data["totals"]["total"] == "20000.00"
    assert data["rejects"][0]["row"] == 3 and "1000万" in data["rejects"][0]["reason"]
    assert b"5000000.00" not in body
    still_serving(server)


# ---------------------------------------------------------------- every worker reads under the limits


def test_two_workers_read_under_the_limits_given_on_the_command_line():
    serve_extra_or_skip()
    live = started("--workers", "2", "--limit", "max_columns=3")
    try:
        assert len(process_ids(live.process.pid)) >= 3  # the server and its two workers
        four = (HEADER.replace(",self_funded", "") + "p1,2020-06-01,level2,20000\n").encode()
        for _ in range(4):  # each worker is asked more than once, whichever the connection reaches
            data = refused(*upload(live, four, filename="four.csv"), 413)
            assert data["read_limit"] == "max_columns" and "over the limit max_columns=3;" in data["error"]
            assert data["error"].startswith("four.csv: the header has 4 columns")
            data = refused(*upload(live, far_cells_xlsx(), filename="bomb.xlsx"), 413)
            assert data["read_limit"] == "max_columns" and "max_columns=3 " in data["error"]
        status, body = upload(live, (HEADER.split(",total")[0] + "\np1,2020-06-01,level2\n").encode())
        assert status == 200 and json.loads(body)["rejected"] == 1  # three columns are read (no total: a reject)
        still_serving(live)
    finally:
        live.stop()
