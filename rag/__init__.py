"""rag: answers only with verbatim, cited quotes from its sources.

This is the library's public surface: the faces (`ui/`) import from `rag` and nothing below
it. Names load lazily, so `import rag` loads no model, index, torch or faiss: entry points
call `rag.configure_runtime()` first, then use these names.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.answering import REFUSAL
    from rag.assistant import Assistant
    from rag.build import (
        BuildReport,
        CatalogEntry,
        Indexer,
        MilvusIndexer,
        Rebuilder,
        RebuildStatus,
        build_index,
        catalog,
        make_indexer,
    )
    from rag.config import Settings
    from rag.durable import fsync_path
    from rag.embedding.base import Embedder, SentenceTransformerEmbedder
    from rag.embedding.onnx import OnnxEmbedder, load_embedder
    from rag.errors import (
        BuildInProgress,
        IndexCorrupt,
        IndexMismatch,
        IndexMissing,
        ModelMissing,
        RagError,
        SourceError,
    )
    from rag.index import LocalStore, Store, load_current
    from rag.quality.evaluation import evaluate
    from rag.quality.neural_training import PHASES, train_neural_reader
    from rag.quality.span_training import SpanRun
    from rag.quality.training import train_reader
    from rag.reading import LinearReader, Reader, Reading
    from rag.reading.linear import DEFAULT_MODEL
    from rag.reading.neural import DEFAULT_WEIGHTS, NeuralReader
    from rag.runtime import configure_runtime
    from rag.sources import SUPPORTED, load_source, load_sources, scan_sources, supported
    from rag.sources.watch import watch_sources
    from rag.types import Answer, Chunk, Hit, Quote, Sentence, Skipped, Source, SourceFile, Turn

_EXPORTS = {
    "Answer": "rag.types",
    "Chunk": "rag.types",
    "Hit": "rag.types",
    "Quote": "rag.types",
    "Sentence": "rag.types",
    "Skipped": "rag.types",
    "Source": "rag.types",
    "SourceFile": "rag.types",
    "Turn": "rag.types",
    "Settings": "rag.config",
    "BuildInProgress": "rag.errors",
    "IndexCorrupt": "rag.errors",
    "IndexMismatch": "rag.errors",
    "IndexMissing": "rag.errors",
    "ModelMissing": "rag.errors",
    "RagError": "rag.errors",
    "SourceError": "rag.errors",
    "configure_runtime": "rag.runtime",
    "fsync_path": "rag.durable",
    "SUPPORTED": "rag.sources",
    "load_source": "rag.sources",
    "load_sources": "rag.sources",
    "scan_sources": "rag.sources",
    "supported": "rag.sources",
    "watch_sources": "rag.sources.watch",
    "Embedder": "rag.embedding.base",
    "SentenceTransformerEmbedder": "rag.embedding.base",
    "OnnxEmbedder": "rag.embedding.onnx",
    "load_embedder": "rag.embedding.onnx",
    "LocalStore": "rag.index",
    "Store": "rag.index",
    "load_current": "rag.index",
    "BuildReport": "rag.build",
    "CatalogEntry": "rag.build",
    "Indexer": "rag.build",
    "MilvusIndexer": "rag.build",
    "make_indexer": "rag.build",
    "RebuildStatus": "rag.build",
    "Rebuilder": "rag.build",
    "build_index": "rag.build",
    "catalog": "rag.build",
    "LinearReader": "rag.reading",
    "Reader": "rag.reading",
    "Reading": "rag.reading",
    "DEFAULT_MODEL": "rag.reading.linear",
    "DEFAULT_WEIGHTS": "rag.reading.neural",
    "NeuralReader": "rag.reading.neural",
    "load_reader": "rag.reading.load",
    "SpanRun": "rag.quality.span_training",
    "train_neural_reader": "rag.quality.neural_training",
    "PHASES": "rag.quality.neural_training",
    "REFUSAL": "rag.answering",
    "Assistant": "rag.assistant",
    "evaluate": "rag.quality.evaluation",
    "train_reader": "rag.quality.training",
}
__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_WEIGHTS",
    "PHASES",
    "REFUSAL",
    "SUPPORTED",
    "Answer",
    "Assistant",
    "BuildInProgress",
    "BuildReport",
    "CatalogEntry",
    "Chunk",
    "Embedder",
    "Hit",
    "IndexCorrupt",
    "IndexMismatch",
    "IndexMissing",
    "Indexer",
    "LinearReader",
    "LocalStore",
    "MilvusIndexer",
    "ModelMissing",
    "NeuralReader",
    "OnnxEmbedder",
    "Quote",
    "RagError",
    "Reader",
    "Reading",
    "RebuildStatus",
    "Rebuilder",
    "Sentence",
    "SentenceTransformerEmbedder",
    "Settings",
    "Skipped",
    "Source",
    "SourceError",
    "SourceFile",
    "SpanRun",
    "Store",
    "Turn",
    "build_index",
    "catalog",
    "configure_runtime",
    "evaluate",
    "fsync_path",
    "load_current",
    "load_embedder",
    "load_reader",
    "load_source",
    "load_sources",
    "make_indexer",
    "scan_sources",
    "supported",
    "train_neural_reader",
    "train_reader",
    "watch_sources",
]


def __getattr__(name: str) -> Any:
    """Import a public name on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
