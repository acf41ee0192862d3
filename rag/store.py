"""Chunks + vectors -> one index generation: FAISS, keyword index, chunk table, manifest.

Every faiss call of the library lives in this module (bm25s calls live in rag/keyword.py).
"""

from __future__ import annotations

import gc
import hashlib
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rag.chunk_table import Lines, parse_chunks, parse_sources, split_lines, table_lines
from rag.chunking import index_text
from rag.embedding import Embedder
from rag.errors import IndexCorrupt, IndexMismatch
from rag.keyword import KeywordIndex, Terms, Tokenizer, stemmer_language
from rag.manifest import (
    MANIFEST,
    RUN_INDEX,
    Manifest,
    SourceEntry,
    manifest_bytes,
    read_manifest,
    read_verified,
    write_hashed,
)
from rag.rows import row_ranges
from rag.types import Chunk, Sentence, Source

SOURCES, CHUNKS, CHUNKS_FAISS, SENTENCES, BM25 = (
    "sources.jsonl",
    "chunks.jsonl",
    "chunks.faiss",
    "sentences.npy",
    "bm25",
)
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


class Store:
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
    ) -> None:
        """Args:
        lines: the chunk table's lines of some sources, known from an earlier generation.
        """
        self.manifest = manifest
        self.sources: dict[str, Source] = {s.id: s for s in sources}
        self.chunks: list[Chunk] = list(chunks)
        self._sentence_row: dict[Sentence, int] = {}
        for c in self.chunks:
            for s in c.sentences:
                self._sentence_row.setdefault(s, len(self._sentence_row))
        self.sentences: list[Sentence] = list(self._sentence_row)  # == distinct_sentences(chunks)
        self.problems: tuple[str, ...] = ()  # set by load_current when it had to fall back
        self._dense = dense
        self._chunk_matrix: Vectors = dense.reconstruct_n(0, dense.ntotal).reshape(-1, dense.d)
        self._sentence_matrix = sentence_matrix
        self.keyword = keyword
        self.row_of: dict[str, int] = {c.id: row for row, c in enumerate(self.chunks)}
        self.chunk_rows = row_ranges(c.source_id for c in self.chunks)
        self.sentence_rows = row_ranges(s.source_id for s in self.sentences)
        self._lines: Lines = lines or {}

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
        previous: Store | None = None,
    ) -> Store:
        """Index chunks (grouped by source, in the sources' order) and their vectors.

        Args:
            sentence_vectors: one row per `distinct_sentences(chunks)`, in that order.
            previous: a generation whose keyword terms may be reused for identical chunks.
        """
        import faiss

        counts: dict[str, int] = {s.id: 0 for s in sources}
        for c in chunks:
            counts[c.source_id] += 1
        dense = faiss.IndexFlatIP(header.dim)
        dense.add(np.ascontiguousarray(chunk_vectors, dtype=np.float32).reshape(-1, header.dim))
        tokenize = Tokenizer(header.stemmer)
        if previous is not None and previous.manifest.stemmer != header.stemmer:
            previous = None
        terms = _chunk_terms(chunks, {s.id: s.title for s in sources}, tokenize, previous)
        entries = tuple(
            SourceEntry(s.id, s.title, s.sha256, s.file_sha256, counts[s.id]) for s in sources
        )
        manifest = replace(header, sources=entries, files=())
        matrix = np.ascontiguousarray(sentence_vectors, dtype=np.float32).reshape(-1, header.dim)
        keyword = KeywordIndex.build(terms, tokenize)
        return cls(
            manifest,
            sources,
            chunks,
            dense,
            matrix,
            keyword,
            _known_lines(sources, chunks, previous),
        )

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

    def sentence_vectors(self, sentences: Sequence[Sentence]) -> Vectors:
        """Return the vectors of these sentences, one row each."""
        rows = np.fromiter((self._sentence_row[s] for s in sentences), dtype=np.int64)
        return self._sentence_matrix[rows]

    def sentence_vectors_at(self, rows: Sequence[int] | NDArray[np.int64]) -> Vectors:
        """Return the vectors of the sentences at these rows of `sentences`."""
        return self._sentence_matrix[np.asarray(rows, dtype=np.int64).reshape(-1)]

    def chunk_vectors(self, rows: Sequence[int] | NDArray[np.int64]) -> Vectors:
        """Return the vectors of the chunks at these rows."""
        return self._chunk_matrix[np.asarray(rows, dtype=np.int64).reshape(-1)]

    def save(self, directory: Path) -> None:
        """Write every file of the generation, the checksummed manifest last."""
        import faiss

        directory.mkdir(parents=True, exist_ok=True)
        self._lines = table_lines(self.sources.values(), self.chunks, self.chunk_rows, self._lines)
        lines = self._lines.values()
        files = {
            SOURCES: write_hashed(directory / SOURCES, b"".join(line for line, _ in lines)),
            CHUNKS: write_hashed(directory / CHUNKS, b"".join(rows for _, rows in lines)),
            CHUNKS_FAISS: write_hashed(
                directory / CHUNKS_FAISS, faiss.serialize_index(self._dense).data
            ),
        }
        buffer = io.BytesIO()
        np.save(buffer, self._sentence_matrix, allow_pickle=False)
        files[SENTENCES] = write_hashed(directory / SENTENCES, buffer.getbuffer())
        (directory / BM25).mkdir()
        self.keyword.save(directory / BM25)
        for path in sorted((directory / BM25).iterdir()):
            files[f"{BM25}/{path.name}"] = hashlib.sha256(path.read_bytes()).hexdigest()
        self.manifest = replace(self.manifest, files=tuple(sorted(files.items())))
        write_hashed(directory / MANIFEST, manifest_bytes(self.manifest))

    @classmethod
    def load(cls, directory: Path, embedder: Embedder) -> Store:
        """Load a generation after checking its model, format and every file's checksum."""
        manifest = read_manifest(directory)
        if (manifest.model_id, manifest.dim) != (embedder.model_id, embedder.dim):
            raise IndexMismatch(
                f"{directory} was built with {manifest.model_id} (dim {manifest.dim}), "
                f"not {embedder.model_id} (dim {embedder.dim}); {RUN_INDEX}"
            )
        if manifest.stemmer and stemmer_language() != manifest.stemmer:
            raise IndexMismatch(f"{directory} needs PyStemmer, not installed; {RUN_INDEX}")
        blobs = read_verified(directory, manifest)
        try:
            with _collector_paused():
                return cls._parse(directory, manifest, blobs)
        except (KeyError, ValueError, TypeError, IndexError, RuntimeError) as exc:
            raise IndexCorrupt(f"{directory} cannot be read ({exc!r}); {RUN_INDEX}") from exc

    @classmethod
    def _parse(cls, directory: Path, manifest: Manifest, blobs: dict[str, bytes]) -> Store:
        import faiss

        sources = parse_sources(blobs[SOURCES])
        chunks = parse_chunks(blobs[CHUNKS], sources)
        dense = faiss.deserialize_index(np.frombuffer(blobs[CHUNKS_FAISS], dtype=np.uint8))
        matrix = np.load(io.BytesIO(blobs[SENTENCES]), allow_pickle=False)
        keyword = KeywordIndex.load(directory / BM25, Tokenizer(manifest.stemmer))
        rows = row_ranges(c.source_id for c in chunks)
        lines = split_lines(blobs[SOURCES], blobs[CHUNKS], sources, rows)
        store = cls(manifest, sources, chunks, dense, matrix, keyword, lines)
        if (
            dense.ntotal != len(chunks)
            or dense.d != manifest.dim
            or matrix.dtype != np.float32
            or matrix.shape != (len(store.sentences), manifest.dim)
            or keyword.documents != len(chunks)
        ):
            raise ValueError("files disagree on the number of chunks, sentences or dim")
        return store


