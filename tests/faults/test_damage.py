"""Damaged index files, caches and pointers: refused, the last good generation serves."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.build.indexer import Indexer, build_index
from rag.errors import IndexCorrupt, IndexMissing
from rag.index.generations import CURRENT, current_generation, generation_dir, load_current
from tests.fakes import FakeEmbedder
from tests.fault_build import settings_for
from tests.faults.world import CORPUS, edited_twice


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_a_damaged_live_generation_is_refused_and_the_last_good_one_serves(
    tmp_path: Path, sources: Path, damage: str
) -> None:
    settings, embedder, live = edited_twice(tmp_path, sources)
    # every file generation 2 wrote; the parts it shares with generation 1 are tested below
    names = sorted(p.relative_to(live) for p in live.rglob("*") if is_own(p))
    assert any(name.parts[0] == "parts" for name in names) and "manifest.json" in map(str, names)
    for name in names:
        path = live / name
        data = path.read_bytes()
        if damage == "truncate":
            path.write_bytes(data[: len(data) // 3])
        elif damage == "flip":
            path.write_bytes(data[:-1] + bytes([data[-1] ^ 0x01]))
        else:
            path.unlink()
        store = load_current(settings.index_dir, embedder)
        assert store.generation == 1, name
        assert "gen-000002" in store.problems[0] and "rag index" in store.problems[0]
        assert "serving the last good generation 1" in store.problems[-1]
        path.write_bytes(data)
    assert load_current(settings.index_dir, embedder).problems == ()


def is_own(path: Path) -> bool:
    """Is this a file of one generation only (not a part linked from an earlier one)?"""
    return path.is_file() and path.stat().st_nlink == 1


def test_a_shared_part_damaged_in_place_is_refused_by_every_generation_and_rebuilt(
    tmp_path: Path, sources: Path
) -> None:
    settings, embedder, live = edited_twice(tmp_path, sources)
    shared = [p for p in live.rglob("sentences.npy") if not is_own(p)]
    assert len(shared) >= 2  # the parts the edit left alone
    data = shared[0].read_bytes()
    shared[0].write_bytes(data[:-1] + bytes([data[-1] ^ 0x01]))  # in place: both see it
    with pytest.raises(IndexCorrupt, match=r"sentences\.npy fails its checksum"):
        load_current(settings.index_dir, embedder)
    report = build_index(settings, embedder)  # afresh, every vector from the cache
    assert (report.generation, report.added, report.embedded) == (3, 5, 0)
    store = load_current(settings.index_dir, embedder)
    assert store.problems == () and store.generation == 3
    assert all(is_own(p) for p in generation_dir(settings.index_dir, 3).rglob("*.npy"))


def test_a_held_generation_damaged_on_disk_is_not_built_on(tmp_path: Path, sources: Path) -> None:
    """The server's Indexer keeps the last generation in memory; it must not link files that
    were damaged on disk since, nor let clean-up remove the last good generation."""
    settings = settings_for(sources, tmp_path / "index")
    indexer = Indexer(settings, FakeEmbedder())
    indexer.build()
    edited = sources / CORPUS[3].name
    edited.write_text(edited.read_text() + "\nAn added sentence.\n")
    indexer.build()
    live = generation_dir(settings.index_dir, 2)
    own = next(p for p in live.rglob("sentences.npy") if is_own(p))  # the edited part
    data = own.read_bytes()
    own.write_bytes(data[:-1] + bytes([data[-1] ^ 0x01]))
    other = sources / CORPUS[0].name  # a change elsewhere: the damaged part stays unchanged
    other.write_text(other.read_text() + "\nAnother sentence.\n")
    report = indexer.build()  # reads the index back, refuses generation 2, builds on 1
    store = load_current(settings.index_dir, FakeEmbedder())
    assert (store.generation, store.problems) == (report.generation, ())
    assert "Another sentence." in store.sources[CORPUS[0].name].text
    assert "An added sentence." in store.sources[CORPUS[3].name].text
    indexer.build()
    assert load_current(settings.index_dir, FakeEmbedder()).problems == ()


def test_a_rebuild_over_a_damaged_generation_keeps_the_good_one(
    tmp_path: Path, sources: Path
) -> None:
    settings = settings_for(sources, tmp_path / "index")
    embedder = FakeEmbedder()
    build_index(settings, embedder)
    (sources / "kite.txt").write_text("The red kite nests in tall trees.\n")
    build_index(settings, embedder)
    damaged = generation_dir(settings.index_dir, 2) / "bm25" / "terms.npy"  # its own file
    damaged.write_bytes(damaged.read_bytes()[:-8])
    report = build_index(settings, embedder)  # builds on generation 1, the last good one
    assert (report.generation, report.unchanged, report.embedded) == (3, 5, 0)
    names = sorted(p.name for p in settings.index_dir.glob("gen-*"))
    assert names == ["gen-000001", "gen-000002", "gen-000003"]
    (sources / "kite.txt").unlink()
    build_index(settings, embedder)
    names = sorted(p.name for p in settings.index_dir.glob("gen-*"))
    assert names == ["gen-000003", "gen-000004"]


def test_no_good_generation_raises_and_the_next_build_repairs(
    tmp_path: Path, sources: Path
) -> None:
    settings = settings_for(sources, tmp_path / "index")
    embedder = FakeEmbedder()
    build_index(settings, embedder)
    faiss_file = next(generation_dir(settings.index_dir, 1).rglob("chunks.faiss"))
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    with pytest.raises(IndexCorrupt, match=r"chunks\.faiss fails its checksum"):
        load_current(settings.index_dir, embedder)
    before = embedder.texts_embedded
    report = build_index(settings, embedder)  # rebuilds from the sources, vectors from the cache
    assert (report.generation, report.added, report.embedded) == (2, 5, 0)
    assert embedder.texts_embedded == before
    assert load_current(settings.index_dir, embedder).problems == ()


@pytest.mark.parametrize("damage", ["header", "pages"])
def test_a_damaged_embedding_cache_costs_only_re_embedding(
    tmp_path: Path, sources: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(sources, tmp_path / "index")
    first = build_index(settings, FakeEmbedder())
    cache = settings.index_dir / "cache" / "embeddings.sqlite"
    data = bytearray(cache.read_bytes())
    if damage == "header":
        data[:100] = b"not a database".ljust(100, b"!")
    else:  # every page but the first: the file opens, its B-trees are garbage
        data[4096:] = bytes((i * 7) % 251 for i in range(len(data) - 4096))
    cache.write_bytes(bytes(data))
    (sources / CORPUS[0].name).unlink()  # a change, so that the cache is consulted
    (sources / "new.txt").write_text("New\n\nA new article about owls.")
    embedder = FakeEmbedder()
    report = build_index(settings, embedder)
    assert (report.generation, report.embedded) == (2, embedder.texts_embedded)
    assert 0 < report.embedded < first.embedded
    assert "embeddings.sqlite is damaged" in caplog.text
    assert build_index(settings, embedder).embedded == 0  # the fresh cache works


def test_a_missing_or_garbled_pointer(tmp_path: Path, sources: Path) -> None:
    index = tmp_path / "index"
    with pytest.raises(IndexMissing, match="rag index"):
        load_current(index, FakeEmbedder())
    build_index(settings_for(sources, index), FakeEmbedder())
    (sources / "kite.txt").write_text("The red kite nests in tall trees.\n")
    build_index(settings_for(sources, index), FakeEmbedder())
    (index / CURRENT).write_bytes(b"\x00garbage")
    assert current_generation(index) == 0
    store = load_current(index, FakeEmbedder())  # the newest good generation serves
    assert store.generation == 2 and "CURRENT is unreadable" in store.problems[0]
    shutil.rmtree(generation_dir(index, 2) / "bm25")
    assert load_current(index, FakeEmbedder()).generation == 1
    report = build_index(settings_for(sources, index), FakeEmbedder())  # mends CURRENT
    assert report.published and current_generation(index) == report.generation == 3
    (index / CURRENT).write_text("gen-000009\n")  # names a generation that is not there
    store = load_current(index, FakeEmbedder())
    assert store.generation == 3 and "gen-000009" in store.problems[0]
