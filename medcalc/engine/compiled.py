"""The kernel compiled: the same functions as ``medcalc.engine.kernel``, handed to numba.

The kernel's modules stay plain Python (CPython runs them for single claims). For batches,
``kernel_functions("compiled")`` copies each kernel function (a module's ``FUNCTIONS``: the
loop's, and those of the modules it ``CALLS``: the arithmetic and each layer's) into a copy
of its module's globals and replaces it there by ``numba.njit(copy, nogil=True,
cache=True)``, callees first, so that the compiled callers call (inline) the compiled
callees. numba is imported only here, on the first large batch: ``import medcalc`` and
``medcalc quote`` never load it.

Compiled code is cached on disk (numba's own cache: beside the package, or in the user's
cache directory when the package directory is read-only; ``NUMBA_CACHE_DIR`` overrides
both). Where numba cannot be imported, batches are settled by the interpreted kernel with
one warning.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import checks, kernel, rows

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "ENGINES",
    "AUTO_COMPILED_ROWS",
    "kernel_functions",
    "choose_engine",
    "numba_available",
    "load_in_background",
    "in_ranges",
    "low_high",
]

#: How a batch is settled: "auto" (by size), "compiled" (numba) or "interpreted" (CPython).
ENGINES = ("auto", "compiled", "interpreted")
#: From this many rows "auto" compiles: below it the interpreted kernel is done before numba
#: would have loaded its cache.
AUTO_COMPILED_ROWS = 20_000
#: From this many rows a pass over rows is cut into ranges run on several threads at once.
SPLIT_ROWS = 1 << 20
#: The environment variable that sets the default engine (one of ENGINES).
ENGINE_VARIABLE = "MEDCALC_ENGINE"


def choose_engine(engine: str | None, rows: int) -> str:
    """'compiled' or 'interpreted' for a batch of ``rows`` rows."""
    engine = engine or _engine_variable() or "auto"
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)} (got {engine!r})")
    if engine == "auto":
        engine = "compiled" if rows >= AUTO_COMPILED_ROWS else "interpreted"
    if engine == "compiled" and not numba_available():
        return "interpreted"
    return engine


def _engine_variable() -> str | None:
    """MEDCALC_ENGINE as set now. Read from os.environ's own table where it has one: a miss
    through os.environ.get raises and catches a KeyError, which costs a single claim ~3 µs."""
    data = getattr(os.environ, "_data", None)
    if data is None:  # pragma: no cover - another Python's os.environ
        return os.environ.get(ENGINE_VARIABLE)
    value = data.get(os.environ.encodekey(ENGINE_VARIABLE))
    return None if value is None else os.environ.decodevalue(value)


@functools.lru_cache(maxsize=1)
def numba_available() -> bool:
    """Whether numba can be imported here (warns once when it cannot)."""
    try:
        import numba  # noqa: F401
    except Exception as exc:  # an ImportError, or a broken install that fails as it loads
        warnings.warn(
            f"numba cannot be imported ({exc}); batches are settled by the interpreted kernel, "
            "which is exact but much slower",
            RuntimeWarning,
            stacklevel=3,
        )
        return False
    return True


def kernel_functions(engine: str, module: types.ModuleType = kernel) -> dict[str, Callable]:
    """A kernel module's functions by name (its FUNCTIONS): as written ("interpreted") or
    compiled by numba. The kernels: ``kernel`` (settlement), ``checks`` (claim checks) and
    ``rows`` (ordering and moving rows)."""
    if engine == "interpreted":
        return _interpreted(module.__name__)
    with _compiling:  # (made once, also when a background load is under way)
        return _compiled(module.__name__)


_compiling = threading.Lock()


def load_in_background() -> None:
    """Import numba and make the compiled kernels in a thread, for a caller about to read a
    large batch: Arrow reads a file in its own threads, which hide most of numba's import."""

    def load() -> None:
        if numba_available():
            for module in (kernel, checks, rows):
                kernel_functions("compiled", module)

    threading.Thread(target=load, name="medcalc-load-kernels", daemon=True).start()


_MODULES = {m.__name__: m for m in (kernel, checks, rows)}


@functools.cache
def _interpreted(name: str) -> dict[str, Callable]:
    module = _MODULES[name]
    return {name: getattr(module, name) for name in module.FUNCTIONS}


