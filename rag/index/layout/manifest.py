"""A generation's manifest: what was built, with what, and the checksum of every file."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rag.errors import IndexCorrupt, IndexMismatch

FORMAT_VERSION = 2  # 2: rows in parts/NN/ (rag/parts.py)
MANIFEST = "manifest.json"
FileStat = tuple[int, int, int, int]  # size, mtime_ns, inode, device
RUN_INDEX = "run `rag index` to rebuild it"
WRITE_BLOCK = 1 << 20  # bytes per write call: big files are written, and hashed, in slices


@dataclass(frozen=True, slots=True)
class Chunking:
    """The chunking settings a generation was built with."""

    sentences: int
    overlap: int
    max_chars: int
    # How sentences are found; a new splitter re-chunks every source (vectors come from the
    # embedding cache). 1: one line at a time; 2: runs of hard-wrapped lines; 3: and lead-ins
    # joined to the lists they introduce.
    splitter: int = 1


@dataclass(frozen=True, slots=True)
class SourceEntry:
    """One source as the manifest records it."""

    id: str
    title: str
    sha256: str
    file_sha256: str
    chunks: int


@dataclass(frozen=True, slots=True)
class Manifest:
    """The description of one generation; `files` maps every other file to its sha256."""

    generation: int
    model_id: str
    dim: int
    chunking: Chunking
    stemmer: str = ""  # the keyword index's stemmer language, "" for none
    created: str = ""
    sources: tuple[SourceEntry, ...] = ()
    files: tuple[tuple[str, str], ...] = field(default=())
    format_version: int = FORMAT_VERSION
    extractor: int = 1  # the text extractor's version: a new one re-reads every file


def _canonical(body: dict[str, object]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def manifest_bytes(manifest: Manifest) -> bytes:
    """Return the manifest as JSON that carries the sha256 of its own body."""
    body = {  # not dataclasses.asdict: it deep-copies, slowly, thousands of source entries
        "generation": manifest.generation,
        "model_id": manifest.model_id,
        "dim": manifest.dim,
        "chunking": asdict(manifest.chunking),
        "stemmer": manifest.stemmer,
        "created": manifest.created,
        "sources": [
            {
                "id": e.id,
                "title": e.title,
                "sha256": e.sha256,
                "file_sha256": e.file_sha256,
                "chunks": e.chunks,
            }
            for e in manifest.sources
        ],
        "files": [list(pair) for pair in manifest.files],
        "format_version": manifest.format_version,
        "extractor": manifest.extractor,
    }
    canonical = _canonical(body)  # dumped once: thousands of source entries
    digest = hashlib.sha256(canonical).hexdigest()
    return b'{"sha256":"' + digest.encode() + b'",' + canonical[1:]


def read_manifest(directory: Path) -> Manifest:
    """Read and check a generation's manifest; raise IndexCorrupt or IndexMismatch."""
    path = directory / MANIFEST
    try:
        data = json.loads(path.read_bytes())
        claimed = data.pop("sha256")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IndexCorrupt(f"{path} is missing or unreadable ({exc}); {RUN_INDEX}") from exc
    if hashlib.sha256(_canonical(data)).hexdigest() != claimed:
        raise IndexCorrupt(f"{path} fails its checksum; {RUN_INDEX}")
    if data.get("format_version") != FORMAT_VERSION:
        raise IndexMismatch(
            f"{directory} has index format {data.get('format_version')!r}, this version reads "
            f"format {FORMAT_VERSION}; {RUN_INDEX}"
        )
    try:
        return Manifest(
            generation=int(data["generation"]),
            model_id=str(data["model_id"]),
            dim=int(data["dim"]),
            chunking=Chunking(**data["chunking"]),
            stemmer=str(data["stemmer"]),
            created=str(data["created"]),
            sources=tuple(SourceEntry(**entry) for entry in data["sources"]),
            files=tuple((str(name), str(digest)) for name, digest in data["files"]),
            extractor=int(data.get("extractor", 1)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexCorrupt(f"{path} is malformed ({exc}); {RUN_INDEX}") from exc


def write_hashed(path: Path, data: bytes | memoryview) -> str:
    """Write bytes in blocks and return their sha256."""
    view = memoryview(data).cast("B")
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        for start in range(0, len(view), WRITE_BLOCK):
            block = view[start : start + WRITE_BLOCK]
            handle.write(block)
            digest.update(block)
    return digest.hexdigest()


def read_verified(directory: Path, manifest: Manifest) -> dict[str, bytes]:
    """Return the bytes of every file the manifest lists, each checked against its sha256."""
    blobs: dict[str, bytes] = {}
    for name, digest in manifest.files:
        path = directory / name
        if Path(os.path.normpath(name)).is_absolute() or ".." in Path(name).parts:
            raise IndexCorrupt(f"{directory}/{MANIFEST} lists an unsafe path {name!r}")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise IndexCorrupt(f"{path} is missing or unreadable ({exc}); {RUN_INDEX}") from exc
        if hashlib.sha256(data).hexdigest() != digest:
            raise IndexCorrupt(f"{path} fails its checksum; {RUN_INDEX}")
        blobs[name] = data
    return blobs


def file_stats(directory: Path, manifest: Manifest) -> dict[str, FileStat]:
    """Return the size, mtime, inode and device of the manifest and each file it lists, those
    present (not the ctime: a hard link to a file, or the removal of one, changes that)."""
    stats: dict[str, FileStat] = {}
    for name in [MANIFEST, *(name for name, _ in manifest.files)]:
        try:
            info = os.stat(directory / name)
        except OSError:
            continue
        stats[name] = (info.st_size, info.st_mtime_ns, info.st_ino, info.st_dev)
    return stats
