"""Deterministic stand-ins for plumbing tests (never for retrieval or answer quality)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray


class FakeEmbedder:
    """Hashed bag of words -> normalised vector: same text, same vector, no model."""

    def __init__(self, dim: int = 64, model_id: str = "fake/bag-of-words") -> None:
        self.dim = dim
        self.model_id = model_id
        self.calls = 0  # texts embedded so far, to check that caches work
        self.texts_embedded = 0

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
                out[i, h % self.dim] += 1.0
            norm = float(np.linalg.norm(out[i]))
            out[i] = out[i] / norm if norm else out[i]
            if not norm:
                out[i, 0] = 1.0
        return out
