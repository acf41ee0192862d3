"""Source folders -> a published generation: incremental builds, rebuilds, the catalog."""

from rag.build.catalog import CatalogEntry, catalog
from rag.build.indexer import CACHE_DIR, Indexer, build_index
from rag.build.rebuild import Rebuilder, RebuildStatus
from rag.build.report import BuildReport

__all__ = [
    "CACHE_DIR",
    "BuildReport",
    "CatalogEntry",
    "Indexer",
    "RebuildStatus",
    "Rebuilder",
    "build_index",
    "catalog",
]
