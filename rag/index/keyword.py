"""Chunk texts -> keyword terms -> a bm25s index; all bm25s calls live here.

The terms of every chunk are kept with the index, so a rebuild tokenizes only new chunks and
computes the BM25 weights for all chunks at once with numpy (bm25s' own indexing loops in
Python per document: seconds for a corpus that numpy weighs in milliseconds).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

K1, B = 1.5, 0.75  # bm25s' defaults for its "lucene" method
TERMS, OFFSETS = "terms.npy", "offsets.npy"
_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s' own token pattern
Ints = NDArray[np.int64]


def stemmer_language() -> str:
    """Return the stemmer to index with: "english" if PyStemmer is installed, else ""."""
    return "english" if importlib.util.find_spec("Stemmer") else ""


class Tokenizer:
    """Lower-cased words minus English stopwords, stemmed when a stemmer language is given."""

    def __init__(self, language: str) -> None:
        from bm25s.stopwords import STOPWORDS_EN

        self._stopwords = frozenset(STOPWORDS_EN)
        self._stem: Callable[[str], str] | None = None
        if language:
            self._stem = importlib.import_module("Stemmer").Stemmer(language).stemWord
        self._memo: dict[str, str] = {}

    def __call__(self, text: str) -> list[str]:
        """Return the keyword terms of a text, in order."""
        memo, terms = self._memo, []
        for word in _TOKEN.findall(text.lower()):
            if word in self._stopwords:
                continue
            term = memo.get(word)
            if term is None:
                term = memo[word] = self._stem(word) if self._stem else word
            terms.append(term)
        return terms


@dataclass(frozen=True, slots=True, eq=False)  # arrays have no single truth value
class Terms:
    """The terms of each chunk as ids into `vocab`: chunk i has ids[offsets[i]:offsets[i+1]]."""

    vocab: tuple[str, ...]
    ids: Ints
    offsets: Ints

    @classmethod
    def from_texts(cls, texts: Iterable[str], tokenize: Tokenizer) -> Terms:
        """Tokenize texts."""
        vocab: dict[str, int] = {}
        flat: list[int] = []
        offsets = [0]
        for text in texts:
            flat.extend(vocab.setdefault(t, len(vocab)) for t in tokenize(text))
            offsets.append(len(flat))
        return cls(tuple(vocab), np.array(flat, dtype=np.int64), np.array(offsets, dtype=np.int64))

    @classmethod
    def empty(cls) -> Terms:
        """Return the terms of no chunks."""
        return cls((), np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def select(self, rows: Sequence[int] | Ints) -> Terms:
        """Return the terms of these chunks, in this order."""
        rows = np.asarray(rows, dtype=np.int64)
        starts, lengths = self.offsets[rows], np.diff(self.offsets)[rows]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        gather = np.arange(offsets[-1], dtype=np.int64) + np.repeat(starts - offsets[:-1], lengths)
        return Terms(self.vocab, self.ids[gather], offsets)

    def concat(self, other: Terms) -> Terms:
        """Return these chunks' terms followed by the other's."""
        index = {term: i for i, term in enumerate(self.vocab)}
        for term in other.vocab:
            index.setdefault(term, len(index))
        theirs = np.array([index[t] for t in other.vocab], dtype=np.int64)
        ids = np.concatenate([self.ids, theirs[other.ids]]).astype(np.int64)
        offsets = np.concatenate([self.offsets, other.offsets[1:] + self.offsets[-1]])
        return Terms(tuple(index), ids, offsets.astype(np.int64)).compact()

    def compact(self) -> Terms:
        """Keep only the terms in use, sorted, so equal chunks give equal files."""
        used = np.flatnonzero(np.bincount(self.ids, minlength=len(self.vocab)))  # sorted, O(n)
        vocab = sorted(self.vocab[i] for i in used)
        index = {term: i for i, term in enumerate(vocab)}
        mapping = np.zeros(len(self.vocab), dtype=np.int64)
        mapping[used] = [index[self.vocab[i]] for i in used]
        return Terms(tuple(vocab), mapping[self.ids], self.offsets)


def weigh(terms: Terms) -> dict[str, Any]:
    """Return bm25s' score arrays (lucene BM25, a term-major sparse matrix) for these chunks."""
    import scipy.sparse

    docs, size = len(terms), max(len(terms.vocab), 1)
    lengths = np.diff(terms.offsets)
    doc = np.repeat(np.arange(docs, dtype=np.int64), lengths)
    # term frequencies: a term-major matrix, duplicates summed, doc ids sorted in each term
    counts = scipy.sparse.csc_matrix(
        (np.ones(len(terms.ids), dtype=np.float32), (doc, terms.ids)), shape=(max(docs, 1), size)
    )
    counts.sum_duplicates()
    tf, doc = counts.data.astype(np.float64), counts.indices.astype(np.int64)
    df = np.diff(counts.indptr).astype(np.int64)
    term = np.repeat(np.arange(size, dtype=np.int64), df)
    idf = np.log1p((docs - df + 0.5) / (df + 0.5))
    norm = K1 * ((1 - B) + B * lengths / max(float(lengths.mean()) if docs else 1.0, 1e-9))
    data = (idf[term] * tf / (norm[doc] + tf)).astype(np.float32)
    indptr = np.concatenate([[0], np.cumsum(df)]).astype(np.int32)
    return {"data": data, "indices": doc.astype(np.int32), "indptr": indptr, "num_docs": docs}


