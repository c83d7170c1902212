"""`medcalc serve` against hostile clients: read deadlines, the Host allow-list, the CORS policy, bounded answers.

The deadlines are held on real servers on 127.0.0.1: uvicorn's two HTTP protocols with the
deadlines (``medcalc.serve.deadlines``) in this process, each on a tiny application, and a
`medcalc serve --workers 2` child process (the protocol is imported by every worker). Slow
clients are a bounded number of raw sockets, each bounded in time; timings are asserted only
where the deadline is the point, with generous margins (the machine is shared).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import select
import socket
import threading
import time

import pytest

pytest.importorskip("fastapi", reason='needs the serve extra: pip install "medcalc[serve]"')

from fastapi.testclient import TestClient  # noqa: E402

from medcalc.cli import main  # noqa: E402
from medcalc.serve.access import ACCESS_VARIABLE, LOCAL_HOSTS, Access, host_name  # noqa: E402
from medcalc.serve.app import create_app  # noqa: E402
from medcalc.serve.limits import LIMITS_VARIABLE, Limits  # noqa: E402

from .serve_live import LiveServer, serve_extra_or_skip  # noqa: E402

LOCAL = "http://127.0.0.1"
QUICK = {
    "policy": "jiujiang-residents",
    "settled_on": "2020-06-01",
    "level": "level2",
    "total": "20000",
    "self_funded": "1500",
}
#: Seconds a close may come after its deadline: the machine's two cores are shared with other test runs.
MARGIN = 12.0
SLOW_HEAD = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


# ---------------------------------------------------------------- slow clients


def trickle_heads(port: int, count: int, give_up: float, gap: float = 0.2) -> list[tuple[float | None, bytes]]:
    """Open ``count`` sockets and send each a request head one byte every ``gap`` seconds, never finishing it
    (a header value without end), until the server closes it or ``give_up`` seconds pass. For each socket:
    the seconds until the server closed it (None: it did not) and the bytes the server sent."""
    stream = SLOW_HEAD + b"a" * 10_000
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]
    start = time.monotonic()
    closed: dict[socket.socket, float] = {}
    got = {s: b"" for s in sockets}
    sent = 0
    try:
        while len(closed) < count and time.monotonic() - start < give_up:
            for s in sockets:
                if s not in closed:
                    try:
                        s.send(stream[sent : sent + 1])
                    except OSError:  # reset: the server has closed it
                        closed[s] = time.monotonic() - start
            sent += 1
            readable, _, _ = select.select([s for s in sockets if s not in closed], [], [], gap)
            for s in readable:
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if data:
                    got[s] += data
                else:
                    closed[s] = time.monotonic() - start
    finally:
        for s in sockets:
            s.close()
    return [(closed.get(s), got[s]) for s in sockets]


def raw_exchange(
    port: int, head: bytes, pieces: list[bytes] = (), gap: float = 0.0, wait: float = 30.0
) -> tuple[float, bytes]:
    """Send a head, then ``pieces`` of a body ``gap`` seconds apart; read until the server closes or ``wait``
    seconds pass. The seconds from the last byte sent to the close, and what the server sent."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        s.sendall(head)
        for piece in pieces:
            time.sleep(gap)
            s.sendall(piece)
        sent = time.monotonic()
        s.settimeout(wait)
        got = read_answer(s)
        return time.monotonic() - sent, got


def read_answer(s: socket.socket) -> bytes:
    """What the server sends, until one whole answer has come, the server closes, or the socket times out."""
    got = b""
    try:
        while data := s.recv(65536):
            got += data
            if _complete(got):
                break
    except (TimeoutError, OSError):
        pass
    return got


def _complete(answer: bytes) -> bool:
    if b"\r\n\r\n" not in answer:
        return False
    head, _, body = answer.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), None
    )
    return length is not None and len(body) >= length


