"""Ranked lists -> one ranking by reciprocal-rank fusion (what Milvus's RRFRanker computes too)."""

from __future__ import annotations

from collections.abc import Sequence

RRF_K = 60  # the constant of Cormack et al. (2009); damps the weight of the very top ranks


def fuse(rankings: Sequence[Sequence[tuple[int, float]]], k: int) -> list[tuple[int, float]]:
    """Fuse ranked (row, score) lists by reciprocal rank; return the top k rows."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, (row, _score) in enumerate(ranking):
            scores[row] = scores.get(row, 0.0) + 1.0 / (RRF_K + rank + 1)
    ordered = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    return ordered[:k]
