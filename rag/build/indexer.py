"""Source folders -> a new index generation, built incrementally and published atomically."""

from __future__ import annotations

import logging
import shutil
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from rag.build.vectors import BuildVectors
from rag.config import Settings
from rag.embedding.base import Embedder
from rag.embedding.cache import EmbeddingCache
from rag.errors import IndexCorrupt, IndexMismatch, IndexMissing, RagError, SourceError
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
from rag.index.layout.parts import source_order
from rag.index.local import LocalStore
from rag.sources.digests import FileDigests
from rag.sources.extract import load_source
from rag.sources.scan import scan_sources
from rag.text.chunking import chunk
from rag.types import Chunk, Skipped, Source, SourceFile

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)
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
    published: bool = True  # False: nothing changed, and `generation` still serves


def _quiet(stage: str, done: int, total: int) -> None:
    """Ignore progress."""


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
                report, self.last = _build(self, progress or _quiet, started)
            except (OSError, sqlite3.Error) as exc:
                raise RagError(
                    f"could not write a new index generation in {index_dir}: {exc}"
                ) from exc
        return report

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
        except (IndexMissing, IndexMismatch, IndexCorrupt) as exc:
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
    settings, embedder = indexer.settings, indexer.embedder
    digests = FileDigests(settings.index_dir / CACHE_DIR)
    files, skipped = scan_sources(settings.source_dirs, settings.max_file_bytes, digests)
    digests.save()
    report("scanning", len(files), len(files))
    previous = indexer.previous()
    chunking = Chunking(settings.chunk_sentences, settings.chunk_overlap, settings.chunk_max_chars)
    old = previous.sources if previous else {}
    fresh = [f for f in files if f.id not in old or old[f.id].file_sha256 != f.file_sha256]
    loaded = _load(fresh, skipped, report)
    sources, chunks, reused = _assemble(files, loaded, previous, chunking, report)
    live = previous is not None and not previous.problems  # else CURRENT must be mended
    if previous is not None and live and _unchanged(previous, sources, reused):
        report("writing", 1, 1)
        return _unchanged_report(previous, skipped, started), previous
    if not chunks:
        folders = ", ".join(str(d) for d in settings.source_dirs)
        raise SourceError(f"no readable sources in {folders}; the index was not changed")
    cache = EmbeddingCache(settings.index_dir / CACHE_DIR, embedder.model_id, embedder.dim)
    try:
        vectors = BuildVectors(embedder, cache, previous, reused, settings.embed_batch_size, report)
        chunk_vectors, sentence_vectors = vectors.compute(sources, chunks)
    finally:
        cache.close()
    report("writing", 0, 1)
    generation = next_generation(settings.index_dir)
    header = Manifest(generation, embedder.model_id, embedder.dim, chunking, stemmer_language(),
                      datetime.now(UTC).isoformat(timespec="seconds"))  # fmt: skip
    store = LocalStore.build(
        header, sources, chunks, chunk_vectors, sentence_vectors, previous, vectors.sentences
    )
    store.published(_write(store, settings, generation, previous.generation if previous else 0))
    report("writing", 1, 1)
    added = sum(1 for s in sources if s.id not in old)
    unchanged = sum(1 for s in sources if s.id in old and s.file_sha256 == old[s.id].file_sha256)
    return BuildReport(
        generation=generation,
        added=added,
        changed=len(sources) - added - unchanged,
        removed=len(old.keys() - {s.id for s in sources}),
        unchanged=unchanged,
        skipped=tuple(skipped),
        sources=len(sources),
        chunks=len(chunks),
        embedded=vectors.embedded,
        seconds=time.perf_counter() - started,
    ), store


def _unchanged(previous: LocalStore, sources: Sequence[Source], reused: set[str]) -> bool:
    """Tell whether a build would publish what `previous` already holds."""
    old = previous.sources
    return (
        previous.manifest.stemmer == stemmer_language()
        and len(sources) == len(old)
        and reused == old.keys()
        and all(old.get(s.id) is s for s in sources)  # the same objects: same files, same paths
    )


def _unchanged_report(previous: LocalStore, skipped: list[Skipped], started: float) -> BuildReport:
    n = len(previous.sources)
    return BuildReport(
        generation=previous.generation,
        added=0,
        changed=0,
        removed=0,
        unchanged=n,
        skipped=tuple(skipped),
        sources=n,
        chunks=len(previous.chunks),
        embedded=0,
        seconds=time.perf_counter() - started,
        published=False,
    )


def _assemble(
    files: Sequence[SourceFile],
    loaded: dict[str, Source],
    previous: LocalStore | None,
    chunking: Chunking,
    report: Progress,
) -> tuple[list[Source], list[Chunk], set[str]]:
    """Return the new generation's sources and chunks (in `source_order`), and the ids of
    the sources whose chunks are reused from the previous generation."""
    old = previous.sources if previous is not None else {}
    same_chunking = previous is not None and previous.manifest.chunking == chunking
    sources: list[Source] = []
    for file in sorted(files, key=lambda f: source_order(f.id)):
        if file.id in loaded:
            sources.append(loaded[file.id])
        elif file.id in old and old[file.id].file_sha256 == file.file_sha256:
            same = str(old[file.id].path) == file.path  # the same object: its lines are reused
            sources.append(old[file.id] if same else replace(old[file.id], path=Path(file.path)))
        # else: new or changed, and unreadable: skipped
    reused = {s.id for s in sources if same_chunking and s.id not in loaded}
    chunks: list[Chunk] = []
    done, total = 0, len(sources) - len(reused)
    report("chunking", done, total)
    for source in sources:
        if previous is not None and source.id in reused:
            rows = previous.chunk_rows.get(source.id, range(0))
            chunks.extend(previous.chunks[rows.start : rows.stop])
        else:
            chunks.extend(chunk(source, chunking.sentences, chunking.overlap, chunking.max_chars))
            done += 1
            report("chunking", done, total)
    return sources, chunks, reused


def _load(
    files: Sequence[SourceFile], skipped: list[Skipped], report: Progress
) -> dict[str, Source]:
    """Read new and changed files; a file that fails is skipped."""
    loaded: dict[str, Source] = {}
    report("reading", 0, len(files))
    for done, file in enumerate(files, start=1):
        try:
            loaded[file.id] = load_source(file)
        except SourceError as exc:
            skipped.append(Skipped(Path(file.path), str(exc)))
        report("reading", done, len(files))
    return loaded


def _write(store: LocalStore, settings: Settings, generation: int, base: int) -> Path:
    """Save into a private folder and publish it; never leave a half-written folder behind."""
    tmp = new_tmp_dir(settings.index_dir)
    try:
        store.save(tmp)
        target = publish(tmp, settings.index_dir, generation)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # already renamed away when publish got far
        raise
    clean_up(settings.index_dir, settings.keep_generations, base)
    return target
