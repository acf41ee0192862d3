"""One index generation in memory: the Store the pipeline reads, over FAISS and bm25s.

Every faiss call of the library lives in this module, rag/index/storage.py (build, save,
load) and rag/index/layout/part_files.py; bm25s calls live in rag/index/keyword.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rag.index.fusion import fuse
from rag.index.keyword import KeywordIndex
from rag.index.layout.chunk_table import Lines
from rag.index.layout.manifest import (
    FileStat,
    Manifest,
    file_stats,
)
from rag.index.layout.parts import Inherited
from rag.index.rows import distinct_sentences, row_ranges
from rag.types import Chunk, Sentence, Source

BM25 = "bm25"
Vectors = NDArray[np.float32]


class LocalStore:
    """One index generation in memory: chunks, their sources, vectors and keyword index."""

    def __init__(
        self,
        manifest: Manifest,
        sources: Sequence[Source],
        chunks: Sequence[Chunk],
        dense: Any,
        sentence_matrix: Vectors,
        keyword: KeywordIndex,
        lines: Lines | None = None,
        sentences: Sequence[Sentence] | None = None,
    ) -> None:
        """Args:
        lines: the chunk table's lines of some sources, known from an earlier generation.
        sentences: `distinct_sentences(chunks)`, if the caller has it already.
        """
        self.manifest = manifest
        self.sources: dict[str, Source] = {s.id: s for s in sources}
        self.chunks: list[Chunk] = list(chunks)
        self.sentences = list(distinct_sentences(chunks) if sentences is None else sentences)
        self.problems: tuple[str, ...] = ()  # set by load_current when it had to fall back
        self._dense = dense
        self._chunk_matrix: Vectors = faiss_vectors(dense)
        self._sentence_matrix = sentence_matrix
        self._sentence_matrix.flags.writeable = False
        self.keyword = keyword
        self.chunk_rows = row_ranges(c.source_id for c in self.chunks)
        self.sentence_rows = row_ranges(s.source_id for s in self.sentences)
        self.lines: Lines = lines or {}  # the chunk table's lines, by source
        self.directory: Path | None = None  # where it is published, once it is
        self.file_stats: dict[str, FileStat] = {}  # its files as they were when read or written
        self.inherited: Inherited | None = None  # parts it may link from an earlier generation
        self._search: Any = dense  # the index searched: the exact one, or an approximate one

    def approximate(self, kind: str) -> None:
        """Search with an approximate index of `kind` ("ivf", "hnsw"; "flat": exact) from now on."""
        from rag.index.approximate import approximate_index

        found = approximate_index(self._chunk_matrix, kind) if kind != "flat" else None
        self._search = found if found is not None else self._dense

    @cached_property
    def _sentence_row(self) -> dict[Sentence, int]:
        """Each sentence's row: made when first asked for, which a build never does."""
        return {s: row for row, s in enumerate(self.sentences)}

    @property
    def generation(self) -> int:
        """The generation number."""
        return self.manifest.generation

    @property
    def model_id(self) -> str:
        """The embedding model the vectors came from."""
        return self.manifest.model_id

    @property
    def dim(self) -> int:
        """The vectors' dimension."""
        return self.manifest.dim

    def chunk_count(self, source_id: str) -> int:
        """Return how many chunks a source has (0 if none)."""
        return len(self.chunk_rows.get(source_id, range(0)))

    def search_dense(self, vector: Vectors, k: int) -> list[tuple[int, float]]:
        """Return up to k (chunk row, cosine) pairs, best first."""
        k = min(k, self._dense.ntotal)
        if k <= 0:
            return []
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, self.dim)
        scores, rows = self._search.search(query, k)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]

    def search_keyword(self, query: str, k: int) -> list[tuple[int, float]]:
        """Return up to k (chunk row, bm25 score) pairs, best first; [] without known terms."""
        return self.keyword.search(query, k)

    def search_hybrid(self, vector: Vectors, query: str, k: int, pool: int) -> list[tuple[int, float]]:
        """Return the k best rows of both searches (`pool` each), fused by reciprocal rank."""
        return fuse((self.search_dense(vector, pool), self.search_keyword(query, pool)), k)

    def published(self, directory: Path) -> None:
        """Note where the generation now lives, and its files as they are there."""
        self.directory = directory
        self.file_stats = file_stats(directory, self.manifest)

    def unchanged_on_disk(self) -> bool:
        """Are its files still the ones it was read from or wrote (size, mtime, inode)?

        A build links the parts of the generation it holds; it must not link files that
        were damaged or replaced since.
        """
        if self.directory is None or not self.file_stats:
            return False
        return file_stats(self.directory, self.manifest) == self.file_stats

    @property
    def chunk_matrix(self) -> Vectors:
        """Every chunk's vector, one row per chunk (read-only)."""
        return self._chunk_matrix

    @property
    def sentence_matrix(self) -> Vectors:
        """Every distinct sentence's vector, one row per `sentences` item (read-only)."""
        return self._sentence_matrix

    def sentence_vectors(self, sentences: Sequence[Sentence]) -> Vectors:
        """Return the vectors of these sentences, one row each."""
        rows = np.fromiter((self._sentence_row[s] for s in sentences), dtype=np.int64)
        return self._sentence_matrix[rows]

    def chunk_vectors(self, rows: Sequence[int] | NDArray[np.int64]) -> Vectors:
        """Return the vectors of the chunks at these rows."""
        return self._chunk_matrix[np.asarray(rows, dtype=np.int64).reshape(-1)]


def faiss_vectors(dense: Any) -> Vectors:
    """Return a read-only view of the vectors a flat FAISS index holds (no copy)."""
    import faiss

    if dense.ntotal == 0:
        return np.zeros((0, dense.d), dtype=np.float32)
    view = faiss.rev_swig_ptr(dense.get_xb(), dense.ntotal * dense.d).reshape(-1, dense.d)
    view.flags.writeable = False
    return np.asarray(view, dtype=np.float32)
