"""The generation a build starts from -> what the new one takes from it unchanged.

Keyword terms and chunk table lines of the sources whose chunks are the same objects (or
equal), so that a rebuild tokenizes and serializes only what changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from rag.chunk_table import Lines
from rag.chunking import index_text
from rag.keyword import Terms, Tokenizer
from rag.rows import row_ranges
from rag.types import Chunk, Source

if TYPE_CHECKING:
    from rag.store import Store


def known_lines(
    sources: Sequence[Source], chunks: Sequence[Chunk], previous: Store | None
) -> Lines:
    """Return the previous generation's chunk table lines of the sources it holds unchanged."""
    if previous is None:
        return {}
    known: Lines = {}
    for source_id, rows in row_ranges(c.source_id for c in chunks).items():
        old = previous.chunk_rows.get(source_id)
        if (
            old is not None
            and source_id in previous.lines
            and previous.chunks[old.start : old.stop] == chunks[rows.start : rows.stop]
        ):
            known[source_id] = previous.lines[source_id]
    old_sources = previous.sources
    same = {s.id for s in sources if (o := old_sources.get(s.id)) is s or o == s}
    return {source_id: known[source_id] for source_id in known.keys() & same}


def chunk_terms(
    chunks: Sequence[Chunk], titles: dict[str, str], tokenize: Tokenizer, previous: Store | None
) -> Terms:
    """Return each chunk's keyword terms, reusing the previous generation's for equal sources."""
    reused: list[tuple[int, int]] = []  # (new row, previous row)
    fresh: list[int] = []
    for source_id, rows in row_ranges(c.source_id for c in chunks).items():
        old = previous.chunk_rows.get(source_id) if previous is not None else None
        if (
            previous is not None
            and old is not None
            and previous.sources[source_id].title == titles[source_id]
            # list equality tries identity first: reused chunks compare in no time
            and previous.chunks[old.start : old.stop] == chunks[rows.start : rows.stop]
        ):
            reused.extend(zip(rows, old, strict=True))
        else:
            fresh.extend(rows)
    texts = (index_text(titles[chunks[r].source_id], chunks[r]) for r in fresh)
    fresh_terms = Terms.from_texts(texts, tokenize)
    if previous is None or not reused:
        return fresh_terms.compact()
    kept = previous.keyword.terms.select([old for _, old in reused])
    position = np.empty(len(chunks), dtype=np.int64)
    position[[new for new, _ in reused] + fresh] = np.arange(len(chunks))
    return kept.concat(fresh_terms).select(position)
