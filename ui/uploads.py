"""Uploaded bytes -> a file in the first source folder (and back out): safe names, atomic writes."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import secrets
import time
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from rag import SUPPORTED, SourceError, SourceFile, fsync_path, load_source, supported

MAX_STEM_CHARS = 80
MAX_SAME_NAME = 100  # name.txt, name-2.txt ... name-100.txt
MAX_ID_CHARS = 1024
TMP_PREFIX = ".upload-"
# A leftover younger than this may be an upload between creating its file and locking it.
LEFTOVER_MIN_AGE_S = 5.0


class UploadRejected(ValueError):
    """The upload cannot become a source; the message is safe to show to the client."""


def safe_name(filename: str) -> str:
    """Return the uploaded file's own name made safe: its last path part, letters, digits,
    spaces, '.', '_' and '-' only (others become '-'), never hidden, with a known suffix."""
    name = PurePosixPath(filename.replace("\\", "/")).name
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in SUPPORTED:
        raise UploadRejected(f"unsupported file type {suffix or '(none)'!r}: use {SUPPORTED}")
    stem = re.sub(r"[^\w .-]+", "-", name[: -len(suffix)], flags=re.UNICODE)
    stem = re.sub(r"-{2,}", "-", stem).strip(" .-_")[:MAX_STEM_CHARS].strip()
    return f"{stem or 'upload'}{suffix}"


def _place(tmp: Path, folder: Path, name: str, digest: str) -> str:
    """Link the written file into `folder` under `name`, or `name-2`, `name-3`, ... when a
    different file holds it; return the name used. The same bytes under the same name are
    the same upload: the file already there stays. A link never replaces a file, so two
    uploads at once cannot overwrite each other."""
    path = PurePosixPath(name)
    for n in range(1, MAX_SAME_NAME + 1):
        candidate = name if n == 1 else f"{path.stem}-{n}{path.suffix}"
        target = folder / candidate
        try:
            os.link(tmp, target)
            return candidate
        except FileExistsError:
            with target.open("rb") as handle:
                if hashlib.file_digest(handle, "sha256").hexdigest() == digest:
                    return candidate
    raise UploadRejected(f"too many files named like {name!r}: rename the upload")


def save_upload(folder: Path, filename: str, data: bytes, max_bytes: int) -> SourceFile:
    """Check the upload reads as a source, then write it into `folder` atomically.

    The bytes go to a hidden temporary file in the same folder (the scanner skips hidden
    files), are fsynced, linked into place under the upload's own name (with a suffix when
    another file holds it), and the folder is fsynced: once this returns,
    the file survives a crash. The temporary file is locked while it is written, so a
    killed upload's leftover is known by its free lock and removed by the next upload.
    """
    if not data:
        raise UploadRejected("the upload is empty")
    if len(data) > max_bytes:
        raise UploadRejected(f"the upload is larger than {max_bytes} bytes")
    digest = hashlib.sha256(data).hexdigest()
    name = safe_name(filename)
    folder.mkdir(parents=True, exist_ok=True)
    remove_leftovers(folder)
    tmp = folder / f"{TMP_PREFIX}{secrets.token_hex(8)}{PurePosixPath(name).suffix}"
    try:
        with tmp.open("xb") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # held until this upload ends
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            load_source(SourceFile(id=name, path=str(tmp), file_sha256=digest, size=len(data)))
        except SourceError as err:
            raise UploadRejected(f"cannot read the upload: {err}") from err
        name = _place(tmp, folder, name, digest)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_path(folder)
    return SourceFile(id=name, path=str(folder / name), file_sha256=digest, size=len(data))


def remove_leftovers(folder: Path) -> list[str]:
    """Remove the temporary files of uploads that died (their lock is free); return their names.

    A file whose lock is held belongs to an upload under way in some process and stays.
    """
    removed = []
    young = time.time() - LEFTOVER_MIN_AGE_S
    for path in folder.glob(f"{TMP_PREFIX}*"):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue  # gone already, or not ours to open
        try:
            if os.fstat(fd).st_mtime > young:
                continue
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            path.unlink(missing_ok=True)
            removed.append(path.name)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        finally:
            os.close(fd)
    return removed


def source_path(folders: Sequence[Path], source_id: str) -> Path:
    """Return the file a source id names in one of `folders`.

    Raises:
        UploadRejected: the id points outside the folders.
        FileNotFoundError: no such file.
    """
    parts = PurePosixPath(source_id).parts
    if (
        not supported(PurePosixPath(source_id).name)
        or any(part.startswith(".") for part in parts)
        or "\x00" in source_id
        or len(source_id) > MAX_ID_CHARS
    ):
        raise UploadRejected("not a source id")
    for folder in folders:
        root = folder.resolve()
        try:
            path = (root / source_id).resolve()
            if not path.is_relative_to(root) or path == root:
                raise UploadRejected("the source id points outside the source folders")
            if path.is_file():
                return path
        except (OSError, UnicodeEncodeError) as err:  # a name too long, or not encodable
            raise UploadRejected("not a source id") from err
    raise FileNotFoundError(source_id)


def delete_source(folders: Sequence[Path], source_id: str) -> None:
    """Remove a source's file from its folder, durably."""
    path = source_path(folders, source_id)
    path.unlink()
    fsync_path(path.parent)
