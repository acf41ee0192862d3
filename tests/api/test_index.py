"""Health and the /index routes: readiness, 503 without an index, one rebuild at a time."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from rag.config import Settings
from tests.api.fixtures import (
    SEED_ID,
    SEED_QUESTION,
    GatedEmbedder,
    assert_clean_error,
    make_client,
    wait_idle,
)


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
