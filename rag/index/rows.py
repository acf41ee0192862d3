"""The row layout of a generation: chunks grouped by source, each sentence stored once."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from rag.types import Chunk, Sentence


def distinct_sentences(chunks: Iterable[Chunk]) -> list[Sentence]:
    """Return each sentence once, in the order it first appears in the chunks."""
    return list(dict.fromkeys(s for c in chunks for s in c.sentences))


def row_ranges(source_ids: Iterable[str]) -> dict[str, range]:
    """Return each source's rows in a sequence whose items are grouped by source."""
    ids = np.fromiter(source_ids, dtype=object)
    if not len(ids):
        return {}
    # where the id changes; compared in C, not in a Python loop
    bounds = [0, *(np.flatnonzero(ids[1:] != ids[:-1]) + 1).tolist(), len(ids)]
    return {ids[a]: range(a, b) for a, b in itertools.pairwise(bounds)}


def rows_in(ranges: Iterable[range]) -> NDArray[np.int64]:
    """Return the rows of several ranges, in order, as one index array."""
    return np.fromiter(itertools.chain.from_iterable(ranges), dtype=np.int64)
