"""Texts -> cached vectors: embeddings keyed by sha256(model id + text), kept across builds."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

CACHE_FILE = "embeddings.sqlite"
_BATCH = 500  # keys per SELECT: well under SQLite's bound-parameter limit


_DAMAGED = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})  # not: disk full, locked, ...


def _check(blob: bytes) -> bytes:
    return hashlib.blake2b(blob, digest_size=8).digest()


def _damaged(exc: sqlite3.DatabaseError) -> bool:
    return getattr(exc, "sqlite_errorname", "") in _DAMAGED


class EmbeddingCache:
    """A SQLite table of vectors: journaled, so a killed build never leaves it half-written."""

    def __init__(self, directory: Path, model_id: str, dim: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / CACHE_FILE
        self.model_id = model_id
        self.dim = dim
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            if not _damaged(exc):
                raise
            self._db = self._reset(None, exc)

    def _reset(self, db: sqlite3.Connection | None, exc: Exception) -> sqlite3.Connection:
        """Replace a damaged cache with an empty one: it only costs re-embedding."""
        log.warning("embedding cache %s is damaged (%s): starting afresh", self.path, exc)
        if db is not None:
            db.close()
        self.path.unlink(missing_ok=True)
        return self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB, check_ BLOB)"
        )
        db.execute("SELECT count(*) FROM vectors").fetchone()
        return db

    def key(self, text: str) -> bytes:
        """Return the cache key of a text for this model."""
        return hashlib.sha256(f"{self.model_id}\0{text}".encode()).digest()

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, NDArray[np.float32]]:
        """Return the cached vectors of those keys that are present and intact."""
        try:
            return self._get_many(keys)
        except sqlite3.DatabaseError as exc:
            if not _damaged(exc):
                raise
            self._db = self._reset(self._db, exc)
            return {}

    def _get_many(self, keys: Sequence[bytes]) -> dict[bytes, NDArray[np.float32]]:
        found: dict[bytes, NDArray[np.float32]] = {}
        for start in range(0, len(keys), _BATCH):
            batch = keys[start : start + _BATCH]
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                f"SELECT key, vector, check_ FROM vectors WHERE key IN ({marks})", batch
            )
            for key, blob, check in rows:
                if len(blob) == 4 * self.dim and check == _check(blob):
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, keys: Sequence[bytes], vectors: NDArray[np.float32]) -> None:
        """Store vectors under their keys in one transaction."""
        rows = []
        for key, vector in zip(keys, vectors, strict=True):
            blob = np.ascontiguousarray(vector, dtype=np.float32).tobytes()
            rows.append((key, blob, _check(blob)))
        try:
            self._insert(rows)
        except sqlite3.DatabaseError as exc:
            if not _damaged(exc):
                raise
            self._db = self._reset(self._db, exc)
            self._insert(rows)

    def _insert(self, rows: list[tuple[bytes, bytes, bytes]]) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)

    def close(self) -> None:
        """Close the database."""
        self._db.close()
