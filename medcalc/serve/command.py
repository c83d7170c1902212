"""The ``medcalc serve`` command: start the web API and the quote page under uvicorn.

Registered by the CLI (``add_serve_command``); FastAPI and uvicorn are imported only when
the command runs, so the CLI and ``import medcalc`` work without the ``serve`` extra, and the
command says how to install it. It binds to 127.0.0.1 unless told otherwise, and warns when
told otherwise: the API has no authentication. Its settings reach every worker process through
the environment (``LIMITS_VARIABLE``, ``ACCESS_VARIABLE``), among them the read limits of
uploads (``--limit NAME=VALUE``, as ``medcalc score`` takes it, over ``SERVE_READ_LIMITS``); the read
deadlines are in the HTTP protocol it gives uvicorn (``deadlines``).
"""

from __future__ import annotations

import argparse
import ipaddress
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


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a number of seconds (got {text!r})") from None
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"more than 0 seconds and at most a day (got {text!r})")
    return value


def _positive_count(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"a whole number, at least 1 (got {text!r})")
    return int(text)


def _origin(text: str) -> str:
    from .access import check_origin

    try:
        return check_origin(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_serve_command(sub) -> argparse.ArgumentParser:
    """Register ``serve`` on the CLI's subparsers; the CLI adds its shared options (``--policies``)
    to the parser returned."""
    from .limits import Limits

    defaults = Limits()
    serve = sub.add_parser(
        "serve",
        help='a JSON web API and a quote page (pip install "medcalc[serve]")',
        description="Serve the JSON API (POST /quote, POST /score, GET /policies …, the OpenAPI schema at "
        "/openapi.json and its docs at /docs) and the quote page at /, on the same engine and "
        "policies as the CLI.",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; there is no authentication)",
    )
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 for any free port)")
    serve.add_argument(
        "--max-upload",
        dest="max_upload",
        type=_positive_size(1 << 20, "max-upload"),
        default=defaults.upload,
        metavar="MiB",
        help=f"largest upload to POST /score, in MiB (default {defaults.upload >> 20})",
    )
    serve.add_argument(
        "--max-request",
        dest="max_request",
        type=_positive_size(1 << 10, "max-request"),
        default=defaults.request,
        metavar="KiB",
        help=f"largest JSON request body, in KiB (default {defaults.request >> 10})",
    )
    serve.add_argument(
        "--max-listed-rows",
        dest="listed_rows",
        type=_positive_count,
        default=defaults.listed_rows,
        metavar="N",
        help=f"most settled rows, and most rejects, a POST /score answer lists (default "
        f"{defaults.listed_rows}; the summary counts every row)",
    )
    serve.add_argument(
        "--header-timeout",
        dest="header_timeout",
        type=_positive_seconds,
        default=defaults.header_timeout,
        metavar="SECONDS",
        help=f"close a connection that has not sent a whole request head this long after it opened "
        f"or after its last answer (default {defaults.header_timeout:g})",
    )
    serve.add_argument(
        "--body-timeout",
        dest="body_timeout",
        type=_positive_seconds,
        default=defaults.body_timeout,
        metavar="SECONDS",
        help=f"answer 408 and close when a request body stops arriving this long (default {defaults.body_timeout:g})",
    )
    serve.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        dest="limits",
        help="change a limit on what an uploaded file may hold, as score --limit does (the server's "
        "own defaults are tighter: max_columns=200, max_sheet_cells=2000000 …; see the README); "
        "repeat for several",
    )
    serve.add_argument(
        "--allowed-host",
        dest="allowed_hosts",
        action="append",
        default=[],
        metavar="NAME",
        help="a Host name requests may give beside localhost, 127.0.0.1, [::1] and --host "
        "(repeatable; * allows any: no defence against DNS rebinding)",
    )
    serve.add_argument(
        "--cors-origin",
        dest="cors_origins",
        action="append",
        default=[],
        type=_origin,
        metavar="ORIGIN",
        help="a web origin whose pages may call the API, as https://desk.example (repeatable; default none)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (default 1; one per core serves the most quotes per second)",
    )
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
    from ..batch.limits import parse_override
    from ..policy.registry import list_policies
    from .access import ACCESS_VARIABLE, Access, host_name, listen_hosts
    from .deadlines import PROTOCOL
    from .limits import LIMITS_VARIABLE, SERVE_READ_LIMITS, Limits

    read = SERVE_READ_LIMITS
    for text in args.limits:  # a bad NAME=VALUE exits 2 before anything starts
        read = parse_override(text, read)
    if not 0 <= args.port <= 65535:
        raise MedcalcError(f"--port must be between 0 and 65535 (got {args.port})")
    if args.workers < 1:
        raise MedcalcError(f"--workers must be at least 1 (got {args.workers})")
    policies = list_policies()  # every configured policy loads now: a broken folder stops here, not on a request
    if not _loopback(args.host):
        print(
            f"medcalc: warning: serving on {args.host}: reachable from other machines, with no authentication",
            file=sys.stderr,
        )
    hosts = listen_hosts(args.host) + tuple(dict.fromkeys(h if h == "*" else host_name(h) for h in args.allowed_hosts))
    if "*" in hosts:
        print(
            "medcalc: warning: --allowed-host '*': requests naming any host are answered, so a web page can reach "
            "this server by DNS rebinding",
            file=sys.stderr,
        )
    elif hosts == listen_hosts(args.host) and host_name(args.host) in ("0.0.0.0", "[::]"):
        print(
            f"medcalc: note: listening on {args.host}, requests must still name localhost, 127.0.0.1 or [::1] as "
            f"their Host: give the names clients use with --allowed-host",
            file=sys.stderr,
        )
    limits = Limits(
        request=args.max_request,
        upload=args.max_upload,
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        listed_rows=args.listed_rows,
        read=read,
    )
    # each worker makes its app from the environment (the --policies folders are in MEDCALC_POLICIES already)
    os.environ[LIMITS_VARIABLE] = limits.to_environment()
    os.environ[ACCESS_VARIABLE] = Access(hosts=hosts, origins=tuple(dict.fromkeys(args.cors_origins))).to_environment()
    print(f"medcalc serve: {len(policies)} policies; the quote page at /, the API docs at /docs", file=sys.stderr)
    uvicorn.run(
        "medcalc.serve.app:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        access_log=args.access_log,
        server_header=False,
        http=PROTOCOL,
        ws="none",
    )
    return 0
