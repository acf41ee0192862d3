"""Question -> Hits: the store's dense and keyword search, fused by reciprocal rank."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from rag.embedding.base import Embedder
from rag.index.base import Store
from rag.types import Hit


class Retriever:
    """Finds the chunks of one store that best match a query."""

    def __init__(self, store: Store, embedder: Embedder, pool: int = 50) -> None:
        self.store = store
        self.embedder = embedder
        self.pool = pool

    def retrieve(self, query: str, k: int) -> list[Hit]:
        """Return the k best chunks for the query, best first."""
        return self.retrieve_embedded(query, self.embedder.embed([query])[0], k)

    def retrieve_embedded(self, query: str, vector: NDArray[np.float32], k: int) -> list[Hit]:
        """Return the k best chunks for a query whose vector is already computed."""
        hits = []
        for row, score in self.store.search_hybrid(vector, query, k, max(self.pool, k)):
            chunk = self.store.chunks[row]
            title = self.store.sources[chunk.source_id].title
            hits.append(Hit(chunk=chunk, row=row, title=title, score=score))
        return hits

    def widen(self, hits: Sequence[Hit], query: str, k: int) -> list[Hit]:
        """Return the hits followed by the best keyword matches of a second query not yet in them.

        The second hop of a multi-hop question: its query names the bridge entity that the
        first hop's best sentence introduced. Keyword search alone keeps it cheap.
        """
        seen = {hit.row for hit in hits}
        extra: list[Hit] = []
        for row, score in self.store.search_keyword(query, k + len(hits)):
            if row not in seen and len(extra) < k:
                chunk = self.store.chunks[row]
                title = self.store.sources[chunk.source_id].title
                extra.append(Hit(chunk=chunk, row=row, title=title, score=score))
        return [*hits, *extra]


def interleave(first: Sequence[Hit], second: Sequence[Hit]) -> list[Hit]:
    """Merge a second hop's hits into the first hop's: first-hop hits keep ranks 1, 3, 5, ...

    A second-hop hit (scored by BM25 alone) takes the score of the one above it, so that
    scores never rise down the list; first-hop hits that the second hop found too move there.
    """
    added = {hit.row for hit in second}
    rest = [hit for hit in first if hit.row not in added]
    merged: list[Hit] = []
    for one, two in itertools.zip_longest(rest, second):
        if one is not None:
            merged.append(one)
        if two is not None:
            above = merged[-1].score if merged else two.score
            merged.append(replace(two, score=min(two.score, above)))
    return merged
