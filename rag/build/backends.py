"""Settings -> the indexer of the store they name: local generation folders, or Milvus."""

from __future__ import annotations

from rag.build.assemble import Progress
from rag.build.indexer import Indexer
from rag.build.milvus_indexer import MilvusIndexer
from rag.build.report import BuildReport
from rag.config import Settings
from rag.embedding.base import Embedder


def make_indexer(settings: Settings, embedder: Embedder) -> Indexer | MilvusIndexer:
    """Return the indexer for `settings.store`."""
    if settings.store == "milvus":
        return MilvusIndexer(settings, embedder)
    return Indexer(settings, embedder)


def build_index(
    settings: Settings, embedder: Embedder, progress: Progress | None = None
) -> BuildReport:
    """Build and publish a new generation of the settings' store; see `Indexer.build`."""
    return make_indexer(settings, embedder).build(progress)
