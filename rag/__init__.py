"""rag: answers only with verbatim, cited quotes from its sources.

The public surface is re-exported lazily so that `import rag` loads no model, index, torch or
faiss: entry points call `rag.runtime.configure_runtime()` first, then use these names.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Answer": "rag.types",
    "Chunk": "rag.types",
    "Hit": "rag.types",
    "Quote": "rag.types",
    "Source": "rag.types",
    "Turn": "rag.types",
    "Settings": "rag.config",
    "RagError": "rag.errors",
    "IndexMissing": "rag.errors",
    "IndexMismatch": "rag.errors",
    "IndexCorrupt": "rag.errors",
    "BuildInProgress": "rag.errors",
    "ModelMissing": "rag.errors",
    "SourceError": "rag.errors",
    "configure_runtime": "rag.runtime",
    "Embedder": "rag.embedding",
    "SentenceTransformerEmbedder": "rag.embedding",
    "OnnxEmbedder": "rag.onnx_embedding",
    "load_embedder": "rag.onnx_embedding",
    "Assistant": "rag.assistant",
    "REFUSAL": "rag.grounding",
    "build_index": "rag.indexer",
    "BuildReport": "rag.indexer",
    "Rebuilder": "rag.rebuild",
    "RebuildStatus": "rag.rebuild",
    "SUPPORTED": "rag.sources",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import a public name on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
