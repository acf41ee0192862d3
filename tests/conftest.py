"""Shared fixtures: a fake embedder for plumbing, the real packaged model for quality."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.runtime import configure_runtime

configure_runtime()

from rag.embedding import SentenceTransformerEmbedder  # noqa: E402
from tests.fakes import FakeEmbedder  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
SHARED = REPO.parent / "shared"


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def real_embedder() -> Iterator[SentenceTransformerEmbedder]:
    yield SentenceTransformerEmbedder()


@pytest.fixture
def seed_dir(tmp_path: Path) -> Path:
    """A private copy of seeds/ that a test may add files to."""
    target = tmp_path / "sources"
    shutil.copytree(SEEDS, target)
    return target
