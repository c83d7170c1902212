"""Load test of `medcalc serve` on loopback: quotes per second and latency percentiles.

Starts `medcalc serve` on a free port of 127.0.0.1, waits for it, then sends a fixed number of
`POST /quote` requests from a few concurrent clients (each one keep-alive HTTP/1.1 connection,
one request at a time) and stops the server. Bounded: the request count is fixed, every
request has a timeout and the whole run a deadline, and only 127.0.0.1 is ever addressed.
Each answer is checked (status 200, the expected basic payment). Prints figures; asserts
nothing on time.

Usage: python benchmarks/bench_serve.py [--requests N] [--clients N] [--warmup N] [--explain] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"  # loopback only
#: The README's quick-start quote, and what it pays.
QUOTE = {
    "policy": "jiujiang-residents",
    "settled_on": "2020-06-01",
    "level": "level2",
    "total": "20000",
    "self_funded": "1500",
}
BASIC = "14480.00"


def start_server(deadline: float, workers: int) -> tuple[subprocess.Popen, int]:
    """`medcalc serve --port 0` in a child process, and the port it bound."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    server = subprocess.Popen(
        [sys.executable, "-m", "medcalc.cli", "serve", "--host", HOST, "--port", "0", "--workers", str(workers)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=ROOT,
    )
    seen: list[str] = []
    port = None
    while time.monotonic() < deadline:
        line = server.stderr.readline()
        if not line:
            break
        seen.append(line)
        found = re.search(r"running on http://[^:]+:(\d+)", line)
        if found:
            port = int(found.group(1))
        if port is not None and (workers == 1 or sum("Application startup complete" in s for s in seen) == workers):
            return server, port
    server.kill()
    raise SystemExit("medcalc serve did not start:\n" + "".join(seen))


async def client(port: int, body: bytes, count: int, latencies: list[float]) -> None:
    """One keep-alive connection sending ``count`` quotes one after another (as little work per
    request as can be: the clients share the server's two cores)."""
    reader, writer = await asyncio.open_connection(HOST, port)
    request = (
        f"POST /quote HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    length_of = re.compile(rb"(?i)content-length:\s*(\d+)")
    expected = f'"basic":"{BASIC}"'.encode()
    clock = time.perf_counter
    try:
        for _ in range(count):
            start = clock()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            answer = await reader.readexactly(int(length_of.search(head).group(1)))
            latencies.append(clock() - start)
            if not head.startswith(b"HTTP/1.1 200") or expected not in answer:
                raise SystemExit(f"unexpected answer: {head[:40]!r} {answer[:200]!r}")
    finally:
        writer.close()


async def load(port: int, body: bytes, requests: int, clients: int) -> tuple[float, list[float]]:
    per, extra = divmod(requests, clients)
    latencies: list[float] = []
    start = time.perf_counter()
    await asyncio.gather(*(client(port, body, per + (i < extra), latencies) for i in range(clients)))
    return time.perf_counter() - start, latencies


def run(coroutine, seconds: float):
    """Run the clients, stopped at the deadline whatever happens (uvloop if it is installed)."""
    try:
        import uvloop

        return uvloop.run(asyncio.wait_for(coroutine, seconds))
    except ImportError:
        return asyncio.run(asyncio.wait_for(coroutine, seconds))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its children (its workers), on Linux; else nan."""
    total = 0.0
    try:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # a process that just ended
                continue
            if int(stat.parent.name) == pid or int(fields[1]) == pid:
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")
    return total


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000, help="quotes timed (default 10000)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent connections (default 4)")
    parser.add_argument("--warmup", type=int, default=500, help="quotes sent first, not timed (default 500)")
    parser.add_argument("--explain", action="store_true", help="ask for every step (explain: true)")
    parser.add_argument("--workers", type=int, default=1, help="medcalc serve --workers (default 1)")
    parser.add_argument("--deadline", type=float, default=300, help="seconds the whole run may take (default 300)")
    args = parser.parse_args()

    deadline = time.monotonic() + args.deadline
    body = json.dumps({**QUOTE, "explain": args.explain}).encode()
    server, port = start_server(deadline, args.workers)
    try:
        run(load(port, body, args.warmup, args.clients), deadline - time.monotonic())
        server_cpu, client_cpu = cpu_seconds(server.pid), time.process_time()
        elapsed, latencies = run(load(port, body, args.requests, args.clients), deadline - time.monotonic())
        server_cpu, client_cpu = cpu_seconds(server.pid) - server_cpu, time.process_time() - client_cpu
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    print(f"machine: {os.cpu_count()} cores (server and clients share them), Python {sys.version.split()[0]}")
    print(
        f"medcalc serve --workers {args.workers}: POST /quote (explain={str(args.explain).lower()}), "
        f"{args.requests} requests from {args.clients} "
        f"keep-alive clients on {HOST}, after {args.warmup} warm-up requests"
    )
    print(
        f"{args.requests / elapsed:,.0f} quotes/s; latency p50 {percentile(latencies, 50) * 1000:.2f} ms, "
        f"p99 {percentile(latencies, 99) * 1000:.2f} ms, max {max(latencies) * 1000:.2f} ms "
        f"(mean {statistics.fmean(latencies) * 1000:.2f} ms)"
    )
    print(
        f"CPU per quote: server {server_cpu / args.requests * 1000:.2f} ms, "
        f"clients {client_cpu / args.requests * 1000:.2f} ms"
    )


if __name__ == "__main__":
    main()
