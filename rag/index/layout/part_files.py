"""Rows of a generation <-> its part files: parts/NN/ sources, chunks, FAISS, sentence vectors.

Which part holds a source, and which parts are linked rather than written, is rag/parts.py.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from rag.index.layout.chunk_table import Lines, parse_chunks, parse_sources, split_lines
from rag.index.layout.manifest import Manifest, write_hashed
from rag.index.layout.parts import listed_parts, part_folder, part_of
from rag.index.rows import distinct_sentences, row_ranges
from rag.types import Chunk, Sentence, Source

SOURCES, CHUNKS, CHUNKS_FAISS, SENTENCES = (
    "sources.jsonl",
    "chunks.jsonl",
    "chunks.faiss",
    "sentences.npy",
)
PART_FILES = (SOURCES, CHUNKS, CHUNKS_FAISS, SENTENCES)
Vectors = NDArray[np.float32]


def write_part(
    directory: Path,
    part: int,
    lines: Sequence[tuple[bytes, bytes]],
    chunk_vectors: Vectors,
    sentence_vectors: Vectors,
) -> dict[str, str]:
    """Write one part's files from its sources' table lines and rows; return names and sha256."""
    import faiss

    folder = part_folder(part)
    (directory / folder).mkdir(parents=True, exist_ok=True)
    dense = faiss.IndexFlatIP(chunk_vectors.shape[1])
    dense.add(np.ascontiguousarray(chunk_vectors, dtype=np.float32))
    vectors = io.BytesIO()
    np.save(vectors, np.ascontiguousarray(sentence_vectors, dtype=np.float32), allow_pickle=False)
    blobs: dict[str, bytes | memoryview] = {
        SOURCES: b"".join(source for source, _ in lines),
        CHUNKS: b"".join(chunks for _, chunks in lines),
        CHUNKS_FAISS: faiss.serialize_index(dense).data,
        SENTENCES: vectors.getbuffer(),
    }
    return {
        f"{folder}/{name}": write_hashed(directory / folder / name, blob)
        for name, blob in blobs.items()
    }


@dataclass(frozen=True, slots=True)
class PartRows:
    """Every part's rows, read back and joined in part order."""

    sources: list[Source]
    chunks: list[Chunk]
    sentences: list[Sentence]
    lines: Lines
    chunk_matrix: Vectors
    sentence_matrix: Vectors


def read_parts(manifest: Manifest, blobs: dict[str, bytes]) -> PartRows:
    """Parse the verified part files; raise ValueError where they disagree with each other."""
    import faiss

    rows = PartRows([], [], [], {}, np.zeros(0, np.float32), np.zeros(0, np.float32))
    chunk_vectors, sentence_vectors = [], []
    for part in listed_parts(blobs):
        blob = {name: blobs[f"{part_folder(part)}/{name}"] for name in PART_FILES}
        sources = parse_sources(blob[SOURCES])
        chunks = parse_chunks(blob[CHUNKS], sources)
        dense = faiss.deserialize_index(np.frombuffer(blob[CHUNKS_FAISS], dtype=np.uint8))
        matrix = np.load(io.BytesIO(blob[SENTENCES]), allow_pickle=False)
        sentences = distinct_sentences(chunks)
        if (
            any(part_of(s.id) != part for s in sources)
            or dense.ntotal != len(chunks)
            or dense.d != manifest.dim
            or matrix.dtype != np.float32
            or matrix.shape != (len(sentences), manifest.dim)
        ):
            raise ValueError(f"the files of part {part} disagree on its rows or dim")
        by_source = row_ranges(c.source_id for c in chunks)
        rows.lines.update(split_lines(blob[SOURCES], blob[CHUNKS], sources, by_source))
        rows.sources.extend(sources)
        rows.chunks.extend(chunks)
        rows.sentences.extend(sentences)
        chunk_vectors.append(dense.reconstruct_n(0, dense.ntotal).reshape(-1, manifest.dim))
        sentence_vectors.append(matrix)
    dim = manifest.dim
    return PartRows(rows.sources, rows.chunks, rows.sentences, rows.lines,
                    _stack(chunk_vectors, dim), _stack(sentence_vectors, dim))  # fmt: skip


def _stack(matrices: list[Vectors], dim: int) -> Vectors:
    """Stack the parts' vectors, rows in part order."""
    if not matrices:
        return np.zeros((0, dim), dtype=np.float32)
    return np.ascontiguousarray(np.concatenate(matrices), dtype=np.float32)
