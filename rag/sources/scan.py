"""Source folders -> SourceFile: find the supported files, check and hash them, keep provenance."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

from rag.errors import SourceError
from rag.sources.digests import FileDigests
from rag.types import Skipped, SourceFile

SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
# Plain-text documentation that traditionally has no extension: README, NEWS, ChangeLog, ...
TEXT_NAMES = frozenset(
    {"readme", "news", "changes", "changelog", "install", "faq", "todo", "authors", "bugs"}
    | {"hacking", "thanks", "history", "copying", "notice", "usage"}
)


def supported(name: str) -> bool:
    """Tell whether a file name is one the product reads (by extension, or a README-like name)."""
    stem, suffix = os.path.splitext(name)
    return suffix.lower() in SUPPORTED or (not suffix and stem.lower() in TEXT_NAMES)


def scan_sources(
    dirs: Sequence[Path], max_bytes: int, digests: FileDigests | None = None
) -> tuple[list[SourceFile], list[Skipped]]:
    """Find and hash the supported files under `dirs`, sorted; a missing folder raises.

    Args:
        digests: digests remembered from the last scan: a file whose stat is unchanged is not
            read again. Updated with this scan's files (the caller saves it).
    """
    files: list[SourceFile] = []
    skipped: list[Skipped] = []
    owners: dict[str, str] = {}
    for folder in dirs:
        if not folder.is_dir():
            raise SourceError(f"source folder not found: {folder}")
        root = str(folder.resolve())
        for path in _walk(root):
            file_id = path[len(root) + 1 :].replace(os.sep, "/")
            if file_id in owners:
                skipped.append(
                    Skipped(Path(path), f"duplicate id {file_id!r}: {owners[file_id]} wins")
                )
                continue
            try:
                files.append(_scan_file(root, path, file_id, max_bytes, digests))
                owners[file_id] = path
            except SourceError as err:
                skipped.append(Skipped(Path(path), str(err)))
    return files, skipped


def _walk(root: str) -> Iterator[str]:
    """Yield the supported, non-hidden files under `root`, sorted, without following links."""
    for current, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and supported(name):
                yield os.path.join(current, name)


def _scan_file(
    root: str, path: str, file_id: str, max_bytes: int, digests: FileDigests | None
) -> SourceFile:
    """Check one file's size before hashing it, so huge files are never read.

    A link is followed only to a file inside its source folder: a link to /etc/passwd
    must not turn a system file into a served source.
    """
    try:
        file_id.encode("utf-8")
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            if os.path.commonpath([root, os.path.realpath(path)]) != root:
                raise SourceError(f"{file_id}: a link to a file outside the source folder")
            info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise SourceError(f"{file_id}: not a regular file")
        if info.st_size == 0:
            raise SourceError(f"{file_id}: empty file")
        if info.st_size > max_bytes:
            raise SourceError(f"{file_id}: too large ({info.st_size} > {max_bytes} bytes)")
        digest = digests.get(path, info) if digests is not None else None
        if digest is None:
            with open(path, "rb") as handle:
                digest = hashlib.file_digest(handle, "sha256").hexdigest()
            if digests is not None:
                digests.put(path, info, digest)
    except UnicodeEncodeError as err:
        raise SourceError("file name is not valid UTF-8") from err
    except OSError as err:
        raise SourceError(f"{file_id}: unreadable ({err.strerror or err})") from err
    return SourceFile(id=file_id, path=path, file_sha256=digest, size=info.st_size)
