"""Source folders -> a new index generation, built incrementally and published atomically."""

from __future__ import annotations

import itertools
import logging
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray

from rag.chunking import chunk, index_text
from rag.config import Settings
from rag.embedding import Embedder
from rag.embedding_cache import EmbeddingCache
from rag.errors import IndexCorrupt, IndexMismatch, IndexMissing, RagError, SourceError
from rag.generations import (
    build_lock,
    clean_up,
    load_current,
    new_tmp_dir,
    next_generation,
    publish,
)
from rag.keyword import stemmer_language
from rag.manifest import Chunking, Manifest
from rag.sources import load_source, scan_sources
from rag.store import Store, distinct_sentences, row_ranges
from rag.types import Chunk, Skipped, Source, SourceFile

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)
Vectors = NDArray[np.float32]
CACHE_DIR = "cache"


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What a build did: source counts by change, texts embedded, time taken."""

    generation: int
    added: int
    changed: int
    removed: int
    unchanged: int
    skipped: tuple[Skipped, ...]
    sources: int  # sources in the new generation
    chunks: int
    embedded: int  # texts actually sent to the embedder (cache misses)
    seconds: float


def _quiet(stage: str, done: int, total: int) -> None:
    """Ignore progress."""


def build_index(
    settings: Settings, embedder: Embedder, progress: Progress | None = None
) -> BuildReport:
    """Build and publish a new generation, re-reading and re-embedding only what changed.

    Raises:
        BuildInProgress: another build holds the index folder's lock.
        SourceError: a source folder is missing, or no source is readable.
        RagError: the new generation cannot be written (disk full, ...); the old one stays live.
    """
    started = time.perf_counter()
    report = progress or _quiet
    index_dir = settings.index_dir
    with build_lock(index_dir):
        try:
            return _build(settings, embedder, report, started)
        except (OSError, sqlite3.Error) as exc:
            raise RagError(f"could not write a new index generation in {index_dir}: {exc}") from exc


def _build(settings: Settings, embedder: Embedder, report: Progress, started: float) -> BuildReport:
    files, skipped = scan_sources(settings.source_dirs, settings.max_file_bytes)
    report("scanning", len(files), len(files))
    chunking = Chunking(settings.chunk_sentences, settings.chunk_overlap, settings.chunk_max_chars)
    previous = _previous(settings, embedder)
    same_chunking = previous is not None and previous.manifest.chunking == chunking
    old = previous.sources if previous else {}
    kept = previous.chunk_rows if previous is not None and same_chunking else {}
    fresh = [f for f in files if f.id not in old or old[f.id].file_sha256 != f.file_sha256]
    loaded = _load(fresh, skipped, report)
    sources: list[Source] = []
    chunks: list[Chunk] = []
    for file in sorted(files, key=lambda f: f.id):
        if file.id in loaded:
            source = loaded[file.id]
        elif file.id in old and old[file.id].file_sha256 == file.file_sha256:
            source = replace(old[file.id], path=file.path)
        else:
            continue  # new or changed, and unreadable: skipped
        sources.append(source)
        if previous is not None and source.id in kept and file.id not in loaded:
            rows = kept[source.id]
            chunks.extend(previous.chunks[rows.start : rows.stop])
        else:
            chunks.extend(chunk(source, chunking.sentences, chunking.overlap, chunking.max_chars))
    reused = {s.id for s in sources if s.id in kept and s.id not in loaded}
    if not chunks:
        folders = ", ".join(str(d) for d in settings.source_dirs)
        raise SourceError(f"no readable sources in {folders}; the index was not changed")
    cache = EmbeddingCache(settings.index_dir / CACHE_DIR, embedder.model_id, embedder.dim)
    try:
        vectors = _Vectors(embedder, cache, previous, reused, settings.embed_batch_size, report)
        chunk_vectors, sentence_vectors = vectors.compute(sources, chunks)
    finally:
        cache.close()
    report("writing", 0, 1)
    generation = next_generation(settings.index_dir)
    header = Manifest(generation, embedder.model_id, embedder.dim, chunking, stemmer_language(),
                      datetime.now(UTC).isoformat(timespec="seconds"))  # fmt: skip
    store = Store.build(header, sources, chunks, chunk_vectors, sentence_vectors, previous)
    _write(store, settings, generation)
    report("writing", 1, 1)
    new_ids = {s.id for s in sources}
    added = sum(1 for s in sources if s.id not in old)
    unchanged = sum(1 for s in sources if s.id in old and s.file_sha256 == old[s.id].file_sha256)
    return BuildReport(
        generation=generation,
        added=added,
        changed=len(sources) - added - unchanged,
        removed=sum(1 for i in old if i not in new_ids),
        unchanged=unchanged,
        skipped=tuple(skipped),
        sources=len(sources),
        chunks=len(chunks),
        embedded=vectors.embedded,
        seconds=time.perf_counter() - started,
    )


def _previous(settings: Settings, embedder: Embedder) -> Store | None:
    """Return the live generation to build on, or None to build everything afresh."""
    try:
        return load_current(settings.index_dir, embedder)
    except (IndexMissing, IndexMismatch, IndexCorrupt) as exc:
        log.info("building every source afresh: %s", exc)
        return None


def _load(
    files: Sequence[SourceFile], skipped: list[Skipped], report: Progress
) -> dict[str, Source]:
    """Read new and changed files; a file that fails is skipped."""
    loaded: dict[str, Source] = {}
    for done, file in enumerate(files, start=1):
        try:
            loaded[file.id] = load_source(file)
        except SourceError as exc:
            skipped.append(Skipped(file.path, str(exc)))
        report("reading", done, len(files))
    return loaded


def _write(store: Store, settings: Settings, generation: int) -> None:
    """Save into a private folder and publish it; never leave a half-written folder behind."""
    tmp = new_tmp_dir(settings.index_dir)
    try:
        store.save(tmp)
        publish(tmp, settings.index_dir, generation)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # already renamed away when publish got far
        raise
    clean_up(settings.index_dir, settings.keep_generations)


def _rows(ranges: Iterable[range]) -> NDArray[np.int64]:
    return np.fromiter(itertools.chain.from_iterable(ranges), dtype=np.int64)


class _Vectors:
    """Vectors for a build: reused from the previous generation, else cached, else embedded."""

    def __init__(
        self,
        embedder: Embedder,
        cache: EmbeddingCache,
        previous: Store | None,
        reused: set[str],
        batch_size: int,
        report: Progress,
    ) -> None:
        self.embedder, self.cache, self.previous = embedder, cache, previous
        self.reused, self.batch_size, self.report = reused, batch_size, report
        self.embedded = 0

    def compute(
        self, sources: Sequence[Source], chunks: Sequence[Chunk]
    ) -> tuple[Vectors, Vectors]:
        """Return the chunk vectors and the distinct-sentence vectors, in store order."""
        texts = {s.id: s.text for s in sources}
        titles = {s.id: s.title for s in sources}
        sentences = distinct_sentences(chunks)
        dim = self.embedder.dim
        chunk_matrix = np.zeros((len(chunks), dim), dtype=np.float32)
        sentence_matrix = np.zeros((len(sentences), dim), dtype=np.float32)
        chunk_rows = row_ranges(c.source_id for c in chunks)
        sentence_rows = row_ranges(s.source_id for s in sentences)
        fresh = [i for i in chunk_rows if i not in self.reused]
        fresh_chunks = _rows(chunk_rows[i] for i in fresh)
        fresh_sentences = _rows(sentence_rows[i] for i in fresh)
        if self.previous is not None and self.reused:
            old = self.previous
            kept = [i for i in chunk_rows if i in self.reused]
            chunk_matrix[_rows(chunk_rows[i] for i in kept)] = old.chunk_vectors(
                _rows(old.chunk_rows[i] for i in kept)
            )
            sentence_matrix[_rows(sentence_rows[i] for i in kept)] = old.sentence_vectors_at(
                _rows(old.sentence_rows[i] for i in kept)
            )
        wanted = [index_text(titles[chunks[i].source_id], chunks[i]) for i in fresh_chunks]
        wanted += [texts[sentences[i].source_id][sentences[i].start : sentences[i].end]
                   for i in fresh_sentences]  # fmt: skip
        embedded = self._embed(wanted)
        chunk_matrix[fresh_chunks] = embedded[: len(fresh_chunks)]
        sentence_matrix[fresh_sentences] = embedded[len(fresh_chunks) :]
        return chunk_matrix, sentence_matrix

    def _embed(self, texts: Sequence[str]) -> Vectors:
        """Return one vector per text, embedding only the texts the cache lacks."""
        keys = [self.cache.key(t) for t in texts]
        text_of = dict(zip(keys, texts, strict=True))
        found = self.cache.get_many(list(text_of))
        missing = [k for k in text_of if k not in found]
        self.report("embedding", 0, len(missing))
        for start in range(0, len(missing), self.batch_size):
            batch = missing[start : start + self.batch_size]
            vectors = self.embedder.embed([text_of[k] for k in batch])
            if vectors.shape != (len(batch), self.embedder.dim):
                raise RagError(
                    f"the embedder returned shape {vectors.shape} for {len(batch)} texts"
                )
            self.cache.put_many(batch, vectors)
            found.update(zip(batch, vectors, strict=True))
            self.embedded += len(batch)
            self.report("embedding", self.embedded, len(missing))
        if not keys:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)
