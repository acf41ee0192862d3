"""Index folder -> live LocalStore: the CURRENT pointer, the build lock, publishing and clean-up.

index_dir/gen-000001/ ...   complete generations (see rag/store.py)
index_dir/CURRENT           names the live generation; replaced atomically
index_dir/.lock             flock held by the one running build (the kernel drops it on death)
index_dir/.tmp-*            a build's unpublished generation
index_dir/cache/            the embedding cache
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.durable import fsync_path
from rag.embedding.base import Embedder
from rag.errors import BuildInProgress, IndexCorrupt, IndexMissing
from rag.index.local import LocalStore
from rag.index.storage import load_store

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
LOCK = ".lock"
TMP_PREFIX = ".tmp-"
_GEN = re.compile(r"gen-(\d{6,})")


def generation_dir(index_dir: Path, generation: int) -> Path:
    """Return the folder of a generation number."""
    return index_dir / f"gen-{generation:06d}"


def _generations(index_dir: Path) -> list[int]:
    """Return the numbers of the generation folders present, ascending."""
    if not index_dir.is_dir():
        return []
    found = (_GEN.fullmatch(p.name) for p in index_dir.iterdir() if p.is_dir())
    return sorted(int(m.group(1)) for m in found if m)


def current_generation(index_dir: Path) -> int:
    """Return the generation CURRENT names, or 0 if none is published (or CURRENT is unreadable)."""
    try:
        match = _GEN.fullmatch((index_dir / CURRENT).read_text(encoding="ascii").strip())
    except (OSError, UnicodeDecodeError):
        return 0
    return int(match.group(1)) if match else 0


def next_generation(index_dir: Path) -> int:
    """Return a number above every generation present, published or not."""
    return max([current_generation(index_dir), *_generations(index_dir)]) + 1


def load_current(index_dir: Path, embedder: Embedder) -> LocalStore:
    """Load the live generation; if it fails verification, the newest older one that passes.

    A CURRENT that cannot be read (garbled, cut short) names no live generation: then the
    newest generation present that passes is served. A fallback is logged and recorded in
    `LocalStore.problems`.

    Raises:
        IndexMissing: nothing has been published yet.
        IndexMismatch: the live generation was built with another model, dim or format.
        IndexCorrupt: no generation passes verification.
    """
    current = current_generation(index_dir)
    present = _generations(index_dir)
    problems: list[str] = []
    if current == 0:
        if not (index_dir / CURRENT).exists():
            raise IndexMissing(f"no index in {index_dir}: run `rag index` to build one")
        problems.append(f"{index_dir / CURRENT} is unreadable")
        log.error(problems[-1])
    older = [g for g in reversed(present) if g < current or current == 0]
    candidates = [current, *older] if current else older
    for generation in candidates:
        try:
            store = load_store(generation_dir(index_dir, generation), embedder)
        except IndexCorrupt as exc:
            problems.append(str(exc))
            log.error("index generation %d refused: %s", generation, exc)
            continue
        if problems:
            instead = f"instead of {current}" if current else "the newest that loads"
            problems.append(f"serving the last good generation {generation}, {instead}")
            log.warning(problems[-1])
        store.problems = tuple(problems)
        return store
    raise IndexCorrupt("; ".join(problems) or f"no index generation in {index_dir}")


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index folder's build lock; raise BuildInProgress if another build holds it."""
    index_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(index_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise BuildInProgress(f"another rebuild of {index_dir} is running") from exc
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def new_tmp_dir(index_dir: Path) -> Path:
    """Create a private folder, inside the index folder, for a generation being written."""
    return Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=index_dir))


def publish(tmp_dir: Path, index_dir: Path, generation: int) -> Path:
    """Make a fully written folder the live generation: fsync, rename, swap CURRENT.

    A file with more than one link is a part shared with an earlier generation, flushed when
    that generation was published: only its new name needs flushing, with its folder.
    """
    for folder, _dirs, files in os.walk(tmp_dir, topdown=False):
        for name in files:
            if os.stat(Path(folder) / name).st_nlink == 1:
                fsync_path(Path(folder) / name)
        fsync_path(Path(folder))
    target = generation_dir(index_dir, generation)
    os.rename(tmp_dir, target)
    fsync_path(index_dir)
    pointer = index_dir / (CURRENT + ".tmp")
    with pointer.open("w", encoding="ascii") as handle:
        handle.write(target.name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(pointer, index_dir / CURRENT)
    fsync_path(index_dir)
    return target


def clean_up(index_dir: Path, keep: int, base: int = 0) -> list[Path]:
    """Remove unpublished folders and all but the `keep` newest generations up to CURRENT.

    Call it only while holding the build lock.

    Args:
        base: the generation the new one was built from, kept too: it loaded fine, while a
            newer one between them may be the damaged one it was chosen over.
    """
    current = current_generation(index_dir)
    present = _generations(index_dir)
    # Without a readable CURRENT nothing is known to be live: keep every generation.
    kept = set([g for g in present if g <= current][-keep:] if current else present) | {base}
    removed = [
        path
        for path in index_dir.iterdir()
        if (path.is_dir() and path.name.startswith(TMP_PREFIX))
        or (_GEN.fullmatch(path.name) and int(path.name[4:]) not in kept)
    ]
    for path in removed:
        shutil.rmtree(path)
    (index_dir / (CURRENT + ".tmp")).unlink(missing_ok=True)
    return removed
