"""One contract for every index backend: local FAISS + bm25s folders, and Milvus.

Milvus runs as milvus-lite in a file; with MILVUS_URI set (a real server >= 2.5), the suite
runs against it too. Builds go through the product's own indexer, with a fake embedder: the
contract is about storage, not retrieval quality (tests/test_assistant.py asks real questions
on both backends).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from rag.assistant import Assistant
from rag.build.backends import build_index
from rag.config import Settings
from rag.errors import IndexMissing
from rag.index.backends import open_published, published_generation
from rag.index.milvus.client import MilvusUnavailable, check_version
from tests.conftest import REPO
from tests.fakes import FakeEmbedder, OverlapReader
from tests.test_store import TEXTS

BACKENDS = ["local", "milvus"] + (["milvus-server"] if os.environ.get("MILVUS_URI") else [])


def settings_for(backend: str, root: Path) -> Settings:
    """A fresh index of `backend` over root/sources."""
    values: dict[str, object] = {"source_dirs": (root / "sources",), "index_dir": root / "index"}
    if backend != "local":
        values["store"] = "milvus"
        values["milvus_collection"] = "t" + uuid.uuid4().hex[:12]
    if backend == "milvus-server":
        values["milvus_uri"] = os.environ["MILVUS_URI"]
        values["milvus_token"] = os.environ.get("MILVUS_TOKEN")
    return Settings.model_validate(values)


def write_sources(folder: Path, texts: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in list(p.name for p in folder.iterdir()):
        if name not in texts:
            (folder / name).unlink()
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")


@pytest.fixture(params=BACKENDS)
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    settings = settings_for(request.param, tmp_path)
    write_sources(tmp_path / "sources", TEXTS)
    return settings


def test_nothing_is_published_before_the_first_build(index: Settings) -> None:
    assert published_generation(index) == 0
    with pytest.raises(IndexMissing):
        open_published(index, FakeEmbedder())


def test_dense_keyword_and_hybrid_search_find_the_chunk(index: Settings) -> None:
    embedder = FakeEmbedder()
    report = build_index(index, embedder)
    assert (report.generation, report.added, report.sources) == (1, 3, 3)
    store = open_published(index, embedder)
    assert store.generation == 1 and sorted(store.sources) == sorted(TEXTS)
    row = next(r for r, c in enumerate(store.chunks) if "kestrel" in c.text)
    vector = store.chunk_vectors([row])[0]
    assert np.allclose(vector, embedder.embed([_index_text(store, row)])[0], atol=1e-6)
    assert store.search_dense(vector, 3)[0][0] == row
    top, score = store.search_keyword("kestrel voles", 3)[0]
    assert top == row and score > 0
    assert store.search_keyword("", 3) == [] and store.search_keyword("zzzqqq", 3) == []
    assert store.search_hybrid(vector, "kestrel voles", 2, 10)[0][0] == row
    sentence = store.chunks[row].sentences[0]
    text = store.sources[sentence.source_id].text[sentence.start : sentence.end]
    assert np.allclose(store.sentence_vectors([sentence])[0], embedder.embed([text])[0], atol=1e-6)
    assert store.chunk_count("birds.txt") >= 1 and store.chunk_count("nope.txt") == 0


def _index_text(store: object, row: int) -> str:
    from rag.text.chunking import index_text

    chunk = store.chunks[row]  # type: ignore[attr-defined]
    return index_text(store.sources[chunk.source_id].title, chunk)  # type: ignore[attr-defined]


def test_both_backends_rank_alike(tmp_path: Path) -> None:
    embedder = FakeEmbedder()
    stores = []
    for backend in ("local", "milvus"):
        settings = settings_for(backend, tmp_path / backend)
        write_sources(tmp_path / backend / "sources", TEXTS)
        build_index(settings, embedder)
        stores.append(open_published(settings, embedder))
    local, milvus = stores
    assert [c.id for c in local.chunks] == [c.id for c in milvus.chunks]
    for query in ("kestrel", "tea from China", "Black Sea rivers", "silent flight"):
        vector = embedder.embed([query])[0]
        ours, theirs = dict(local.search_dense(vector, 9)), dict(milvus.search_dense(vector, 9))
        assert ours.keys() == theirs.keys()  # every chunk; ties may come in either order
        assert [ours[r] for r in ours] == pytest.approx([theirs[r] for r in ours], abs=1e-5)
        best = milvus.search_keyword(query, 3)  # BM25 by another tokenizer: ties may differ
        tied = {r for r, score in best if score == pytest.approx(best[0][1])}
        assert local.search_keyword(query, 1)[0][0] in tied


def test_a_rebuild_embeds_only_what_changed_and_deletes_what_went(index: Settings) -> None:
    embedder = FakeEmbedder()
    build_index(index, embedder)
    texts = dict(TEXTS)
    del texts["rivers.txt"]
    texts["ships.md"] = TEXTS["ships.md"] + " Windjammers came later."
    write_sources(index.source_dirs[0], texts)
    before = embedder.texts_embedded
    report = build_index(index, embedder)
    assert (report.generation, report.changed, report.removed, report.unchanged) == (2, 1, 1, 1)
    assert 0 < embedder.texts_embedded - before <= 8  # the changed file's texts only
    store = open_published(index, embedder)
    assert sorted(store.sources) == ["birds.txt", "ships.md"]
    assert not any("Danube" in store.chunks[r].text for r, _ in store.search_keyword("Danube", 5))
    vector = embedder.embed(["Windjammers came later"])[0]
    assert "Windjammers" in store.chunks[store.search_dense(vector, 1)[0][0]].text
    again = build_index(index, embedder)
    assert not again.published and again.generation == 2


def test_a_new_assistant_reloads_the_published_generation(index: Settings) -> None:
    embedder = FakeEmbedder()
    build_index(index, embedder)
    first = Assistant(index, embedder, OverlapReader())
    answer = first.ask("Which kestrel hovers above fields?")
    assert not answer.refused and answer.generation == 1
    source = answer.quotes[0]
    text = (index.source_dirs[0] / source.source).read_text(encoding="utf-8")
    assert text[source.start : source.end] == source.text
    write_sources(index.source_dirs[0], {**TEXTS, "owls.txt": "Owls\n\nBarn owls eat mice."})
    build_index(index, embedder)
    assert first.reload() and first.generation == 2
    second = Assistant(index, embedder, OverlapReader())
    assert second.generation == 2
    assert second.ask("Barn owls eat what mice?").quotes[0].source == "owls.txt"


@pytest.mark.parametrize("where", ["inserting", "publishing"])
def test_a_killed_milvus_build_leaves_the_published_generation_answering(
    tmp_path: Path, where: str
) -> None:
    settings = settings_for("milvus", tmp_path)
    write_sources(tmp_path / "sources", TEXTS)
    assert _child_build(settings, "none").returncode == 0
    write_sources(tmp_path / "sources", {**TEXTS, "owls.txt": "Owls\n\nBarn owls eat mice."})
    killed = _child_build(settings, where)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    embedder = FakeEmbedder()
    store = open_published(settings, embedder)  # the child is gone: this process may open it
    assert store.generation == 1 and "owls.txt" not in store.sources
    assert store.search_keyword("barn owls mice", 5) == [] or all(
        store.chunks[r].source_id != "owls.txt" for r, _ in store.search_keyword("owls", 5)
    )
    report = build_index(settings, embedder)
    assert report.generation == 2 and report.added == 1
    assert open_published(settings, embedder).search_keyword("barn owls mice", 1)


def _child_build(settings: Settings, kill_at: str) -> subprocess.CompletedProcess[str]:
    """Build in a child process (milvus-lite: one process per file), killed where told."""
    return subprocess.run(
        [sys.executable, "-m", "tests.milvus_build", settings.model_dump_json(), kill_at],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("version", "usable"),
    [("milvus_lite-3.2.2", True), ("v2.5.4", True), ("2.6.0", True), ("v2.4.15", False),
     ("v2.3.5", False), ("unknown", False)],
)  # fmt: skip
def test_servers_older_than_2_5_are_refused(version: str, usable: bool) -> None:
    if usable:
        check_version(version)
    else:
        with pytest.raises(MilvusUnavailable, match=r"older than 2\.5"):
            check_version(version)


def test_a_milvus_lite_index_file_cut_short_by_a_crash_is_rebuilt(tmp_path: Path) -> None:
    settings = settings_for("milvus", tmp_path)
    write_sources(tmp_path / "sources", TEXTS)
    assert _child_build(settings, "none").returncode == 0
    files = sorted((tmp_path / "index" / "milvus.db").rglob("*.idx"))
    assert files
    for path in files:  # as a kill during milvus-lite's background index write leaves them
        path.write_bytes(path.read_bytes()[:10])
    store = open_published(settings, FakeEmbedder())
    assert store.generation == 1
    assert store.search_keyword("kestrel", 1)
    vector = store.chunk_vectors([0])[0]
    assert store.search_dense(vector, 1)[0][0] == 0
