"""One published generation on Milvus: the Store the pipeline reads.

Search runs in Milvus (dense, BM25, and hybrid with RRF), filtered to rows no newer than the
generation; the catalog maps each hit back to a live chunk, so rows of a source that a newer
build replaced (between its publish and its clean-up) never surface. Sources and chunk
offsets are read once, when the generation is opened, as a LocalStore reads its folder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rag.config import Settings
from rag.errors import IndexCorrupt, IndexMismatch
from rag.index.base import Vectors
from rag.index.fusion import RRF_K
from rag.index.keyword import Tokenizer
from rag.index.layout.manifest import Chunking, Manifest
from rag.index.layout.parts import source_order
from rag.index.milvus.client import name, search_params
from rag.index.milvus.state import REBUILD, Catalog, query_all, read_catalog
from rag.index.rows import distinct_sentences, row_ranges
from rag.types import Chunk, Sentence, Source

SLACK = 16  # extra hits asked for, in case some belong to a replaced source


@dataclass(frozen=True, slots=True)
class Rows:
    """A generation's rows as the store maps them: chunk row -> pk, sentence -> pk."""

    chunk_pks: NDArray[np.int64]
    sentence_pks: dict[Sentence, int]


class MilvusStore:
    """One generation of a Milvus-backed index (a `Store`)."""

    def __init__(
        self,
        client: Any,
        settings: Settings,
        catalog: Catalog,
        sources: Sequence[Source],
        chunks: Sequence[Chunk],
        rows: Rows,
    ) -> None:
        self.client, self.settings, self.catalog = client, settings, catalog
        self.sources: dict[str, Source] = {s.id: s for s in sources}
        self.chunks: list[Chunk] = list(chunks)
        self.sentences = distinct_sentences(self.chunks)
        self.chunk_rows = row_ranges(c.source_id for c in self.chunks)
        self.problems: tuple[str, ...] = ()
        self.rows = rows
        self._row_of = {int(pk): row for row, pk in enumerate(rows.chunk_pks)}
        self._filter = f"gen <= {catalog.generation}"
        self._terms = Tokenizer(catalog.stemmer)
        self.manifest = Manifest(
            catalog.generation, catalog.model_id, catalog.dim, Chunking(**catalog.chunking),
            catalog.stemmer, catalog.created, extractor=catalog.extractor,
        )  # fmt: skip

    @property
    def generation(self) -> int:
        """The generation number."""
        return self.catalog.generation

    def chunk_count(self, source_id: str) -> int:
        """Return how many chunks a source has (0 if none)."""
        return len(self.chunk_rows.get(source_id, range(0)))

    def _hits(self, results: Any, k: int, sign: float = 1.0) -> list[tuple[int, float]]:
        found: list[tuple[int, float]] = []
        for hit in results[0] if results else []:
            row = self._row_of.get(int(hit["pk"]))
            if row is not None and len(found) < k:
                found.append((row, sign * float(hit["distance"])))
        return found

    def search_dense(self, vector: Vectors, k: int) -> list[tuple[int, float]]:
        """Return up to k (row, inner product) pairs, best first."""
        if k <= 0 or not self.chunks:
            return []
        results = self.client.search(
            name(self.settings, "chunks"), data=[_floats(vector)], anns_field="dense",
            limit=k + SLACK, filter=self._filter, output_fields=["pk"],
            search_params=search_params(self.settings),
        )  # fmt: skip
        return self._hits(results, k)

    def search_keyword(self, query: str, k: int) -> list[tuple[int, float]]:
        """Return up to k (row, BM25 score) pairs, best first; [] without keyword terms."""
        terms = " ".join(self._terms(query))
        if k <= 0 or not self.chunks or not terms:
            return []
        results = self.client.search(
            name(self.settings, "chunks"), data=[terms], anns_field="sparse",
            limit=k + SLACK, filter=self._filter, output_fields=["pk"],
            search_params={"metric_type": "BM25"},
        )  # fmt: skip
        return [(row, abs(score)) for row, score in self._hits(results, k)]

    def search_hybrid(
        self, vector: Vectors, query: str, k: int, pool: int
    ) -> list[tuple[int, float]]:
        """Return the k best rows of both searches (`pool` each), fused by Milvus's RRF."""
        from pymilvus import AnnSearchRequest, RRFRanker

        if k <= 0 or not self.chunks:
            return []
        requests = [AnnSearchRequest(data=[_floats(vector)], anns_field="dense",
                                     param=search_params(self.settings),
                                     limit=pool + SLACK, expr=self._filter)]  # fmt: skip
        terms = " ".join(self._terms(query))
        if terms:
            requests.append(AnnSearchRequest(data=[terms], anns_field="sparse",
                                             param={"metric_type": "BM25"},
                                             limit=pool + SLACK, expr=self._filter))  # fmt: skip
        results = self.client.hybrid_search(
            name(self.settings, "chunks"), requests, RRFRanker(RRF_K), limit=k + SLACK,
            output_fields=["pk"],
        )  # fmt: skip
        return self._hits(results, k)

    def chunk_vectors(self, rows: Sequence[int] | NDArray[np.int64]) -> Vectors:
        """Return the stored vectors of chunk rows."""
        pks = [int(self.rows.chunk_pks[r]) for r in np.asarray(rows, dtype=np.int64).reshape(-1)]
        return self._vectors("chunks", pks)

    def sentence_vectors(self, sentences: Sequence[Sentence]) -> Vectors:
        """Return the stored vectors of sentences of this generation's chunks."""
        return self._vectors("sentences", [self.rows.sentence_pks[s] for s in sentences])

    def _vectors(self, kind: str, pks: list[int]) -> Vectors:
        if not pks:
            return np.zeros((0, self.catalog.dim), dtype=np.float32)
        found = self.client.query(name(self.settings, kind), ids=sorted(set(pks)),
                                  output_fields=["pk", "dense"])  # fmt: skip
        by_pk = {int(r["pk"]): r["dense"] for r in found}
        try:
            return np.asarray([by_pk[pk] for pk in pks], dtype=np.float32)
        except KeyError as exc:
            raise IndexCorrupt(f"Milvus lacks the vector of row {exc}; {REBUILD}") from exc


