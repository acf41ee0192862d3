"""The Milvus index's catalog: which generation is published, and what each generation holds.

A generation's catalog (its settings, and each live source with the generation whose rows
hold it) is written in pieces to the state collection, flushed, and only then does the
pointer row (pk 0) name it: the one write that publishes a build.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from rag.config import Settings
from rag.errors import IndexCorrupt
from rag.index.milvus.client import PAD, PIECE_CHARS, name

POINTER = 0
PIECES = 1_000_000  # catalog piece i of generation g has pk g * PIECES + i
REBUILD = "run `rag index` to rebuild it"


class Catalog(BaseModel):
    """What one generation holds: how it was built, and where each source's rows are."""

    model_config = ConfigDict(frozen=True)

    generation: int
    model_id: str
    dim: int
    chunking: dict[str, int]
    extractor: int
    stemmer: str  # the keyword terms' stemmer language (rag.index.keyword.Tokenizer)
    created: str
    born: dict[str, int]  # source id -> the generation whose rows hold it


def pieces(text: str) -> list[str]:
    """Cut text into pieces a VARCHAR holds."""
    return [text[i : i + PIECE_CHARS] for i in range(0, len(text), PIECE_CHARS)] or [""]


def query_all(
    client: Any, collection: str, expr: str, fields: list[str]
) -> Iterator[dict[str, Any]]:
    """Every row matching a filter, in batches (a single query returns at most 16,384)."""
    iterator = client.query_iterator(collection, filter=expr, output_fields=fields,
                                     batch_size=4_000)  # fmt: skip
    try:
        while batch := iterator.next():
            yield from batch
    finally:
        iterator.close()


def published(client: Any, settings: Settings) -> int:
    """The published generation, 0 if none."""
    rows = client.query(name(settings, "state"), ids=[POINTER], output_fields=["body"])
    return int(json.loads(rows[0]["body"])["generation"]) if rows else 0


def write_catalog(client: Any, settings: Settings, catalog: Catalog) -> None:
    """Write a generation's catalog, flushed, before the pointer may name it."""
    base = catalog.generation * PIECES
    rows = [{"pk": base + i, "gen": catalog.generation, "piece": i, "body": body, "dense": PAD}
            for i, body in enumerate(pieces(catalog.model_dump_json()))]  # fmt: skip
    collection = name(settings, "state")
    for first in range(0, len(rows), 100):
        client.insert(collection, rows[first : first + 100])
    client.flush(collection)


def publish(client: Any, settings: Settings, generation: int) -> None:
    """Point queries at a generation whose rows and catalog are flushed."""
    collection = name(settings, "state")
    body = json.dumps({"generation": generation})
    client.upsert(collection, [{"pk": POINTER, "gen": generation, "piece": 0, "body": body,
                                "dense": PAD}])  # fmt: skip
    client.flush(collection)


def read_catalog(client: Any, settings: Settings, generation: int) -> Catalog:
    """Read a generation's catalog; raise IndexCorrupt if it is missing or malformed."""
    base = generation * PIECES
    rows = list(query_all(client, name(settings, "state"),
                          f"pk >= {base} and pk < {base + PIECES}", ["piece", "body"]))  # fmt: skip
    body = "".join(r["body"] for r in sorted(rows, key=lambda r: r["piece"]))
    try:
        return Catalog.model_validate_json(body)
    except ValidationError as exc:
        raise IndexCorrupt(f"Milvus generation {generation} has no readable catalog; {REBUILD}") from exc


def drop_catalogs(client: Any, settings: Settings, below: int) -> None:
    """Remove the catalogs of generations older than `below`."""
    if below > 1:
        client.delete(name(settings, "state"), filter=f"pk >= {PIECES} and pk < {below * PIECES}")


def drop_unpublished(client: Any, settings: Settings, current: int) -> None:
    """Remove the catalog of a build that died before publishing."""
    client.delete(name(settings, "state"), filter=f"pk >= {(current + 1) * PIECES}")
