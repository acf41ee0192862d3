"""Question -> hits: dense and keyword search fused by reciprocal rank."""

from rag.index.fusion import fuse
from rag.retrieval.retriever import Retriever

__all__ = [
    "Retriever",
    "fuse",
]
