"""``medcalc serve``: a JSON web API and a quote page over the same engine as the CLI.

An optional extra (``pip install "medcalc[serve]"``: FastAPI under uvicorn). ``import medcalc``
never imports this package, and importing this package imports no part of the web stack: the
request logic (``quotes``, ``catalogue``, ``uploads``) is plain Python over medcalc's API, and
only ``app`` (the routes) and ``command`` (when the server starts) load FastAPI and uvicorn.
"""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str):
    if name == "create_app":  # loads FastAPI: only when asked for
        from .app import create_app

        return create_app
    raise AttributeError(f"module 'medcalc.serve' has no attribute {name!r}")