def status_and_json(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


async def _echo_length(scope, receive, send) -> None:
    """A tiny ASGI application: reads the whole body and answers its length."""
    if scope["type"] != "http":
        return
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size, more = size + len(message.get("body", b"")), message.get("more_body", False)
    body = json.dumps({"received": size}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(params=["HttpToolsDeadlines", "H11Deadlines"])
def protocol_server(request, monkeypatch):
    """uvicorn in a thread of this process, with one of the deadline protocols, a 1 s head and a 1 s body deadline."""
    uvicorn = pytest.importorskip("uvicorn")
    if request.param == "HttpToolsDeadlines":
        pytest.importorskip("httptools")
    monkeypatch.setenv(LIMITS_VARIABLE, Limits(header_timeout=1, body_timeout=1).to_environment())
    config = uvicorn.Config(
        _echo_length,
        host="127.0.0.1",
        port=0,
        http=f"medcalc.serve.deadlines:{request.param}",
        ws="none",
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield server.servers[0].sockets[0].getsockname()[1]
    server.should_exit = True
    thread.join(30)


def test_each_protocol_closes_a_head_that_never_ends(protocol_server):
    port = protocol_server
    slow = trickle_heads(port, 10, give_up=1 + MARGIN)
    for seconds, answer in slow:
        assert seconds is not None, "the server kept a trickling head open"
        assert 0.9 <= seconds <= 1 + MARGIN
        assert status_and_json(answer) == (408, {"status": 408, "error": "request head not complete within 1 s"})
    # a client that sends nothing at all is closed too, without an answer
    quiet, answer = raw_exchange(port, b"", wait=1 + MARGIN)
    assert answer == b"" and 0.9 <= quiet <= 1 + MARGIN


@pytest.mark.slow
def test_each_protocol_answers_408_to_a_body_that_stops_and_waits_for_one_that_trickles(protocol_server):
    port = protocol_server
    head = b"POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n"
    seconds, answer = raw_exchange(port, head, [b"x" * 10], wait=1 + MARGIN)
    assert status_and_json(answer) == (408, {"status": 408, "error": "request body stopped for 1 s"})
    assert 0.9 <= seconds <= 1 + MARGIN
    # 10 pieces 0.3 s apart: 3 s in all, longer than the deadline, which moves with every piece
    _, answer = raw_exchange(port, head, [b"y" * 10] * 10, gap=0.3, wait=MARGIN)
    assert status_and_json(answer) == (200, {"received": 100})
    # between requests on a kept-alive connection, the head deadline starts again after each answer
    ask = b"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=MARGIN) as s:
        for _ in range(3):
            s.sendall(ask)
            assert status_and_json(read_answer(s)) == (200, {"received": 0})
            time.sleep(0.6)  # twice 0.6 s would pass the deadline were it counted from the connection's opening


@pytest.fixture(scope="module")
def live():
    """`medcalc serve --workers 2` with 1 s and 2 s deadlines, one more Host name and one CORS origin."""
    serve_extra_or_skip()
    server = LiveServer(
        "--workers",
        "2",
        "--header-timeout",
        "1",
        "--body-timeout",
        "2",
        "--allowed-host",
        "desk.example",
        "--cors-origin",
        "https://desk.example",
    )
    yield server
    server.stop()


def _port(server: LiveServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def test_the_server_closes_50_trickling_heads_and_still_answers(live):
    port = _port(live)
    result: list = []
    slow = threading.Thread(target=lambda: result.extend(trickle_heads(port, 50, give_up=1 + MARGIN)))
    slow.start()
    try:
        time.sleep(0.5)  # the slow sockets are open and trickling
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=MARGIN)
        connection.request("POST", "/quote", body=json.dumps(QUICK), headers={"Content-Type": "application/json"})
        answer = connection.getresponse()
        assert answer.status == 200 and json.loads(answer.read())["basic"] == "14480.00"
        connection.close()
    finally:
        slow.join(1 + MARGIN + 10)
    assert len(result) == 50
    late = [seconds for seconds, _ in result if seconds is None or seconds > 1 + MARGIN]
    assert not late, f"{len(late)} of 50 trickling connections were still open after {1 + MARGIN} s"
    assert min(seconds for seconds, _ in result) >= 0.9
    assert all(status_and_json(answer)[0] == 408 for _, answer in result)


@pytest.mark.slow
def test_the_server_answers_408_to_a_stalled_body(live):
    head = b"POST /quote HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    seconds, answer = raw_exchange(_port(live), head, [b'{"policy": '], wait=2 + MARGIN)
    assert status_and_json(answer) == (408, {"status": 408, "error": "request body stopped for 2 s"})
    assert 1.8 <= seconds <= 2 + MARGIN
    # a body that keeps coming, slower in all than the deadline, is answered
    body = json.dumps(QUICK).encode()
    head = head.replace(b"1000", str(len(body)).encode())
    pieces = [body[i : i + 20] for i in range(0, len(body), 20)]
    _, answer = raw_exchange(_port(live), head, pieces, gap=0.5, wait=MARGIN)
    assert status_and_json(answer)[1]["patient"] == "5520.00" and 0.5 * len(pieces) > 2


# ---------------------------------------------------------------- Host allow-list


def test_host_names_other_than_this_machine_are_400_in_json():
    client = TestClient(create_app(), base_url=LOCAL)
    for host in ("localhost", "localhost:8000", "127.0.0.1", "127.0.0.1:9", "[::1]", "[::1]:8000", "LOCALHOST"):
        assert client.get("/health", headers={"Host": host}).status_code == 200, host
    for host in ("evil.example", "evil.example:8000", "localhost.evil.example", "127.0.0.2", "", "testserver"):
        answer = client.post("/quote", json=QUICK, headers={"Host": host})
        assert answer.status_code == 400, host
        body = answer.json()
        assert body["status"] == 400 and body["field"] == "Host" and "--allowed-host" in body["error"]
    assert TestClient(create_app()).get("/health").status_code == 400  # the test client's own "testserver"
    named = TestClient(create_app(access=Access(hosts=LOCAL_HOSTS + ("desk.example",))), base_url=LOCAL)
    assert named.get("/health", headers={"Host": "desk.example:8443"}).status_code == 200
    assert named.get("/health", headers={"Host": "other.example"}).status_code == 400
    anyone = TestClient(create_app(access=Access(hosts=("*",))))
    assert anyone.get("/health", headers={"Host": "other.example"}).status_code == 200


def test_host_names_from_the_command_line(monkeypatch, capsys):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    monkeypatch.setenv(LIMITS_VARIABLE, "{}")  # so that what the command sets is undone after the test
    monkeypatch.setenv(ACCESS_VARIABLE, "{}")
    import os

    def hosts(*argv: str) -> list[str]:
        assert main(["serve", *argv]) == 0
        return json.loads(os.environ[ACCESS_VARIABLE])["hosts"]

    assert hosts() == ["localhost", "127.0.0.1", "[::1]"]
    assert hosts("--host", "192.168.1.5") == ["localhost", "127.0.0.1", "[::1]", "192.168.1.5"]
    assert hosts("--host", "::") == ["localhost", "127.0.0.1", "[::1]"]
    capsys.readouterr()
    assert hosts("--host", "0.0.0.0") == ["localhost", "127.0.0.1", "[::1]"]
    assert "give the names clients use with --allowed-host" in capsys.readouterr().err
    assert hosts("--allowed-host", "Desk.Example", "--allowed-host", "fe80::1") == [
        "localhost",
        "127.0.0.1",
        "[::1]",
        "desk.example",
        "[fe80::1]",
    ]
    assert "*" in hosts("--allowed-host", "*")
    assert "DNS rebinding" in capsys.readouterr().err
    assert host_name("[::1]:8000") == "[::1]" and host_name("Example.COM:80") == "example.com"


def test_the_live_server_refuses_other_host_names(live):
    def ask(host: str) -> tuple[int, dict]:
        _, answer = raw_exchange(_port(live), f"GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode(), wait=MARGIN)
        return status_and_json(answer)

    assert ask(f"localhost:{_port(live)}")[0] == 200
    assert ask("desk.example")[0] == 200  # --allowed-host
    status, body = ask("rebound.evil.example")
    assert status == 400 and body["field"] == "Host" and "rebound.evil.example" in body["error"]


# ---------------------------------------------------------------- CORS


def _preflight(client: TestClient, origin: str):
    return client.options(
        "/quote",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )


def test_no_cross_origin_access_by_default():
    client = TestClient(create_app(), base_url=LOCAL)
    for answer in (
        client.get("/health", headers={"Origin": "https://evil.example"}),
        client.post("/quote", json=QUICK, headers={"Origin": "https://evil.example"}),
        client.post("/quote", json={}, headers={"Origin": "https://evil.example"}),
        client.get("/", headers={"Origin": "https://evil.example"}),
    ):
        assert not any(k.lower().startswith("access-control-") for k in answer.headers), answer.headers
    refused = _preflight(client, "https://evil.example")
    assert (
        refused.status_code == 403
        and refused.json()["field"] == "Origin"
        and "--cors-origin" in refused.json()["error"]
    )
    assert "access-control-allow-origin" not in refused.headers


def test_named_origins_may_call_the_api():
    client = TestClient(create_app(access=Access(origins=("https://desk.example",))), base_url=LOCAL)
    allowed = _preflight(client, "https://desk.example")
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://desk.example"
    assert "POST" in allowed.headers["access-control-allow-methods"]
    answer = client.post("/quote", json=QUICK, headers={"Origin": "https://desk.example"})
    assert (
        answer.headers["access-control-allow-origin"] == "https://desk.example" and answer.json()["basic"] == "14480.00"
    )
    error = client.post("/quote", json={}, headers={"Origin": "https://desk.example"})  # errors are readable too
    assert error.status_code == 422 and error.headers["access-control-allow-origin"] == "https://desk.example"
    assert _preflight(client, "https://evil.example").status_code == 403
    other = client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_cors_origins_on_the_command_line(monkeypatch, capsys):
    import os

    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    monkeypatch.setenv(LIMITS_VARIABLE, "{}")
    monkeypatch.setenv(ACCESS_VARIABLE, "{}")
    assert main(["serve", "--cors-origin", "https://desk.example", "--cors-origin", "http://ward.example:8080/"]) == 0
    assert json.loads(os.environ[ACCESS_VARIABLE])["origins"] == ["https://desk.example", "http://ward.example:8080"]
    for bad in ("desk.example", "https://desk.example/page", "ftp://desk.example"):
        with pytest.raises(SystemExit) as exit_:
            main(["serve", "--cors-origin", bad])
        assert exit_.value.code == 2 and "--cors-origin" in capsys.readouterr().err


def test_the_live_server_lets_its_named_origin_read_and_refuses_others(live):
    connection = http.client.HTTPConnection("127.0.0.1", _port(live), timeout=MARGIN)
    connection.request(
        "OPTIONS", "/quote", headers={"Origin": "https://desk.example", "Access-Control-Request-Method": "POST"}
    )
    allowed = connection.getresponse()
    allowed.read()
    assert allowed.status == 200 and allowed.getheader("access-control-allow-origin") == "https://desk.example"
    connection.request(
        "OPTIONS", "/quote", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    refused = connection.getresponse()
    assert refused.status == 403 and json.loads(refused.read())["status"] == 403
    connection.close()


# ---------------------------------------------------------------- bounded answers


ROWS = "person_id,settled_on,level,total,self_funded\n"


def test_score_lists_the_first_rows_and_says_how_many_more():
    client = TestClient(create_app(Limits(listed_rows=3)), base_url=LOCAL)
    good, bad = "p{},2020-06-01,level2,5000,0\n", "p{},2020-06-01,level9,5000,0\n"
    lines = [bad if i % 3 else good for i in range(1, 21)]  # rows 1..20: 6 settled (3, 6 …), 14 rejected
    text = ROWS + "".join(line.format(i) for i, line in enumerate(lines, 1))
    data = client.post("/score?policy=jiujiang-residents", content=text.encode()).json()
    assert (data["rows"], data["settled"], data["rejected"]) == (20, 6, 14)
    # rows as the upload's lines (its header is line 1)
    assert [r["row"] for r in data["results"]] == [4, 7, 10] and data["results_omitted"] == 3
    assert [r["row"] for r in data["rejects"]] == [2, 3, 5] and data["rejects_omitted"] == 11
    assert data["rejects_by_reason"] == {next(iter(data["rejects_by_reason"])): 14}  # the summary counts every row
    small = (
        TestClient(create_app(), base_url=LOCAL).post("/score?policy=jiujiang-residents", content=text.encode()).json()
    )
    assert len(small["results"]) == 6 and len(small["rejects"]) == 14
    assert small["results_omitted"] == small["rejects_omitted"] == 0


def test_a_large_upload_of_rejected_rows_gets_a_small_answer():
    rows = 40_000  # about 1.2 MB of CSV, every row rejected
    text = ROWS + "".join(f"p{i},2020-06-01,level9,5000,0\n" for i in range(rows))
    client = TestClient(create_app(Limits(upload=8 << 20)), base_url=LOCAL)
    answer = client.post("/score?policy=jiujiang-residents", content=text.encode())
    data = answer.json()
    assert data["rejected"] == rows and data["rejects_omitted"] == rows - 1000
    assert [r["row"] for r in data["rejects"]] == list(range(2, 1002))  # the upload's lines
    assert len(answer.content) < 300_000  # 1 000 rejects listed: the answer does not grow with the upload
