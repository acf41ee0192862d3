"""Chunks + vectors -> one index generation: FAISS, keyword index, chunk table, manifest.

Every faiss call of the library lives in this module and in rag/part_files.py (bm25s calls
live in rag/keyword.py).
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rag.index.layout.chunk_table import Lines, table_lines
from rag.embedding.base import Embedder
from rag.errors import IndexCorrupt, IndexMismatch
from rag.index.keyword import KeywordIndex, Tokenizer, stemmer_language
from rag.index.layout.manifest import (
    MANIFEST,
    RUN_INDEX,
    FileStat,
    Manifest,
    SourceEntry,
    file_stats,
    manifest_bytes,
    read_manifest,
    read_verified,
    write_hashed,
)
from rag.index.layout.part_files import PART_FILES, read_parts, write_part
from rag.index.layout.parts import Inherited, by_part, source_order
from rag.index.layout.reuse import chunk_terms, known_lines, unchanged_rows
from rag.index.rows import distinct_sentences, row_ranges, rows_in
from rag.types import Chunk, Sentence, Source

BM25 = "bm25"
Vectors = NDArray[np.float32]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many objects that hold no cycles.

    Loading a 5,000-document generation creates ~100,000 objects; the collector's repeated
    passes over them would nearly double the load time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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
        self._inherited: Inherited | None = None  # parts it may link from an earlier generation

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

    @classmethod
    def build(
        cls,
        header: Manifest,
        sources: Sequence[Source],
        chunks: Sequence[Chunk],
        chunk_vectors: Vectors,
        sentence_vectors: Vectors,
        previous: LocalStore | None = None,
        sentences: Sequence[Sentence] | None = None,
    ) -> LocalStore:
        """Index chunks (grouped by source, sources in `source_order`) and their vectors.

        Args:
            sentence_vectors: one row per `distinct_sentences(chunks)`, in that order.
            previous: a generation whose keyword terms may be reused for identical chunks.
            sentences: `distinct_sentences(chunks)`, if the caller has it already.
        """
        import faiss

        if [s.id for s in sources] != sorted((s.id for s in sources), key=source_order):
            raise ValueError("a store's sources come in parts.source_order")
        groups = row_ranges(c.source_id for c in chunks)
        counts = {s.id: len(groups.get(s.id, ())) for s in sources}
        if list(groups) != [i for i, n in counts.items() if n] or sum(counts.values()) != len(
            chunks
        ):
            raise ValueError("a store's chunks come grouped by source, in the sources' order")
        dense = faiss.IndexFlatIP(header.dim)
        dense.add(np.ascontiguousarray(chunk_vectors, dtype=np.float32).reshape(-1, header.dim))
        tokenize = Tokenizer(header.stemmer)
        if previous is not None and previous.manifest.stemmer != header.stemmer:
            previous = None
        unchanged = unchanged_rows(chunks, groups, previous)
        titles = {s.id: s.title for s in sources}
        terms = chunk_terms(chunks, groups, titles, tokenize, previous, unchanged)
        entries = tuple(
            SourceEntry(s.id, s.title, s.sha256, s.file_sha256, counts[s.id]) for s in sources
        )
        manifest = replace(header, sources=entries, files=())
        matrix = np.ascontiguousarray(sentence_vectors, dtype=np.float32).reshape(-1, header.dim)
        keyword = KeywordIndex.build(terms, tokenize)
        known = known_lines(sources, previous, unchanged)
        store = cls(manifest, sources, chunks, dense, matrix, keyword, known, sentences)
        if previous is not None:
            store._inherited = Inherited.find(
                previous.directory,
                previous.manifest.files,
                previous.sources,
                store.sources,
                set(known),
            )
        return store

    def chunk_count(self, source_id: str) -> int:
        """Return how many chunks a source has (0 if none)."""
        return len(self.chunk_rows.get(source_id, range(0)))

    def search_dense(self, vector: Vectors, k: int) -> list[tuple[int, float]]:
        """Return up to k (chunk row, cosine) pairs, best first."""
        k = min(k, self._dense.ntotal)
        if k <= 0:
            return []
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, self.dim)
        scores, rows = self._dense.search(query, k)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]

    def search_keyword(self, query: str, k: int) -> list[tuple[int, float]]:
        """Return up to k (chunk row, bm25 score) pairs, best first; [] without known terms."""
        return self.keyword.search(query, k)

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

    def save(self, directory: Path) -> None:
        """Write every file of the generation, the checksummed manifest last.

        Parts that the generation it was built from holds unchanged are hard-linked from it.
        """
        directory.mkdir(parents=True, exist_ok=True)
        self.lines = table_lines(self.sources.values(), self.chunks, self.chunk_rows, self.lines)
        files: dict[str, str] = {}
        for part, ids in by_part(self.sources).items():
            linked = self._inherited.link(part, PART_FILES, directory) if self._inherited else None
            if linked is None:
                chunk_rows = rows_in(self.chunk_rows[i] for i in ids)
                sentence_rows = rows_in(self.sentence_rows.get(i, range(0)) for i in ids)
                lines = [self.lines[i] for i in ids]
                chunks, sentences = (
                    self._chunk_matrix[chunk_rows],
                    self._sentence_matrix[sentence_rows],
                )
                linked = write_part(directory, part, lines, chunks, sentences)
            files.update(linked)
        (directory / BM25).mkdir()
        self.keyword.save(directory / BM25)
        for path in sorted((directory / BM25).iterdir()):
            files[f"{BM25}/{path.name}"] = hashlib.sha256(path.read_bytes()).hexdigest()
        self.manifest = replace(self.manifest, files=tuple(sorted(files.items())))
        write_hashed(directory / MANIFEST, manifest_bytes(self.manifest))

    @classmethod
    def load(cls, directory: Path, embedder: Embedder) -> LocalStore:
        """Load a generation after checking its model, format and every file's checksum."""
        manifest = read_manifest(directory)
        if (manifest.model_id, manifest.dim) != (embedder.model_id, embedder.dim):
            raise IndexMismatch(
                f"{directory} was built with {manifest.model_id} (dim {manifest.dim}), "
                f"not {embedder.model_id} (dim {embedder.dim}); {RUN_INDEX}"
            )
        if manifest.stemmer and stemmer_language() != manifest.stemmer:
            raise IndexMismatch(f"{directory} needs PyStemmer, not installed; {RUN_INDEX}")
        stats = file_stats(directory, manifest)
        blobs = read_verified(directory, manifest)  # after the stat: a later change shows
        try:
            with _collector_paused():
                store = cls._parse(directory, manifest, blobs)
                store.file_stats = stats
                return store
        except (KeyError, ValueError, TypeError, IndexError, RuntimeError) as exc:
            raise IndexCorrupt(f"{directory} cannot be read ({exc!r}); {RUN_INDEX}") from exc

    @classmethod
    def _parse(cls, directory: Path, manifest: Manifest, blobs: dict[str, bytes]) -> LocalStore:
        import faiss

        rows = read_parts(manifest, blobs)
        dense = faiss.IndexFlatIP(manifest.dim)
        dense.add(rows.chunk_matrix)
        keyword = KeywordIndex.load(directory / BM25, Tokenizer(manifest.stemmer))
        store = cls(manifest, rows.sources, rows.chunks, dense, rows.sentence_matrix, keyword,
                    rows.lines, rows.sentences)  # fmt: skip
        if keyword.documents != len(rows.chunks) or len(store.sources) != len(rows.sources):
            raise ValueError("the keyword index or the parts disagree on the chunks or sources")
        store.directory = directory
        return store


def faiss_vectors(dense: Any) -> Vectors:
    """Return a read-only view of the vectors a flat FAISS index holds (no copy)."""
    import faiss

    if dense.ntotal == 0:
        return np.zeros((0, dense.d), dtype=np.float32)
    view = faiss.rev_swig_ptr(dense.get_xb(), dense.ntotal * dense.d).reshape(-1, dense.d)
    view.flags.writeable = False
    return np.asarray(view, dtype=np.float32)
