"""The server's limits, and the request size limits as ASGI middleware: a body over its limit is 413 in JSON.

Two size limits: JSON requests (a quote, a person's year) and uploads (``POST /score``). A request
that declares a longer ``Content-Length`` is refused before any of it is read; one that does
not (chunked) is counted as it streams and refused as soon as it passes the limit, so no
request makes the server hold or spool more than the limit.

``Limits`` also holds the read deadlines (enforced by ``deadlines``, in the HTTP protocol), how
many rows a ``POST /score`` answer lists, and the read limits an upload is read under (``read``:
``SERVE_READ_LIMITS`` unless ``medcalc serve --limit`` changes one). ``medcalc serve`` hands them
to every worker process in the environment variable ``LIMITS_VARIABLE``.
"""

from __future__ import annotations

import json

import attrs

from ..batch.limits import DEFAULT_LIMITS, ReadLimits

__all__ = ["Limits", "BodyLimit", "TooLarge", "too_large_body", "LIMITS_VARIABLE", "SERVE_READ_LIMITS"]

#: How ``medcalc serve`` hands its limits to each worker process: ``Limits`` as JSON.
LIMITS_VARIABLE = "MEDCALC_SERVE_LIMITS"

#: What an upload to ``POST /score`` may hold: the CLI's limits, tightened for a service that reads
#: strangers' files (a whole sheet is some 160 MB at the Excel reader's peak, not 1.6 GB). Cells keep
#: the CLI's ``max_cell_chars``, so that a row is rejected for the same cell either way.
SERVE_READ_LIMITS = DEFAULT_LIMITS.evolve(
    max_sheet_cells=2_000_000,
    max_columns=200,
    max_sheet_bytes=256 << 20,
    max_shared_strings_bytes=64 << 20,
    max_xlsx_bytes=512 << 20,
)
_READ_NAMES = tuple(a.name for a in attrs.fields(ReadLimits))


@attrs.frozen
class Limits:
    """Bytes a request body may have (``request`` for JSON, ``upload`` for the paths in ``upload_paths``),
    seconds a client may take to send a request head and between pieces of a body, how many settled
    rows and rejects a ``POST /score`` answer lists (the summary counts them all), and what an uploaded
    file may hold (``read``)."""

    request: int = 1 << 20  # 1 MiB: thousands of claims
    upload: int = 32 << 20  # 32 MiB: about 500 000 rows of CSV
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    listed_rows: int = 1000  # about 250 KB of JSON: an answer stays small whatever the upload
    upload_paths: tuple[str, ...] = ("/score",)
    read: ReadLimits = SERVE_READ_LIMITS

    def for_path(self, path: str) -> int:
        return self.upload if path in self.upload_paths else self.request

    def to_environment(self) -> str:
        return json.dumps(
            {
                "request": self.request,
                "upload": self.upload,
                "header_timeout": self.header_timeout,
                "body_timeout": self.body_timeout,
                "listed_rows": self.listed_rows,
                "read": attrs.asdict(self.read),
            }
        )

    @classmethod
    def from_environment(cls, text: str | None) -> Limits:
        """The limits of ``to_environment`` (keys missing or unknown: the defaults)."""
        given = json.loads(text or "{}")
        types = {"request": int, "upload": int, "header_timeout": float, "body_timeout": float, "listed_rows": int}
        read = SERVE_READ_LIMITS.evolve(**{k: int(v) for k, v in (given.get("read") or {}).items() if k in _READ_NAMES})
        return cls(**{k: types[k](v) for k, v in given.items() if k in types}, read=read)


class TooLarge(Exception):
    """A request body passed its limit while it was read."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 and n % (1 << 20) == 0 else f"{n} bytes"


def too_large_body(limit: int) -> dict[str, object]:
    return {"status": 413, "error": f"request body over the limit of {_size(limit)} ({limit} bytes)", "limit": limit}


class BodyLimit:
    """ASGI middleware enforcing ``Limits`` on every HTTP request."""

    def __init__(self, app, limits: Limits) -> None:
        self.app, self.limits = app, limits

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.for_path(scope.get("path", ""))
        declared = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), None)
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await _refuse(send, limit)
            return
        received = 0
        started = False

        async def counted():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise TooLarge(limit)
            return message

        async def watched(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except TooLarge as exc:
            if started:  # (never: nothing answers before it has read its request)
                raise
            await _refuse(send, exc.limit)


async def _refuse(send, limit: int) -> None:
    body = json.dumps(too_large_body(limit), ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