def _known_lines(
    sources: Sequence[Source], chunks: Sequence[Chunk], previous: Store | None
) -> Lines:
    """Return the previous generation's chunk table lines of the sources it holds unchanged."""
    if previous is None:
        return {}
    known: Lines = {}
    for source_id, rows in row_ranges(c.source_id for c in chunks).items():
        old = previous.chunk_rows.get(source_id)
        if (
            old is not None
            and source_id in previous._lines
            and previous.chunks[old.start : old.stop] == chunks[rows.start : rows.stop]
        ):
            known[source_id] = previous._lines[source_id]
    same = {s.id for s in sources if previous.sources.get(s.id) == s}
    return {source_id: known[source_id] for source_id in known.keys() & same}


def _chunk_terms(
    chunks: Sequence[Chunk], titles: dict[str, str], tokenize: Tokenizer, previous: Store | None
) -> Terms:
    """Return each chunk's keyword terms, reusing the previous generation's for equal sources."""
    reused: list[tuple[int, int]] = []  # (new row, previous row)
    fresh: list[int] = []
    for source_id, rows in row_ranges(c.source_id for c in chunks).items():
        old = previous.chunk_rows.get(source_id) if previous is not None else None
        if (
            previous is not None
            and old is not None
            and previous.sources[source_id].title == titles[source_id]
            # list equality tries identity first: reused chunks compare in no time
            and previous.chunks[old.start : old.stop] == chunks[rows.start : rows.stop]
        ):
            reused.extend(zip(rows, old, strict=True))
        else:
            fresh.extend(rows)
    texts = (index_text(titles[chunks[r].source_id], chunks[r]) for r in fresh)
    fresh_terms = Terms.from_texts(texts, tokenize)
    if previous is None or not reused:
        return fresh_terms.compact()
    kept = previous.keyword.terms.select([old for _, old in reused])
    position = np.empty(len(chunks), dtype=np.int64)
    position[[new for new, _ in reused] + fresh] = np.arange(len(chunks))
    return kept.concat(fresh_terms).select(position)
