"""The ``medcalc serve`` command: start the web API and the quote page under uvicorn.

Registered by the CLI (``add_serve_command``); FastAPI and uvicorn are imported only when
the command runs, so the CLI and ``import medcalc`` work without the ``serve`` extra, and the
command says how to install it. It binds to 127.0.0.1 unless told otherwise, and warns when
told otherwise: the API has no authentication.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys

from ..errors import MedcalcError

__all__ = ["add_serve_command", "INSTALL_HINT"]

INSTALL_HINT = 'pip install "medcalc[serve]"'


def _positive_size(unit: int, name: str):
    def convert(text: str) -> int:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: a number (got {text!r})") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{name}: more than 0 (got {text!r})")
        return int(value * unit)
    convert.__name__ = name
    return convert


def add_serve_command(sub) -> argparse.ArgumentParser:
    """Register ``serve`` on the CLI's subparsers; the CLI adds its shared options (``--policies``)
    to the parser returned."""
    from .limits import Limits

    defaults = Limits()
    serve = sub.add_parser(
        "serve", help="a JSON web API and a quote page (pip install \"medcalc[serve]\")",
        description="Serve the JSON API (POST /quote, POST /score, GET /policies …, the OpenAPI schema at "
                    "/openapi.json and its docs at /docs) and the quote page at /, on the same engine and "
                    "policies as the CLI.")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this machine only; there is no authentication)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 for any free port)")
    serve.add_argument("--max-upload", dest="max_upload", type=_positive_size(1 << 20, "max-upload"),
                       default=defaults.upload, metavar="MiB",
                       help=f"largest upload to POST /score, in MiB (default {defaults.upload >> 20})")
    serve.add_argument("--max-request", dest="max_request", type=_positive_size(1 << 10, "max-request"),
                       default=defaults.request, metavar="KiB",
                       help=f"largest JSON request body, in KiB (default {defaults.request >> 10})")
    serve.add_argument("--workers", type=int, default=1,
                       help="worker processes (default 1; one per core serves the most quotes per second)")
    serve.add_argument("--access-log", dest="access_log", action="store_true", help="log every request")
    serve.set_defaults(run=_serve)
    return serve


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _serve(args: argparse.Namespace) -> int:
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError as exc:
        raise MedcalcError(f"serve needs the web stack ({exc.name} is not installed): {INSTALL_HINT}") from None
    from ..policy.registry import list_policies
    from .app import LIMITS_VARIABLE

    if not 0 <= args.port <= 65535:
        raise MedcalcError(f"--port must be between 0 and 65535 (got {args.port})")
    if args.workers < 1:
        raise MedcalcError(f"--workers must be at least 1 (got {args.workers})")
    policies = list_policies()  # every configured policy loads now: a broken folder stops here, not on a request
    if not _loopback(args.host):
        print(f"medcalc: warning: serving on {args.host}: reachable from other machines, with no authentication",
              file=sys.stderr)
    # each worker makes its app from the environment (the --policies folders are in MEDCALC_POLICIES already)
    os.environ[LIMITS_VARIABLE] = json.dumps({"request": args.max_request, "upload": args.max_upload})
    print(f"medcalc serve: {len(policies)} policies; the quote page at /, the API docs at /docs", file=sys.stderr)
    uvicorn.run("medcalc.serve.app:app_from_environment", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level="info", access_log=args.access_log, server_header=False)
    return 0
