"""The index over HTTP: its state and progress, and starting a rebuild."""

from __future__ import annotations

from fastapi import APIRouter, status

from rag import Assistant, BuildInProgress, Rebuilder
from ui import models as m
from ui.errors import declared


def index_routes(assistant: Assistant, rebuilder: Rebuilder) -> APIRouter:
    """Return the routes under /index."""
    router = APIRouter()

    @router.get("/index", response_model=m.IndexState, responses=declared())
    def index_state() -> m.IndexState:
        return m.IndexState.of(rebuilder.status(), assistant.generation)

    @router.post(
        "/index",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=m.IndexState,
        responses=declared(409),
    )
    def start_rebuild() -> m.IndexState:
        if not rebuilder.start():
            raise BuildInProgress("a rebuild is already running")
        return m.IndexState.of(rebuilder.status(), assistant.generation)

    return router
