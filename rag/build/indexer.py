"""Source folders -> a new index generation, built incrementally and published atomically."""

from __future__ import annotations

import logging
import shutil
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

from rag.build.assemble import (
    CACHE_DIR,
    Gathered,
    Progress,
    chunking_for,
    gather,
    quiet,
    require_chunks,
    scan,
    unchanged,
)
from rag.build.report import BuildReport, changed_report, unchanged_report
from rag.build.vectors import BuildVectors
from rag.config import Settings
from rag.embedding.base import Embedder
from rag.embedding.cache import EmbeddingCache
from rag.errors import IndexCorrupt, IndexMismatch, IndexMissing, RagError
from rag.index.generations import (
    build_lock,
    clean_up,
    current_generation,
    load_current,
    new_tmp_dir,
    next_generation,
    publish,
)
from rag.index.keyword import stemmer_language
from rag.index.layout.manifest import Chunking, Manifest
from rag.index.local import LocalStore
from rag.index.storage import build_store, save_store
from rag.sources.extract import EXTRACTOR

log = logging.getLogger(__name__)


class Indexer:
    """Builds the generations of one index folder.

    It keeps the generation it last built in memory, so that its next build (a watcher's, a
    server's) need not read that generation back from disk, unless another process has
    published a newer one meanwhile.
    """

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.settings = settings
        self.embedder = embedder
        self.last: LocalStore | None = None

    def build(self, progress: Progress | None = None) -> BuildReport:
        """Build and publish a new generation, re-reading and re-embedding only what changed.

        Raises:
            BuildInProgress: another build holds the index folder's lock.
            SourceError: a source folder is missing, or no source is readable.
            RagError: the new generation cannot be written (disk full, ...); the old one
                stays live.
        """
        started = time.perf_counter()
        index_dir = self.settings.index_dir
        with build_lock(index_dir):
            try:
                report, self.last = _build(self, progress or quiet, started)
            except (OSError, sqlite3.Error) as exc:
                raise RagError(
                    f"could not write a new index generation in {index_dir}: {exc}"
                ) from exc
        return report

    def forget(self) -> None:
        """Drop the generation held in memory: the next build reads the index back."""
        self.last = None

    def previous(self) -> LocalStore | None:
        """Return the live generation to build on, or None to build everything afresh."""
        last, embedder = self.last, self.embedder
        if (
            last is not None
            and last.generation == current_generation(self.settings.index_dir)
            and (last.model_id, last.dim) == (embedder.model_id, embedder.dim)
            and last.unchanged_on_disk()  # else read back and verified, falling back if damaged
        ):
            return last
        self.last = None
        try:
            return load_current(self.settings.index_dir, embedder)
        except IndexMissing:
            return None  # a first build: nothing to say
        except (IndexMismatch, IndexCorrupt) as exc:
            log.info("building every source afresh: %s", exc)
            return None


def build_index(
    settings: Settings, embedder: Embedder, progress: Progress | None = None
) -> BuildReport:
    """Build and publish a new generation, re-reading and re-embedding only what changed.

    Raises:
        BuildInProgress: another build holds the index folder's lock.
        SourceError: a source folder is missing, or no source is readable.
        RagError: the new generation cannot be written (disk full, ...); the old one stays live.
    """
    return Indexer(settings, embedder).build(progress)


def _build(indexer: Indexer, report: Progress, started: float) -> tuple[BuildReport, LocalStore]:
    settings = indexer.settings
    files, skipped = scan(settings, report)
    previous = indexer.previous()
    chunking = chunking_for(settings)
    found = gather(files, skipped, previous, chunking, report)
    live = previous is not None and not previous.problems  # else CURRENT must be mended
    if previous is not None and live and unchanged(previous, found):
        report("writing", 1, 1)
        return unchanged_report(previous, skipped, started), previous
    require_chunks(found, settings)
    store, embedded = _embed_and_write(indexer, found, previous, chunking, report)
    return changed_report(store, previous, skipped, embedded, started), store


def _embed_and_write(
    indexer: Indexer,
    found: Gathered,
    previous: LocalStore | None,
    chunking: Chunking,
    report: Progress,
) -> tuple[LocalStore, int]:
    """Embed what is new, build the generation, publish it; return it and the texts embedded."""
    settings, embedder = indexer.settings, indexer.embedder
    cache = EmbeddingCache(settings.index_dir / CACHE_DIR, embedder.model_id, embedder.dim)
    try:
        batch = settings.embed_batch_size
        vectors = BuildVectors(embedder, cache, previous, found.reused, batch, report)
        chunk_vectors, sentence_vectors = vectors.compute(found.sources, found.chunks)
    finally:
        cache.close()
    report("writing", 0, 1)
    generation = next_generation(settings.index_dir)
    header = Manifest(generation, embedder.model_id, embedder.dim, chunking, stemmer_language(),
                      datetime.now(UTC).isoformat(timespec="seconds"),
                      extractor=EXTRACTOR)  # fmt: skip
    store = build_store(
        header, found.sources, found.chunks, chunk_vectors, sentence_vectors, previous,
        vectors.sentences,
    )  # fmt: skip
    store.published(_write(store, settings, generation, previous.generation if previous else 0))
    report("writing", 1, 1)
    return store, vectors.embedded


def _write(store: LocalStore, settings: Settings, generation: int, base: int) -> Path:
    """Save into a private folder and publish it; never leave a half-written folder behind."""
    tmp = new_tmp_dir(settings.index_dir)
    try:
        save_store(store, tmp)
        target = publish(tmp, settings.index_dir, generation)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # already renamed away when publish got far
        raise
    clean_up(settings.index_dir, settings.keep_generations, base)
    return target
