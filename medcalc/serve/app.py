"""The web application: FastAPI routes over ``quotes``, ``catalogue`` and ``uploads``.

Only HTTP lives here — reading bodies and parameters, streaming an upload, answering JSON
and turning every error into the JSON of ``problems`` (no stack trace reaches a caller).
In front of the routes: the Host allow-list and the CORS policy (``access``), and the body size
limits (``limits``). Every answer is computed by the plain-Python modules beside this one.

Routes: ``POST /quote``, ``POST /score``, ``GET /policies``, ``GET /policies/{id}``,
``GET /policies/{id}/on/{date}``, ``GET /regions/{region}/on/{date}``, ``GET /health``, the
quote page at ``/`` (with ``/static/…``), the OpenAPI schema at ``/openapi.json`` and its docs
page at ``/docs`` (served by the package: no script or style from any other host).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParameter
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from .. import __version__
from ..errors import MedcalcError
from . import catalogue
from .access import ACCESS_VARIABLE, Access, CrossOrigin, HostCheck
from .limits import LIMITS_VARIABLE, BodyLimit, Limits
from .problems import ApiError, api_error
from .quotes import quote, read_json
from .schema import MODELS, ErrorOut, ScoreOut, SequenceOut, SettlementOut
from .uploads import CONTENT_TYPES, Spool, detect_format, score, upload_name

__all__ = ["create_app", "app_from_environment", "LIMITS_VARIABLE", "ACCESS_VARIABLE", "STATIC"]

STATIC = Path(__file__).with_name("static")
_LOG = logging.getLogger("medcalc.serve")
#: A quote of more claims than this is settled on a worker thread, so that it does not hold up other requests.
_INLINE_CLAIMS = 8
#: The page's and docs' headers: scripts and styles from this server only, never framed elsewhere.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

_DESCRIPTION = """What China's basic medical insurance pays on a claim, exact to the fen, with the policy sentence
behind each number. Amounts are yuan strings with two decimals; errors are JSON `{"status", "error", "field"}`
with the messages of the `medcalc` command line."""


_ID = PathParameter(description="policy id, as GET /policies lists them (never a file path)")
_DAY = PathParameter(description="a date: 2025-03-01, 20250301, 2025/3/1")


def _errors(status: int, *more: int) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {422: {"model": ErrorOut, "description": "a bad request: the field and why"}}
    for code in (status, *more):
        out[code] = {
            "model": ErrorOut,
            "description": {
                404: "no such policy (with the closest ids) or region",
                413: "the body, or the uploaded file's shape, is over a limit",
            }.get(code, "error"),
        }
    return out


def create_app(limits: Limits | None = None, access: Access | None = None) -> FastAPI:
    """The application; policies come from the folders configured for medcalc (``MEDCALC_POLICIES`` and the
    shipped ones).
    By default it answers Host names of this machine only (``access.LOCAL_HOSTS``) and no other origin."""
    limits = limits or Limits()
    access = access or Access()
    app = FastAPI(
        title="medcalc",
        version=__version__,
        description=_DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.add_middleware(BodyLimit, limits=limits)  # the last added runs first: Host, then CORS, then sizes
    app.add_middleware(CrossOrigin, access=access)
    app.add_middleware(HostCheck, access=access)
    _handlers(app)

    @app.get("/", include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"), headers=_PAGE_HEADERS)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        from .docs import docs_page

        return HTMLResponse(docs_page(app.openapi()), headers=_PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    async def icon() -> FileResponse:  # what browsers ask for, whatever the page says
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    @app.get("/health", summary="the server is up", tags=["server"])
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.post(
        "/quote",
        summary="settle one claim, or a person's claims of the year in order",
        tags=["quote"],
        response_model=None,
        responses={
            200: {
                "model": SettlementOut | SequenceOut,
                "description": "the settlement (one claim) or the settlements (claims), as Settlement.to_dict()",
            },
            **_errors(404, 413),
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/QuoteRequest"}}},
            }
        },
    )
    async def post_quote(request: Request) -> JSONResponse:
        data = read_json(await request.body())
        many = sum(len(v) for v in (data.get("claims"), data.get("history")) if isinstance(v, list))
        result = quote(data) if many <= _INLINE_CLAIMS else await run_in_threadpool(quote, data)
        return JSONResponse(result)

    @app.get(
        "/policies", summary="every policy: id, region, aliases, scheme, tier, dates covered, levels", tags=["policies"]
    )
    async def get_policies() -> JSONResponse:
        return JSONResponse(await run_in_threadpool(catalogue.index))

    @app.get(
        "/policies/{policy_id}",
        summary="one policy: rules with every version, levels, services, sources, quotes",
        tags=["policies"],
        responses=_errors(404),
    )
    async def get_policy(policy_id: str = _ID) -> JSONResponse:
        return JSONResponse(await run_in_threadpool(catalogue.detail, policy_id))

    @app.get(
        "/policies/{policy_id}/on/{day}",
        summary="the rules in force on a day, and what a claim may choose then",
        tags=["policies"],
        responses=_errors(404),
    )
    async def get_policy_on(policy_id: str = _ID, day: str = _DAY) -> JSONResponse:
        return JSONResponse(await run_in_threadpool(catalogue.on_day, policy_id, day))

    @app.get(
        "/regions/{region}/on/{day}",
        summary="the policy of a region in force on a day, as /policies/{id}/on/{day}",
        tags=["policies"],
        responses=_errors(404),
    )
    async def get_region_on(
        region: str = PathParameter(description="Chinese, short or pinyin name: 九江, 淮北市, huaibei"),
        day: str = _DAY,
        scheme: str | None = Query(None, description="residents 居民 or employees 职工"),
        tier: str | None = Query(None, description="contribution tier, e.g. 一档"),
    ) -> JSONResponse:
        return JSONResponse(await run_in_threadpool(catalogue.region_on, region, day, scheme, tier))

    documented = dict.fromkeys(CONTENT_TYPES.values())  # the first content type of each format
    upload_types: dict[str, dict[str, Any]] = {
        t: {"schema": {"type": "string", "format": "binary"}}
        for t, fmt in CONTENT_TYPES.items()
        if documented[fmt] is None and not documented.update({fmt: t})
    }
    upload_types["multipart/form-data"] = {
        "schema": {
            "type": "object",
            "required": ["file"],
            "properties": {
                "file": {
                    "type": "string",
                    "format": "binary",
                    "description": "the claims file (.csv, .jsonl, .parquet, .xlsx)",
                }
            },
        }
    }

    @app.post(
        "/score",
        summary="settle an uploaded claims file: CSV, JSON lines, Parquet or .xlsx",
        tags=["score"],
        response_model=None,
        responses={
            200: {
                "model": ScoreOut,
                "description": f"the summary, and the first {limits.listed_rows} settled rows and rejects",
            },
            **_errors(404, 413),
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": upload_types,
                "description": f"the file as the body, or the 'file' part of a form; at most {limits.upload} bytes",
            }
        },
    )
    async def post_score(
        request: Request,
        policy: str | None = Query(
            None, description="policy id for every row (else each row's policy or region column)"
        ),
        region: str | None = Query(None, description="instead of policy: a region, with on"),
        on: str | None = Query(None, description="with region: the date the policy must cover"),
        scheme: str | None = Query(None, description="with region: residents 居民 or employees 职工"),
        tier: str | None = Query(None, description="with region: contribution tier"),
        amounts: Literal["fen", "yuan"] | None = Query(
            None, description="unit of integer amount columns under medcalc's names (Parquet)"
        ),
        sheet: str | None = Query(None, description="the sheet of an .xlsx file (default: the first)"),
        encoding: str | None = Query(None, description="text encoding (default: UTF-8 or GB18030, detected)"),
        names: Literal["medcalc", "national", "chinese"] = Query("medcalc", description="result column names"),
        format: Literal["csv", "jsonl", "parquet", "xlsx"] | None = Query(
            None, description="the upload's format (default: by file name, content type, or sniffed)"
        ),
    ) -> JSONResponse:
        options = {
            "policy": policy,
            "region": region,
            "on": on,
            "scheme": scheme,
            "tier": tier,
            "amounts": amounts,
            "sheet": sheet,
            "encoding": encoding,
            "names": names,
        }
        spool = Spool(limits.upload)
        content_type, filename, form = request.headers.get("content-type", ""), None, None
        try:
            if content_type.startswith("multipart/form-data"):
                form = await request.form(max_files=1, max_fields=8)
                part = form.get("file")
                if part is None or isinstance(part, str):
                    raise ApiError(422, "file: required: the claims file as the form's 'file' part", "file")
                filename, content_type = part.filename, part.content_type or ""
                await run_in_threadpool(spool.copy_from, part.file)
            else:
                async for chunk in request.stream():
                    spool.write(chunk)
            spool.finish()
            if not spool.size:
                raise ApiError(422, "file: required: the upload is empty", "file")
            fmt = detect_format(format, filename, content_type, spool.head)
            return JSONResponse(
                await run_in_threadpool(
                    score,
                    spool.path,
                    fmt,
                    options,
                    listed=limits.listed_rows,
                    limits=limits.read,
                    name=upload_name(filename),
                )
            )
        finally:
            if form is not None:
                await form.close()
            spool.close()

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            _, defs = models_json_schema(
                [(m, "validation") for m in MODELS], ref_template="#/components/schemas/{model}"
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def app_from_environment() -> FastAPI:
    """The application of one ``medcalc serve`` worker: limits from ``MEDCALC_SERVE_LIMITS``, Host names and
    origins from ``MEDCALC_SERVE_ACCESS``, and the policies loaded before the first request (each worker is a
    process of its own)."""
    import os

    from ..engine import pipeline  # noqa: F401  (the engine and numpy load now, not on the first quote)
    from ..policy.registry import list_policies

    limits = Limits.from_environment(os.environ.get(LIMITS_VARIABLE))
    access = Access.from_environment(os.environ.get(ACCESS_VARIABLE))
    list_policies()
    return create_app(limits, access)


def _handlers(app: FastAPI) -> None:
    """Every error as JSON: ApiError and medcalc's errors by ``problems``; routing and parameters; the rest 500."""

    def answer(error: ApiError) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status)

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> JSONResponse:
        return answer(exc)

    @app.exception_handler(MedcalcError)
    async def on_medcalc_error(request: Request, exc: MedcalcError) -> JSONResponse:
        error = api_error(exc)
        if error.status >= 500:
            _LOG.error("%s %s: %s", request.method, request.url.path, error.message)
        return answer(error)

    @app.exception_handler(ClientDisconnect)
    async def on_disconnect(request: Request, exc: ClientDisconnect) -> Response:
        return Response(status_code=400)  # nobody to answer: the client left, or its body stopped (deadlines)

    @app.exception_handler(RequestValidationError)
    async def on_bad_parameter(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = exc.errors()
        first = problems[0] if problems else {"loc": ("request",), "msg": "invalid"}
        field = str(first["loc"][-1])
        text = "; ".join(
            f"{e['loc'][-1]}: {e['msg']}" + (f" (got {e['input']!r})" if "input" in e else "") for e in problems
        )
        return answer(ApiError(422, text, field))

    @app.exception_handler(HTTPException)
    async def on_http_error(request: Request, exc: HTTPException) -> JSONResponse:
        text = {
            404: f"no such page or endpoint: {request.method} {request.url.path} (see /docs)",
            405: f"{request.method} is not allowed on {request.url.path} (see /docs)",
        }.get(exc.status_code, str(exc.detail))
        return JSONResponse(
            {"status": exc.status_code, "error": text},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def on_internal_error(request: Request, exc: Exception) -> JSONResponse:
        _LOG.exception("%s %s", request.method, request.url.path)  # the traceback goes to the server's log only
        return answer(api_error(exc))
