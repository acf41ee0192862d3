"""Run index builds in child processes, to be killed or starved on purpose by test_faults.py.

    python -m tests.fault_build SOURCES INDEX trace OUT.json   record the build's I/O steps
    python -m tests.fault_build SOURCES INDEX kill N           SIGKILL itself at step N
    python -m tests.fault_build SOURCES INDEX fsize BYTES      build with files capped at BYTES
    python -m tests.fault_build serve                          fork one such build per line

`serve` reads "SOURCES INDEX MODE VALUE" lines and answers each with the exit status of a
child forked for it (negative: killed by that signal): the imports are paid once, not per kill.

A step is a call the build makes that touches the disk or a structure written to it: every
function of rag's storage modules, and the C calls write / fsync / rename / replace / unlink /
rmdir and SQLite's execute. The hook lives here: production code has no test branches.
"""

from __future__ import annotations

import io
import json
import os
import resource
import signal
import sqlite3
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from rag.runtime import configure_runtime

configure_runtime()

from rag.build.indexer import build_index  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.errors import RagError  # noqa: E402
from rag.index.layout import manifest  # noqa: E402
from tests.fakes import FakeEmbedder  # noqa: E402

DIM = 8192  # wide vectors: the FAISS and sentence files span several write blocks
RAG = str(Path(__file__).resolve().parents[1] / "rag")
STORAGE = ("index/generations.py", "index/local.py", "layout/manifest.py", "index/keyword.py",
           "layout/chunk_table.py", "embedding/cache.py", "build/indexer.py", "layout/parts.py",
           "sources/digests.py")  # fmt: skip
OS_CALLS = frozenset({"open", "fsync", "rename", "replace", "unlink", "rmdir", "mkdir", "link"})
WRITE_BLOCK = 1 << 16  # smaller write calls than production's, so kills land inside files
SQL_CALLS = frozenset({"execute", "executemany"})
EXIT_FAILED = 3


def settings_for(sources: Path, index: Path) -> Settings:
    """Return the settings every fault build uses."""
    return Settings(source_dirs=(sources,), index_dir=index, embed_batch_size=16)


def step_label(frame: FrameType, event: str, arg: Any) -> str | None:
    """Name a profiler event if it is a build step, else None."""
    if event == "call":
        code = frame.f_code
        name, file = code.co_name, code.co_filename
        if file.startswith(RAG) and file.endswith(STORAGE) and not name.startswith("<"):
            return f"{Path(file).stem}.{name}"
        return None
    if event != "c_call":
        return None
    name, owner = getattr(arg, "__name__", ""), getattr(arg, "__self__", None)
    if name in OS_CALLS and getattr(arg, "__module__", None) == "posix":
        return f"os.{name}"
    if name in SQL_CALLS and isinstance(owner, sqlite3.Connection):
        return f"sqlite.{name}"
    if name == "write" and isinstance(owner, io.IOBase):
        path = getattr(owner, "name", None)
        return f"write:{Path(path).name}" if isinstance(path, str) else None
    return None


def run(sources: Path, index: Path, mode: str, value: str) -> int:
    """Build once; return the exit status (unless the hook kills the process first)."""
    steps: list[str] = []
    kill_at = int(value) if mode == "kill" else -1

    def hook(frame: FrameType, event: str, arg: Any) -> None:
        label = step_label(frame, event, arg)
        if label is not None:
            steps.append(label)
            if len(steps) == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    if mode == "fsize":
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(value), int(value)))
    embedder = FakeEmbedder(dim=DIM)
    manifest.WRITE_BLOCK = WRITE_BLOCK
    sys.setprofile(hook if mode in ("trace", "kill") else None)
    try:
        report = build_index(settings_for(sources, index), embedder)
    except RagError as exc:
        sys.setprofile(None)
        print(f"build failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    sys.setprofile(None)
    if mode == "trace":
        Path(value).write_text(json.dumps(steps))
    print(f"generation {report.generation}")
    return 0


def serve() -> None:
    """Fork a child per request line; answer with its exit status."""
    import bm25s  # noqa: F401  (imported before forking; the builds import them lazily)
    import faiss  # noqa: F401

    for line in sys.stdin:
        sources, index, mode, value = line.split()
        pid = os.fork()
        if pid == 0:
            os._exit(run(Path(sources), Path(index), mode, value))
        status = os.waitpid(pid, 0)[1]
        print(-os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))
        sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
    else:
        sys.exit(run(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]))
