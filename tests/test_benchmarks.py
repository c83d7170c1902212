"""The benchmark scripts run end to end on a small size (a smoke test; no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(*argv: str) -> str:
    done = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
def test_scale_benchmark_agrees_with_duckdb_and_the_loop(tmp_path):
    pytest.importorskip("duckdb")
    out = _run(str(BENCH / "bench_scale.py"), "--rows", "3000", "--workdir", str(tmp_path))
    assert "3,000 rows: medcalc, stream, duckdb, score, score-narrow, loop agree to the fen on every claim" in out
    assert "peak memory" in out and "x as fast" in out and "whole process" in out
    assert "kernel start-up, first run, empty cache (compiles)" in out


def test_batch_and_api_benchmarks_print_figures():
    assert "claims/s" in _run(str(BENCH / "bench_batch.py"), "--rows", "2000")
    assert "ms" in _run(str(BENCH / "bench_api.py"), "--claims", "200", "--repeat", "50")


def test_policy_load_benchmark_prints_time_per_version():
    out = _run(str(BENCH / "bench_policy_load.py"), "--sizes", "200,400")
    assert out.count("µs/version") == 2 and "400 versions" in out


def test_excel_benchmark_reads_scores_and_writes_to_the_fen(tmp_path):
    pytest.importorskip("python_calamine")
    pytest.importorskip("xlsxwriter")
    out = _run(str(BENCH / "bench_excel.py"), "--rows", "2000", "--workdir", str(tmp_path))
    assert "read .xlsx" in out and "write .xlsx results + rejects sheets" in out and "rows/s" in out
    assert ".xlsx and .csv readings score the same: yes; results round trip to the fen: yes" in out
