"""Sources over HTTP: list, read, upload and delete the files the index is built from."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, UploadFile, status
from starlette.concurrency import run_in_threadpool

from rag import Assistant, Rebuilder, catalog
from ui import models as m
from ui.errors import declared
from ui.uploads import UploadRejected, delete_source, save_upload

INDEX = Query(True, description="Rebuild the index after the change (false: batch uploads).")


def source_routes(assistant: Assistant, rebuilder: Rebuilder) -> APIRouter:
    """Return the routes under /sources.

    An upload or a delete starts a rebuild (or asks for one after the running one: many
    changes in a row make one or two builds), unless the request says `?index=false`.
    """
    settings = assistant.settings
    router = APIRouter()

    @router.get("/sources", response_model=list[m.SourceSummary], responses=declared(503))
    def list_sources() -> list[m.SourceSummary]:
        store = assistant.store if assistant.ready else None  # one generation for the listing
        return [m.SourceSummary.of(entry) for entry in catalog(settings, store)]

    @router.get(
        "/sources/{source_id:path}",
        response_model=m.SourceDetail,
        responses=declared(404, 422, 503),
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
        responses=declared(413, 422, 503),
    )
    async def upload_source(file: UploadFile, index: bool = INDEX) -> m.Uploaded:
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
        if index:
            rebuilder.request()
        return m.Uploaded(
            id=saved.id, size=saved.size, file_sha256=saved.file_sha256, rebuild_requested=index
        )

    @router.delete(
        "/sources/{source_id:path}", response_model=m.Deleted, responses=declared(404, 422)
    )
    def remove_source(source_id: str, index: bool = INDEX) -> m.Deleted:
        try:
            delete_source(settings.source_dirs, source_id)
        except UploadRejected as err:  # an id that cannot name a source names none: 404
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from err
        except FileNotFoundError as err:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such source file") from err
        if index:
            rebuilder.request()
        return m.Deleted(id=source_id, rebuild_requested=index)

    return router
