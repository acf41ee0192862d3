"""The generation a build starts from -> what the new one takes from it unchanged.

Keyword terms and chunk table lines of the sources whose chunks are the same objects (or
equal), so that a rebuild tokenizes and serializes only what changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np

from rag.index.keyword import KeywordIndex, Terms, Tokenizer
from rag.index.layout.chunk_table import Lines
from rag.text.chunking import index_text
from rag.types import Chunk, Source


class Previous(Protocol):
    """What a build reads of the generation it starts from (a `LocalStore`)."""

    @property
    def sources(self) -> Mapping[str, Source]: ...
    @property
    def chunks(self) -> Sequence[Chunk]: ...
    @property
    def chunk_rows(self) -> Mapping[str, range]: ...
    @property
    def lines(self) -> Lines: ...
    @property
    def keyword(self) -> KeywordIndex: ...


def unchanged_rows(
    chunks: Sequence[Chunk], groups: dict[str, range], previous: Previous | None
) -> dict[str, range]:
    """Return the sources whose chunks equal the previous generation's, with their rows there.

    Args:
        groups: each source's rows in `chunks` (`row_ranges`).
    """
    if previous is None:
        return {}
    same: dict[str, range] = {}
    for source_id, rows in groups.items():
        old = previous.chunk_rows.get(source_id)
        # list equality tries identity first: reused chunks compare in no time
        if (
            old is not None
            and previous.chunks[old.start : old.stop] == chunks[rows.start : rows.stop]
        ):
            same[source_id] = old
    return same


def known_lines(
    sources: Sequence[Source], previous: Previous | None, unchanged: dict[str, range]
) -> Lines:
    """Return the previous generation's chunk table lines of the sources it holds unchanged."""
    if previous is None:
        return {}
    old_sources = previous.sources
    return {
        s.id: previous.lines[s.id]
        for s in sources
        if s.id in unchanged
        and s.id in previous.lines
        and ((o := old_sources.get(s.id)) is s or o == s)
    }


def chunk_terms(
    chunks: Sequence[Chunk],
    groups: dict[str, range],
    titles: dict[str, str],
    tokenize: Tokenizer,
    previous: Previous | None,
    unchanged: dict[str, range],
) -> Terms:
    """Return each chunk's keyword terms, reusing the previous generation's for equal sources."""
    reused: list[tuple[int, int]] = []  # (new row, previous row)
    fresh: list[int] = []
    for source_id, rows in groups.items():
        old = unchanged.get(source_id)
        if (
            previous is not None
            and old is not None
            and previous.sources[source_id].title == titles[source_id]
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
