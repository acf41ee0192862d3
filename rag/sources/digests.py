"""File stat -> sha256, remembered between builds so that unchanged files are not read again.

A file's digest is reused only while its size, mtime, ctime, inode and device all match the
ones seen when it was hashed (as git's index does). Any write changes the ctime, so a stale
digest needs a write that leaves all five as they were. Files modified within RACY_NS of the
scan are not remembered: a second write in the same timestamp tick could go unseen.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)

DIGESTS_FILE = "files.json"
RACY_NS = 2_000_000_000
_FORMAT = 1

Key = tuple[int, int, int, int, int]  # size, mtime_ns, ctime_ns, inode, device


def stat_key(info: os.stat_result) -> Key:
    """Return the stat fields that any change to a file's bytes alters."""
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)


class FileDigests:
    """The digests of the files seen by the last scan, saved as JSON beside the embedding cache.

    A lost or damaged file only costs re-hashing, so it is written without fsync and read
    leniently: anything unexpected starts an empty table.
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / DIGESTS_FILE
        self._known: dict[str, tuple[Key, str]] = self._read()
        self._seen: dict[str, tuple[Key, str]] = {}
        self._started = time.time_ns()

    def _read(self) -> dict[str, tuple[Key, str]]:
        try:
            data = json.loads(self.path.read_bytes())
            if data.get("format") != _FORMAT:
                return {}
            return {path: (tuple(key), digest) for path, (key, digest) in data["files"].items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("file digests %s unreadable (%s): hashing every file", self.path, exc)
            return {}

    def get(self, path: str, info: os.stat_result) -> str | None:
        """Return the remembered digest of an unchanged file, or None."""
        known = self._known.get(path)
        if known is not None and known[0] == stat_key(info):
            self._seen[path] = known
            return known[1]
        return None

    def put(self, path: str, info: os.stat_result, digest: str) -> None:
        """Remember a digest just computed, unless the file changed too recently to trust."""
        if (
            self._started - info.st_mtime_ns > RACY_NS
            and self._started - info.st_ctime_ns > RACY_NS
        ):
            self._seen[path] = (stat_key(info), digest)

    def save(self) -> None:
        """Keep the files seen by this scan (and only those), if anything changed."""
        if self._seen == self._known:
            return
        files = {path: [list(key), digest] for path, (key, digest) in self._seen.items()}
        tmp = self.path.with_suffix(".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({"format": _FORMAT, "files": files}), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:  # a cache: failing to keep it costs re-hashing, nothing else
            log.warning("could not save file digests %s: %s", self.path, exc)
            tmp.unlink(missing_ok=True)
            return
        self._known = dict(self._seen)
