"""Texts -> vectors: the Embedder seam, its onnx and torch implementations, the cache."""

from rag.embedding.base import Embedder, SentenceTransformerEmbedder
from rag.embedding.cache import EmbeddingCache

__all__ = [
    "Embedder",
    "EmbeddingCache",
    "SentenceTransformerEmbedder",
]
