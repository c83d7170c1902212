"""The `medcalc serve` load benchmark runs end to end on a few requests (a smoke test; no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .serve_live import serve_extra_or_skip

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_serve.py"


def test_serve_benchmark_prints_quotes_per_second_and_latencies():
    serve_extra_or_skip()
    done = subprocess.run(
        [sys.executable, str(BENCH), "--requests", "200", "--warmup", "20", "--deadline", "120"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "quotes/s; latency p50" in done.stdout and "p99" in done.stdout and "200 requests from 4" in done.stdout
