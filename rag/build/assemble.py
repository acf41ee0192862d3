"""Scanned files + the previous generation -> the new generation's sources and chunks.

Only new and changed files are read and chunked; the rest are taken, as the same objects,
from the generation the build starts from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from rag.config import Settings
from rag.errors import SourceError
from rag.index.keyword import stemmer_language
from rag.index.layout.manifest import Chunking, Manifest
from rag.index.layout.parts import source_order
from rag.sources.digests import FileDigests
from rag.sources.extract import EXTRACTOR, load_source
from rag.sources.scan import scan_sources
from rag.text.chunking import SPLITTER, chunk
from rag.types import Chunk, Skipped, Source, SourceFile

Progress = Callable[[str, int, int], None]  # (stage, done, total)
CACHE_DIR = "cache"  # in the index folder: the file digests and the embedding cache


def quiet(stage: str, done: int, total: int) -> None:
    """Ignore progress."""


def scan(settings: Settings, report: Progress) -> tuple[list[SourceFile], list[Skipped]]:
    """Find the source folders' files (hashing only those whose stat changed)."""
    digests = FileDigests(settings.index_dir / CACHE_DIR)
    files, skipped = scan_sources(settings.source_dirs, settings.max_file_bytes, digests)
    digests.save()
    report("scanning", len(files), len(files))
    return files, skipped


def chunking_for(settings: Settings) -> Chunking:
    """The chunking a build with these settings makes, as its generation records it."""
    return Chunking(
        settings.chunk_sentences, settings.chunk_overlap, settings.chunk_max_chars, SPLITTER
    )


def require_chunks(found: Gathered, settings: Settings) -> None:
    """Refuse to publish a generation without a readable source."""
    if not found.chunks:
        folders = ", ".join(str(d) for d in settings.source_dirs)
        raise SourceError(f"no readable sources in {folders}; the index was not changed")


class Previous(Protocol):
    """What a build reads of the generation it starts from (a LocalStore, a MilvusStore)."""

    @property
    def manifest(self) -> Manifest:
        """How it was built."""
        ...

    @property
    def sources(self) -> Mapping[str, Source]:
        """Its sources by id."""
        ...

    @property
    def chunks(self) -> Sequence[Chunk]:
        """Its chunks, grouped by source."""
        ...

    @property
    def chunk_rows(self) -> Mapping[str, range]:
        """Each source's rows in `chunks`."""
        ...


@dataclass(frozen=True, slots=True)
class Gathered:
    """The new generation's sources and chunks (in `source_order`), before any embedding."""

    sources: list[Source]
    chunks: list[Chunk]
    reused: set[str]  # ids of the sources whose chunks come from the previous generation


def gather(
    files: Sequence[SourceFile],
    skipped: list[Skipped],
    previous: Previous | None,
    chunking: Chunking,
    report: Progress,
) -> Gathered:
    """Read the new and changed files (a file that fails joins `skipped`) and chunk them."""
    old = previous.sources if previous and previous.manifest.extractor == EXTRACTOR else {}
    fresh = [f for f in files if f.id not in old or old[f.id].file_sha256 != f.file_sha256]
    loaded = _load(fresh, skipped, report)
    return Gathered(*_assemble(files, loaded, previous, chunking, report))


def unchanged(previous: Previous, found: Gathered) -> bool:
    """Tell whether a build would publish what `previous` already holds."""
    old = previous.sources
    return (
        previous.manifest.stemmer == stemmer_language()
        and len(found.sources) == len(old)
        and found.reused == old.keys()
        and all(old.get(s.id) is s for s in found.sources)  # the same objects: same paths
    )


def _assemble(
    files: Sequence[SourceFile],
    loaded: dict[str, Source],
    previous: Previous | None,
    chunking: Chunking,
    report: Progress,
) -> tuple[list[Source], list[Chunk], set[str]]:
    """Return the new generation's sources and chunks (in `source_order`), and the ids of
    the sources whose chunks are reused from the previous generation."""
    old = previous.sources if previous is not None else {}
    same_chunking = previous is not None and previous.manifest.chunking == chunking
    sources: list[Source] = []
    for file in sorted(files, key=lambda f: source_order(f.id)):
        if file.id in loaded:
            sources.append(loaded[file.id])
        elif file.id in old and old[file.id].file_sha256 == file.file_sha256:
            same = str(old[file.id].path) == file.path  # the same object: its lines are reused
            sources.append(old[file.id] if same else replace(old[file.id], path=Path(file.path)))
        # else: new or changed, and unreadable: skipped
    reused = {s.id for s in sources if same_chunking and s.id not in loaded}
    chunks: list[Chunk] = []
    done, total = 0, len(sources) - len(reused)
    report("chunking", done, total)
    for source in sources:
        if previous is not None and source.id in reused:
            rows = previous.chunk_rows.get(source.id, range(0))
            chunks.extend(previous.chunks[rows.start : rows.stop])
        else:
            chunks.extend(chunk(source, chunking.sentences, chunking.overlap, chunking.max_chars))
            done += 1
            report("chunking", done, total)
    return sources, chunks, reused


def _load(
    files: Sequence[SourceFile], skipped: list[Skipped], report: Progress
) -> dict[str, Source]:
    """Read new and changed files; a file that fails is skipped."""
    loaded: dict[str, Source] = {}
    report("reading", 0, len(files))
    for done, file in enumerate(files, start=1):
        try:
            loaded[file.id] = load_source(file)
        except SourceError as exc:
            skipped.append(Skipped(Path(file.path), str(exc)))
        report("reading", done, len(files))
    return loaded
