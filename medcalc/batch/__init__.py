"""Batch scoring: claims as columns, tables of claims, streams, claim files, Excel and Dask.

A table goes one way: a file is read into an Arrow table (``files``, ``excel``); ``tables``
turns its columns into codes and fen, ``columns.settle_arrays`` settles them with the engine,
and the results come back as a table; rejected rows beside them, with their reasons
(``reasons``). ``stream`` settles a file sorted by person part by part, ``dask`` partitions
it by person on a cluster. The names below are imported on first use (numpy, Arrow).
"""

#: Imported from their modules on first use: ``import medcalc.batch`` alone loads no engine.
_LAZY = {
    "BatchColumns": "columns",
    "ClaimArrays": "columns",
    "RESULT_COLUMNS": "columns",
    "settle_arrays": "columns",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["BatchColumns", "ClaimArrays", "RESULT_COLUMNS", "settle_arrays"]
