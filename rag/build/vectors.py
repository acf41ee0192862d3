"""Chunks -> the vectors of a new generation: reused from the previous one, cached, or embedded."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from rag.embedding.base import Embedder
from rag.embedding.cache import EmbeddingCache
from rag.errors import RagError
from rag.index.local import LocalStore
from rag.index.rows import distinct_sentences, row_ranges, rows_in
from rag.text.chunking import index_text
from rag.text.units import read_with
from rag.types import Chunk, Sentence, Source

Vectors = NDArray[np.float32]


class BuildVectors:
    """Vectors for a build: reused from the previous generation, else cached, else embedded.

    A source in `reused` has the same chunks as in `previous`, so its rows are copied over.
    """

    def __init__(
        self,
        embedder: Embedder,
        cache: EmbeddingCache,
        previous: LocalStore | None,
        reused: set[str],
        batch_size: int,
        report: Callable[[str, int, int], None],
    ) -> None:
        self.embedder, self.cache, self.previous = embedder, cache, previous
        self.reused, self.batch_size, self.report = reused, batch_size, report
        self.embedded = 0
        self.sentences: list[Sentence] = []  # distinct_sentences(chunks), once computed

    def compute(
        self, sources: Sequence[Source], chunks: Sequence[Chunk]
    ) -> tuple[Vectors, Vectors]:
        """Return the chunk vectors and the distinct-sentence vectors, in store order."""
        texts = {s.id: s.text for s in sources}
        titles = {s.id: s.title for s in sources}
        old = self.previous if self.reused else None
        chunk_rows = row_ranges(c.source_id for c in chunks)
        sentences = self.sentences = []
        for source_id, rows in chunk_rows.items():
            if old is not None and source_id in self.reused:  # the same chunks, so sentences
                kept = old.sentence_rows.get(source_id, range(0))
                sentences.extend(old.sentences[kept.start : kept.stop])
            else:
                sentences.extend(distinct_sentences(chunks[rows.start : rows.stop]))
        sentence_rows = row_ranges(s.source_id for s in sentences)
        fresh = [i for i in chunk_rows if old is None or i not in self.reused]
        fresh_chunks = rows_in(chunk_rows[i] for i in fresh)
        fresh_sentences = rows_in(sentence_rows[i] for i in fresh)
        wanted = [index_text(titles[chunks[i].source_id], chunks[i]) for i in fresh_chunks]
        wanted += [read_with(texts[sentences[i].source_id], sentences[i].start, sentences[i].end)
                   for i in fresh_sentences]  # fmt: skip
        embedded = self._embed(wanted)
        if old is None:
            return embedded[: len(fresh_chunks)], embedded[len(fresh_chunks) :]
        return (
            self._stitch(
                chunk_rows, old.chunk_rows, old.chunk_matrix, embedded[: len(fresh_chunks)]
            ),
            self._stitch(
                sentence_rows, old.sentence_rows, old.sentence_matrix, embedded[len(fresh_chunks) :]
            ),
        )

    def _stitch(
        self, rows: dict[str, range], old_rows: dict[str, range], old: Vectors, fresh: Vectors
    ) -> Vectors:
        """Return the rows in store order: runs of reused sources sliced from the previous
        generation's matrix (one copy, no gather), the others taken in turn from `fresh`."""
        pieces: list[Vectors] = []
        run: range | None = None  # consecutive rows of the previous matrix
        taken = 0
        for source_id, span in rows.items():
            if source_id in self.reused:
                kept = old_rows.get(source_id, range(0))
                if run is not None and run.stop == kept.start:
                    run = range(run.start, kept.stop)
                    continue
                if run is not None:
                    pieces.append(old[run.start : run.stop])
                run = kept
            else:
                if run is not None:
                    pieces.append(old[run.start : run.stop])
                    run = None
                pieces.append(fresh[taken : taken + len(span)])
                taken += len(span)
        if run is not None:
            pieces.append(old[run.start : run.stop])
        if not pieces:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.concatenate(pieces).astype(np.float32, copy=False)

    def _embed(self, texts: Sequence[str]) -> Vectors:
        """Return one vector per text, embedding only the texts the cache lacks."""
        keys = [self.cache.key(t) for t in texts]
        text_of = dict(zip(keys, texts, strict=True))
        found = self.cache.get_many(list(text_of))
        # by length, so each batch pads its texts to about the same number of tokens
        missing = sorted((k for k in text_of if k not in found), key=lambda k: len(text_of[k]))
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
