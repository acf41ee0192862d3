"""The HTTP API over real indexes: the fake embedder for plumbing, the real model on one tier."""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from numpy.typing import NDArray

from rag.assistant import Assistant
from rag.build.indexer import build_index
from rag.build.rebuild import Rebuilder
from rag.config import Settings
from rag.embedding.base import Embedder
from tests.conftest import LOCAL
from tests.fakes import FakeEmbedder
from ui.api import create_app

SEED_ID = "000_5e08608e18cd2d5e.txt"
SEED_QUESTION = "How many North Korean troops were moved into Russia's Kursk region?"
KEY = "s3cret-key"


class GatedEmbedder:
    """The fake embedder, except that index batches (more than one text) wait for `gate`.

    Queries embed one text at a time, so they keep flowing while a rebuild is held open.
    """

    def __init__(self) -> None:
        self.inner = FakeEmbedder()
        self.model_id, self.dim = self.inner.model_id, self.inner.dim
        self.gate = threading.Event()
        self.gate.set()

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if len(texts) > 1:
            assert self.gate.wait(30)
        return self.inner.embed(texts)


def make_client(settings: Settings, embedder: Embedder) -> TestClient:
    assistant = Assistant(settings, embedder)
    rebuilder = Rebuilder(settings, embedder, on_success=lambda _report: assistant.reload())
    return TestClient(create_app(assistant, rebuilder), base_url=LOCAL)


@pytest.fixture
def settings(tmp_path: Path, seed_dir: Path) -> Settings:
    (seed_dir / "sub").mkdir()
    (seed_dir / "sub" / "notes.md").write_text("# Notes\n\nThe lighthouse keeper is Ada Vell.\n")
    return Settings(source_dirs=(seed_dir,), index_dir=tmp_path / "index")


@pytest.fixture
def embedder() -> GatedEmbedder:
    return GatedEmbedder()


@pytest.fixture
def client(settings: Settings, embedder: GatedEmbedder) -> TestClient:
    build_index(settings, embedder)
    return make_client(settings, embedder)


def wait_idle(client: TestClient, timeout: float = 30) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while (state := client.get("/index").json())["state"] == "running":
        assert time.monotonic() < deadline, state
        time.sleep(0.05)
    return state


def assert_clean_error(response: object, tmp_path: Path, *codes: int) -> None:
    """A 4xx/5xx with a JSON reason, and neither a traceback nor a server path."""
    assert response.status_code in codes, (response.status_code, response.text)  # type: ignore[attr-defined]
    body = response.text  # type: ignore[attr-defined]
    assert isinstance(response.json()["detail"], str)  # type: ignore[attr-defined]
    assert "Traceback" not in body and str(tmp_path) not in body and "/work/" not in body


