"""Deterministic stand-ins for plumbing tests (never for retrieval or answer quality)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from rag.index.base import Store
from rag.index.fusion import fuse
from rag.reading.base import Reading
from rag.reading.features import candidates
from rag.text.lexicon import Lexicon
from rag.types import Chunk, Hit, Sentence, Source


class FakeEmbedder:
    """Hashed bag of words -> normalised vector: same text, same vector, no model."""

    def __init__(self, dim: int = 64, model_id: str = "fake/bag-of-words") -> None:
        self.dim = dim
        self.model_id = model_id
        self.calls = 0  # texts embedded so far, to check that caches work
        self.texts_embedded = 0

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
                out[i, h % self.dim] += 1.0
            norm = float(np.linalg.norm(out[i]))
            out[i] = out[i] / norm if norm else out[i]
            if not norm:
                out[i, 0] = 1.0
        return out


class MemoryStore:
    """A second `Store`: chunks, vectors and word-overlap keyword search held in memory.

    It proves the seam: retrieval, reading and grounding run over it unchanged.
    """

    def __init__(
        self, sources: Sequence[Source], chunks: Sequence[Chunk], embedder: FakeEmbedder
    ) -> None:
        self.generation = 1
        self.problems: tuple[str, ...] = ()
        self.sources = {s.id: s for s in sources}
        self.chunks = list(chunks)
        self._chunk_vectors = embedder.embed([c.text for c in self.chunks])
        self._sentences = {s: s for c in self.chunks for s in c.sentences}
        texts = [self.sources[s.source_id].text[s.start : s.end] for s in self._sentences]
        self._sentence_vectors = dict(zip(self._sentences, embedder.embed(texts), strict=True))

    def chunk_count(self, source_id: str) -> int:
        return sum(1 for c in self.chunks if c.source_id == source_id)

    def search_dense(self, vector: NDArray[np.float32], k: int) -> list[tuple[int, float]]:
        scores = self._chunk_vectors @ vector
        order = np.argsort(-scores, kind="stable")[:k]
        return [(int(row), float(scores[row])) for row in order]

    def search_keyword(self, query: str, k: int) -> list[tuple[int, float]]:
        words = set(re.findall(r"\w+", query.lower()))
        scored = [
            (row, float(len(words & set(re.findall(r"\w+", c.text.lower())))))
            for row, c in enumerate(self.chunks)
        ]
        return sorted((s for s in scored if s[1] > 0), key=lambda s: -s[1])[:k]

    def search_hybrid(
        self, vector: NDArray[np.float32], query: str, k: int, pool: int
    ) -> list[tuple[int, float]]:
        return fuse((self.search_dense(vector, pool), self.search_keyword(query, pool)), k)

    def chunk_vectors(self, rows: Sequence[int] | NDArray[np.int64]) -> NDArray[np.float32]:
        return self._chunk_vectors[np.asarray(rows, dtype=np.int64)]

    def sentence_vectors(self, sentences: Sequence[Sentence]) -> NDArray[np.float32]:
        return np.stack([self._sentence_vectors[s] for s in sentences]).astype(np.float32)


class OverlapReader:
    """A second `Reader`: a sentence's share of the question's words is its probability."""

    threshold = 0.5
    quote_ratio = 0.99
    short_threshold = 0.5

    def read(
        self,
        question: str,
        vector: NDArray[np.float32],
        hits: Sequence[Hit],
        store: Store,
        lexicon: Lexicon,
    ) -> Reading:
        words = set(re.findall(r"\w+", question.lower()))
        found = candidates(hits, store)
        shares = [len(words & set(re.findall(r"\w+", c.text.lower()))) / len(words) for c in found]
        ranked = sorted(zip(shares, range(len(found)), found, strict=True), reverse=True)
        return Reading(
            candidates=tuple(c for _, _, c in ranked),
            probabilities=tuple(p for p, _, _ in ranked),
            answerable=ranked[0][0] if ranked else 0.0,
        )

    def short_answer(
        self, question: str, sentence: str, lexicon: Lexicon
    ) -> tuple[int, int, float]:
        return 0, len(sentence), 1.0
