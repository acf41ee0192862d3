"""Source folders -> a new generation on Milvus, incremental, never visible half-written.

A build inserts the rows of new and changed sources only (tagged with the new generation, in
batches of at most BATCH rows), flushes them, writes the generation's catalog, flushes it, and
only then moves the published pointer. Queries filter on the published generation, so until
that last write they keep answering from the previous one. Rows that the new generation no
longer uses are deleted after it is published; rows of a build that died before publishing
are deleted by the next build.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import numpy as np

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
from rag.index.generations import build_lock
from rag.index.keyword import Tokenizer, stemmer_language
from rag.index.milvus.client import PAD, connect, ensure_collections, keyword_text, name
from rag.index.milvus.state import (
    Catalog,
    drop_catalogs,
    drop_unpublished,
    pieces,
    publish,
    published,
    write_catalog,
)
from rag.index.milvus.store import MilvusStore, Rows, open_store
from rag.index.rows import row_ranges
from rag.sources.extract import EXTRACTOR
from rag.text.chunking import index_text
from rag.types import Chunk, Sentence, Source

BATCH = 2_000  # rows per insert
ROWS = ("chunks", "sentences", "sources")


class MilvusIndexer:
    """Builds the generations of a Milvus-backed index (one builder at a time)."""

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.settings = settings
        self.embedder = embedder

    def forget(self) -> None:
        """Nothing is held between builds: each reads the published catalog."""

    def build(self, progress: Progress | None = None) -> BuildReport:
        """Build and publish a new generation, inserting only new and changed sources.

        Raises:
            BuildInProgress: another build on this machine holds the index folder's lock.
            SourceError: a source folder is missing, or no source is readable.
            MilvusUnavailable: Milvus cannot be reached or is too old.
        """
        started = time.perf_counter()
        with build_lock(self.settings.index_dir):
            return _build(self.settings, self.embedder, progress or quiet, started)


def _build(settings: Settings, embedder: Embedder, report: Progress, started: float) -> BuildReport:
    client = connect(settings)
    ensure_collections(client, settings, embedder.dim)
    current = published(client, settings)
    for kind in ROWS:  # a build that died before publishing left these
        client.delete(name(settings, kind), filter=f"gen > {current}")
    drop_unpublished(client, settings, current)
    previous = None
    if current:
        previous = open_store(client, settings, current, embedder.model_id, embedder.dim)
    files, skipped = scan(settings, report)
    chunking = chunking_for(settings)
    found = gather(files, skipped, previous, chunking, report)
    if previous is not None and unchanged(previous, found):
        report("writing", 1, 1)
        return unchanged_report(previous, skipped, started)
    require_chunks(found, settings)
    generation = current + 1
    catalog = Catalog(generation=generation, model_id=embedder.model_id, dim=embedder.dim,
                      chunking=asdict(chunking), extractor=EXTRACTOR, stemmer=stemmer_language(),
                      created=datetime.now(UTC).isoformat(timespec="seconds"),
                      born=_born(found, previous, generation))  # fmt: skip
    store, embedded = _write(client, settings, embedder, found, previous, catalog, report)
    publish(client, settings, generation)
    _clean_up(client, settings, previous, store)
    report("writing", 1, 1)
    return changed_report(store, previous, skipped, embedded, started)


def _born(found: Gathered, previous: MilvusStore | None, generation: int) -> dict[str, int]:
    """Each source of the new generation, with the generation whose rows hold it."""
    kept = previous.catalog.born if previous is not None else {}
    return {s.id: kept[s.id] if s.id in found.reused else generation for s in found.sources}


def _write(
    client: Any,
    settings: Settings,
    embedder: Embedder,
    found: Gathered,
    previous: MilvusStore | None,
    catalog: Catalog,
    report: Progress,
) -> tuple[MilvusStore, int]:
    """Embed and insert the new rows, flushed, and the catalog; return the new store."""
    generation = catalog.generation
    fresh_sources = [s for s in found.sources if s.id not in found.reused]
    fresh_chunks = [c for c in found.chunks if c.source_id not in found.reused]
    cache = EmbeddingCache(settings.index_dir / CACHE_DIR, embedder.model_id, embedder.dim)
    try:
        vectors = BuildVectors(embedder, cache, None, set(), settings.embed_batch_size, report)
        chunk_vectors, sentence_vectors = vectors.compute(fresh_sources, fresh_chunks)
    finally:
        cache.close()
    titles = {s.id: s.title for s in found.sources}
    terms = Tokenizer(catalog.stemmer)
    base = generation << 32
    chunk_rows = [
        {"pk": base + i, "gen": generation, "source": c.source_id, "ordinal": _ordinal(c),
         "start": c.start, "end": c.end,
         "sentences": json.dumps([[s.start, s.end] for s in c.sentences]),
         "text": keyword_text(" ".join(terms(index_text(titles[c.source_id], c)))),
         "dense": v.tolist()}
        for i, (c, v) in enumerate(zip(fresh_chunks, chunk_vectors, strict=True))
    ]  # fmt: skip
    sentence_rows = [
        {"pk": base + i, "gen": generation, "source": s.source_id, "start": s.start,
         "end": s.end, "dense": v.tolist()}
        for i, (s, v) in enumerate(zip(vectors.sentences, sentence_vectors, strict=True))
    ]  # fmt: skip
    source_rows = _source_rows(fresh_sources, generation)
    total = len(chunk_rows) + len(sentence_rows) + len(source_rows)
    done = 0
    report("writing", done, total)
    for kind, rows in (("chunks", chunk_rows), ("sentences", sentence_rows),
                       ("sources", source_rows)):  # fmt: skip
        for first in range(0, len(rows), BATCH):
            client.insert(name(settings, kind), rows[first : first + BATCH])
            done += len(rows[first : first + BATCH])
            report("writing", done, total)
        client.flush(name(settings, kind))
    write_catalog(client, settings, catalog)
    store = _store(client, settings, catalog, found, previous, chunk_rows, sentence_rows)
    return store, vectors.embedded


def _ordinal(chunk: Chunk) -> int:
    return int(chunk.id.rsplit("#", 1)[1])


def _source_rows(sources: list[Source], generation: int) -> list[dict[str, Any]]:
    """Each source as a record piece (0) and text pieces (1...)."""
    rows: list[dict[str, Any]] = []
    base = generation << 32
    for source in sources:
        meta = json.dumps({"title": source.title, "sha256": source.sha256,
                           "path": str(source.path), "file_sha256": source.file_sha256,
                           "pages": list(source.pages)})  # fmt: skip
        for piece, body in enumerate([meta, *pieces(source.text)]):
            rows.append({"pk": base + len(rows), "gen": generation, "source": source.id,
                         "piece": piece, "body": body, "dense": PAD})  # fmt: skip
    return rows


def _store(
    client: Any,
    settings: Settings,
    catalog: Catalog,
    found: Gathered,
    previous: MilvusStore | None,
    chunk_rows: list[dict[str, Any]],
    sentence_rows: list[dict[str, Any]],
) -> MilvusStore:
    """The new generation as a store, without reading it back."""
    new_chunks = iter(r["pk"] for r in chunk_rows)
    pks: list[int] = []
    for source_id, span in row_ranges(c.source_id for c in found.chunks).items():
        if previous is not None and source_id in found.reused:
            kept = previous.chunk_rows[source_id]
            pks.extend(int(p) for p in previous.rows.chunk_pks[kept.start : kept.stop])
        else:
            pks.extend(next(new_chunks) for _ in span)
    sentence_pks: dict[Sentence, int] = {}
    if previous is not None:
        sentence_pks.update((s, pk) for s, pk in previous.rows.sentence_pks.items()
                            if s.source_id in found.reused)  # fmt: skip
    sentence_pks.update(
        (Sentence(r["source"], r["start"], r["end"]), r["pk"]) for r in sentence_rows
    )
    rows = Rows(np.asarray(pks, dtype=np.int64), sentence_pks)
    return MilvusStore(client, settings, catalog, found.sources, found.chunks, rows)


def _clean_up(
    client: Any, settings: Settings, previous: MilvusStore | None, store: MilvusStore
) -> None:
    """Delete the rows that the published generation no longer uses, and old catalogs."""
    if previous is not None:
        retired = [
            (i, g) for i, g in previous.catalog.born.items() if store.catalog.born.get(i) != g
        ]
        for first in range(0, len(retired), 100):
            expr = " or ".join(f"(source == {json.dumps(i)} and gen == {g})"
                               for i, g in retired[first : first + 100])  # fmt: skip
            for kind in ROWS:
                client.delete(name(settings, kind), filter=expr)
    drop_catalogs(client, settings, store.generation)
