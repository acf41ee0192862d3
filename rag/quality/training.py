"""SQuAD 1.1 training paragraphs -> a ReaderModel (sentence scorer + calibrated refusal)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from rag.build.assemble import Progress
from rag.build.indexer import build_index
from rag.config import Settings
from rag.embedding.base import Embedder
from rag.index.generations import load_current
from rag.index.local import LocalStore
from rag.quality.squad import normalize
from rag.reading.features import (
    QUESTION_FEATURES,
    SENTENCE_FEATURES,
    candidates,
    question_features,
    sentence_features,
    store_lexicon,
)
from rag.reading.linear import LinearModel, ReaderModel
from rag.reading.spans import SINGLE_FEATURES, SPAN_FEATURES, candidate_spans, span_features
from rag.retrieval.retriever import Retriever
from rag.text.followup import names
from rag.text.lexicon import Lexicon
from rag.types import Hit, Sentence

FALSE_REFUSAL_TARGET = 0.10  # share of answerable training questions we accept to refuse
QUOTE_RATIO = 0.5
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


def _fit(x: NDArray[np.float32], y: NDArray[np.int_], names: tuple[str, ...]) -> LinearModel:
    mean = x.mean(axis=0)
    scale = np.where(x.std(axis=0) > 1e-6, x.std(axis=0), 1.0)
    model = LogisticRegression(C=1.0, max_iter=2000).fit((x - mean) / scale, y)
    return LinearModel(
        features=names,
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        coef=tuple(float(v) for v in model.coef_[0]),
        intercept=float(model.intercept_[0]),
    )


@dataclass
class _Tables:
    """Sentence feature tables per (question, answerable?) retrieval."""

    tables: list[NDArray[np.float32]]
    labels: list[NDArray[np.int_]]
    answerable: list[int]
    groups: list[str]
    terms: list[int]
    span_tables: list[NDArray[np.float32]]
    span_labels: list[NDArray[np.int_]]
    span_groups: list[str]


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


def collect(
    examples: list[Example], settings: Settings, embedder: Embedder, progress: Progress | None
) -> _Tables:
    """Read every question three ways: as asked, without its paragraph, with a name swapped."""
    store = load_current(settings.index_dir, embedder)
    lexicon = store_lexicon(store)
    retriever = Retriever(store, embedder)
    rng = random.Random(SEED)
    pools: dict[str, list[str]] = {}
    for e in examples:
        pools.setdefault(e.group, []).extend(names(store.sources[e.doc].text))
    swapped = [
        swap_name(e.question, store.sources[e.doc].text, sorted(set(pools[e.group])), rng)
        for e in examples
    ]
    vectors = embedder.embed([e.question for e in examples])
    swapped_vectors = embedder.embed([q for q in swapped if q])
    swapped_rows = iter(range(len(swapped_vectors)))
    out = _Tables([], [], [], [], [], [], [], [])
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
    out: _Tables,
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
    out.tables.append(table)
    out.labels.append(np.asarray(labels, dtype=np.int_))
    out.answerable.append(answerable)
    out.groups.append(example.group)
    out.terms.append(len(lexicon.weights(question)))


def _collect_spans(
    example: Example,
    by_doc: dict[str, list[Sentence]],
    text: str,
    lexicon: Lexicon,
    out: _Tables,
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


def _fit_sentences(data: _Tables, rows: Iterable[int]) -> LinearModel:
    """Fit the sentence model on these readings (the answered ones among them)."""
    answered = [i for i in rows if data.answerable[i]]
    return _fit(
        np.concatenate([data.tables[i] for i in answered]),
        np.concatenate([data.labels[i] for i in answered]),
        SENTENCE_FEATURES,
    )


def sentence_oof(data: _Tables) -> list[NDArray[np.float32]]:
    """Return each reading's sentence probabilities from a model that never saw its article
    (5 folds by article)."""
    n = len(data.tables)
    oof: list[NDArray[np.float32]] = [np.zeros(0, dtype=np.float32)] * n
    for train, test in GroupKFold(n_splits=5).split(np.zeros(n), groups=data.groups):
        model = _fit_sentences(data, train)
        for i in test:
            oof[i] = model.probability(data.tables[i])
    return oof


def fit_reader(data: _Tables, provenance: str) -> tuple[ReaderModel, dict[str, float]]:
    """Fit both models with out-of-fold scores, then calibrate the refusal threshold."""
    n = len(data.tables)
    oof = sentence_oof(data)
    questions = np.stack(
        [question_features(t, p, m) for t, p, m in zip(data.tables, oof, data.terms, strict=True)]
    )
    y = np.asarray(data.answerable, dtype=np.int_)
    question_model = _fit(questions, y, QUESTION_FEATURES)
    scores = question_model.probability(questions)
    threshold = float(np.quantile(scores[y == 1], FALSE_REFUSAL_TARGET))
    positives = [i for i in range(n) if data.answerable[i]]
    top1 = np.mean(
        [data.labels[i][int(np.argmax(oof[i]))] if len(oof[i]) else 0 for i in positives]
    )
    report = {
        "questions": float(len(positives)),
        "negatives": float(n - len(positives)),
        "top1_sentence_accuracy_oof": float(top1),
        "abstention_on_train_negatives": float(np.mean(scores[y == 0] < threshold)),
        "false_abstention_on_train": float(np.mean(scores[y == 1] < threshold)),
        "threshold": threshold,
    }
    sentence_model = _fit_sentences(data, positives)
    span_model = _fit_spans(data, range(len(data.span_tables)))
    report["span_exact_top1_oof"] = _span_exact_oof(data, len(SPAN_FEATURES))
    # the same without the pairwise products, as a baseline measured in the same run
    report["span_exact_top1_oof_single_features"] = _span_exact_oof(data, len(SINGLE_FEATURES))
    reader = ReaderModel(
        sentence_model, question_model, span_model, threshold, QUOTE_RATIO, provenance
    )
    return reader, report


def _fit_spans(data: _Tables, rows: Iterable[int], columns: int | None = None) -> LinearModel:
    chosen = list(rows)
    return _fit(
        np.concatenate([data.span_tables[i][:, :columns] for i in chosen]),
        np.concatenate([data.span_labels[i] for i in chosen]),
        SPAN_FEATURES[:columns],
    )


def _span_exact_oof(data: _Tables, columns: int) -> float:
    """Share of answer sentences whose best span is the answer exactly (5 folds by article).

    Args:
        columns: how many of SPAN_FEATURES the model reads (the first ones).
    """
    n = len(data.span_tables)
    exact = []
    for train, test in GroupKFold(n_splits=5).split(np.zeros(n), groups=data.span_groups):
        model = _fit_spans(data, train, columns)
        exact += [
            data.span_labels[i][int(np.argmax(model.probability(data.span_tables[i][:, :columns])))]
            for i in test
        ]
    return float(np.mean(exact))


def train_reader(
    train_dir: Path,
    work_dir: Path,
    embedder: Embedder,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[ReaderModel, dict[str, float]]:
    """Index the training paragraphs, read every question, and fit a ReaderModel."""
    examples = write_corpus(train_dir, work_dir / "corpus")
    settings = Settings(source_dirs=(work_dir / "corpus",), index_dir=work_dir / "index")
    build_index(settings, embedder, progress)
    data = collect(examples, settings, embedder, progress)
    provenance = f"rag train {train_dir.name}: {len(examples)} questions, 5-fold by article"
    return fit_reader(data, provenance)
