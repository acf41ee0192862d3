"""Chunks + vectors <-> one index generation on disk: build it, save it, load it back.

A build reuses what the generation it starts from holds unchanged (keyword terms, chunk
table lines, whole parts to hard-link); a load checks the model, the format and every file's
checksum before it parses anything.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np

from rag.embedding.base import Embedder
from rag.errors import IndexCorrupt, IndexMismatch
from rag.index.keyword import KeywordIndex, Tokenizer, stemmer_language
from rag.index.layout.chunk_table import table_lines
from rag.index.layout.manifest import (
    MANIFEST,
    RUN_INDEX,
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
from rag.index.local import BM25, LocalStore, Vectors
from rag.index.rows import row_ranges, rows_in
from rag.types import Chunk, Sentence, Source


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


def _grouped(
    sources: Sequence[Source], chunks: Sequence[Chunk]
) -> tuple[dict[str, range], dict[str, int]]:
    """Return each source's chunk rows and chunk count; refuse chunks out of order."""
    if [s.id for s in sources] != sorted((s.id for s in sources), key=source_order):
        raise ValueError("a store's sources come in parts.source_order")
    groups = row_ranges(c.source_id for c in chunks)
    counts = {s.id: len(groups.get(s.id, ())) for s in sources}
    if list(groups) != [i for i, n in counts.items() if n] or sum(counts.values()) != len(chunks):
        raise ValueError("a store's chunks come grouped by source, in the sources' order")
    return groups, counts


def build_store(
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

    groups, counts = _grouped(sources, chunks)
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
    store = LocalStore(manifest, sources, chunks, dense, matrix, keyword, known, sentences)
    if previous is not None:
        store.inherited = Inherited.find(
            previous.directory,
            previous.manifest.files,
            previous.sources,
            store.sources,
            set(known),
        )
    return store


def save_store(store: LocalStore, directory: Path) -> None:
    """Write every file of the generation, the checksummed manifest last.

    Parts that the generation it was built from holds unchanged are hard-linked from it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    store.lines = table_lines(store.sources.values(), store.chunks, store.chunk_rows, store.lines)
    files: dict[str, str] = {}
    for part, ids in by_part(store.sources).items():
        linked = store.inherited.link(part, PART_FILES, directory) if store.inherited else None
        if linked is None:
            chunk_rows = rows_in(store.chunk_rows[i] for i in ids)
            sentence_rows = rows_in(store.sentence_rows.get(i, range(0)) for i in ids)
            lines = [store.lines[i] for i in ids]
            chunks, sentences = (
                store.chunk_matrix[chunk_rows],
                store.sentence_matrix[sentence_rows],
            )
            linked = write_part(directory, part, lines, chunks, sentences)
        files.update(linked)
    (directory / BM25).mkdir()
    store.keyword.save(directory / BM25)
    for path in sorted((directory / BM25).iterdir()):
        files[f"{BM25}/{path.name}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    store.manifest = replace(store.manifest, files=tuple(sorted(files.items())))
    write_hashed(directory / MANIFEST, manifest_bytes(store.manifest))


def load_store(directory: Path, embedder: Embedder) -> LocalStore:
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
            store = _parse(directory, manifest, blobs)
            store.file_stats = stats
            return store
    except (KeyError, ValueError, TypeError, IndexError, RuntimeError) as exc:
        raise IndexCorrupt(f"{directory} cannot be read ({exc!r}); {RUN_INDEX}") from exc


def _parse(directory: Path, manifest: Manifest, blobs: dict[str, bytes]) -> LocalStore:
    import faiss

    rows = read_parts(manifest, blobs)
    dense = faiss.IndexFlatIP(manifest.dim)
    dense.add(rows.chunk_matrix)
    keyword = KeywordIndex.load(directory / BM25, Tokenizer(manifest.stemmer))
    store = LocalStore(manifest, rows.sources, rows.chunks, dense, rows.sentence_matrix, keyword,
                rows.lines, rows.sentences)  # fmt: skip
    if keyword.documents != len(rows.chunks) or len(store.sources) != len(rows.sources):
        raise ValueError("the keyword index or the parts disagree on the chunks or sources")
    store.directory = directory
    return store
