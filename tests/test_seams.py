"""The Store and Reader seams: a second implementation of each drops in unchanged."""

from __future__ import annotations

import hashlib
from pathlib import Path

from rag.answering.grounding import Policy, answer
from rag.assistant import Assistant
from rag.build.indexer import build_index
from rag.config import Settings
from rag.index.base import Store
from rag.reading.base import Reader
from rag.retrieval.retriever import Retriever
from rag.sources.extract import load_source
from rag.sources.scan import scan_sources
from rag.text.chunking import chunk
from rag.text.lexicon import Lexicon
from rag.types import Source
from tests.fakes import FakeEmbedder, MemoryStore, OverlapReader

DOCS = {
    "kestrel.txt": "The kestrel hovers over fields. It eats voles. It nests in old towers.\n",
    "danube.txt": "The Danube flows through ten countries. It reaches the Black Sea.\n",
}


def sources(folder: Path) -> list[Source]:
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text)
    files, _ = scan_sources([folder], 10_000)
    return [load_source(f) for f in files]


def test_retrieval_and_grounding_run_over_a_memory_store(tmp_path: Path) -> None:
    found = sources(tmp_path / "docs")
    chunks = [c for s in found for c in chunk(s, 1, 0, 1000)]
    embedder = FakeEmbedder()
    store: Store = MemoryStore(found, chunks, embedder)
    question = "What eats voles?"
    hits = Retriever(store, embedder).retrieve(question, 3)
    assert hits[0].chunk.source_id == "kestrel.txt"
    reader: Reader = OverlapReader()
    lexicon = Lexicon(c.text for c in chunks)
    reading = reader.read(question, embedder.embed([question])[0], hits, store, lexicon)
    policy = Policy(reader.threshold, reader.quote_ratio, max_quotes=1, other_source_ratio=0.2)
    result = answer(question, reading, store, policy, question, store.generation, lexicon)
    quote = result.quotes[0]
    text = store.sources[quote.source].text
    assert text[quote.start : quote.end] == quote.text
    assert "It eats voles." in quote.text  # with the rest of its short paragraph
    assert quote.sha256 == hashlib.sha256(text.encode()).hexdigest()


def test_the_assistant_takes_its_threshold_and_quotes_from_any_reader(tmp_path: Path) -> None:
    settings = Settings(source_dirs=(tmp_path / "docs",), index_dir=tmp_path / "index")
    sources(tmp_path / "docs")
    build_index(settings, FakeEmbedder())
    assistant = Assistant(settings, FakeEmbedder(), reader=OverlapReader())
    assert assistant.policy.threshold == OverlapReader.threshold
    answered = assistant.ask("Does it reach the Black Sea?")
    assert answered.quotes and answered.quotes[0].text.endswith("It reaches the Black Sea.")
    assert assistant.ask("Who painted the Mona Lisa?").refused  # no word of it in any source
