"""The worlds the fault tests start from: articles, a first generation, helpers."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.build.indexer import build_index
from rag.config import Settings
from rag.index.generations import generation_dir, load_current
from rag.index.local import LocalStore
from rag.sources.digests import RACY_NS
from tests.conftest import REPO, SHARED
from tests.fakes import FakeEmbedder
from tests.fault_build import DIM, settings_for

CORPUS = sorted((SHARED / "eval" / "squad2" / "corpus").glob("*.txt"))  # ~3 kB articles


SHORT = sorted((SHARED / "eval" / "multihop" / "corpus").glob("*.txt"))  # ~0.5 kB ones


BEFORE = [*CORPUS[:8], *SHORT[:4]]


AFTER = [*CORPUS[:8], *SHORT[1:6]]  # one deleted, one edited, two added: cheap to re-chunk


CHILD_TIMEOUT_S = 60


def child(sources: Path, index: Path, mode: str, value: str) -> subprocess.CompletedProcess[str]:
    """Run tests/fault_build.py in a fresh interpreter."""
    command = [sys.executable, "-m", "tests.fault_build", str(sources), str(index), mode, value]
    return subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generation 1 over 12 articles, then the edit that the builds under test index.

    The sources stay in one folder, as a user's do, so that the parts the edit leaves alone
    are linked from generation 1, not written again.
    """
    root = tmp_path_factory.mktemp("faults")
    folder = root / "sources"
    folder.mkdir()
    for path in BEFORE:
        shutil.copy(path, folder / path.name)
    report = build_index(settings_for(folder, root / "index"), FakeEmbedder(dim=DIM))
    assert report.generation == 1
    for path in set(BEFORE) - set(AFTER):
        (folder / path.name).unlink()
    for path in set(AFTER) - set(BEFORE):
        shutil.copy(path, folder / path.name)
    edited = folder / SHORT[1].name
    edited.write_text(edited.read_text() + "\nThe zanzibarian edit is new.\n")
    # Past the window in which file digests are not trusted (rag/file_digests.py), so that
    # every build under test takes the same steps as the traced one.
    time.sleep(RACY_NS / 1e9 + 0.1)
    return root


def fresh_index(world: Path, name: str) -> tuple[Path, Path]:
    """Return the edited sources and a private copy of generation 1 to index them into."""
    index = world / name / "index"
    shutil.copytree(world / "index", index)
    return world / "sources", index


def assert_serves(index: Path, embedder: FakeEmbedder) -> LocalStore:
    """The live generation loads, verifies and answers, holding the before or after sources."""
    store = load_current(index, embedder)
    assert store.problems == ()
    names = set(store.sources)
    assert names == {p.name for p in (BEFORE if store.generation == 1 else AFTER)}
    question = "What is the subject of this article?"
    assert store.search_dense(embedder.embed([question])[0], 3)
    assert store.search_keyword(store.sources[CORPUS[2].name].title, 3)
    return store


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """Five articles to index."""
    folder = tmp_path / "sources"
    folder.mkdir()
    for path in CORPUS[:5]:
        shutil.copy(path, folder / path.name)
    return folder


def edited_twice(tmp_path: Path, sources: Path) -> tuple[Settings, FakeEmbedder, Path]:
    """Build generation 1, edit one article, build generation 2; return its folder too."""
    settings = settings_for(sources, tmp_path / "index")
    embedder = FakeEmbedder()
    build_index(settings, embedder)
    edited = sources / CORPUS[3].name
    edited.write_text(edited.read_text() + "\nAn added sentence.\n")
    build_index(settings, embedder)
    return settings, embedder, generation_dir(settings.index_dir, 2)
