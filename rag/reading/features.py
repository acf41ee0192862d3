"""Hits -> candidate sentences and the numbers a reader scores them by."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from rag.index.base import Store
from rag.reading.base import Candidate
from rag.text.lexicon import Lexicon
from rag.text.units import read_with
from rag.types import Hit, Sentence

SENTENCE_FEATURES = (
    "dense",
    "dense_chunk",
    "chunk_rank",
    "lexical",
    "lexical_context",
    "dense_gap",
    "lexical_gap",
    "length",
    "number_match",
    "is_title",
    "bigrams",
    "missing_context",
)
QUESTION_FEATURES = (
    "best",
    "second",
    "best_dense",
    "best_lexical",
    "best_lexical_context",
    "best_missing_context",
    "top_dense_chunk",
    "question_terms",
)
_ASKS_NUMBER = re.compile(
    r"\b(how (many|much|long|old|far|big|large|tall|often)|what (year|percentage|percent|date)"
    r"|when|in what year|which year)\b",
    re.IGNORECASE,
)
_HAS_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion|"
    r"january|february|march|april|may|june|july|august|september|october|november|december)\b",
    re.IGNORECASE,
)


def candidates(hits: Sequence[Hit], store: Store) -> list[Candidate]:
    """Return each distinct sentence of the hits once, in hit order."""
    seen: set[Sentence] = set()
    found: list[Candidate] = []
    for rank, hit in enumerate(hits):
        text = store.sources[hit.chunk.source_id].text
        for sentence in hit.chunk.sentences:
            if sentence in seen:
                continue
            seen.add(sentence)
            found.append(
                Candidate(
                    sentence=sentence,
                    text=text[sentence.start : sentence.end],
                    title=hit.title,
                    hit_rank=rank,
                    context=hit.chunk.text,
                    read_as=read_with(text, sentence.start, sentence.end),
                )
            )
    return found


def store_lexicon(store: Store) -> Lexicon:
    """Return the term statistics of a store's chunks, each read with its source's title."""
    return Lexicon(f"{store.sources[c.source_id].title} {c.text}" for c in store.chunks)


def _coverage(weights: dict[str, float], terms: set[str]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in terms) / total if total else 0.0


def _bigrams(terms: Sequence[str]) -> set[tuple[str, str]]:
    return set(itertools.pairwise(terms))


def sentence_features(
    question: str,
    vector: NDArray[np.float32],
    hits: Sequence[Hit],
    found: Sequence[Candidate],
    store: Store,
    lexicon: Lexicon,
) -> NDArray[np.float32]:
    """Return one row of SENTENCE_FEATURES per candidate."""
    if not found:
        return np.zeros((0, len(SENTENCE_FEATURES)), dtype=np.float32)
    dense = store.sentence_vectors([c.sentence for c in found]) @ vector
    chunk_dense = store.chunk_vectors([h.row for h in hits]) @ vector
    weights = lexicon.weights(question)
    top_idf = max(weights.values(), default=1.0)
    question_bigrams = _bigrams(lexicon.terms(question))
    asks_number = bool(_ASKS_NUMBER.search(question))
    rows = []
    contexts: dict[int, set[str]] = {}  # a chunk's terms, shared by its sentences
    for c, d in zip(found, dense, strict=True):
        terms = lexicon.terms(c.read_as or c.text)
        if c.hit_rank not in contexts:
            contexts[c.hit_rank] = set(lexicon.terms(f"{c.title} {c.context}"))
        context_terms = contexts[c.hit_rank]
        missing = [w for t, w in weights.items() if t not in context_terms]
        rows.append(
            [
                float(d),
                float(chunk_dense[c.hit_rank]),
                1.0 / (1.0 + c.hit_rank),
                _coverage(weights, set(terms)),
                _coverage(weights, context_terms),
                0.0,
                0.0,
                math.log1p(len(c.text)) / 6.0,
                float(asks_number and bool(_HAS_NUMBER.search(c.text))),
                float(c.text.strip() == c.title.strip()),
                len(question_bigrams & _bigrams(terms)) / max(len(question_bigrams), 1),
                max(missing, default=0.0) / top_idf,
            ]
        )
    table = np.asarray(rows, dtype=np.float32)
    table[:, 5] = table[:, 0] - table[:, 0].max()
    table[:, 6] = table[:, 3] - table[:, 3].max()
    return table


def question_features(
    table: NDArray[np.float32], probabilities: NDArray[np.float32], question_terms: int
) -> NDArray[np.float32]:
    """Return the QUESTION_FEATURES row that decides whether to answer at all."""
    if len(probabilities) == 0:
        return np.zeros(len(QUESTION_FEATURES), dtype=np.float32)
    order = np.argsort(-probabilities)
    best = int(order[0])
    second = float(probabilities[order[1]]) if len(order) > 1 else 0.0
    return np.asarray(
        [
            float(probabilities[best]),
            second,
            float(table[:, 0].max()),
            float(table[:, 3].max()),
            float(table[best, 4]),
            float(table[best, 11]),
            float(table[:, 1].max()),
            math.log1p(question_terms),
        ],
        dtype=np.float32,
    )
