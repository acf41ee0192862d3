"""Shared fixtures: a fake embedder for plumbing, the real packaged model for quality."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from rag.runtime import configure_runtime

configure_runtime()

from rag.assistant import Assistant  # noqa: E402
from rag.build.indexer import build_index  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.embedding.onnx import OnnxEmbedder  # noqa: E402
from tests.fakes import FakeEmbedder  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
SHARED = REPO.parent / "shared"
LOCAL = "http://127.0.0.1"  # a host the server trusts (TestClient says "testserver")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-screenshot",
        action="store_true",
        help="write the browser test's screenshot to docs/screenshot-chat.png",
    )


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def real_embedder() -> OnnxEmbedder:
    """The product's embedder; its ONNX export is cached in .cache/models across runs."""
    return OnnxEmbedder(REPO / ".cache" / "models")


@pytest.fixture
def seed_dir(tmp_path: Path) -> Path:
    """A private copy of seeds/ that a test may add files to."""
    target = tmp_path / "sources"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture(scope="session", params=["local", "milvus"])
def seed_settings(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    real_embedder: OnnxEmbedder,
) -> Settings:
    """Settings of an index of the real seeds, built once with the real model, on each
    backend: local FAISS + bm25s folders, and Milvus (milvus-lite)."""
    from rag.build.backends import build_index

    root = tmp_path_factory.mktemp(f"seed-index-{request.param}")
    sources = root / "sources"
    shutil.copytree(SEEDS, sources)
    settings = Settings(source_dirs=(sources,), index_dir=root / "index", store=request.param)
    build_index(settings, real_embedder)
    return settings


@pytest.fixture(scope="session")
def seed_assistant(seed_settings: Settings, real_embedder: OnnxEmbedder) -> Assistant:
    """The real assistant over the real seeds (read-only: do not add sources to it)."""
    return Assistant(seed_settings, real_embedder)


def indexed_set(
    root: Path, questions: list[str], documents: list[Path], embedder: OnnxEmbedder, **settings: Any
) -> tuple[Path, Assistant]:
    """A small evaluation set under root (questions.jsonl lines, copies of the documents in
    corpus/), indexed, and an Assistant over it (Settings fields in `settings`)."""
    (root / "questions.jsonl").write_text("\n".join(questions) + "\n", encoding="utf-8")
    corpus = root / "corpus"
    corpus.mkdir()
    for document in documents:
        shutil.copy(document, corpus / document.name)
    config = Settings(source_dirs=(corpus,), index_dir=root / "index", **settings)
    build_index(config, embedder)
    return root, Assistant(config, embedder)
