"""Source -> sentences and chunks: pure functions that keep character offsets into `Source.text`."""

from __future__ import annotations

import re

import pysbd

from rag.text.blocks import BREAKS, lead_ins, runs, strip_span
from rag.types import Chunk, Sentence, Source

SPLITTER = 8  # the sentence splitter's version, recorded in each generation's manifest
# pysbd's run time grows quadratically with its input, so long lines are fed to it in windows.
_WINDOW_CHARS = 2000
_INNER_END = re.compile(r"[.!?…]+['\"’”)\]]*\s")  # a sentence end with more text after it


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Return the `(start, end)` spans of the sentences of `text`, stripped and in order.

    A sentence may span the line breaks of a run of hard-wrapped lines (rag/text/blocks.py),
    never a blank line or the start of a list item, table row or heading, except a lead-in
    ("... three places:"), which is one unit with the list it introduces. A split that leaves
    no space between two sentences ("file." + "bz2", "v1." + "2.3") is undone.
    """
    segmenter = pysbd.Segmenter(language="en", clean=False)
    flat = BREAKS.sub(" ", text)  # same length: pysbd reads a run as one line
    spans: list[tuple[int, int]] = []
    for start, end in lead_ins(text, list(runs(text))):
        spans.extend(_line_sentences(segmenter, flat, start, end))
    return _rejoin_glued(text, spans)


def _rejoin_glued(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge neighbouring sentences that touch, or whose second starts in lower case."""
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged:
            last_start, last_end = merged[-1]
            touching = start == last_end
            lower = (
                text[start].islower()
                and text[last_end - 1] == "."
                and not (BREAKS.search(text[last_end:start]))
            )
            if touching or lower:
                merged[-1] = (last_start, end)
                continue
        merged.append((start, end))
    return merged


def _line_sentences(
    segmenter: pysbd.Segmenter, text: str, start: int, end: int
) -> list[tuple[int, int]]:
    """Segment one line `text[start:end]` in windows short enough for pysbd to stay fast."""
    spans: list[tuple[int, int]] = []
    pos = start
    while pos < end:
        if end - pos <= _WINDOW_CHARS:
            spans.extend(_segment(segmenter, text, pos, end))
            break
        cut = _last_space(text, pos, pos + _WINDOW_CHARS)
        found = _segment(segmenter, text, pos, cut)
        if len(found) > 1:
            # The window's last sentence may have been cut short: segment it again next round.
            spans.extend(found[:-1])
            pos = found[-1][0]
        else:
            spans.extend(found)
            pos = cut
    return spans


def _segment(segmenter: pysbd.Segmenter, text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Locate pysbd's sentences in `text[start:end]` by search: its char spans are unreliable.

    A block with no sentence end but at its very end (a title, an item, a row, a line of
    code) is one sentence without asking pysbd: documents hold thousands of them.
    """
    block = text[start:end]
    if not _INNER_END.search(block.rstrip()):
        whole = strip_span(block, 0, len(block))
        return [] if whole is None else [(start + whole[0], start + whole[1])]
    spans: list[tuple[int, int]] = []
    cursor = 0
    for sentence in segmenter.segment(block):
        needle = str(sentence).strip()
        if not needle:
            continue
        found = block.find(needle, cursor)
        if found < 0:
            # pysbd altered the text: keep the rest of the block as one sentence.
            rest = strip_span(block, cursor, len(block))
            if rest is not None:
                spans.append(rest)
            break
        spans.append((found, found + len(needle)))
        cursor = found + len(needle)
    return [(start + s, start + e) for s, e in spans]


def _last_space(text: str, start: int, limit: int) -> int:
    """Return the last whitespace index in `(start, limit]`, or `limit` when there is none."""
    for i in range(min(limit, len(text) - 1), start, -1):
        if text[i].isspace():
            return i
    return limit


def _cut_long(text: str, span: tuple[int, int], max_chars: int) -> list[tuple[int, int]]:
    """Cut a span into stripped pieces of at most `max_chars`, at whitespace where possible."""
    pieces: list[tuple[int, int]] = []
    start, end = span
    while end - start > max_chars:
        cut = _last_space(text, start, start + max_chars)
        piece = strip_span(text, start, cut)
        if piece is not None:
            pieces.append(piece)
        rest = strip_span(text, cut, end)
        if rest is None:
            return pieces
        start = rest[0]
    pieces.append((start, end))
    return pieces


def _window_end(spans: list[tuple[int, int]], first: int, size: int, max_chars: int) -> int:
    """Return the window's exclusive end: `size` spans on from `first`, fewer past max_chars."""
    end = first + 1
    limit = min(first + size, len(spans))
    while end < limit and spans[end][1] - spans[first][0] <= max_chars:
        end += 1
    return end


def chunk(
    source: Source, sentences_per_chunk: int = 3, overlap: int = 1, max_chars: int = 1000
) -> list[Chunk]:
    """Cut a source into overlapping windows of consecutive sentences.

    Args:
        overlap: sentences shared by neighbouring windows (dropped where a window would
            otherwise lie inside the previous one).
        max_chars: longest chunk; longer sentences are cut at whitespace first.
    """
    if sentences_per_chunk < 1 or overlap < 0 or max_chars < 1:
        raise ValueError("need sentences_per_chunk >= 1, overlap >= 0 and max_chars >= 1")
    text = source.text
    spans = [p for s in split_sentences(text) for p in _cut_long(text, s, max_chars)]
    step = max(1, sentences_per_chunk - overlap)
    chunks: list[Chunk] = []
    first, covered = 0, 0
    while covered < len(spans):
        end = _window_end(spans, first, sentences_per_chunk, max_chars)
        if end <= covered:  # would lie inside the previous window: drop the overlap
            first = covered
            continue
        chunks.append(_make_chunk(source, len(chunks), spans[first:end]))
        covered = end
        first = max(first + 1, min(first + step, end - overlap))
    return chunks


def _make_chunk(source: Source, ordinal: int, spans: list[tuple[int, int]]) -> Chunk:
    """Build the chunk that covers `spans` of `source`."""
    start, end = spans[0][0], spans[-1][1]
    return Chunk(
        id=f"{source.id}#{ordinal}",
        source_id=source.id,
        start=start,
        end=end,
        text=source.text[start:end],
        sentences=tuple(Sentence(source.id, s, e) for s, e in spans),
    )


def index_text(title: str, chunk: Chunk) -> str:
    """Return the text embedded and keyword-indexed for a chunk: its title, then its text."""
    if not title or chunk.text.startswith(title):
        return chunk.text
    return f"{title}\n{chunk.text}"
