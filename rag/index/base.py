"""The read side of an index generation: what retrieval and reading need, whatever stores it.

`LocalStore` (FAISS + bm25s generation folders) implements it; a test's in-memory fake
(tests/fakes.py `MemoryStore`) proves that a second one drops in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from rag.types import Chunk, Sentence, Source

Vectors = NDArray[np.float32]


class Store(Protocol):
    """One generation: its sources and chunks, dense and keyword search, stored vectors.

    Rows are positions in `chunks`; every vector is L2-normalised float32.
    """

    @property
    def generation(self) -> int:
        """The generation's number."""
        ...

    @property
    def sources(self) -> Mapping[str, Source]:
        """Every source by id."""
        ...

    @property
    def chunks(self) -> Sequence[Chunk]:
        """Every chunk, grouped by source."""
        ...

    @property
    def problems(self) -> tuple[str, ...]:
        """What was wrong when it was loaded (a fallback to an older generation), if anything."""
        ...

    def chunk_count(self, source_id: str) -> int:
        """Return how many chunks a source has (0 if none)."""
        ...

    def search_dense(self, vector: Vectors, k: int) -> list[tuple[int, float]]:
        """Return up to k (row, inner product) pairs, best first."""
        ...

    def search_keyword(self, query: str, k: int) -> list[tuple[int, float]]:
        """Return up to k (row, BM25 score) pairs, best first."""
        ...

    def search_hybrid(self, vector: Vectors, query: str, k: int, pool: int) -> list[tuple[int, float]]:
        """Return up to k (row, fused score) pairs: the best `pool` of each search, fused by
        reciprocal rank (`rag.index.fusion.fuse`), best first."""
        ...

    def chunk_vectors(self, rows: Sequence[int] | NDArray[np.int64]) -> Vectors:
        """Return the stored vectors of chunk rows."""
        ...

    def sentence_vectors(self, sentences: Sequence[Sentence]) -> Vectors:
        """Return the stored vectors of sentences of this generation's chunks."""
        ...
