"""The API key: every route but /health needs it; the OpenAPI document lists the routes."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rag.build.indexer import build_index
from rag.config import Settings
from tests.api.fixtures import (
    KEY,
    SEED_ID,
    SEED_QUESTION,
    GatedEmbedder,
    assert_clean_error,
    make_client,
)

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
    key = {"X-API-Key": KEY}
    assert keyed.post("/sources?index=false", files=files, headers=key).status_code == 201
    assert keyed.post("/index", headers=key).status_code == 202


def test_openapi_documents_the_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/ask", "/search", "/sources", "/sources/{source_id}", "/index", "/health"} <= set(
        paths
    )
    page = client.get("/docs").text
    assert "swagger-ui" in page and "cdn." not in page  # served offline, from this app
    script = client.get("/docs-assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000
