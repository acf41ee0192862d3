"""Settings -> the published generation of the index they name, on local disk or on Milvus."""

from __future__ import annotations

from rag.config import Settings
from rag.embedding.base import Embedder
from rag.errors import IndexMissing
from rag.index.base import Store
from rag.index.generations import current_generation, load_current


def published_generation(settings: Settings) -> int:
    """The published generation's number, 0 if none."""
    if settings.store == "milvus":
        from rag.index.milvus.client import collections_ready, connect
        from rag.index.milvus.state import published

        client = connect(settings)
        return published(client, settings) if collections_ready(client, settings) else 0
    return current_generation(settings.index_dir)


def open_published(settings: Settings, embedder: Embedder) -> Store:
    """Open the published generation.

    Raises:
        IndexMissing: nothing has been published yet.
        IndexMismatch: it was built with another model or format.
        IndexCorrupt: it cannot be read (a local index falls back to an older generation).
        MilvusUnavailable: Milvus cannot be reached or is too old.
    """
    if settings.store == "milvus":
        from rag.index.milvus.client import connect
        from rag.index.milvus.store import open_store

        generation = published_generation(settings)
        if generation == 0:
            raise IndexMissing("no index in Milvus yet: run `rag index` to build one")
        return open_store(connect(settings), settings, generation, embedder.model_id, embedder.dim)
    store = load_current(settings.index_dir, embedder)
    if settings.dense_index != "flat":
        store.approximate(settings.dense_index)
    return store
