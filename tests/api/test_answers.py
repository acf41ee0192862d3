"""POST /ask and /search over real indexes: shapes, offsets, follow-ups, bad input."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rag.build.indexer import build_index
from rag.config import Settings
from rag.embedding.base import Embedder
from tests.api.fixtures import SEED_ID, SEED_QUESTION, assert_clean_error, make_client


def test_ask_returns_the_cli_json_shape_with_offsets_that_check_out(client: TestClient) -> None:
    response = client.post("/ask", json={"question": "Who is the lighthouse keeper?"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "question", "answer", "refused", "quotes", "short_answer", "short_answer_confidence",
        "short_answer_sure", "query", "generation"
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
