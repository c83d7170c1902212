"""Choosing how the kernel runs: by size, by option, by environment, and without numba."""

from __future__ import annotations

import builtins
import subprocess
import sys
import warnings

import pytest

import medcalc
from medcalc.analysis.synthetic import synthetic_claims
from medcalc.engine import compiled


def test_engine_is_chosen_by_size_option_and_environment(monkeypatch):
    monkeypatch.delenv(compiled.ENGINE_VARIABLE, raising=False)
    assert compiled.choose_engine(None, 10) == "interpreted"
    assert compiled.choose_engine(None, compiled.AUTO_COMPILED_ROWS) == "compiled"
    assert compiled.choose_engine("interpreted", 10**7) == "interpreted"
    monkeypatch.setenv(compiled.ENGINE_VARIABLE, "compiled")
    assert compiled.choose_engine(None, 1) == "compiled"
    with pytest.raises(ValueError, match="engine must be one of auto, compiled, interpreted"):
        compiled.choose_engine("fast", 1)


def test_without_numba_batches_settle_interpreted_with_one_warning(monkeypatch):
    real_import = builtins.__import__

    def no_numba(name, *args, **kwargs):
        if name == "numba" or name.startswith("numba."):
            raise ImportError("no numba on this platform")
        return real_import(name, *args, **kwargs)

    claims = synthetic_claims("huaibei-2025", 300, seed=5)
    expected = medcalc.settle_table(claims, "huaibei-2025", engine="interpreted", amounts="fen")
    compiled.numba_available.cache_clear()
    monkeypatch.setattr(builtins, "__import__", no_numba)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            first = medcalc.settle_table(claims, "huaibei-2025", engine="compiled", amounts="fen")
            second = medcalc.settle_table(claims, "huaibei-2025", engine="compiled", amounts="fen")
    finally:
        monkeypatch.setattr(builtins, "__import__", real_import)
        compiled.numba_available.cache_clear()
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1 and "numba cannot be imported (no numba on this platform)" in messages[0]
    assert first.results.equals(expected.results) and second.results.equals(expected.results)


def test_import_and_a_quote_never_load_numba():
    code = (
        "import sys, medcalc; "
        "medcalc.settle('jiujiang-residents', medcalc.Claim(person_id='p', settled_on='2020-06-01', "
        "level='level2', total=20000)); print('numba' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("threads", [2, 3])
def test_passes_cut_into_row_ranges_on_several_threads_settle_to_the_same_fen(monkeypatch, threads):
    # checks, rule lookups, profile keys and the settlement order's keys run on ranges of rows
    # at once from SPLIT_ROWS rows: lowered here, so that every pass is cut (unevenly, too)
    claims = synthetic_claims("huaibei-2025", 25_001, seed=9, yuan=True, outpatient_share=0.2)
    expected = medcalc.settle_table(claims, "huaibei-2025", amounts="yuan", engine="compiled", threads=1)
    monkeypatch.setattr(compiled, "SPLIT_ROWS", 1)
    calls = []
    real = compiled.in_ranges

    def counted(function, rows, threads_, args, per_row):
        out = real(function, rows, threads_, args, per_row)
        calls.append(len(out))
        return out

    monkeypatch.setattr(compiled, "in_ranges", counted)
    for module in (
        "medcalc.engine.in_force",
        "medcalc.engine.ordering",
        "medcalc.engine.profiles",
        "medcalc.batch.columns",
    ):
        monkeypatch.setattr(sys.modules[module], "in_ranges", counted)
    got = medcalc.settle_table(claims, "huaibei-2025", amounts="yuan", engine="compiled", threads=threads)
    assert calls and set(calls) == {threads}  # every pass was cut
    assert got.results.equals(expected.results) and got.rejects.equals(expected.rejects)
    assert expected.rejects.num_rows < claims.num_rows // 2 < expected.results.num_rows
