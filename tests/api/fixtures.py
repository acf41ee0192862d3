"""The API test tier: a gated fake embedder, clients over real indexes, helpers."""

from __future__ import annotations

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

SEED_QUESTION = "How many North Korean troops were moved into Russia's Kursk region?"
SEED_ID = "000_5e08608e18cd2d5e.txt"


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
