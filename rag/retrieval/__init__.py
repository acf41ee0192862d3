"""Question -> hits: dense and keyword search fused by reciprocal rank."""

from rag.retrieval.retriever import Retriever, fuse

__all__ = [
    "Retriever",
    "fuse",
]
