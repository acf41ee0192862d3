"""The product's ONNX embedder against the sentence-transformers reference."""

from __future__ import annotations

import numpy as np
import pytest

from rag.embedding.base import MODEL_ID, SentenceTransformerEmbedder
from rag.embedding.onnx import OnnxEmbedder

TEXTS = [
    "How many North Korean troops were moved into Russia's Kursk region?",
    "Recent developments have seen approximately 11,000 North Korean troops.",
    "word " * 400,  # longer than the model's 256-token window: both truncate
    "",
]


@pytest.mark.model
def test_onnx_vectors_equal_the_reference(real_embedder: OnnxEmbedder) -> None:
    reference = SentenceTransformerEmbedder().embed(TEXTS)
    vectors = real_embedder.embed(TEXTS)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert np.abs(vectors - reference).max() < 1e-5
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert real_embedder.model_id == MODEL_ID


@pytest.mark.model
def test_batches_do_not_change_vectors(real_embedder: OnnxEmbedder) -> None:
    together = real_embedder.embed(TEXTS)
    alone = np.stack([real_embedder.embed([t])[0] for t in TEXTS])
    assert np.abs(together - alone).max() < 1e-5
    assert real_embedder.embed([]).shape == (0, 384)