class KeywordIndex:
    """A bm25s index over chunks, with the terms it was weighed from."""

    def __init__(self, terms: Terms, bm25: Any, tokenize: Tokenizer) -> None:
        self.terms = terms
        self._bm25 = bm25
        self._tokenize = tokenize

    @classmethod
    def build(cls, terms: Terms, tokenize: Tokenizer) -> KeywordIndex:
        """Weigh the chunks' terms into a bm25s index."""
        import bm25s

        bm25 = bm25s.BM25(k1=K1, b=B, method="lucene")
        bm25.scores = weigh(terms)
        bm25.vocab_dict = {term: i for i, term in enumerate(terms.vocab)}
        bm25.unique_token_ids_set = set(bm25.vocab_dict.values())
        bm25.nonoccurrence_array = None  # only BM25L and BM25+ use one
        return cls(terms, bm25, tokenize)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """Return up to k (chunk row, bm25 score) pairs, best first; [] without known terms."""
        ids = self._bm25.get_tokens_ids(self._tokenize(query))
        if not ids or k <= 0:
            return []
        scores = np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float32)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        ranked = sorted(((int(r), float(scores[r])) for r in top), key=lambda p: (-p[1], p[0]))
        return [(row, score) for row, score in ranked if score > 0]

    def save(self, directory: Path) -> None:
        """Write the bm25s index and the chunks' terms (numpy files, no pickle)."""
        self._bm25.save(str(directory), show_progress=False)
        np.save(directory / TERMS, self.terms.ids, allow_pickle=False)
        np.save(directory / OFFSETS, self.terms.offsets, allow_pickle=False)

    @classmethod
    def load(cls, directory: Path, tokenize: Tokenizer) -> KeywordIndex:
        """Read an index written by `save` (its files already verified)."""
        import bm25s

        bm25 = bm25s.BM25.load(str(directory), mmap=False, show_progress=False)
        vocab = sorted(bm25.vocab_dict, key=bm25.vocab_dict.__getitem__)
        ids = np.load(directory / TERMS, allow_pickle=False)
        offsets = np.load(directory / OFFSETS, allow_pickle=False)
        if not (
            ids.dtype == offsets.dtype == np.int64
            and len(offsets) == bm25.scores["num_docs"] + 1
            and offsets[0] == 0
            and offsets[-1] == len(ids)
            and int(ids.max(initial=0)) < max(len(vocab), 1)
        ):
            raise ValueError(f"{directory} holds malformed keyword terms")
        return cls(Terms(tuple(vocab), ids, offsets), bm25, tokenize)

    @property
    def documents(self) -> int:
        """The number of chunks indexed."""
        return int(self._bm25.scores["num_docs"])
