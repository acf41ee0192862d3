"""LocalStore: one generation's files written, verified, loaded and searched."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import bm25s
import numpy as np
import pytest

from rag.errors import IndexCorrupt, IndexMismatch
from rag.index.keyword import Terms, Tokenizer
from rag.index.layout.manifest import Chunking, Manifest, manifest_bytes, read_manifest
from rag.index.layout.part_files import PART_FILES
from rag.index.layout.parts import part_of, source_order
from rag.index.local import LocalStore
from rag.index.rows import distinct_sentences
from rag.index.storage import build_store, load_store, save_store
from rag.text.chunking import chunk, index_text
from rag.types import Chunk, Sentence, Source
from tests.fakes import FakeEmbedder

TEXTS = {
    "birds.txt": "Birds\n\nThe kestrel hovers above fields. It eats voles and beetles. "
    "Owls hunt at night. Their feathers are soft, so their flight is silent.",
    "ships.md": "# Ships\n\nA clipper was a fast sailing ship. Clippers carried tea from China. "
    "Steam ships replaced them. The Cutty Sark survives in Greenwich.",
    "rivers.txt": "Rivers\n\nThe Danube flows through ten countries. It ends in the Black Sea. "
    "The Rhine starts in the Alps.",
}


def make_source(source_id: str, text: str, title: str = "") -> Source:
    digest = hashlib.sha256(text.encode()).hexdigest()
    title = title or text.splitlines()[0].lstrip("# ")
    return Source(source_id, Path("/sources") / source_id, title, text, digest, "f" + digest[1:])


def make_store(
    embedder: FakeEmbedder, texts: dict[str, str] = TEXTS, previous: LocalStore | None = None
) -> LocalStore:
    sources = [make_source(i, texts[i]) for i in sorted(texts, key=source_order)]
    chunks = [c for s in sources for c in chunk(s, 2, 1, 1000)]
    titles = {s.id: s.title for s in sources}
    text_of = {s.id: s.text for s in sources}
    chunk_vectors = embedder.embed([index_text(titles[c.source_id], c) for c in chunks])
    sentences = distinct_sentences(chunks)
    sentence_vectors = embedder.embed([text_of[s.source_id][s.start : s.end] for s in sentences])
    header = Manifest(7, embedder.model_id, embedder.dim, Chunking(2, 1, 1000), "english")
    return build_store(header, sources, chunks, chunk_vectors, sentence_vectors, previous)


@pytest.fixture
def saved(tmp_path: Path, fake_embedder: FakeEmbedder) -> Path:
    save_store(make_store(fake_embedder), tmp_path / "gen")
    return tmp_path / "gen"


def test_round_trip_keeps_everything(saved: Path, fake_embedder: FakeEmbedder) -> None:
    built = make_store(fake_embedder)
    loaded = load_store(saved, fake_embedder)
    assert loaded.generation == 7
    assert (loaded.model_id, loaded.dim) == (fake_embedder.model_id, fake_embedder.dim)
    assert loaded.chunks == built.chunks
    assert loaded.sources == built.sources
    assert loaded.sentences == built.sentences
    for c in loaded.chunks:  # the chunk text is rebuilt from the source text
        assert c.text == loaded.sources[c.source_id].text[c.start : c.end]
    rows = list(range(len(built.chunks)))
    assert np.array_equal(loaded.chunk_vectors(rows), built.chunk_vectors(rows))
    assert np.array_equal(
        loaded.sentence_vectors(loaded.sentences), built.sentence_vectors(built.sentences)
    )
    parts = sorted({f"parts/{part_of(i):02d}" for i in TEXTS})
    files = {f"{part}/{name}" for part in parts for name in PART_FILES}
    assert {name for name, _ in loaded.manifest.files} == files | {
        f"bm25/{name}" for name in os.listdir(saved / "bm25")
    }
    assert [e.id for e in loaded.manifest.sources] == sorted(TEXTS, key=source_order)


def test_chunks_jsonl_holds_no_text(saved: Path) -> None:
    rows = [
        json.loads(line)
        for path in saved.rglob("chunks.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert rows and all("text" not in row for row in rows)


def test_every_array_loads_without_pickle(saved: Path) -> None:
    for path in saved.rglob("*.npy"):
        assert np.load(path, allow_pickle=False).dtype != object


def test_search_dense_ranks_a_chunk_first_for_its_own_vector(fake_embedder: FakeEmbedder) -> None:
    store = make_store(fake_embedder)
    for row in range(len(store.chunks)):
        best_row, cosine = store.search_dense(store.chunk_vectors([row])[0], 3)[0]
        assert store.chunk_vectors([best_row])[0] @ store.chunk_vectors([row])[0] == pytest.approx(
            1
        )
        assert cosine == pytest.approx(1, abs=1e-5)
    assert len(store.search_dense(store.chunk_vectors([0])[0], 100)) == len(store.chunks)


def test_search_keyword(fake_embedder: FakeEmbedder) -> None:
    store = make_store(fake_embedder)
    hits = store.search_keyword("Where does the Danube end?", 5)
    assert "Danube" in store.chunks[hits[0][0]].text
    assert all(score > 0 for _, score in hits)
    best = store.search_keyword("kestrels hovering", 5)[0][0]  # stemmed terms
    assert store.chunks[best].id == "birds.txt#0"
    assert store.search_keyword("xylophone quux", 5) == []
    assert store.search_keyword("the and of", 5) == []


def test_keyword_scores_equal_bm25s_own_indexing(fake_embedder: FakeEmbedder) -> None:
    store = make_store(fake_embedder)
    tokenize = Tokenizer("english")
    texts = [index_text(store.sources[c.source_id].title, c) for c in store.chunks]
    reference = bm25s.BM25()
    reference.index([tokenize(t) for t in texts], show_progress=False)
    for query in ("clipper tea China", "owls flight", "Rhine Alps river"):
        expected = reference.get_scores(tokenize(query))
        got = dict(store.search_keyword(query, len(texts)))
        assert [got.get(row, 0.0) for row in range(len(texts))] == pytest.approx(expected)


def test_keyword_terms_reused_from_previous_equal_fresh(fake_embedder: FakeEmbedder) -> None:
    previous = make_store(fake_embedder)
    edited = {
        **TEXTS,
        "rivers.txt": TEXTS["rivers.txt"] + " The Thames floods.",
        "z.txt": "Z\n\nZebras.",
    }
    del edited["birds.txt"]
    reused = make_store(fake_embedder, edited, previous)
    fresh = make_store(fake_embedder, edited)
    assert reused.keyword.terms.vocab == fresh.keyword.terms.vocab
    assert np.array_equal(reused.keyword.terms.ids, fresh.keyword.terms.ids)
    assert np.array_equal(reused.keyword.terms.offsets, fresh.keyword.terms.offsets)
    assert reused.search_keyword("Thames zebras clipper", 10) == fresh.search_keyword(
        "Thames zebras clipper", 10
    )


def test_equal_stores_write_equal_files(tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    save_store(make_store(fake_embedder), tmp_path / "a")
    save_store(make_store(fake_embedder), tmp_path / "b")
    names = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    for name in names:
        if name.name != "manifest.json":
            assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_sentence_vectors_are_the_sentences_embeddings(fake_embedder: FakeEmbedder) -> None:
    store = make_store(fake_embedder)
    some = store.sentences[1:4]
    texts = [store.sources[s.source_id].text[s.start : s.end] for s in some]
    assert np.allclose(store.sentence_vectors(some), fake_embedder.embed(texts))
    assert store.sentence_vectors([]).shape == (0, fake_embedder.dim)


@pytest.mark.parametrize(
    "embedder",
    [FakeEmbedder(model_id="other/model"), FakeEmbedder(dim=32)],
    ids=["model", "dim"],
)
def test_load_refuses_another_model(saved: Path, embedder: FakeEmbedder) -> None:
    with pytest.raises(IndexMismatch, match="rag index"):
        load_store(saved, embedder)


def test_load_refuses_an_unknown_format(saved: Path, fake_embedder: FakeEmbedder) -> None:
    manifest = replace(read_manifest(saved), format_version=99)
    (saved / "manifest.json").write_bytes(manifest_bytes(manifest))
    with pytest.raises(IndexMismatch, match=r"format 99.*rag index"):
        load_store(saved, fake_embedder)


def _files(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_load_refuses_every_damaged_file(
    saved: Path, fake_embedder: FakeEmbedder, damage: str
) -> None:
    pristine = {name: (saved / name).read_bytes() for name in _files(saved)}
    assert len(pristine) >= 10
    for name, data in pristine.items():
        path = saved / name
        if damage == "truncate":
            path.write_bytes(data[: len(data) // 2])
        elif damage == "flip":
            middle = len(data) // 2
            path.write_bytes(data[:middle] + bytes([data[middle] ^ 0x04]) + data[middle + 1 :])
        else:
            path.unlink()
        with pytest.raises(IndexCorrupt, match="rag index"):
            load_store(saved, fake_embedder)
        path.write_bytes(data)
    load_store(saved, fake_embedder)  # restored: loads again


def test_load_of_a_large_index_is_fast(tmp_path: Path) -> None:
    """5,000 documents, 20,000 chunks of 384-dim vectors load in well under a few seconds."""
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(20000)]
    picks = rng.integers(0, len(words), (5000, 8, 12)).tolist()
    sources, chunks = [], []
    for d in sorted(range(5000), key=lambda d: source_order(f"doc{d:05d}.txt")):
        sentences = [" ".join(words[w] for w in sentence) + "." for sentence in picks[d]]
        source = make_source(f"doc{d:05d}.txt", " ".join(sentences), f"Doc {d}")
        spans, pos = [], 0
        for s in sentences:
            spans.append(Sentence(source.id, pos, pos + len(s)))
            pos += len(s) + 1
        sources.append(source)
        for c in range(4):
            part = spans[2 * c : 2 * c + 2]
            text = source.text[part[0].start : part[-1].end]
            chunks.append(
                Chunk(f"{source.id}#{c}", source.id, part[0].start, part[-1].end, text, tuple(part))
            )
    vectors = rng.standard_normal((len(chunks), 384)).astype(np.float32)
    sentence_vectors = rng.standard_normal((len(distinct_sentences(chunks)), 384)).astype(
        np.float32
    )
    embedder = FakeEmbedder(dim=384)
    header = Manifest(1, embedder.model_id, 384, Chunking(2, 0, 1000), "english")
    save_store(build_store(header, sources, chunks, vectors, sentence_vectors), tmp_path / "big")
    started = time.perf_counter()
    store = load_store(tmp_path / "big", embedder)
    seconds = time.perf_counter() - started
    print(f"loaded 5,000 documents in {seconds:.2f} s")
    assert len(store.chunks) == 20000
    assert seconds < 3.0, f"loading took {seconds:.2f} s"


def test_terms_select_and_concat() -> None:
    tokenize = Tokenizer("")
    terms = Terms.from_texts(["alpha beta", "gamma", "beta delta alpha"], tokenize)
    picked = terms.select([2, 0])
    assert [picked.vocab[i] for i in picked.ids] == ["beta", "delta", "alpha", "alpha", "beta"]
    joined = picked.concat(Terms.from_texts(["omega beta"], tokenize))
    assert list(joined.vocab) == sorted(joined.vocab)
    assert [joined.vocab[i] for i in joined.ids[5:]] == ["omega", "beta"]
    assert list(joined.offsets) == [0, 3, 5, 7]
