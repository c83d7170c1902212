"""Request size limits, as ASGI middleware: a body over its limit is answered 413 in JSON.

Two limits: JSON requests (a quote, a person's year) and uploads (``POST /score``). A request
that declares a longer ``Content-Length`` is refused before any of it is read; one that does
not (chunked) is counted as it streams and refused as soon as it passes the limit, so no
request makes the server hold or spool more than the limit.
"""

from __future__ import annotations

import json

import attrs

__all__ = ["Limits", "BodyLimit", "TooLarge", "too_large_body"]


@attrs.frozen
class Limits:
    """Bytes a request body may have: ``request`` for JSON, ``upload`` for the paths in ``upload_paths``."""

    request: int = 1 << 20  # 1 MiB: thousands of claims
    upload: int = 32 << 20  # 32 MiB: about 500 000 rows of CSV
    upload_paths: tuple[str, ...] = ("/score",)

    def for_path(self, path: str) -> int:
        return self.upload if path in self.upload_paths else self.request


class TooLarge(Exception):
    """A request body passed its limit while it was read."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 and n % (1 << 20) == 0 else f"{n} bytes"


def too_large_body(limit: int) -> dict[str, object]:
    return {"status": 413, "error": f"request body over the limit of {_size(limit)} ({limit} bytes)",
            "limit": limit}


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
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
