"""A build -> its report: what changed, what was embedded, whether anything was published."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rag.index.base import Store
from rag.types import Skipped


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What a build did: source counts by change, texts embedded, time taken."""

    generation: int
    added: int
    changed: int
    removed: int
    unchanged: int
    skipped: tuple[Skipped, ...]
    sources: int  # sources in the new generation
    chunks: int
    embedded: int  # texts actually sent to the embedder (cache misses)
    seconds: float
    published: bool = True  # False: nothing changed, and `generation` still serves


def unchanged_report(previous: Store, skipped: list[Skipped], started: float) -> BuildReport:
    """Report a build that found nothing to change: `previous` still serves."""
    n = len(previous.sources)
    return BuildReport(
        generation=previous.generation,
        added=0,
        changed=0,
        removed=0,
        unchanged=n,
        skipped=tuple(skipped),
        sources=n,
        chunks=len(previous.chunks),
        embedded=0,
        seconds=time.perf_counter() - started,
        published=False,
    )


def changed_report(
    store: Store,
    previous: Store | None,
    skipped: list[Skipped],
    embedded: int,
    started: float,
) -> BuildReport:
    """Report a published generation against the one it was built from."""
    old = previous.sources if previous else {}
    sources = store.sources.values()
    added = sum(1 for s in sources if s.id not in old)
    unchanged = sum(1 for s in sources if s.id in old and s.file_sha256 == old[s.id].file_sha256)
    return BuildReport(
        generation=store.generation,
        added=added,
        changed=len(sources) - added - unchanged,
        removed=len(old.keys() - store.sources.keys()),
        unchanged=unchanged,
        skipped=tuple(skipped),
        sources=len(sources),
        chunks=len(store.chunks),
        embedded=embedded,
        seconds=time.perf_counter() - started,
    )
