"""Uploads land atomically; a killed upload's temporary file does not stay for ever."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from fastapi.testclient import TestClient

from rag.build.indexer import build_index
from rag.config import Settings
from tests.conftest import LOCAL
from tests.fakes import FakeEmbedder
from ui.server import create_server
from ui.uploads import LEFTOVER_MIN_AGE_S, remove_leftovers, save_upload

OLD = time.time() - 10 * LEFTOVER_MIN_AGE_S


def leftover(folder: Path, name: str, age: float = OLD) -> Path:
    """Leave a temporary file as a killed upload would: written, never renamed."""
    path = folder / name
    path.write_bytes(b"half an upload")
    os.utime(path, (age, age))
    return path


def test_the_next_upload_removes_a_killed_uploads_leftover(tmp_path: Path) -> None:
    dead = leftover(tmp_path, ".upload-0123456789abcdef.txt")
    saved = save_upload(tmp_path, "tide.txt", b"High tide is at six.\n", 1000)
    assert not dead.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [saved.id]


def test_an_upload_under_way_keeps_its_file(tmp_path: Path) -> None:
    busy = leftover(tmp_path, ".upload-busy.txt")
    young = leftover(tmp_path, ".upload-young.txt", age=time.time())
    with busy.open("rb") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # as save_upload holds it while writing
        assert remove_leftovers(tmp_path) == []
    assert busy.exists() and young.exists()  # young: maybe between creating and locking
    assert remove_leftovers(tmp_path) == [busy.name]


def test_the_server_removes_leftovers_at_start(tmp_path: Path, seed_dir: Path) -> None:
    dead = leftover(seed_dir, ".upload-fedcba9876543210.pdf")
    settings = Settings(source_dirs=(seed_dir,), index_dir=tmp_path / "index")
    build_index(settings, FakeEmbedder())
    with TestClient(create_server(settings, FakeEmbedder()), base_url=LOCAL) as client:
        assert client.get("/health").status_code == 200
        assert not dead.exists()


def test_an_upload_keeps_its_name_and_a_clash_gets_a_suffix(tmp_path: Path) -> None:
    first = save_upload(tmp_path, "base-passwd README.txt", b"First text.\n", 1000)
    again = save_upload(tmp_path, "base-passwd README.txt", b"First text.\n", 1000)
    other = save_upload(tmp_path, "base-passwd README.txt", b"Other text.\n", 1000)
    assert (first.id, again.id, other.id) == (
        "base-passwd README.txt",
        "base-passwd README.txt",  # the same bytes: the same file, not a copy
        "base-passwd README-2.txt",
    )
    assert (tmp_path / other.id).read_text() == "Other text.\n"
    odd = save_upload(tmp_path, "../../etc/.pass wd?<>.md", b"# Odd\n", 1000)
    assert odd.id == "pass wd.md" and (tmp_path / odd.id).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["base-passwd README.txt", "base-passwd README-2.txt", "pass wd.md"]
    )