def test_health_reports_ready_generation_and_model(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body == {
        "ready": True,
        "generation": 1,
        "model_id": "fake/bag-of-words",
        "rebuild": "idle",
        "problems": [],
    }


def test_without_an_index_queries_get_503_and_health_says_not_ready(
    settings: Settings, embedder: GatedEmbedder, tmp_path: Path
) -> None:
    client = make_client(settings, embedder)
    health = client.get("/health")
    assert health.status_code == 503 and health.json()["ready"] is False
    for response in (
        client.post("/ask", json={"question": SEED_QUESTION}),
        client.post("/search", json={"query": "troops"}),
        client.get(f"/sources/{SEED_ID}"),
    ):
        assert_clean_error(response, tmp_path, 503)
    listing = client.get("/sources").json()
    assert {s["id"]: s["indexed"] for s in listing} == {SEED_ID: False, "sub/notes.md": False}


def test_ask_returns_the_cli_json_shape_with_offsets_that_check_out(client: TestClient) -> None:
    response = client.post("/ask", json={"question": "Who is the lighthouse keeper?"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "question", "answer", "refused", "quotes", "short_answer", "query", "generation"
    }  # fmt: skip
    assert body["generation"] == 1 and body["query"] == "Who is the lighthouse keeper?"
    assert body["refused"] is (not body["quotes"])
    for quote in body["quotes"]:
        source = client.get(f"/sources/{quote['source']}").json()
        assert source["text"][quote["start"] : quote["end"]] == quote["text"]
        assert quote["sha256"] == source["sha256"]
        assert source["sha256"] == hashlib.sha256(source["text"].encode()).hexdigest()


def test_follow_up_reports_the_standalone_query(client: TestClient) -> None:
    history = [
        {"role": "user", "content": SEED_QUESTION},
        {"role": "assistant", "content": "About 11,000."},
    ]
    body = client.post("/ask", json={"question": "What about the drones?", "history": history})
    assert body.status_code == 200
    query = body.json()["query"]
    assert query != "What about the drones?" and "Kursk" in query


@pytest.mark.parametrize(
    "payload",
    [
        {"question": ""},
        {"question": "   \n"},
        {"question": "x" * 2001},
        {"question": 42},
        {"question": ["a"]},
        {},
        {"question": "ok", "top_k": "5"},
        {"question": "ok", "top_k": 0},
        {"question": "ok", "top_k": 101},
        {"question": "ok", "history": "earlier"},
        {"question": "ok", "history": [{"role": "bot", "content": "hi"}]},
        {"question": "ok", "extra": 1},
    ],
)
def test_ask_rejects_bad_input_with_a_json_reason(
    client: TestClient, payload: dict[str, object], tmp_path: Path
) -> None:
    assert_clean_error(client.post("/ask", json=payload), tmp_path, 422)


def test_ask_rejects_malformed_and_oversized_bodies(client: TestClient, tmp_path: Path) -> None:
    headers = {"content-type": "application/json"}
    assert_clean_error(client.post("/ask", content=b"{not json", headers=headers), tmp_path, 422)
    huge = b'{"question": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    assert_clean_error(client.post("/ask", content=huge, headers=headers), tmp_path, 413)


def test_search_returns_ranked_spans(client: TestClient, tmp_path: Path) -> None:
    body = client.post("/search", json={"query": "lighthouse keeper", "k": 3}).json()
    assert body["generation"] == 1 and 1 <= len(body["hits"]) <= 3
    scores = [hit["score"] for hit in body["hits"]]
    assert scores == sorted(scores, reverse=True)
    top = body["hits"][0]
    assert top["source"] == "sub/notes.md"
    text = client.get(f"/sources/{top['source']}").json()["text"]
    assert text[top["start"] : top["end"]] == top["text"]
    for payload in ({"query": ""}, {"query": "x", "k": 0}, {"query": "x", "k": "3"}, {"k": 3}):
        assert_clean_error(client.post("/search", json=payload), tmp_path, 422)


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
    response = client.post("/sources", files=files)
    assert response.status_code == 201, response.text
    new_id = response.json()["id"]
    assert new_id.startswith("My-Notes-") and new_id.endswith(".txt") and "/" not in new_id
    assert (folder / new_id).read_bytes() == b"The harbour opens at dawn.\n"
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary left
    listing = {s["id"]: s for s in client.get("/sources").json()}
    assert listing[new_id]["indexed"] is False
    assert client.post("/index").status_code == 202
    state = wait_idle(client)
    assert state["state"] == "succeeded" and state["generation"] == 2
    assert state["report"]["added"] == 1
    assert client.get(f"/sources/{new_id}").json()["text"] == "The harbour opens at dawn.\n"


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
    assert client.delete("/sources/sub/notes.md").json() == {"id": "sub/notes.md", "deleted": True}
    assert not (settings.source_dirs[0] / "sub" / "notes.md").exists()
    listing = {s["id"]: s for s in client.get("/sources").json()}
    assert listing["sub/notes.md"]["on_disk"] is False


def test_a_missing_source_folder_is_a_clean_503(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    shutil.rmtree(settings.source_dirs[0])
    assert_clean_error(client.get("/sources"), tmp_path, 503)
    assert client.post("/ask", json={"question": SEED_QUESTION}).status_code == 200


def test_a_second_rebuild_gets_409_while_queries_keep_being_answered(
    client: TestClient, settings: Settings, embedder: GatedEmbedder
) -> None:
    (settings.source_dirs[0] / "new.txt").write_text("The ferry leaves at noon. It is red.\n")
    embedder.gate.clear()
    try:
        started = client.post("/index")
        assert started.status_code == 202 and started.json()["state"] == "running"
        second = client.post("/index")
        assert second.status_code == 409 and "already running" in second.json()["detail"]
        assert client.get("/index").json()["state"] == "running"
        asked = client.post("/ask", json={"question": SEED_QUESTION})
        assert asked.status_code == 200 and asked.json()["generation"] == 1
    finally:
        embedder.gate.set()
    state = wait_idle(client)
    assert state["state"] == "succeeded" and state["generation"] == 2
    report = state["report"]
    assert (report["added"], report["unchanged"], report["removed"]) == (1, 2, 0)
    assert client.post("/ask", json={"question": SEED_QUESTION}).json()["generation"] == 2


ROUTES = [
    ("GET", "/sources", None),
    ("GET", f"/sources/{SEED_ID}", None),
    ("POST", "/ask", {"question": SEED_QUESTION}),
    ("POST", "/search", {"query": "troops"}),
    ("GET", "/index", None),
    ("GET", "/docs", None),
    ("GET", "/openapi.json", None),
    ("DELETE", "/sources/nothing.txt", None),
]


@pytest.fixture
def keyed(settings: Settings, embedder: GatedEmbedder) -> TestClient:
    build_index(settings, embedder)
    return make_client(settings.model_copy(update={"api_key": KEY}), embedder)


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_api_key_matrix(
    keyed: TestClient, method: str, path: str, body: dict[str, str] | None, tmp_path: Path
) -> None:
    for headers in ({}, {"X-API-Key": "wrong"}, {"X-API-Key": ""}, {"x-api-key": KEY + "x"}):
        response = keyed.request(method, path, json=body, headers=headers)
        assert_clean_error(response, tmp_path, 401)
    allowed = keyed.request(method, path, json=body, headers={"X-API-Key": KEY})
    assert allowed.status_code in (200, 404), allowed.text


def test_api_key_guards_uploads_and_rebuilds_but_not_health(keyed: TestClient) -> None:
    files = {"file": ("a.txt", b"hello there\n", "text/plain")}
    assert keyed.post("/sources", files=files).status_code == 401
    assert keyed.post("/index").status_code == 401
    assert keyed.get("/health").status_code == 200
    assert keyed.post("/sources", files=files, headers={"X-API-Key": KEY}).status_code == 201
    assert keyed.post("/index", headers={"X-API-Key": KEY}).status_code == 202


def test_openapi_documents_the_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/ask", "/search", "/sources", "/sources/{source_id}", "/index", "/health"} <= set(
        paths
    )
    page = client.get("/docs").text
    assert "swagger-ui" in page and "cdn." not in page  # served offline, from this app
    script = client.get("/docs-assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000


@pytest.mark.model
def test_seed_question_is_answered_with_11000_from_the_real_model(
    tmp_path: Path, seed_dir: Path, real_embedder: Embedder
) -> None:
    settings = Settings(source_dirs=(seed_dir,), index_dir=tmp_path / "index")
    build_index(settings, real_embedder)
    client = make_client(settings, real_embedder)
    body = client.post("/ask", json={"question": SEED_QUESTION}).json()
    assert not body["refused"] and any("11,000" in q["text"] for q in body["quotes"])
    for quote in body["quotes"]:
        source = client.get(f"/sources/{quote['source']}").json()
        assert source["text"][quote["start"] : quote["end"]] == quote["text"]
        assert quote["sha256"] == source["sha256"] and quote["source"] == SEED_ID
    history = [{"role": "user", "content": SEED_QUESTION}, {"role": "assistant", "content": ""}]
    follow = client.post("/ask", json={"question": "What about the drones?", "history": history})
    assert "Kursk" in follow.json()["query"]  # the standalone query actually searched
    assert any("drones" in q["text"] for q in follow.json()["quotes"])
    off_topic = client.post("/ask", json={"question": "Who won the 2022 football World Cup?"})
    assert off_topic.json()["refused"] is True and off_topic.json()["quotes"] == []
