"""Tests for rag.sources.digests: a scan skips re-reading files whose stat is unchanged."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import pytest

from rag.sources import digests as file_digests
from rag.sources.digests import DIGESTS_FILE, FileDigests
from rag.sources.scan import scan_sources

MAX = 1_000_000


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the files the scan really hashes."""
    hashed: list[str] = []
    real = hashlib.file_digest

    def file_digest(handle: Any, name: str) -> Any:
        hashed.append(handle.name)
        return real(handle, name)

    monkeypatch.setattr(hashlib, "file_digest", file_digest)
    return hashed


def scan(folder: Path, cache: Path) -> dict[str, str]:
    digests = FileDigests(cache)
    files, _ = scan_sources([folder], MAX, digests)
    digests.save()
    return {f.id: f.file_sha256 for f in files}


def test_unchanged_files_are_not_read_again(
    tmp_path: Path, counted: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_digests, "RACY_NS", 0)
    (tmp_path / "docs").mkdir()
    for name in ("a.txt", "b.md"):
        (tmp_path / "docs" / name).write_text(f"text of {name}\n")
    first = scan(tmp_path / "docs", tmp_path / "cache")
    assert len(counted) == 2
    (tmp_path / "docs" / "b.md").write_text("new text of b\n")
    second = scan(tmp_path / "docs", tmp_path / "cache")
    assert [Path(p).name for p in counted[2:]] == ["b.md"]  # a.txt came from the digests
    assert second["a.txt"] == first["a.txt"]
    assert second["b.md"] == hashlib.sha256(b"new text of b\n").hexdigest()


def test_an_edit_that_keeps_size_and_mtime_is_still_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_digests, "RACY_NS", 0)
    (tmp_path / "docs").mkdir()
    path = tmp_path / "docs" / "a.txt"
    path.write_text("version one\n")
    before = os.stat(path)
    scan(tmp_path / "docs", tmp_path / "cache")
    for _ in range(200):  # past the clock tick of coarse file timestamps (the RACY_NS case)
        path.write_text("version two\n")  # same size
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the old mtime back
        if os.stat(path).st_ctime_ns != before.st_ctime_ns:
            break
        time.sleep(0.005)
    assert scan(tmp_path / "docs", tmp_path / "cache") == {
        "a.txt": hashlib.sha256(b"version two\n").hexdigest()  # the ctime gave it away
    }


def test_files_modified_just_now_are_not_remembered(tmp_path: Path, counted: list[str]) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("fresh\n")
    scan(tmp_path / "docs", tmp_path / "cache")
    scan(tmp_path / "docs", tmp_path / "cache")
    assert len(counted) == 2  # a second write in the same clock tick could go unseen


def test_deleted_files_are_forgotten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(file_digests, "RACY_NS", 0)
    (tmp_path / "docs").mkdir()
    for name in ("a.txt", "b.txt"):
        (tmp_path / "docs" / name).write_text(name)
    scan(tmp_path / "docs", tmp_path / "cache")
    (tmp_path / "docs" / "b.txt").unlink()
    scan(tmp_path / "docs", tmp_path / "cache")
    kept = json.loads((tmp_path / "cache" / DIGESTS_FILE).read_text())["files"]
    assert [Path(p).name for p in kept] == ["a.txt"]


@pytest.mark.parametrize("garbage", [b"{not json", b'{"format": 1, "files": 3}', b"[]"])
def test_a_damaged_digests_file_costs_only_re_hashing(
    tmp_path: Path, garbage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("text\n")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / DIGESTS_FILE).write_bytes(garbage)
    with caplog.at_level(logging.WARNING):
        found = scan(tmp_path / "docs", tmp_path / "cache")
    assert found == {"a.txt": hashlib.sha256(b"text\n").hexdigest()}
    assert "unreadable" in caplog.text