def _floats(vector: Vectors) -> list[float]:
    return [float(x) for x in np.asarray(vector, dtype=np.float32).reshape(-1)]


def open_store(client: Any, settings: Settings, generation: int, model_id: str, dim: int) -> MilvusStore:
    """Read a published generation's catalog, sources and chunk offsets."""
    catalog = read_catalog(client, settings, generation)
    if (catalog.model_id, catalog.dim) != (model_id, dim):
        raise IndexMismatch(
            f"the Milvus index was built with {catalog.model_id} (dim {catalog.dim}), "
            f"not {model_id} (dim {dim}); drop its collections and {REBUILD}"
        )
    live = f"gen <= {generation}"
    born = catalog.born
    pieces: dict[str, list[tuple[int, str]]] = {}
    for row in query_all(client, name(settings, "sources"), live, ["source", "gen", "piece", "body"]):
        if born.get(row["source"]) == row["gen"]:
            pieces.setdefault(row["source"], []).append((row["piece"], row["body"]))
    if pieces.keys() != born.keys():
        missing = sorted(born.keys() - pieces.keys())[:3]
        raise IndexCorrupt(f"Milvus generation {generation} lacks sources {missing}; {REBUILD}")
    sources = sorted((_source(i, p) for i, p in pieces.items()), key=lambda s: source_order(s.id))
    texts = {s.id: s.text for s in sources}
    chunk_rows = [r for r in query_all(client, name(settings, "chunks"), live,
                                       ["pk", "source", "gen", "ordinal", "start", "end",
                                        "sentences"])
                  if born.get(r["source"]) == r["gen"]]  # fmt: skip
    chunk_rows.sort(key=lambda r: (source_order(r["source"]), r["ordinal"]))
    chunks = [_chunk(r, texts[r["source"]]) for r in chunk_rows]
    sentence_pks = {
        Sentence(r["source"], r["start"], r["end"]): int(r["pk"])
        for r in query_all(client, name(settings, "sentences"), live,
                           ["pk", "source", "gen", "start", "end"])
        if born.get(r["source"]) == r["gen"]
    }  # fmt: skip
    rows = Rows(np.asarray([r["pk"] for r in chunk_rows], dtype=np.int64), sentence_pks)
    return MilvusStore(client, settings, catalog, sources, chunks, rows)


def _source(source_id: str, pieces: list[tuple[int, str]]) -> Source:
    ordered = [body for _, body in sorted(pieces)]
    meta = json.loads(ordered[0])
    return Source(id=source_id, path=Path(meta["path"]), title=meta["title"],
                  text="".join(ordered[1:]), sha256=meta["sha256"],
                  file_sha256=meta["file_sha256"], pages=tuple(meta["pages"]))  # fmt: skip


def _chunk(row: dict[str, Any], text: str) -> Chunk:
    source_id, start, end = row["source"], int(row["start"]), int(row["end"])
    spans = json.loads(row["sentences"])
    return Chunk(id=f"{source_id}#{row['ordinal']}", source_id=source_id, start=start, end=end,
                 text=text[start:end],
                 sentences=tuple(Sentence(source_id, a, b) for a, b in spans))  # fmt: skip
