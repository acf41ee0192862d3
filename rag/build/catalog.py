"""Source folders + the served generation -> the catalog: every source, on disk or indexed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.build.assemble import CACHE_DIR
from rag.config import Settings
from rag.index.base import Store
from rag.sources.digests import FileDigests
from rag.sources.scan import scan_sources
from rag.types import Skipped


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One source: what the index knows of it, and whether its file is still there."""

    id: str
    title: str | None  # known once indexed
    sha256: str | None  # of the indexed text
    chunks: int
    indexed: bool  # the index holds the file's current content
    on_disk: bool
    size: int | None = None  # the file's bytes, while it is on disk
    problem: str | None = None  # why the scan cannot use the file (too large, empty, ...)


def catalog(
    settings: Settings, store: Store | None, failed: Sequence[Skipped] = ()
) -> list[CatalogEntry]:
    """List the files in the source folders, then indexed sources whose file is gone.

    The file digests the last build remembered spare re-reading unchanged files.

    Args:
        failed: files a build could not read (its report's `skipped`): their reasons become
            their entries' problems.
    """
    digests = FileDigests(settings.index_dir / CACHE_DIR)
    files, skipped = scan_sources(settings.source_dirs, settings.max_file_bytes, digests)
    indexed = store.sources if store is not None else {}
    on_disk = {f.id: f for f in files}
    reasons = {_source_id(settings, s.path): s.reason for s in failed}
    entries = []
    for source_id in [f.id for f in files] + sorted(set(indexed) - set(on_disk)):
        source, file = indexed.get(source_id), on_disk.get(source_id)
        current = source is not None and (file is None or file.file_sha256 == source.file_sha256)
        entries.append(
            CatalogEntry(
                id=source_id,
                title=source.title if source else None,
                sha256=source.sha256 if source else None,
                chunks=store.chunk_count(source_id) if store is not None else 0,
                indexed=current,
                on_disk=file is not None,
                size=file.size if file is not None else None,
                problem=reasons.get(source_id) if file is not None else None,
            )
        )
    for problem in skipped:
        file_id = _source_id(settings, problem.path)
        if file_id is not None and file_id not in on_disk:
            unusable = CatalogEntry(file_id, None, None, 0, False, True, problem=problem.reason)
            entries.append(unusable)
    return entries


def _source_id(settings: Settings, path: Path) -> str | None:
    """Return a file's id (its path inside its source folder), or None if it is in none."""
    for folder in settings.source_dirs:
        try:
            return path.resolve().relative_to(folder.resolve()).as_posix()
        except ValueError:
            continue
    return None
