"""SQuAD 1.1 training paragraphs -> readings: feature tables for every question, read three ways.

Each question is read as asked (answerable), without its paragraph, and with one of its
names swapped for another (both unanswerable), as the refusal model must learn.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from rag.build.assemble import Progress
from rag.config import Settings
from rag.embedding.base import Embedder
from rag.index.base import Store
from rag.index.generations import load_current
from rag.index.local import LocalStore
from rag.quality.squad import normalize
from rag.reading.features import (
    candidates,
    sentence_features,
    store_lexicon,
)
from rag.reading.spans import candidate_spans, span_features
from rag.retrieval.retriever import Retriever
from rag.text.followup import names
from rag.text.lexicon import Lexicon
from rag.types import Hit, Sentence

SEED = 20261125  # fixed: the same data gives the same model


@dataclass(frozen=True, slots=True)
class Example:
    """One training question with where its answer lies in the written corpus."""

    question: str
    doc: str  # source id of the gold paragraph
    start: int
    end: int
    answers: tuple[str, ...]
    group: str  # article: folds never split one


def write_corpus(train_dir: Path, corpus_dir: Path) -> list[Example]:
    """Write each paragraph as `<id>.txt` (title, blank line, text) and return the questions."""
    corpus_dir.mkdir(parents=True, exist_ok=True)
    examples = []
    lines = (train_dir / "paragraphs.jsonl").read_text(encoding="utf-8").splitlines()
    for line in lines:
        paragraph = json.loads(line)
        head = paragraph["article"].replace("_", " ") + "\n\n"
        doc = f"{paragraph['id']}.txt"
        target = corpus_dir / doc
        if not target.exists():
            target.write_text(head + paragraph["context"], encoding="utf-8")
        for qa in paragraph["qas"]:
            start = len(head) + int(qa["answer_start"])
            examples.append(
                Example(
                    question=qa["question"],
                    doc=doc,
                    start=start,
                    end=start + len(qa["answers"][0]),
                    answers=tuple(qa["answers"]),
                    group=paragraph["article"],
                )
            )
    return examples


@dataclass
class Tables:
    """Sentence feature tables per (question, answerable?) retrieval."""

    tables: list[NDArray[np.float32]]
    labels: list[NDArray[np.int_]]
    answerable: list[int]
    groups: list[str]
    terms: list[int]
    span_tables: list[NDArray[np.float32]]
    span_labels: list[NDArray[np.int_]]
    span_groups: list[str]

    def add(
        self, table: NDArray[np.float32], labels: list[int], answerable: int, group: str, terms: int
    ) -> None:
        """Append one reading: its sentence features and labels, and its question's."""
        self.tables.append(table)
        self.labels.append(np.asarray(labels, dtype=np.int_))
        self.answerable.append(answerable)
        self.groups.append(group)
        self.terms.append(terms)

    def extend(self, other: Tables) -> None:
        """Append another set's readings and spans (every column)."""
        for column in fields(self):
            getattr(self, column.name).extend(getattr(other, column.name))


def swap_name(question: str, doc_text: str, pool: list[str], rng: random.Random) -> str | None:
    """Return the question with one of its names that the paragraph holds swapped for another.

    SQuAD 2.0's hardest unanswerable questions are written like this: the paragraph is on
    topic, but the entity asked about is not the one it talks about.
    """
    grounded = [n for n in names(question) if n in doc_text]
    others = [n for n in pool if n not in doc_text and n not in question]
    if not grounded or not others:
        return None
    return question.replace(rng.choice(grounded), rng.choice(others), 1)


def name_pools(examples: list[Example], store: Store) -> dict[str, list[str]]:
    """Each article's names (sorted), to swap into its questions."""
    pools: dict[str, set[str]] = {}
    for e in examples:
        pools.setdefault(e.group, set()).update(names(store.sources[e.doc].text))
    return {group: sorted(found) for group, found in pools.items()}


def collect(
    examples: list[Example], settings: Settings, embedder: Embedder, progress: Progress | None
) -> Tables:
    """Read every question three ways: as asked, without its paragraph, with a name swapped."""
    store = load_current(settings.index_dir, embedder)
    lexicon = store_lexicon(store)
    retriever = Retriever(store, embedder)
    rng = random.Random(SEED)
    pools = name_pools(examples, store)
    swapped = [
        swap_name(e.question, store.sources[e.doc].text, pools[e.group], rng) for e in examples
    ]
    vectors = embedder.embed([e.question for e in examples])
    swapped_vectors = embedder.embed([q for q in swapped if q])
    swapped_rows = iter(range(len(swapped_vectors)))
    out = Tables([], [], [], [], [], [], [], [])
    by_doc: dict[str, list[Sentence]] = {}
    for sentence in store.sentences:
        by_doc.setdefault(sentence.source_id, []).append(sentence)
    k = settings.top_k
    for i, (example, vector) in enumerate(zip(examples, vectors, strict=True)):
        pool = retriever.retrieve_embedded(example.question, vector, k + 12)
        without = [h for h in pool if h.chunk.source_id != example.doc][:k]
        readings = [(example.question, vector, pool[:k], 1), (example.question, vector, without, 0)]
        if swapped[i]:
            question, other = swapped[i] or "", swapped_vectors[next(swapped_rows)]
            readings.append((question, other, retriever.retrieve_embedded(question, other, k), 0))
        for question, qvector, hits, answerable in readings:
            _add(out, example, question, qvector, hits, answerable, store, lexicon)
        _collect_spans(example, by_doc, store.sources[example.doc].text, lexicon, out)
        if progress:
            progress("reading", i + 1, len(examples))
    return out


def _add(
    out: Tables,
    example: Example,
    question: str,
    vector: NDArray[np.float32],
    hits: list[Hit],
    answerable: int,
    store: LocalStore,
    lexicon: Lexicon,
) -> None:
    """Add one reading's sentence features and labels to the tables."""
    found = candidates(hits, store)
    if (
        not answerable
        and question == example.question
        and any(a.lower() in c.text.lower() for c in found for a in example.answers)
    ):
        return  # the answer is also elsewhere: not a clean negative
    table = sentence_features(question, vector, hits, found, store, lexicon)
    labels = [
        int(
            c.sentence.source_id == example.doc
            and c.sentence.start <= example.start
            and example.end <= c.sentence.end
        )
        for c in found
    ]
    out.add(table, labels, answerable, example.group, len(lexicon.weights(question)))


def _collect_spans(
    example: Example,
    by_doc: dict[str, list[Sentence]],
    text: str,
    lexicon: Lexicon,
    out: Tables,
) -> None:
    """Add the candidate spans of the sentence that holds the answer, labelled by exact match."""
    gold = next((s for s in by_doc.get(example.doc, []) if s.start <= example.start < s.end), None)
    if gold is None:
        return
    sentence = text[gold.start : gold.end]
    spans = candidate_spans(example.question, sentence, lexicon)
    if not spans:
        return
    answers = {normalize(a) for a in example.answers}
    labels = [int(normalize(sentence[s.start : s.end]) in answers) for s in spans]
    out.span_tables.append(span_features(example.question, sentence, spans, lexicon))
    out.span_labels.append(np.asarray(labels, dtype=np.int_))
    out.span_groups.append(example.group)
