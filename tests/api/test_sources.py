"""The /sources routes: listing, reading, uploading and deleting source files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rag.build.indexer import build_index
from rag.config import Settings
from tests.api.fixtures import (
    SEED_ID,
    SEED_QUESTION,
    GatedEmbedder,
    assert_clean_error,
    make_client,
    wait_idle,
)


def test_sources_list_and_detail(client: TestClient, tmp_path: Path) -> None:
    listing = {s["id"]: s for s in client.get("/sources").json()}
    assert set(listing) == {SEED_ID, "sub/notes.md"}
    notes = listing["sub/notes.md"]
    assert notes["title"] == "Notes" and notes["indexed"] and notes["on_disk"]
    assert notes["chunks"] >= 1 and len(notes["sha256"]) == 64
    detail = client.get("/sources/sub/notes.md").json()
    assert detail["text"].startswith("# Notes") and detail["generation"] == 1
    assert_clean_error(client.get("/sources/missing.txt"), tmp_path, 404)


def test_upload_is_saved_under_a_safe_name_then_indexed(
    client: TestClient, settings: Settings
) -> None:
    folder = settings.source_dirs[0]
    files = {"file": ("../My Notes!.txt", b"The harbour opens at dawn.\n", "text/plain")}
    response = client.post("/sources?index=false", files=files)  # a batch: indexed below
    assert response.status_code == 201, response.text
    assert response.json()["rebuild_requested"] is False
    new_id = response.json()["id"]
    assert new_id == "My Notes.txt"  # its own name, made safe
    assert (folder / new_id).read_bytes() == b"The harbour opens at dawn.\n"
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary left
    listing = {s["id"]: s for s in client.get("/sources").json()}
    assert listing[new_id]["indexed"] is False
    assert client.post("/index").status_code == 202
    state = wait_idle(client)
    assert state["state"] == "succeeded" and state["generation"] == 2
    assert state["report"]["added"] == 1
    assert client.get(f"/sources/{new_id}").json()["text"] == "The harbour opens at dawn.\n"


def test_an_upload_or_a_delete_is_indexed_without_another_call(client: TestClient) -> None:
    files = {"file": ("tide.txt", b"High tide at Marlow is at six.\n", "text/plain")}
    created = client.post("/sources", files=files).json()
    assert created["rebuild_requested"] is True
    state = wait_idle(client)
    assert state["state"] == "succeeded" and state["report"]["added"] == 1
    assert client.get(f"/sources/{created['id']}").status_code == 200
    removed = client.delete(f"/sources/{created['id']}").json()
    assert removed["rebuild_requested"] is True
    assert wait_idle(client)["report"]["removed"] == 1
    assert client.get(f"/sources/{created['id']}").status_code == 404


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("tool.exe", b"MZ\x90\x00", 422),
        ("noext", b"text", 422),
        ("empty.txt", b"", 422),
        ("binary.txt", b"abc\x00def", 422),
        ("latin1.txt", "café".encode("latin-1"), 422),
        ("broken.pdf", b"%PDF-1.4 not really", 422),
        ("big.txt", b"x" * 2000, 413),
    ],
)
def test_bad_uploads_are_refused_and_leave_no_file(
    settings: Settings,
    embedder: GatedEmbedder,
    tmp_path: Path,
    name: str,
    data: bytes,
    code: int,
) -> None:
    build_index(settings, embedder)
    client = make_client(settings.model_copy(update={"upload_max_bytes": 1000}), embedder)
    before = sorted(p.name for p in settings.source_dirs[0].iterdir())
    response = client.post("/sources", files={"file": (name, data, "application/octet-stream")})
    assert_clean_error(response, tmp_path, code)
    assert sorted(p.name for p in settings.source_dirs[0].iterdir()) == before


def test_upload_without_a_file_field_is_422(client: TestClient, tmp_path: Path) -> None:
    assert_clean_error(client.post("/sources", data={"x": "y"}), tmp_path, 422)


def test_delete_removes_the_file_and_refuses_escapes(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "outside.txt").write_text("keep me")
    for bad in ("..%2Foutside.txt", "sub/..%2F..%2Foutside.txt", ".hidden.txt", "sub"):
        assert_clean_error(client.delete(f"/sources/{bad}"), tmp_path, 400, 404)
    assert (tmp_path / "outside.txt").exists()
    assert_clean_error(client.delete("/sources/gone.txt"), tmp_path, 404)
    deleted = client.delete("/sources/sub/notes.md?index=false").json()
    assert deleted == {"id": "sub/notes.md", "deleted": True, "rebuild_requested": False}
    assert not (settings.source_dirs[0] / "sub" / "notes.md").exists()
    listing = {s["id"]: s for s in client.get("/sources").json()}
    assert listing["sub/notes.md"]["on_disk"] is False


def test_a_missing_source_folder_is_a_clean_503(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    shutil.rmtree(settings.source_dirs[0])
    assert_clean_error(client.get("/sources"), tmp_path, 503)
    assert client.post("/ask", json={"question": SEED_QUESTION}).status_code == 200
