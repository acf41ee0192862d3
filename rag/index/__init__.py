"""Index generations: the Store seam (read side) and LocalStore (FAISS + bm25s on disk)."""

from rag.index.base import Store, Vectors
from rag.index.generations import (
    build_lock,
    clean_up,
    current_generation,
    generation_dir,
    load_current,
    publish,
)
from rag.index.local import LocalStore

__all__ = [
    "LocalStore",
    "Store",
    "Vectors",
    "build_lock",
    "clean_up",
    "current_generation",
    "generation_dir",
    "load_current",
    "publish",
]
