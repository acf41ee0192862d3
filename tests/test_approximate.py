"""The approximate dense indexes (RAG_DENSE_INDEX=ivf|hnsw): close to exact search, and only
used where a corpus is large enough to need them."""

from __future__ import annotations

import numpy as np
import pytest

from rag.index.approximate import MIN_ROWS, approximate_index


def _clustered(rows: int, dim: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(200, dim)).astype(np.float32)
    data = centres[rng.integers(0, 200, rows)] + 0.5 * rng.normal(size=(rows, dim)).astype(
        np.float32
    )
    return data / np.linalg.norm(data, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_search_finds_what_exact_search_finds(kind: str) -> None:
    data = _clustered(MIN_ROWS + 5_000)
    index = approximate_index(data, kind)
    assert index is not None and index.ntotal == len(data)
    queries = data[:50] + 0.05 * np.random.default_rng(1).normal(size=(50, data.shape[1]))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    exact = np.argsort(-(queries @ data.T), axis=1)[:, :10]
    found = index.search(queries, 10)[1]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact, strict=True)])
    assert recall >= 0.9


def test_a_small_corpus_is_searched_exactly() -> None:
    assert approximate_index(_clustered(1_000), "ivf") is None
    with pytest.raises(ValueError, match="unknown"):
        approximate_index(_clustered(MIN_ROWS), "lsh")
