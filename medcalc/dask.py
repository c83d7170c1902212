"""Scoring on Dask: the public name of ``medcalc.batch.dask``, where the code lives."""

from .batch.dask import DaskScored, read_claims, score_dask, write_parquet

__all__ = ["DaskScored", "read_claims", "score_dask", "write_parquet"]
