"""Errors of the web API as JSON: which HTTP status each medcalc error is, and its body.

The message is the CLI's (``str`` of the same exception, without ``medcalc: error:``), so a
desk sees the same words in the page, the API and the terminal. A bad claim is 422 and names
its field; an unknown policy is 404 with the closest ids; an internal error is 500 with one
line, never a stack trace.
"""

from __future__ import annotations

from typing import Any

from ..errors import ClaimError, MedcalcError, PolicyError, PolicyNotFound, UnitNotStated

__all__ = ["ApiError", "api_error"]


class ApiError(Exception):
    """An answer other than 200: its status, the message, the field at fault and any more keys."""

    def __init__(self, status: int, message: str, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.field, self.extra = status, message, field, extra

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "error": self.message}
        if self.field is not None:
            out["field"] = self.field
        out.update(self.extra)
        return out


def api_error(exc: BaseException) -> ApiError:
    """The ApiError for any exception a request raised."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ClaimError):
        return ApiError(422, str(exc), exc.field)
    if isinstance(exc, UnitNotStated):  # said with the request's own parameter, amounts=fen|yuan
        return ApiError(422, str(exc), exc.column)
    if isinstance(exc, PolicyNotFound):
        return ApiError(404, str(exc))
    if isinstance(exc, PolicyError):  # a broken file in the server's policy folders: not the caller's fault
        return ApiError(500, str(exc))
    if isinstance(exc, MedcalcError):
        return ApiError(422, str(exc))
    return ApiError(500, f"internal error: {type(exc).__name__}: {exc}")
