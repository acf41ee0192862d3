"""A generation's chunk vectors -> an approximate FAISS index, for corpora too large to scan.

Built in memory when a generation is opened (`RAG_DENSE_INDEX=ivf|hnsw`); the exact vectors
stay where they are, for everything but the search. Recall and speed: docs/SCALE.md
(bench/bench_store.py).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rag.index.base import Vectors

MIN_ROWS = 20_000  # below this an exact scan is fast: no approximation
IVF_PROBES = 64  # lists searched per query, at least
IVF_PROBED_SHARE = 24  # and at least one list in this many
IVF_TRAIN_PER_LIST = 40  # training vectors per list (k-means), at most the whole corpus
HNSW_NEIGHBOURS = 32
HNSW_BUILD_DEPTH = 80
HNSW_SEARCH_DEPTH = 256
SEED = 1234


def approximate_index(matrix: Vectors, kind: str) -> Any | None:
    """Return an inner-product index of `kind` ("ivf" or "hnsw") over the rows, or None
    when the corpus is small enough to scan."""
    import faiss

    rows, dim = matrix.shape
    if rows < MIN_ROWS:
        return None
    if kind == "hnsw":
        graph = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = HNSW_BUILD_DEPTH
        graph.add(matrix)
        graph.hnsw.efSearch = HNSW_SEARCH_DEPTH
        return graph
    if kind != "ivf":
        raise ValueError(f"unknown approximate index {kind!r}: choose ivf or hnsw")
    lists = int(min(65_536, max(16, 4 * math.sqrt(rows))))
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, lists, faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(SEED).choice(rows, min(rows, lists * IVF_TRAIN_PER_LIST), replace=False)
    index.train(np.ascontiguousarray(matrix[np.sort(sample)]))
    index.add(matrix)
    index.nprobe = max(IVF_PROBES, lists // IVF_PROBED_SHARE)
    return index
