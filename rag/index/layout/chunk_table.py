"""Sources and chunks <-> the chunk table: sources.jsonl and chunks.jsonl of a generation.

A chunk row holds offsets, never text: its text is cut from its source's text when read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rag.types import Chunk, Sentence, Source

# source id -> (its line of sources.jsonl, its lines of chunks.jsonl)
Lines = dict[str, tuple[bytes, bytes]]


def sources_jsonl(sources: Iterable[Source]) -> bytes:
    """Return one JSON line per source, text included."""
    return _jsonl(map(_source_row, sources))


def chunks_jsonl(chunks: Iterable[Chunk]) -> bytes:
    """Return one JSON line per chunk: ids and offsets only."""
    quoted: dict[str, str] = {}
    lines = []
    for c in chunks:  # formatted by hand: json.dumps a row costs 4x more, for 20,000 rows
        source = quoted.get(c.source_id) or quoted.setdefault(c.source_id, _quote(c.source_id))
        spans = ",".join(f"[{s.start},{s.end}]" for s in c.sentences)
        lines.append(
            f'{{"id":{_quote(c.id)},"source_id":{source},"start":{c.start},"end":{c.end},'
            f'"sentences":[{spans}]}}\n'
        )
    return "".join(lines).encode()


def table_lines(
    sources: Iterable[Source], chunks: Sequence[Chunk], rows: dict[str, range], known: Lines
) -> Lines:
    """Return each source's lines of the chunk table: from `known` if given, else written."""
    lines: Lines = {}
    for s in sources:
        span = rows.get(s.id, range(0))
        lines[s.id] = known.get(s.id) or (
            sources_jsonl([s]),
            chunks_jsonl(chunks[span.start : span.stop]),
        )
    return lines


def split_lines(
    sources_blob: bytes, chunks_blob: bytes, sources: Sequence[Source], rows: dict[str, range]
) -> Lines:
    """Return the lines of each source in a chunk table read from disk."""
    source_lines = sources_blob.splitlines(keepends=True)
    chunk_lines = chunks_blob.splitlines(keepends=True)
    lines: Lines = {}
    for s, line in zip(sources, source_lines, strict=True):
        span = rows.get(s.id, range(0))
        lines[s.id] = (line, b"".join(chunk_lines[span.start : span.stop]))
    return lines


def parse_sources(blob: bytes) -> list[Source]:
    """Read sources.jsonl; raise ValueError when a text does not match its sha256."""
    return [_source(row) for row in _json_lines(blob)]


def parse_chunks(blob: bytes, sources: Iterable[Source]) -> list[Chunk]:
    """Read chunks.jsonl, cutting each chunk's text from its source."""
    texts = {s.id: s.text for s in sources}
    return [_chunk(row, texts) for row in _json_lines(blob)]


def _json_lines(blob: bytes) -> list[Any]:
    """Parse JSON lines as one JSON list: one parser call is ~5x faster than one per line."""
    return list(json.loads(b"[" + b",".join(blob.splitlines()) + b"]"))


_ENCODER = json.JSONEncoder(ensure_ascii=False)  # one encoder: json.dumps builds one a call
_quote = _ENCODER.encode


def _jsonl(rows: Iterable[dict[str, object]]) -> bytes:
    return "".join(_ENCODER.encode(row) + "\n" for row in rows).encode()


def _source_row(s: Source) -> dict[str, object]:
    row: dict[str, object] = {"id": s.id, "path": str(s.path), "title": s.title,
                              "sha256": s.sha256, "file_sha256": s.file_sha256, "text": s.text}
    if s.pages:  # only PDFs have them: every other line stays as it was
        row["pages"] = list(s.pages)
    return row  # fmt: skip


def _source(row: dict[str, Any]) -> Source:
    pages = tuple(int(p) for p in row.get("pages", ()))
    source = Source(row["id"], Path(row["path"]), row["title"], row["text"], row["sha256"],
                    row["file_sha256"], pages)  # fmt: skip
    if hashlib.sha256(source.text.encode()).hexdigest() != source.sha256:
        raise ValueError(f"source {source.id} text does not match its sha256")
    return source


def _chunk(row: dict[str, Any], texts: dict[str, str]) -> Chunk:
    source_id, start, end = row["source_id"], row["start"], row["end"]
    text = texts[source_id]
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"chunk {row['id']} lies outside its source")
    sentences = tuple(Sentence(source_id, a, b) for a, b in row["sentences"])
    return Chunk(row["id"], source_id, start, end, text[start:end], sentences)
