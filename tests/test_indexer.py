"""Incremental builds: what is added, changed, removed and re-embedded, and what stays live."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from rag.build.indexer import Indexer, build_index
from rag.config import Settings
from rag.embedding.base import Embedder
from rag.errors import BuildInProgress, SourceError
from rag.index.generations import build_lock, current_generation, generation_dir, load_current
from rag.index.layout.parts import source_order
from tests.fakes import FakeEmbedder

DOCS = {
    "kestrel.txt": "Kestrels\n\nThe kestrel hovers above meadows while hunting. It eats voles. "
    "Kestrels nest in old crow nests.",
    "clipper.md": "# Clippers\n\nA clipper was a fast sailing ship. Clippers carried tea from "
    "China to London. The Cutty Sark is a surviving clipper.",
    "danube.txt": "The Danube\n\nThe Danube flows through ten countries. It ends in the Black Sea. "
    "Vienna and Budapest stand on its banks.",
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    sources = tmp_path / "sources"
    sources.mkdir()
    for name, text in DOCS.items():
        (sources / name).write_text(text)
    return Settings(source_dirs=(sources,), index_dir=tmp_path / "index")


def chunk_texts(settings: Settings, embedder: Embedder) -> str:
    return "\n".join(c.text for c in load_current(settings.index_dir, embedder).chunks)


def test_first_build_adds_everything(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    report = build_index(settings, fake_embedder)
    assert (report.generation, report.added, report.changed, report.removed) == (1, 3, 0, 0)
    assert report.sources == 3 and report.chunks > 3
    assert report.embedded == fake_embedder.texts_embedded > 0
    store = load_current(settings.index_dir, fake_embedder)
    assert store.generation == current_generation(settings.index_dir) == 1
    order = sorted(store.sources, key=source_order)  # grouped by part, then by id
    assert [c.source_id for c in store.chunks] == sorted(
        (c.source_id for c in store.chunks), key=order.index
    )
    for source in store.sources.values():  # what every quote's citation carries
        assert source.sha256 == hashlib.sha256(source.text.encode()).hexdigest()


def test_unchanged_rebuild_embeds_nothing(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    build_index(settings, fake_embedder)
    before = fake_embedder.texts_embedded
    report = build_index(settings, fake_embedder)
    assert (report.generation, report.unchanged, report.added, report.embedded) == (1, 3, 0, 0)
    assert fake_embedder.texts_embedded == before
    assert not report.published  # a rebuild that changes nothing publishes nothing
    assert sorted(p.name for p in settings.index_dir.glob("gen-*")) == ["gen-000001"]
    assert current_generation(settings.index_dir) == 1


def test_edit_replaces_the_old_text(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    build_index(settings, fake_embedder)
    path = settings.source_dirs[0] / "kestrel.txt"
    path.write_text(path.read_text().replace("It eats voles.", "It eats grasshoppers."))
    before = fake_embedder.texts_embedded
    report = build_index(settings, fake_embedder)
    assert (report.changed, report.unchanged, report.added, report.removed) == (1, 2, 0, 0)
    assert 0 < report.embedded == fake_embedder.texts_embedded - before <= 6
    store = load_current(settings.index_dir, fake_embedder)
    assert "voles" not in chunk_texts(settings, fake_embedder)
    assert "grasshoppers" in chunk_texts(settings, fake_embedder)
    assert store.search_keyword("voles", 5) == []
    assert store.chunks[store.search_keyword("grasshoppers", 5)[0][0]].source_id == "kestrel.txt"
    old = fake_embedder.embed(["It eats voles."])[0]
    assert all("voles" not in store.chunks[row].text for row, _ in store.search_dense(old, 50))


def test_delete_removes_from_every_index(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    build_index(settings, fake_embedder)
    (settings.source_dirs[0] / "danube.txt").unlink()
    report = build_index(settings, fake_embedder)
    assert (report.removed, report.unchanged, report.sources) == (1, 2, 2)
    store = load_current(settings.index_dir, fake_embedder)
    assert "danube.txt" not in store.sources
    assert all(c.source_id != "danube.txt" for c in store.chunks)
    assert all(s.source_id != "danube.txt" for s in store.sentences)
    assert sorted(e.id for e in store.manifest.sources) == ["clipper.md", "kestrel.txt"]
    assert store.search_keyword("Danube Budapest Vienna", 10) == []
    dense = store.search_dense(fake_embedder.embed(["The Danube flows"])[0], 100)
    assert sorted(row for row, _ in dense) == list(range(len(store.chunks)))


def test_rename_embeds_nothing(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    build_index(settings, fake_embedder)
    folder = settings.source_dirs[0]
    (folder / "clipper.md").rename(folder / "ships.md")
    before = fake_embedder.texts_embedded
    report = build_index(settings, fake_embedder)
    assert (report.added, report.removed, report.embedded) == (1, 1, 0)
    assert fake_embedder.texts_embedded == before
    assert "ships.md" in load_current(settings.index_dir, fake_embedder).sources


def test_re_adding_deleted_content_later_embeds_nothing(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    build_index(settings, fake_embedder)
    folder = settings.source_dirs[0]
    text = (folder / "danube.txt").read_text()
    (folder / "danube.txt").unlink()
    build_index(settings, fake_embedder)
    build_index(settings, fake_embedder)
    (folder / "sub").mkdir()
    (folder / "sub" / "rivers.txt").write_text(text)
    report = build_index(settings, fake_embedder)
    assert (report.added, report.embedded) == (1, 0)


def test_unreadable_files_are_skipped(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    folder = settings.source_dirs[0]
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02 not text")
    (folder / "empty.md").write_text("")
    report = build_index(settings, fake_embedder)
    assert sorted(s.path.name for s in report.skipped) == ["binary.txt", "empty.md"]
    assert report.sources == 3


def test_a_changed_file_that_turns_unreadable_is_removed(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    build_index(settings, fake_embedder)
    (settings.source_dirs[0] / "danube.txt").write_bytes(b"\xff\xfe\x00 binary now")
    report = build_index(settings, fake_embedder)
    assert (report.removed, report.sources, len(report.skipped)) == (1, 2, 1)


def test_no_readable_source_keeps_the_old_generation(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    build_index(settings, fake_embedder)
    for path in settings.source_dirs[0].iterdir():
        path.unlink()
    with pytest.raises(SourceError, match="no readable sources"):
        build_index(settings, fake_embedder)
    assert load_current(settings.index_dir, fake_embedder).generation == 1
    assert not [p for p in settings.index_dir.iterdir() if p.name.startswith(".tmp")]


def test_a_build_refuses_to_run_beside_another(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    with build_lock(settings.index_dir), pytest.raises(BuildInProgress):
        build_index(settings, fake_embedder)
    assert build_index(settings, fake_embedder).generation == 1  # the lock is free again


def test_old_generations_are_cleaned_up(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    for n in range(4):
        (settings.source_dirs[0] / "count.txt").write_text(f"This is build number {n}.\n")
        build_index(settings, fake_embedder)
    (settings.index_dir / ".tmp-left-by-a-crash").mkdir()
    (settings.source_dirs[0] / "count.txt").unlink()
    build_index(settings, fake_embedder)
    names = sorted(p.name for p in settings.index_dir.iterdir())
    assert names == [".lock", "CURRENT", "cache", "gen-000004", "gen-000005"]


def test_new_chunking_rechunks_everything(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    first = build_index(settings, fake_embedder)
    coarser = settings.model_copy(update={"chunk_sentences": 5, "chunk_overlap": 0})
    report = build_index(coarser, fake_embedder)
    assert report.unchanged == 3 and report.chunks < first.chunks
    assert 0 < report.embedded <= report.chunks  # sentences come from the cache
    store = load_current(settings.index_dir, fake_embedder)
    assert store.manifest.chunking.sentences == 5


def test_a_new_model_rebuilds_everything(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    build_index(settings, fake_embedder)
    other = FakeEmbedder(dim=32, model_id="fake/other")
    report = build_index(settings, other)
    assert report.added == 3 and report.embedded == other.texts_embedded > 0
    assert load_current(settings.index_dir, other).dim == 32


def test_progress_reports_each_stage(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    seen: list[tuple[str, int, int]] = []
    build_index(
        settings, fake_embedder, lambda stage, done, total: seen.append((stage, done, total))
    )
    stages = list(dict.fromkeys(stage for stage, _, _ in seen))
    assert stages == ["scanning", "reading", "chunking", "embedding", "writing"]
    assert ("chunking", 3, 3) in seen
    embedding = [(d, t) for s, d, t in seen if s == "embedding"]
    assert embedding[-1][0] == embedding[-1][1] > 0
    assert seen[-1] == ("writing", 1, 1)


@pytest.mark.model
def test_real_model_build_answers_from_its_sources(
    settings: Settings, real_embedder: Embedder
) -> None:
    report = build_index(settings, real_embedder)
    store = load_current(settings.index_dir, real_embedder)
    assert store.model_id == real_embedder.model_id and report.sources == 3
    vector = real_embedder.embed(["Which sea does the Danube end in?"])[0]
    best = store.chunks[store.search_dense(vector, 1)[0][0]]
    assert best.source_id == "danube.txt"


def test_an_indexer_builds_on_the_generation_it_holds(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    indexer = Indexer(settings, fake_embedder)
    indexer.build()
    held = indexer.last
    assert held is not None and indexer.previous() is held  # not read back from disk
    (settings.source_dirs[0] / "danube.txt").write_text(DOCS["danube.txt"] + " It freezes.")
    report = indexer.build()
    assert (report.generation, report.changed, report.unchanged) == (2, 1, 2)
    built, on_disk = indexer.last, load_current(settings.index_dir, fake_embedder)
    assert built is not None and built is not held
    assert built.chunks == on_disk.chunks and built.sources == on_disk.sources
    rows = list(range(len(built.chunks)))
    assert (built.chunk_vectors(rows) == on_disk.chunk_vectors(rows)).all()
    assert built.search_keyword("freezes", 3) == on_disk.search_keyword("freezes", 3)
    (settings.source_dirs[0] / "tide.txt").write_text("High tide is at six.\n")
    build_index(settings, fake_embedder)  # another process publishes generation 3
    previous = indexer.previous()
    assert previous is not None and previous is not built and previous.generation == 3


def test_incremental_builds_equal_a_fresh_build(tmp_path: Path) -> None:
    """Reused rows, stitched vectors and linked parts give what building afresh gives."""
    sources = tmp_path / "sources"
    sources.mkdir()
    for i in range(12):
        (sources / f"doc{i:02d}.txt").write_text(
            f"Document {i}\n\nFact {i} is about topic {i}. It has detail {i * 7}. More words {i}."
        )
    settings = Settings(source_dirs=(sources,), index_dir=tmp_path / "index")
    indexer = Indexer(settings, FakeEmbedder())
    indexer.build()
    (sources / "doc03.txt").write_text("Document 3\n\nAn edited fact three.")
    (sources / "doc07.txt").unlink()
    (sources / "new.txt").write_text("New\n\nA new document about owls.")
    indexer.build()
    fresh_dir = tmp_path / "fresh"
    build_index(settings.model_copy(update={"index_dir": fresh_dir}), FakeEmbedder())
    fresh = load_current(fresh_dir, FakeEmbedder())
    cold = load_current(settings.index_dir, FakeEmbedder())
    for store in (indexer.last, cold):
        assert store is not None
        assert store.sources == fresh.sources and store.chunks == fresh.chunks
        assert store.sentences == fresh.sentences
        assert np.array_equal(store.chunk_matrix, fresh.chunk_matrix)
        assert np.array_equal(store.sentence_matrix, fresh.sentence_matrix)
        assert store.search_keyword("owls detail", 5) == fresh.search_keyword("owls detail", 5)
    live = generation_dir(settings.index_dir, 2)
    linked = {p.parent.name for p in live.rglob("*.npy") if p.stat().st_nlink > 1}
    written = {p.parent.name for p in live.rglob("*.npy") if p.stat().st_nlink == 1} - {"bm25"}
    assert linked and written  # the parts the changes left alone were linked, not written
    assert dict(cold.manifest.files) == {
        name: digest
        for name, digest in dict(fresh.manifest.files).items()
        if name.startswith("parts/")
    } | {name: d for name, d in cold.manifest.files if not name.startswith("parts/")}
