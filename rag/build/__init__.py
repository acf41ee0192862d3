"""Source folders -> a published generation: incremental builds, rebuilds, the catalog."""

from rag.build.assemble import CACHE_DIR
from rag.build.backends import build_index, make_indexer
from rag.build.catalog import CatalogEntry, catalog
from rag.build.indexer import Indexer
from rag.build.milvus_indexer import MilvusIndexer
from rag.build.rebuild import Rebuilder, RebuildStatus
from rag.build.report import BuildReport

__all__ = [
    "CACHE_DIR",
    "BuildReport",
    "CatalogEntry",
    "Indexer",
    "MilvusIndexer",
    "RebuildStatus",
    "Rebuilder",
    "build_index",
    "catalog",
    "make_indexer",
]
