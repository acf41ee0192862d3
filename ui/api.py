"""Answer / Hit / index state -> HTTP: the FastAPI face of the one Assistant.

`create_app` only wires: the guards, the error handlers and one router per resource
(ui/routes/), each a thin call into `rag`.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from importlib.resources import files

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Security, status
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles

from rag import Assistant, Rebuilder, Settings
from ui import models as m
from ui.errors import add_error_handlers, documented
from ui.guards import SameSiteGuard, trusted_hosts
from ui.limits import BodyLimit
from ui.routes.answers import answer_routes
from ui.routes.index import index_routes
from ui.routes.sources import source_routes
from ui.shedding import LoadShedder

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
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
    app.add_middleware(SameSiteGuard, hosts=trusted_hosts(settings.host, settings.allowed_hosts))
    add_error_handlers(app)
    # Swagger UI's assets come from the fastapi-offline package: no CDN, so /docs works offline.
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(files("fastapi_offline") / "static")))
    app.include_router(_health_route(assistant, rebuilder))
    key = [Depends(_key_check(settings))]
    for router in (
        _docs_routes(app, settings),
        answer_routes(assistant),
        source_routes(assistant, rebuilder),
        index_routes(assistant, rebuilder),
    ):
        app.include_router(router, dependencies=key)
    return app


def _key_check(settings: Settings) -> Callable[[str | None], None]:
    key_header = APIKeyHeader(name="X-API-Key", auto_error=False)

    def require_key(key: str | None = Security(key_header)) -> None:
        expected = settings.api_key
        if expected and not hmac.compare_digest((key or "").encode(), expected.encode()):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or wrong X-API-Key")

    return require_key


def _health_route(assistant: Assistant, rebuilder: Rebuilder) -> APIRouter:
    router = APIRouter()

    @router.get(
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

    return router


def _docs_routes(app: FastAPI, settings: Settings) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/openapi.json")
    def openapi() -> JSONResponse:
        return JSONResponse(documented(app, settings))

    @router.get("/docs")
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="rag API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
        )

    return router
