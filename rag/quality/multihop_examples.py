"""multihop-train questions -> readings: each read as asked (answerable) and with one of its
supporting documents removed (unanswerable), through both hops, as `ask` reads them.

A sentence is labelled an answer when it overlaps one of the question's evidence sentences.
An answerable reading whose passages hold no evidence sentence teaches nothing and is skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.assistant import Assistant
from rag.build.assemble import Progress
from rag.build.indexer import build_index
from rag.config import Settings
from rag.embedding.base import Embedder
from rag.index.base import Store
from rag.quality.examples import Tables
from rag.reading.base import Reader
from rag.reading.features import candidates, sentence_features, store_lexicon
from rag.retrieval.retriever import Retriever
from rag.text.lexicon import Lexicon
from rag.types import Hit

_Span = tuple[str, int, int]  # source id, start, end


@dataclass(frozen=True, slots=True)
class MultihopQuestion:
    """A question, its evidence sentences, and the document its unanswerable variant lacks."""

    id: str
    question: str
    evidence: tuple[tuple[str, str], ...]  # (source id, sentence text)
    removed: str | None  # source id left out of the unanswerable reading, if it has one


def load_multihop(train_dir: Path) -> list[MultihopQuestion]:
    """Read questions.jsonl and, beside it, questions_gold_removed.jsonl (the removed documents)."""
    removed: dict[str, str] = {}
    derived = train_dir / "questions_gold_removed.jsonl"
    if derived.exists():
        for row in _rows(derived):
            removed[row["derived_from"]] = f"{row['removed_doc']}.txt"
    return [
        MultihopQuestion(
            id=row["id"],
            question=row["question"],
            evidence=tuple((f"{e['doc']}.txt", e["text"]) for e in row["evidence"]),
            removed=removed.get(row["id"]),
        )
        for row in _rows(train_dir / "questions.jsonl")
        if row.get("answerable", True) and row["evidence"]
    ]


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            yield json.loads(line)


def collect_multihop(
    train_dir: Path,
    work_dir: Path,
    embedder: Embedder,
    reader: Reader,
    progress: Progress | None = None,
) -> Tables:
    """Index multihop-train's corpus (in place) and read every question twice.

    Args:
        reader: finds each reading's bridge name for the second hop, as `ask` would.
    """
    settings = Settings(source_dirs=(train_dir / "corpus",), index_dir=work_dir / "multihop-index")
    build_index(settings, embedder, progress)
    assistant = Assistant(settings, embedder, reader)
    store = assistant.store
    lexicon = store_lexicon(store)
    retriever = Retriever(store, embedder)
    questions = load_multihop(train_dir)
    vectors = embedder.embed([q.question for q in questions])
    out = Tables([], [], [], [], [], [], [], [])
    k = settings.top_k
    for i, (question, vector) in enumerate(zip(questions, vectors, strict=True)):
        spans = _evidence_spans(question, store)
        hits = retriever.retrieve_embedded(question.question, vector, k)
        readings = [([*hits, *assistant.second_hop(question.question, vector, hits)], 1)]
        if question.removed is not None:
            pool = retriever.retrieve_embedded(question.question, vector, k + 12)
            kept = [h for h in pool if h.chunk.source_id != question.removed][:k]
            extra = assistant.second_hop(question.question, vector, kept)
            readings.append(
                ([*kept, *(h for h in extra if h.chunk.source_id != question.removed)], 0)
            )
        for found, answerable in readings:
            _add(out, question, vector, found, answerable, spans, store, lexicon)
        if progress:
            progress("reading multi-hop", i + 1, len(questions))
    return out


def _evidence_spans(question: MultihopQuestion, store: Store) -> list[_Span]:
    spans = []
    for source_id, sentence in question.evidence:
        source = store.sources.get(source_id)
        at = source.text.find(sentence) if source is not None else -1
        if at >= 0:
            spans.append((source_id, at, at + len(sentence)))
    return spans


def _add(
    out: Tables,
    question: MultihopQuestion,
    vector: np.ndarray,
    hits: list[Hit],
    answerable: int,
    spans: list[_Span],
    store: Store,
    lexicon: Lexicon,
) -> None:
    found = candidates(hits, store)
    labels = [
        int(any(c.sentence.source_id == s and c.sentence.start < e and b < c.sentence.end
                for s, b, e in spans))
        for c in found
    ]  # fmt: skip
    if answerable and not any(labels):
        return  # the evidence was not retrieved: nothing to learn
    table = sentence_features(question.question, vector, hits, found, store, lexicon)
    terms = len(lexicon.weights(question.question))
    out.add(table, labels, answerable, question.id, terms)  # one fold holds both readings
