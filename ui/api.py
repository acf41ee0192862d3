"""Answer / Hit / index state -> HTTP: the FastAPI face of the one Assistant."""

from __future__ import annotations

import copy
import hmac
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from importlib.resources import files
from typing import Any

from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    HTTPException,
    Request,
    Security,
    UploadFile,
    status,
)
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from rag import Assistant, BuildInProgress, RagError, Rebuilder, Settings, Turn, catalog
from ui import models as m
from ui.guards import SameSiteGuard, trusted_hosts
from ui.limits import BodyLimit
from ui.shedding import LoadShedder
from ui.uploads import UploadRejected, delete_source, save_upload

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

# A client learns a RagError's `public` sentence, never its message (it can hold paths).
_STATUS_OF: tuple[tuple[type[RagError], int], ...] = ((BuildInProgress, 409),)


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
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


DOCS_ASSETS = "/docs-assets"
ANSWERING = ("/ask", "/search")  # the routes that cost CPU, shed under load


def create_app(
    assistant: Assistant, rebuilder: Rebuilder, lifespan: Lifespan | None = None
) -> FastAPI:
    """Build the API over one Assistant and one Rebuilder."""
    settings = assistant.settings
    app = FastAPI(
        title="rag",
        summary="Answers only with verbatim, cited quotes from its sources.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    # Starlette runs the middleware added last first: Host and Origin, then size, then load.
    app.add_middleware(LoadShedder, paths=ANSWERING, limit=settings.max_answers_in_flight)
    app.add_middleware(BodyLimit, upload_max_bytes=settings.upload_max_bytes)
    hosts = trusted_hosts(settings.host, settings.allowed_hosts)
    app.add_middleware(SameSiteGuard, hosts=hosts)
    _add_error_handlers(app)
    key_header = APIKeyHeader(name="X-API-Key", auto_error=False)

    def require_key(key: str | None = Security(key_header)) -> None:
        expected = settings.api_key
        if expected and not hmac.compare_digest((key or "").encode(), expected.encode()):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or wrong X-API-Key")

    public = APIRouter()
    guarded = APIRouter(dependencies=[Depends(require_key)])

    @public.get(
        "/health",
        response_model=m.Health,
        responses={
            403: {"model": m.ErrorOut, "description": "A Host the server does not answer to."},
            503: {"model": m.Health, "description": "No usable index yet."},
        },
    )
    def health() -> JSONResponse:
        body = m.Health(
            ready=assistant.ready,
            generation=assistant.generation,
            model_id=assistant.embedder.model_id,
            rebuild=rebuilder.status().state,
            problems=[m.without_paths(p) for p in assistant.problems],
        )
        code = status.HTTP_200_OK if body.ready else status.HTTP_503_SERVICE_UNAVAILABLE
        return JSONResponse(body.model_dump(), status_code=code)

    @guarded.get("/openapi.json", include_in_schema=False)
    def openapi() -> JSONResponse:
        return JSONResponse(_documented(app, settings))

    # Swagger UI's assets come from the fastapi-offline package: no CDN, so /docs works offline.
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(files("fastapi_offline") / "static")))

    @guarded.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="rag API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
        )

    @guarded.post("/ask", response_model=m.AskResponse, responses=_errors(413, 422, 503))
    def ask(body: m.AskRequest) -> m.AskResponse:
        question = _checked(body.question, settings.max_question_chars)
        history = [Turn(turn.role, turn.content) for turn in body.history]
        return m.AskResponse.of(assistant.ask(question, history, body.top_k))

    @guarded.post("/search", response_model=m.SearchResponse, responses=_errors(413, 422, 503))
    def search(body: m.SearchRequest) -> m.SearchResponse:
        query = _checked(body.query, settings.max_question_chars)
        generation = assistant.generation
        hits = assistant.search(query, body.k or settings.top_k)
        return m.SearchResponse(
            query=query, generation=generation, hits=[m.HitOut.of(h) for h in hits]
        )

    _add_source_routes(guarded, assistant)
    _add_index_routes(guarded, assistant, rebuilder)
    app.include_router(public)
    app.include_router(guarded)
    return app


def _add_source_routes(router: APIRouter, assistant: Assistant) -> None:
    settings = assistant.settings

    @router.get("/sources", response_model=list[m.SourceSummary], responses=_errors(503))
    def list_sources() -> list[m.SourceSummary]:
        store = assistant.store if assistant.ready else None  # one generation for the listing
        return [m.SourceSummary.of(entry) for entry in catalog(settings, store)]

    @router.get(
        "/sources/{source_id:path}", response_model=m.SourceDetail, responses=_errors(404, 422, 503)
    )
    def get_source(source_id: str) -> m.SourceDetail:
        store = assistant.store
        source = store.sources.get(source_id)
        if source is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such source in the index")
        return m.SourceDetail(
            id=source.id,
            title=source.title,
            sha256=source.sha256,
            file_sha256=source.file_sha256,
            chunks=store.chunk_count(source.id),
            generation=store.generation,
            text=source.text,
        )

    @router.post(
        "/sources",
        status_code=status.HTTP_201_CREATED,
        response_model=m.Uploaded,
        responses=_errors(413, 422, 503),
    )
    async def upload_source(file: UploadFile) -> m.Uploaded:
        data = await file.read(settings.upload_max_bytes + 1)
        if len(data) > settings.upload_max_bytes:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "the upload is too large")
        try:  # writing, fsyncing and parsing (a PDF) block: keep them off the event loop
            saved = await run_in_threadpool(
                save_upload,
                settings.source_dirs[0],
                file.filename or "",
                data,
                settings.upload_max_bytes,
            )
        except UploadRejected as err:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err
        return m.Uploaded(id=saved.id, size=saved.size, file_sha256=saved.file_sha256)

    @router.delete(
        "/sources/{source_id:path}", response_model=m.Deleted, responses=_errors(404, 422)
    )
    def remove_source(source_id: str) -> m.Deleted:
        try:
            delete_source(settings.source_dirs, source_id)
        except UploadRejected as err:  # an id that cannot name a source names none: 404
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from err
        except FileNotFoundError as err:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such source file") from err
        return m.Deleted(id=source_id)


def _add_index_routes(router: APIRouter, assistant: Assistant, rebuilder: Rebuilder) -> None:
    @router.get("/index", response_model=m.IndexState, responses=_errors())
    def index_state() -> m.IndexState:
        return m.IndexState.of(rebuilder.status(), assistant.generation)

    @router.post(
        "/index",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=m.IndexState,
        responses=_errors(409),
    )
    def start_rebuild() -> m.IndexState:
        if not rebuilder.start():
            raise BuildInProgress("a rebuild is already running")
        return m.IndexState.of(rebuilder.status(), assistant.generation)


def _documented(app: FastAPI, settings: Settings) -> dict[str, Any]:
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


def _checked(text: str, max_chars: int) -> str:
    """Return the question stripped; its length counts as sent, as the OpenAPI document says."""
    question = text.strip()
    if not question:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "the question is empty")
    if len(text) > max_chars:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"the question is longer than {max_chars} characters",
        )
    return question


def _add_error_handlers(app: FastAPI) -> None:
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