@functools.cache
def _compiled(name: str) -> dict[str, Callable]:
    """A kernel module's functions compiled, with those of the modules it calls (its CALLS,
    compiled first, each in a copy of its own globals in which the kernel functions it names
    are the compiled ones)."""
    import numba

    entry = _MODULES[name]
    modules = [*getattr(entry, "CALLS", ()), entry]
    done: dict[int, Callable] = {}  # id(the function as written) -> compiled
    # numba caches a function by its own source file only: the loop, into which the layers'
    # functions are inlined, is named after all of its modules' sources, so that a change to any
    # of them compiles it again instead of reading a stale cache
    stamp = _sources_stamp(modules)
    for module in modules:
        shared = dict(vars(module))  # the module's globals: constants, numpy, and the functions
        for key, value in shared.items():
            if id(value) in done:
                shared[key] = done[id(value)]
        for function in module.FUNCTIONS:
            original = getattr(module, function)
            if id(original) in done:  # (a function another module already compiled, imported here)
                shared[function] = done[id(original)]
                continue
            copy = types.FunctionType(original.__code__, shared, function, original.__defaults__)
            # the cache is keyed by module, name and source file: the copy is the original to it
            copy.__module__, copy.__qualname__ = original.__module__, original.__qualname__
            last = module is entry and function == entry.FUNCTIONS[-1]
            if last and len(modules) > 1:
                copy.__qualname__ = f"{original.__qualname__}_{stamp}"
            # The kernel's callees are inlined into its loop (and the checks' into theirs), and no
            # reference counts are kept: the kernel allocates nothing, and counting every array
            # passed to a layer for every row (atomic increments) cost more than the arithmetic.
            inline = "always" if entry in (kernel, checks) and not last else "never"
            compile_ = numba.njit  # (its stubs do not name _nrt, a switch of numba's own)
            shared[function] = done[id(original)] = compile_(  # type: ignore[call-overload]
                copy, nogil=True, cache=True, inline=inline, _nrt=False
            )
    return {function: done[id(getattr(entry, function))] for function in entry.FUNCTIONS}


def _sources_stamp(modules: list[types.ModuleType]) -> str:
    """A short digest of the source files of ``modules`` and of the modules their functions come from."""
    files = sorted(
        {m.__file__ for m in modules if m.__file__}
        | {getattr(m, f).__code__.co_filename for m in modules for f in m.FUNCTIONS}
    )
    digest = hashlib.blake2b(digest_size=6)
    for file in files:
        digest.update(Path(file).read_bytes())
    return digest.hexdigest()


def in_ranges(function: Callable, rows: int, threads: int, args: tuple, per_row: tuple[int, ...]) -> list:
    """``function(*args)`` on ``threads`` ranges of the rows at once, each with the arguments at
    positions ``per_row`` cut to its range (an array, or each full-length column of a named tuple of
    columns); the results of the ranges, in order.

    For the compiled passes whose rows are independent (checks, keys, lookups): they release
    the interpreter lock, so the ranges run on every core. Small batches run in one piece.
    """
    if threads <= 1 or rows < SPLIT_ROWS:
        return [function(*args)]
    from concurrent.futures import ThreadPoolExecutor

    bounds = [rows * k // threads for k in range(threads + 1)]

    def run(k: int):
        cut = list(args)
        for i in per_row:
            cut[i] = _cut(args[i], rows, bounds[k], bounds[k + 1])
        return function(*cut)

    with ThreadPoolExecutor(threads - 1) as pool:  # (a range's error is raised here, not lost)
        later = [pool.submit(run, k) for k in range(1, threads)]
        first = run(0)
        return [first] + [f.result() for f in later]


def _cut(value: Any, rows: int, start: int, stop: int) -> Any:
    """Rows ``start:stop`` of a per-row argument: an array, or a bundle of columns (a named tuple),
    each of its columns of ``rows`` rows cut (one of length 0, not given, stays as it is)."""
    if isinstance(value, tuple):
        return type(value)(*(_cut(column, rows, start, stop) if len(column) == rows else column for column in value))
    return value[start:stop]


def low_high(value_range: Callable, rows: np.ndarray, values: np.ndarray, threads: int) -> tuple[int, int]:
    """(lowest, highest) of values[rows] by ``value_range`` (rows.value_range, compiled or not),
    ranges of the rows scanned at once."""
    ranges = in_ranges(value_range, len(rows), threads, (rows, values), (0,))
    return min(int(low) for low, _ in ranges), max(int(high) for _, high in ranges)
