"""Errors -> HTTP: the error answers each route declares, and the handlers that give them."""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from rag import BuildInProgress, RagError, Settings
from ui import models as m

# A client learns a RagError's `public` sentence, never its message (it can hold paths).
_STATUS_OF: tuple[tuple[type[RagError], int], ...] = ((BuildInProgress, 409),)


def declared(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Declare the error answers of a route in the OpenAPI document."""
    reasons = {
        401: "The X-API-Key header is missing or wrong.",
        403: "Cross-site request, or a Host the server does not answer to.",
        404: "No such source.",
        409: "A rebuild is already running.",
        413: "The request body is too large.",
        422: "The request is malformed; `detail` says how.",
        503: "No usable index yet, or too many questions at once (see Retry-After).",
    }
    return {c: {"model": m.ErrorOut, "description": reasons[c]} for c in (401, 403, *codes)}


def documented(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """Return the OpenAPI document as configured: question length, and the key if one is set."""
    document = copy.deepcopy(app.openapi())
    schemas = document["components"]["schemas"]
    for name, field in (("AskRequest", "question"), ("SearchRequest", "query")):
        schemas[name]["properties"][field]["maxLength"] = settings.max_question_chars
    if not settings.api_key:  # no key: no route asks for one, and none answers 401
        document["components"].pop("securitySchemes", None)
        for operation in (op for ops in document["paths"].values() for op in ops.values()):
            operation.pop("security", None)
            operation["responses"].pop("401", None)
    return document


def add_error_handlers(app: FastAPI) -> None:
    """Answer every error with `{"detail": reason}`: no traceback, class name or path."""

    @app.exception_handler(RagError)
    async def rag_error(_request: Request, exc: RagError) -> JSONResponse:
        code = next((c for kind, c in _STATUS_OF if isinstance(exc, kind)), 503)
        return JSONResponse({"detail": exc.public}, status_code=code)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        reasons = [
            f"{'.'.join(str(p) for p in err['loc'] if p != 'body') or 'body'}: {err['msg']}"
            for err in exc.errors()
        ]
        return JSONResponse({"detail": "; ".join(reasons)[:1000]}, status_code=422)

    @app.exception_handler(Exception)
    async def server_error(_request: Request, _exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": "internal error"}, status_code=500)
